#!/usr/bin/env python3
"""Process memory of a model at float32 and int8 (README "Reduced precision", Memory). A measurement, not a test.

Each case runs in its own process and prints VmRSS after the model is ready and VmHWM (the peak), from
/proc/self/status, with the interpreter's and library's share (RSS right after `import dnabert`) shown apart:
  small-fp32 / small-int8   the shipped dnabert2-small-5genomes, loaded (int8: `quantize("int8")`, then the float32
                            model deleted)
  117m-fp32 / 117m-int8     a random DNABERT-2-117M-shaped model (`Model.from_config(cfg, seed=1)`, the config of
                            bench/bench_precision.py), int8 as above
  small-saved / 117m-saved  loading the int8 folder the int8 case saved (no calibration, no float32 original)

Usage: python3 bench/bench_int8_memory.py [--cases small-fp32,small-int8,...]   (library: DNABERT_LIB as usual)
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SMALL = os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes")
CFG_117M = {"vocab_size": 4096, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
            "intermediate_size": 3072}
CASES = ["small-fp32", "small-int8", "small-saved", "117m-fp32", "117m-int8", "117m-saved"]

CHILD = r"""
import gc, sys
import dnabert
def status():
    d = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            k, v = line.split()[:2]
            d[k[:-1]] = int(v) / 1024
    return d
case, small, cfg, saved = sys.argv[1], sys.argv[2], eval(sys.argv[3]), sys.argv[4]
base = status()
which, what = case.split("-")
if what == "saved":
    m = dnabert.Model.from_pretrained(saved)
else:
    m = dnabert.Model.from_pretrained(small) if which == "small" else dnabert.Model.from_config(cfg, seed=1)
    if what == "int8":
        q = m.quantize("int8")
        del m
        gc.collect()
        m = q
after = status()
print(f"{case:12s} {m.precision:5s} {m.num_parameters():>12,} parameters   RSS {after['VmRSS']:6.0f} MB "
      f"(library + interpreter {base['VmRSS']:.0f} MB)   peak {after['VmHWM']:6.0f} MB", flush=True)
if what == "int8":
    m.save_pretrained(saved)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    for c in cases:
        if c not in CASES:
            sys.exit(f"unknown case {c!r} (expected some of {','.join(CASES)})")
    with tempfile.TemporaryDirectory(prefix="bench-int8-memory-") as tmp:
        for c in cases:
            which = c.split("-")[0]
            saved = os.path.join(tmp, which + "-int8")
            if c.endswith("-saved") and not os.path.isdir(saved):
                subprocess.run([sys.executable, "-c", CHILD, which + "-int8", SMALL, repr(CFG_117M), saved], check=True,
                               stdout=subprocess.DEVNULL)
            subprocess.run([sys.executable, "-c", CHILD, c, SMALL, repr(CFG_117M), saved], check=True)


if __name__ == "__main__":
    main()
