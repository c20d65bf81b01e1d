#!/usr/bin/env python3
"""Fine-tuning results on the labelled tasks of ../shared/data/tasks (GUE CSV), the README's table.

For every task: LoRA and full fine-tuning of the project's pretrained default model, and full fine-tuning of the same
architecture from random initialisation (what pretraining buys), all through `dnabert finetune` with the best dev
checkpoint kept (by dev MCC) and evaluated once on test. Per-task settings (pooling, strand symmetry) in TASKS. Prints a markdown table with test MCC / F1 / accuracy,
trainable parameters, seconds per epoch, and the 6-mer logistic-regression floor of each task.

Usage: python3 bench/finetune_tasks.py [--tasks gene_start_300,splice_400,coding_200] [--modes lora,full,random]
                                       [--model examples/models/dnabert2-small-5genomes] [--out runs/finetune]
                                       [--threads 0]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("DNABERT_SHARED") or os.path.join(ROOT, "..", "shared")
FLOORS = {"gene_start_300": 0.657, "splice_400": 0.354, "coding_200": 0.699}
# Per mode: extra CLI arguments (learning rates chosen on the dev sets; see the README).
MODES = {
    "lora": ["--lora-r", "8", "--lora-alpha", "32", "--lora-targets", "Wqkv,attention.output.dense,gated_layers,wo",
             "--lr", "1e-3", "--epochs", "3"],
    "full": ["--full", "--lr", "2e-4", "--epochs", "2"],
    "random": ["--full", "--lr", "5e-4", "--epochs", "2"],
}
# Per task, all modes alike. Pooling chosen on the dev sets (LoRA, previous default model): mean pooling on
# coding_200 and gene_start_300, DNABERT-2's [CLS] pooler on splice_400 (dev MCC 0.365 against 0.348).
# coding_200 takes its sequences from a random strand, so it is fine-tuned strand-symmetric (both strands in
# training, scores averaged over both); the other two are oriented (a start codon, a donor or acceptor).
TASKS = {
    "gene_start_300": ["--pooling", "mean"],
    "splice_400": ["--pooling", "cls"],
    "coding_200": ["--pooling", "mean", "--reverse-complement"],
}
# Per task and mode, options that replace the mode's: on coding_200 (8,238 training sequences, the largest task)
# a dev-set sweep (lr 5e-4/1e-3/2e-3 × 3/5 epochs for LoRA, lr 1e-4/2e-4 × 2/3 epochs for full, dev every epoch or
# half epoch) preferred LoRA for 5 epochs (best dev MCC 0.764 against 0.741-0.758) and full fine-tuning for
# 3 epochs with the dev set every half epoch (0.769 against 0.756-0.763); random init gets full's schedule.
TASK_MODES = {
    "coding_200": {"lora": {"--epochs": "5"},
                   "full": {"--epochs": "3", "--eval-every": "129"},   # 258 steps per epoch at batch 32
                   "random": {"--epochs": "3", "--eval-every": "129"}},
}


def mode_args(task, mode):
    """MODES[mode] with the options of TASK_MODES[task][mode] replaced (or appended)."""
    args = list(MODES[mode])
    for opt, value in TASK_MODES.get(task, {}).get(mode, {}).items():
        if opt in args:
            args[args.index(opt) + 1] = value
        else:
            args += [opt, value]
    return args


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="gene_start_300,splice_400,coding_200")
    ap.add_argument("--modes", default="lora,full,random")
    ap.add_argument("--model", default=os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes"))
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "dnabert"))
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "finetune"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    random_model = os.path.join(a.out, "random-init")
    if "random" in a.modes and not os.path.exists(os.path.join(random_model, "model.safetensors")):
        subprocess.run([a.cli, "model", "create", "--config", os.path.join(a.model, "config.json"), "--tokenizer",
                        os.path.join(a.model, "tokenizer.json"), "--seed", "1", "-o", random_model], check=True)
    rows = []
    for task in a.tasks.split(","):
        d = os.path.join(SHARED, "data", "tasks", task)
        for mode in a.modes.split(","):
            out = os.path.join(a.out, f"{task}-{mode}")
            margs = mode_args(task, mode)
            cmd = [a.cli, "finetune", "--model", random_model if mode == "random" else a.model,
                   "--train", f"{d}/train.csv", "--dev", f"{d}/dev.csv", "--test", f"{d}/test.csv", "--out", out,
                   "--select-by", "mcc", "--threads", str(a.threads), "--seed", str(a.seed),
                   ] + margs + TASKS.get(task, ["--pooling", "mean"])
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            secs = time.perf_counter() - t0
            if r.returncode != 0:
                print(f"{task} {mode}: failed\n{r.stderr}", file=sys.stderr)
                continue
            test = json.load(open(os.path.join(out, "test_metrics.json")))
            steps = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
            epochs = float(margs[margs.index("--epochs") + 1])
            trainable = None
            for line in r.stderr.splitlines():
                if "trainable parameters" in line:
                    trainable = int(line.split(" trainable parameters")[0].split()[-1])
            train_secs = steps[-1]["elapsed_seconds"] if steps else secs
            rows.append(dict(task=task, mode=mode, mcc=test["mcc"], f1=test["f1"], acc=test["accuracy"],
                             trainable=trainable, epoch_secs=train_secs / epochs, total=secs))
            print(f"{task:15s} {mode:7s} test MCC {test['mcc']:.3f} F1 {test['f1']:.3f} acc {test['accuracy']:.3f} "
                  f"({secs:.0f} s)", flush=True)
    print()
    print("| task | 6-mer LR floor (MCC) | mode | test MCC | test F1 | test accuracy | trainable parameters | s / epoch |")
    print("|---|---|---|---|---|---|---|---|")
    names = {"lora": "LoRA, pretrained", "full": "full, pretrained", "random": "full, random init"}
    for r in rows:
        floor = FLOORS.get(r["task"], float("nan"))
        mcc = f"**{r['mcc']:.3f}**" if r["mcc"] > floor else f"{r['mcc']:.3f}"   # bold: above the floor
        print(f"| {r['task']} | {floor:.3f} | {names[r['mode']]} | {mcc} | "
              f"{r['f1']:.3f} | {r['acc']:.3f} | {r['trainable']:,} | {r['epoch_secs']:.0f} |")


if __name__ == "__main__":
    main()
