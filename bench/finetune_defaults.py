#!/usr/bin/env python3
"""Defaults alone: `dnabert.finetune(model, train, dev=dev, test=test)` with nothing else, on every labelled task,
against the task's 6-mer logistic-regression floor (issue 13, "defaults that win"). The README's table of
"Defaults alone" comes from this script.

Each task runs in its own process (a fresh library, nothing shared). `--seeds 0,1,2` repeats each task with
`seed=` as the only argument given (seed 0 is the default). `--set key=value` adds one keyword to every call, to
compare a default with its alternative on the dev sets (e.g. `--set pooling=cls`).

Usage: python3 bench/finetune_defaults.py [--tasks DIR] [--seeds 0] [--set pooling=cls] [--json out.json]
  DIR: a folder of tasks (<task>/train.csv, dev.csv, test.csv); default $DNABERT_DATA/tasks, else examples/data/tasks
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOORS = {"gene_start_300": 0.657, "splice_400": 0.354, "coding_200": 0.699}   # shared/data/README.md

CHILD = r"""
import json, sys, time
import dnabert
model_dir, task, seed, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
kw = dict(extra)
if seed != 0:
    kw["seed"] = seed
model = dnabert.Model.from_pretrained(model_dir)
t0 = time.perf_counter()
clf = dnabert.finetune(model, f"{task}/train.csv", dev=f"{task}/dev.csv", test=f"{task}/test.csv", progress=False, **kw)
seconds = time.perf_counter() - t0
dev = [h for h in clf.history if h.get("dev_mcc") is not None]
print(json.dumps({"test": clf.test_metrics, "best_dev_mcc": max(h["dev_mcc"] for h in dev) if dev else None,
                  "reverse_complement": clf.info.get("reverse_complement"), "pooling": clf.info.get("pooling"),
                  "steps": len(clf.history), "seconds": seconds}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.environ.get("DNABERT_DATA")
    ap.add_argument("--tasks", default=os.path.join(data, "tasks") if data else os.path.join(ROOT, "examples", "data", "tasks"))
    ap.add_argument("--only", default="gene_start_300,splice_400,coding_200")
    ap.add_argument("--model", default=os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--set", action="append", default=[], help="key=value added to every finetune call (JSON value)")
    ap.add_argument("--json", help="append each result as a JSON line to this file")
    a = ap.parse_args()
    extra = {}
    for kv in a.set:
        k, v = kv.split("=", 1)
        try:
            extra[k] = json.loads(v)
        except json.JSONDecodeError:
            extra[k] = v
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", os.path.join(ROOT, "bindings", "python"))
    print(f"defaults{' + ' + json.dumps(extra) if extra else ''}; model {os.path.basename(a.model)}; tasks {a.tasks}")
    print("| task | seed | floor | test MCC | test F1 | test accuracy | best dev MCC | strand symmetry (auto) | pooling | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for task in a.only.split(","):
        tdir = os.path.join(a.tasks, task)
        if not os.path.isdir(tdir):
            print(f"| {task} | – | missing: {tdir} |")
            continue
        for seed in (int(s) for s in a.seeds.split(",")):
            r = subprocess.run([sys.executable, "-c", CHILD, a.model, tdir, str(seed), json.dumps(extra)],
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                print(f"| {task} | {seed} | failed: {r.stderr.strip().splitlines()[-1:]} |")
                continue
            res = json.loads(r.stdout.strip().splitlines()[-1])
            t, floor = res["test"], FLOORS.get(task)
            mcc = t["mcc"]
            mark = f"**{mcc:.3f}**" if floor is not None and mcc > floor else f"{mcc:.3f}"
            print(f"| {task} | {seed} | {floor if floor is not None else '–'} | {mark} | {t['f1']:.3f} | {t['accuracy']:.3f} | "
                  f"{res['best_dev_mcc']:.3f} | {'on' if res['reverse_complement'] else 'off'} | {res['pooling']} | {res['seconds']:.0f} |",
                  flush=True)
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps({"task": task, "seed": seed, "set": extra, **res}) + "\n")


if __name__ == "__main__":
    main()
