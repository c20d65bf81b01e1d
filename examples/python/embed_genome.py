#!/usr/bin/env python3
"""Embed 1 kbp windows of a genome with a model folder and summarise: shape, speed, how similar neighbouring
windows are compared with distant ones, and the same windows with the model quantized to int8 (speed, and how
close its embeddings stay to float32's). Usage: python3 embed_genome.py MODEL_DIR genome.fa[.gz] [max_windows]"""
import gzip
import sys
import time

import numpy as np

import dnabert

model_dir, path = sys.argv[1], sys.argv[2]
max_windows = int(sys.argv[3]) if len(sys.argv) > 3 else 400
opener = gzip.open if path.endswith(".gz") else open
with opener(path, "rt") as f:
    genome = "".join(line.strip() for line in f if not line.startswith(">"))

model = dnabert.Model.from_pretrained(model_dir)
print(model, "| BLAS:", dnabert.blas_info())
windows = [genome[i:i + 1000] for i in range(0, len(genome) - 999, 1000)][:max_windows]
t0 = time.perf_counter()
emb = model.embed(windows, pooling="mean")
dt = time.perf_counter() - t0
print(f"{len(windows)} windows of 1 kbp -> embeddings {emb.shape} in {dt:.2f} s ({len(windows) / dt:.0f} windows/s)")
unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
neighbours = np.sum(unit[1:] * unit[:-1], axis=1).mean()
rng = np.random.default_rng(0)
a, b = rng.integers(0, len(unit), (2, 2000))
print(f"cosine similarity: adjacent windows {neighbours:.3f}, random pairs {np.sum(unit[a] * unit[b], axis=1).mean():.3f}")

# a whole record longer than one window is embedded by overlapping windows, stitched back
long = model.embed([genome[:50_000]], max_length=512, overlap=64)
print(f"one 50 kbp sequence -> {long.shape} (sliding windows of 512 tokens)")

# int8: the four linears of each layer in int8 (weights per output channel, activations per token); the rest of
# the model stays float32. Quantizing calibrates once on random tokens; save_pretrained would keep the int8 form.
int8 = model.quantize("int8")
t0 = time.perf_counter()
emb8 = int8.embed(windows, pooling="mean")
dt8 = time.perf_counter() - t0
cos = np.sum(emb8 * emb, axis=1) / np.linalg.norm(emb8, axis=1) / np.linalg.norm(emb, axis=1)
print(f"int8 ({dnabert.int8_kernel()} kernel, {dnabert.int8_attention()} attention products): {len(windows) / dt8:.0f} windows/s ({dt / dt8:.2f}x float32), "
      f"cosine to the float32 embeddings median {np.median(cos):.6f}, min {cos.min():.6f}")
