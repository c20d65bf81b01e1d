"""A fine-tuning run killed part-way leaves its best classifier so far, loadable, in its output folder — whether it
was the `dnabert finetune` CLI (--out) or a Python `dnabert.finetune(..., out=...)`.

The run folder is managed by the library (dnabert_finetune_params.out_dir): after each dev evaluation that improves
on the best, the classifier is saved (every file atomically) before that step's metrics.jsonl line is written. The
child process is SIGKILLed once metrics.jsonl holds four dev evaluations (an event, not a wall-clock budget); the
saved classifier must load and its dev loss, recomputed here, must be the lowest recorded — or a newer best whose
line the kill cut off."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import dnabert
from conftest import find_cli, head_csv

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL_DIR = os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes")
TASK = os.path.join(ROOT, "examples", "data", "tasks", "coding_200")
CLI = find_cli()
# the same run in both languages: many steps, a dev evaluation every 4 on the first 96 dev sequences (the
# evaluations, not the steps, are most of a run's time; fewer sequences keep each test under 15 s on 2 cores)
RUN = dict(max_steps=400, eval_every=4, batch_size=16, lr=2e-3, select_by="loss", seed=3)
DEV_ROWS = 96

CHILD = f"""
import sys, dnabert
model_dir, task, dev, out = sys.argv[1:5]
dnabert.finetune(model_dir, f"{{task}}/train.csv", dev=dev, out=out, progress=False, **{RUN!r})
print("finished")
"""


@pytest.fixture
def dev_csv(tmp_path):
    """The first DEV_ROWS rows of the task's dev set, as a CSV file."""
    return head_csv(f"{TASK}/dev.csv", tmp_path / "dev.csv", DEV_ROWS)


def recorded_dev_losses(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            try:
                d = json.loads(line)
            except json.JSONDecodeError:      # a line cut by the kill
                continue
            if d.get("dev"):
                out.append(d["dev"]["loss"])
    return out


def kill_after_dev_evaluations(cmd, out, n=4, env=None):
    """Starts cmd, SIGKILLs it once out/metrics.jsonl records n dev evaluations; returns the recorded dev losses."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 300    # a guard against a hung child only; the kill itself waits for the event
    try:
        while time.time() < deadline and p.poll() is None and len(recorded_dev_losses(metrics)) < n:
            time.sleep(0.02)
        assert p.poll() is None, "the run ended before it could be killed: " + p.stderr.read().decode()[-2000:]
        p.send_signal(signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGKILL
    losses = recorded_dev_losses(metrics)
    assert len(losses) >= n
    assert not (out / "test_metrics.json").exists() and not (out / "loss.svg").exists(), "the run was meant to be cut short"
    return losses


def assert_best_classifier_kept(out, losses, dev):
    model = dnabert.Model.from_pretrained(MODEL_DIR)
    clf = dnabert.Classifier.load(model, str(out))
    again = clf.evaluate(dev)["loss"]
    best = min(losses)
    assert abs(best - again) <= 1e-5 * max(1.0, abs(best)) or again < best, \
        f"saved classifier's dev loss {again} is not the best recorded {best} (recorded: {losses})"


@pytest.mark.skipif(CLI is None, reason="the dnabert CLI is not built (make cli)")
def test_killed_cli_finetune_leaves_its_best_classifier(tmp_path, dev_csv):
    out = tmp_path / "clf"
    cmd = [CLI, "finetune", "--model", MODEL_DIR, "--train", f"{TASK}/train.csv", "--dev", dev_csv,
           "--out", str(out), "--max-steps", str(RUN["max_steps"]), "--eval-every", str(RUN["eval_every"]),
           "--batch-size", str(RUN["batch_size"]), "--lr", str(RUN["lr"]), "--select-by", RUN["select_by"],
           "--seed", str(RUN["seed"]), "-q"]
    assert_best_classifier_kept(out, kill_after_dev_evaluations(cmd, out), dev_csv)


def test_killed_python_finetune_leaves_its_best_classifier(tmp_path, dev_csv):
    out = tmp_path / "clf"
    env = dict(os.environ)
    env["DNABERT_LIB"] = dnabert.library_path
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(dnabert.__file__)))] +
                                        ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    losses = kill_after_dev_evaluations([sys.executable, "-c", CHILD, MODEL_DIR, TASK, dev_csv, str(out)], out, env=env)
    # metrics.jsonl carries pretraining's keys, with the dev figures under "dev"
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    for k in ("step", "total_steps", "loss", "lr", "grad_norm", "tokens", "tokens_per_second", "elapsed_seconds",
              "eta_seconds", "val_loss", "val_accuracy"):
        assert k in first, k
    assert_best_classifier_kept(out, losses, dev_csv)
