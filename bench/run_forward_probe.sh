#!/bin/sh
# Interleaved runs of dnabert-probe and the PyTorch eager peer (2 threads, 117M shape, random weights).
# Usage: sh bench/run_forward_probe.sh [rounds]   (after: swift build -c release --product dnabert-probe)
# OPENBLAS_CORETYPE is removed so the probe shows the library's own core-type choice.
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
for r in $(seq "$ROUNDS"); do
  for s in "1 128 2 5" "8 128 2 3" "1 512 2 3" "1 2048 2 2" "1 8192 2 1"; do
    env -u OPENBLAS_CORETYPE python3 bench/bench_forward_probe_torch.py $s
    env -u OPENBLAS_CORETYPE ./.build/release/dnabert-probe forward $s | grep '^forward'
    env -u OPENBLAS_CORETYPE DNABERT_NO_TILE_SKIP=1 ./.build/release/dnabert-probe forward $s | sed 's/^forward/forward(dense attention)/' | grep '^forward'
  done
done
