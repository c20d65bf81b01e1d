#!/usr/bin/env python3
"""The k-mer logistic-regression baselines of the labelled tasks (../shared/data/tasks), next to which the
fine-tuning results of bench/finetune_tasks.py are read.

Features: overlapping k-mer counts of each sequence (k = 6 by default); model: scikit-learn's LogisticRegression
(L2, lbfgs). Prints test MCC with scikit-learn's default regularisation (C = 1) and with C chosen on the dev set
from a grid (the stronger, tuned baseline), so a fine-tuned model can be compared with both.

Usage: python3 bench/kmer_baseline.py [--tasks gene_start_300,splice_400,coding_200] [--k 6]
"""
import argparse
import csv
import os

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import matthews_corrcoef

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("DNABERT_SHARED") or os.path.join(ROOT, "..", "shared")
GRID = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["sequence"].strip().upper() for r in rows], np.array([int(r["label"]) for r in rows])


def kmer_documents(seqs, k):
    return [" ".join(s[i:i + k] for i in range(len(s) - k + 1)) for s in seqs]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="gene_start_300,splice_400,coding_200")
    ap.add_argument("--k", type=int, default=6)
    a = ap.parse_args()
    print(f"| task | {a.k}-mer LR test MCC, C = 1 | C chosen on dev | its dev MCC | its test MCC |")
    print("|---|---|---|---|---|")
    for task in a.tasks.split(","):
        d = os.path.join(SHARED, "data", "tasks", task)
        (tr, ytr), (dv, ydv), (te, yte) = (read(os.path.join(d, f"{s}.csv")) for s in ("train", "dev", "test"))
        vec = CountVectorizer(token_pattern=r"\S+", lowercase=False)
        xtr = vec.fit_transform(kmer_documents(tr, a.k))
        xdv, xte = vec.transform(kmer_documents(dv, a.k)), vec.transform(kmer_documents(te, a.k))
        results = {}
        for c in GRID:
            m = LogisticRegression(C=c, max_iter=5000).fit(xtr, ytr)
            results[c] = (matthews_corrcoef(ydv, m.predict(xdv)), matthews_corrcoef(yte, m.predict(xte)))
        best = max(GRID, key=lambda c: results[c][0])
        print(f"| {task} | {results[1.0][1]:.3f} | {best:g} | {results[best][0]:.3f} | {results[best][1]:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
