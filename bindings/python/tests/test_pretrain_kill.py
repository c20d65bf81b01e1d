"""SIGKILL during checkpoint writes never leaves the latest checkpoint unreadable (CLI `dnabert pretrain`).

A tiny model trains with a checkpoint after every step, so the process spends most of its time writing
checkpoints; it is killed (SIGKILL) many times: right after a checkpoint's temporary folder appears (plus a random
few milliseconds, landing inside the file writes, fsyncs, rename and pruning), or after a random delay. After each
kill, the newest `checkpoint-<N>` folder is checked independently of the library (every file the marker lists has
the listed size and zlib CRC-32, safetensors headers parse and cover their files, the step agrees in the folder
name, marker, trainer_state.json and optimizer metadata), `dnabert model info` loads it, and the next run, started
with --resume, reports that it resumed exactly at step N. Training must also advance across the kills.

The test counts events, not wall-clock time: it kills until it has made 30 kills, 5 of them inside a checkpoint
write, hitting checkpoints at 3 different stages, and training has reached step 10 (at most 300 kills). The time
limits below only catch a hung process (generous, so a loaded machine does not fail the test).
"""
import json
import os
import random
import re
import signal
import struct
import subprocess
import time
import zlib

import pytest

from conftest import DNABERT2_TOKENIZER, find_cli

TOKENIZER = DNABERT2_TOKENIZER   # the repository's copy of DNABERT-2's tokenizer
# Targets (events), a cap on the number of kills, and a hang guard for each wait.
KILLS, INSIDE_WRITES, STAGES, STEPS, MAX_KILLS, HANG = 30, 5, 3, 10, 300, 120.0


CLI = find_cli()
pytestmark = pytest.mark.skipif(CLI is None, reason="the dnabert CLI is not built (make cli)")


def safetensors_check(path):
    """Parses a safetensors header (independently of the library); returns its metadata. Every tensor's byte
    range lies inside the file and the ranges end exactly at the end of the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        assert 2 <= n <= size - 8, f"{path}: header length {n} in a {size}-byte file"
        header = json.loads(f.read(n))
    end = 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        assert 0 <= a <= b, (path, name, a, b)
        count = 1
        for d in t["shape"]:
            count *= d
        assert b - a == count * {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4}[t["dtype"]], (path, name)
        end = max(end, b)
    assert 8 + n + end == size, f"{path}: tensors end at {8 + n + end}, the file has {size} bytes"
    return header.get("__metadata__", {})


def check_checkpoint(folder, step):
    """Independent completeness check of checkpoint-<step>."""
    for name in ("checkpoint.json", "config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"):
        assert os.path.isfile(os.path.join(folder, name)), f"{folder} is half-written: no {name}"
    marker = json.load(open(os.path.join(folder, "checkpoint.json")))
    assert marker["format"] == "dnabert-checkpoint" and marker["step"] == step, (folder, marker.get("step"))
    names = {f["name"] for f in marker["files"]}
    assert {"config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json",
            "tokenizer.json"} <= names, names
    for f in marker["files"]:
        data = open(os.path.join(folder, f["name"]), "rb").read()
        assert len(data) == f["size"], (folder, f["name"], len(data), f["size"])
        assert zlib.crc32(data) == f["crc32"], (folder, f["name"])
    state = json.load(open(os.path.join(folder, "trainer_state.json")))
    assert state["step"] == step
    safetensors_check(os.path.join(folder, "model.safetensors"))
    meta = safetensors_check(os.path.join(folder, "optimizer.safetensors"))
    assert int(meta["step"]) == step
    json.load(open(os.path.join(folder, "config.json")))
    json.load(open(os.path.join(folder, "tokenizer.json")))


def checkpoints(out):
    steps = []
    for name in os.listdir(out) if os.path.isdir(out) else []:
        m = re.fullmatch(r"checkpoint-(\d+)", name)
        if m:
            steps.append(int(m.group(1)))
    return sorted(steps)


def temporaries(out):
    return [n for n in os.listdir(out) if n.startswith(".tmp-checkpoint-")] if os.path.isdir(out) else []


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    rng = random.Random(11)
    seq = "".join(rng.choice("ACGT") for _ in range(30000))
    path = tmp_path_factory.mktemp("kill") / "random.fa"
    path.write_text(">r1\n" + "\n".join(seq[i:i + 80] for i in range(0, len(seq), 80)) + "\n")
    return str(path)


def test_sigkill_during_checkpoint_writes(tmp_path, fasta):
    out = str(tmp_path / "run")
    args = [CLI, "pretrain", "--config", "tiny", "--tokenizer", TOKENIZER, "--out", out,
            "--steps", "100000", "--batch-size", "2", "--seq-len", "32", "--eval-every", "0",
            "--checkpoint-every", "1", "--keep", "2", "--validation-windows", "2", "--threads", "1",
            "--seed", "7", "--resume", fasta]
    rng = random.Random(5)
    kills, inside_writes = 0, 0
    expected_start = 0
    resumed_at = []
    stages = set()          # how many files the half-written checkpoints held

    def targets_met():
        return kills >= KILLS and inside_writes >= INSIDE_WRITES and len(stages) >= STAGES and expected_start >= STEPS

    while kills < MAX_KILLS and not targets_met():
        log_path = str(tmp_path / f"log-{kills}.txt")
        with open(log_path, "w") as log:
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        try:
            # Wait for the run to have started (the line printed after it loaded the checkpoint).
            t0 = time.monotonic()
            text = ""
            while not re.search(r"pretraining[^\n]*\n", text):     # the whole line
                assert p.poll() is None, f"dnabert pretrain exited with {p.returncode}:\n{open(log_path).read()}"
                assert time.monotonic() - t0 < HANG, "dnabert pretrain did not start"
                time.sleep(0.002)
                text = open(log_path).read()
            m = re.search(r"resuming at step (\d+)", text)
            start = int(m.group(1)) if m else 0
            # The run continues from the newest complete checkpoint, the one verified after the last kill.
            assert start == expected_start, (start, expected_start, text)
            resumed_at.append(start)
            if kills % 2 == 0:
                # kill a few ms after a checkpoint's temporary folder appears: inside the writes, the rename or the pruning
                mine = f"-{p.pid}"
                t1 = time.monotonic()
                while not any(n.endswith(mine) for n in temporaries(out)):
                    assert p.poll() is None, f"dnabert pretrain exited with {p.returncode}:\n{open(log_path).read()}"
                    assert time.monotonic() - t1 < HANG, "no checkpoint write began"
                    time.sleep(0.0002)   # poll, leaving the cores to the process under test
                if rng.random() < 0.5:
                    time.sleep(rng.uniform(0, 0.004))
                else:
                    time.sleep(rng.uniform(0, 0.03))
            else:
                time.sleep(rng.uniform(0.0, 0.25))
            assert p.poll() is None, f"dnabert pretrain exited with {p.returncode}:\n{open(log_path).read()}"
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            assert p.returncode == -signal.SIGKILL
            kills += 1
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        left = [n for n in temporaries(out) if n.endswith(f"-{p.pid}")]
        if left:
            inside_writes += 1
            try:
                stages.add(len(os.listdir(os.path.join(out, left[0]))))
            except FileNotFoundError:
                pass
        done = checkpoints(out)
        if done:
            newest = done[-1]
            check_checkpoint(os.path.join(out, f"checkpoint-{newest}"), newest)
            r = subprocess.run([CLI, "model", "info", os.path.join(out, f"checkpoint-{newest}")],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0 and "layers 2, hidden 64" in r.stdout, r.stderr
            assert newest >= expected_start, "a newer checkpoint disappeared"
            expected_start = newest
    print(f"{kills} kills, {inside_writes} inside a checkpoint write (holding {sorted(stages)} files), resumed at steps {resumed_at}")
    assert kills >= KILLS
    # Kills landed inside checkpoint writes (a temporary folder was left), and training advanced across them.
    assert inside_writes >= INSIDE_WRITES, f"only {inside_writes} of {kills} kills left a checkpoint half-written"
    assert len(stages) >= STAGES, f"the kills hit only checkpoints holding {sorted(stages)} files"
    assert expected_start >= STEPS, f"training did not advance across the kills (newest checkpoint {expected_start})"
    assert resumed_at == sorted(resumed_at) and resumed_at[-1] > 0
    # A last run resumes from the newest checkpoint and trains on (its first new checkpoint appears).
    with open(str(tmp_path / "log-final.txt"), "w") as log:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    try:
        t0 = time.monotonic()
        while not any(s > expected_start for s in checkpoints(out)):
            assert p.poll() is None, open(str(tmp_path / "log-final.txt")).read()
            assert time.monotonic() - t0 < HANG, "no new checkpoint after the resume"
            time.sleep(0.01)
    finally:
        p.kill()
        p.wait()
    assert f"resuming at step {expected_start}" in open(str(tmp_path / "log-final.txt")).read()
