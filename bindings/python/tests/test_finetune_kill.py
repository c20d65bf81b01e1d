"""A `dnabert finetune` run killed part-way leaves its best classifier so far, loadable, in --out.

The CLI saves the classifier (every file written atomically) after each dev evaluation that improves on the best.
The run is SIGKILLed after a few evaluations; the saved classifier must load and its dev loss, recomputed here,
must be one of the dev losses the run recorded — the lowest one recorded, or a newer best whose metrics line the
kill cut off."""
import json
import os
import signal
import subprocess
import time

import pytest

import dnabert
from conftest import find_cli

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL_DIR = os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes")
TASK = os.path.join(ROOT, "examples", "data", "tasks", "coding_200")
CLI = find_cli()
pytestmark = pytest.mark.skipif(CLI is None, reason="the dnabert CLI is not built (make cli)")


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


def test_killed_finetune_leaves_its_best_classifier(tmp_path):
    out = tmp_path / "clf"
    cmd = [CLI, "finetune", "--model", MODEL_DIR, "--train", f"{TASK}/train.csv", "--dev", f"{TASK}/dev.csv",
           "--out", str(out), "--max-steps", "400", "--eval-every", "4", "--batch-size", "16", "--lr", "2e-3",
           "--select-by", "loss", "--seed", "3", "-q"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 240
    try:
        while time.time() < deadline and p.poll() is None and len(recorded_dev_losses(metrics)) < 4:
            time.sleep(0.05)
        assert p.poll() is None, "the run ended before it could be killed: " + p.stderr.read().decode()[-2000:]
        p.send_signal(signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    losses = recorded_dev_losses(metrics)
    assert len(losses) >= 4
    assert not (out / "test_metrics.json").exists(), "the run was meant to be cut short"
    model = dnabert.Model.from_pretrained(MODEL_DIR)
    clf = dnabert.Classifier.load(model, str(out))
    again = clf.evaluate(f"{TASK}/dev.csv")["loss"]
    best = min(losses)
    assert abs(best - again) <= 1e-5 * max(1.0, abs(best)) or again < best, \
        f"saved classifier's dev loss {again} is not the best recorded {best} (recorded: {losses})"
