#!/usr/bin/env python3
"""Embed 1 kbp windows of a genome with a model folder and summarise: shape, speed, how similar neighbouring
windows are compared with distant ones. Usage: python3 embed_genome.py MODEL_DIR genome.fa[.gz] [max_windows]"""
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
