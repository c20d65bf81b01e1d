#!/usr/bin/env python3
"""Tokenize a genome with DNABERT-2's tokenizer and with one trained on the genome itself; map tokens back to
genome coordinates. Usage: python3 tokenize_genome.py genome.fa[.gz]"""
import gzip
import os
import sys
import time

import dnabert

HERE = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data", "hpylori_sjm180.fasta.gz")
opener = gzip.open if path.endswith(".gz") else open
with opener(path, "rt") as f:
    genome = "".join(line.strip() for line in f if not line.startswith(">"))

dnabert2 = dnabert.Tokenizer.from_file(os.path.join(HERE, "..", "data", "dnabert2", "tokenizer.json"))
own = dnabert.Tokenizer.train([path], vocab_size=1024, progress=False)

for name, tok in (("DNABERT-2 tokenizer", dnabert2), ("trained here (1024)", own)):
    t0 = time.perf_counter()
    ids = tok.encode(genome, add_special_tokens=False)
    dt = time.perf_counter() - t0
    print(f"{name}: {len(genome):,} bp -> {len(ids):,} tokens, {len(genome) / len(ids):.2f} bp/token, "
          f"{len(genome) / dt / 1e6:.1f} Mbp/s")

ids, offsets = dnabert2.encode(genome[:40], return_offsets=True)
print("first tokens with their genome coordinates (0-based, end exclusive):")
for i, (start, end) in zip(ids, offsets):
    print(f"  {i:5d} {dnabert2.id_to_token(int(i)):10s} {start:3d}-{end:3d}")
assert dnabert2.decode(ids) == genome[:40]
