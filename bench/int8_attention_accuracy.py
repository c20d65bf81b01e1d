#!/usr/bin/env python3
"""How far an int8 model's outputs are from float32's with float32 and with bf16 attention tile products.

    python3 bench/int8_attention_accuracy.py [--data DIR]      (DIR: shared/data; default: $DNABERT_DATA)

On the data of the MLM accuracy gate (bindings/python/tests/test_precision.py: the shipped dnabert2-small-5genomes,
200 genome windows of 500 bp, 15 % of the tokens masked) it prints, for each setting of DNABERT_INT8_ATTENTION
that this CPU can run (each in its own process, since the library reads it once): the rms and largest error of the
MLM logits on the masked positions against float32, the relative error of the last hidden states, and the number
of masked positions whose argmax differs from float32's (all, and those without a near-tie).
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CHILD = r"""
import os, sys, numpy as np
sys.path.insert(0, os.path.join(sys.argv[1], "bindings", "python", "tests"))
import dnabert, test_precision as tp
fp32 = dnabert.Model.from_pretrained(tp.MODEL)
int8 = fp32.quantize("int8")
tok = fp32.tokenizer
seqs = tp.genome_windows(200, 500, seed=1)
batch = tok.encode_batch(seqs, max_length=128, padding="max_length")
ids, mask = np.array(batch.input_ids), np.array(batch.attention_mask)
rng = np.random.default_rng(2)
special = np.isin(ids, list(tok.special_ids.values()))
chosen = (rng.random(ids.shape) < 0.15) & ~special & (mask == 1)
ids[chosen] = tok.special_ids.get("mask", tok.special_ids.get("[MASK]"))
la = fp32.mlm_logits(ids, mask)[chosen].astype(np.float64)
lb = int8.mlm_logits(ids, mask)[chosen].astype(np.float64)
err = lb - la
top2 = np.sort(la, -1)[:, -2:]
clear = (top2[:, 1] - top2[:, 0]) > 0.05
flips = la.argmax(-1) != lb.argmax(-1)
h = fp32.forward(ids, mask).astype(np.float64)
g = int8.forward(ids, mask).astype(np.float64)
m = mask.astype(bool)
rel = np.sqrt(((g - h)[m] ** 2).sum() / (h[m] ** 2).sum())
print(f"{dnabert.int8_attention():>8s}: logit rms error {np.sqrt((err ** 2).mean()):.5f} (logit std {la.std():.3f}), "
      f"max {np.abs(err).max():.4f}; hidden-state relative error {rel:.6f}; argmax differs on {flips.sum()} of "
      f"{len(flips)} masked positions ({flips[clear].sum()} without a near-tie)")
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("DNABERT_DATA"),
                    help="the shared data folder (genomes/); default $DNABERT_DATA, else the repository's two genomes")
    args = ap.parse_args()
    seen = set()
    for setting in ("float32", "bf16"):
        env = dict(os.environ, DNABERT_INT8_ATTENTION=setting)
        if args.data:
            env["DNABERT_DATA"] = args.data
        out = subprocess.run([sys.executable, "-c", CHILD, ROOT], env=env, check=True, capture_output=True,
                             text=True).stdout.strip()
        mode = out.split(":")[0].strip()
        if mode in seen:
            print(f"(DNABERT_INT8_ATTENTION={setting}: this CPU has no AVX512_BF16, it ran {mode} again)")
            continue
        seen.add(mode)
        print(out)


if __name__ == "__main__":
    main()
