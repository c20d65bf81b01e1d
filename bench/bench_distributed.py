#!/usr/bin/env python3
"""Data-parallel pretraining over Open MPI on this machine (issue 15): steps/s of 2 ranks x 1 thread against
1 process x 2 threads with the same global batch (grad-accum 2), for the small and the 117M (base) shapes,
alternating the two runs (the machine is shared); plus the loopback allreduce bandwidth and how much of the
gradient allreduce the overlap with the backward hides (DNABERT_MPI_STATS).

    python3 bench/bench_distributed.py [--rounds 3] [--steps 6] [--shapes small,base]

Step time = (elapsed at the last step - elapsed at step 2) / (steps - 2) from metrics.jsonl, so start-up, MPI
initialisation and the first step's allocations are excluded.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("DNABERT_CLI", os.path.join(REPO, "build", "bin", "dnabert"))
TOK = os.path.join(REPO, "examples", "data", "dnabert2", "tokenizer.json")
GENOME = os.path.join(REPO, "examples", "data", "hpylori_sjm180.fasta.gz")
SHAPES = {"small": dict(batch=8, seq=128), "base": dict(batch=4, seq=128)}


def step_time(out):
    rows = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if l.strip()]
    a, b = rows[1], rows[-1]
    return (b["elapsed_seconds"] - a["elapsed_seconds"]) / (b["step"] - a["step"])


def one(shape, steps, mode, tmp):
    out = tempfile.mkdtemp(dir=tmp)
    s = SHAPES[shape]
    args = [CLI, "pretrain", "--config", shape, "--tokenizer", TOK, "--out", out, "--steps", str(steps),
            "--batch-size", str(s["batch"]), "--seq-len", str(s["seq"]), "--eval-every", "0", "--checkpoint-every", "0",
            "--validation-windows", "1", "--keep", "1", "-q", GENOME]
    env = dict(os.environ)
    if mode == "mpi":
        cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", "2"]
        if os.geteuid() == 0:
            cmd.insert(1, "--allow-run-as-root")
        cmd += args + ["--distributed", "--threads", "1"]
        env["DNABERT_MPI_STATS"] = "1"
    else:
        cmd = args + ["--grad-accum", "2", "--threads", "2"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    t = step_time(out)
    stats = None
    m = re.search(r"mpi-stats: (.*)", r.stderr)
    if m:
        f = m.group(1).split()
        stats = {f[i]: float(f[i + 1]) for i in range(0, len(f), 2)}
    shutil.rmtree(out, ignore_errors=True)
    return t, stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--shapes", default="small,base")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-dist-")
    for shape in a.shapes.split(","):
        mpi, thr, stats = [], [], []
        for _ in range(a.rounds):  # alternate A/B: the machine is shared
            t, s = one(shape, a.steps, "mpi", tmp)
            mpi.append(t)
            stats.append(s)
            thr.append(one(shape, a.steps, "threads", tmp)[0])
        tm, tt = statistics.median(mpi), statistics.median(thr)
        s = {k: statistics.median(x[k] for x in stats) for k in stats[0]}
        gb = s["gradient_bytes"]
        # ring allreduce moves 2 (N-1)/N of the buffer per rank: with N = 2, the buffer itself
        bw = gb * 2 * (2 - 1) / 2 / s["allreduce_alone_s"] / 1e9
        hidden = 1 - s["waited_s_per_step"] / max(s["overlapped_comm_s_per_step"], 1e-12)
        print(f"{shape}: 2 ranks x 1 thread {tm * 1e3:.0f} ms/step ({1 / tm:.2f} steps/s), 1 process x 2 threads "
              f"{tt * 1e3:.0f} ms/step ({1 / tt:.2f} steps/s): ratio {tt / tm:.2f}x (goal >= 0.9)")
        print(f"  gradient {gb / 1e6:.1f} MB; blocking allreduce alone {s['allreduce_alone_s'] * 1e3:.1f} ms "
              f"(loopback bus bandwidth {bw:.2f} GB/s); during the run the allreduce spans "
              f"{s['overlapped_comm_s_per_step'] * 1e3:.1f} ms/step of which {s['waited_s_per_step'] * 1e3:.1f} ms is "
              f"waited after the backward ({hidden * 100:.0f}% hidden)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
