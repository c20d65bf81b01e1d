"""Writes Tests/c/tokenizer_fixture.tsv: sequences and the ids Hugging Face `tokenizers` gives for them with
DNABERT-2's tokenizer.json (with special tokens). The C test compares libdnabert against these.
Run by hand: python3 tools/reference/make_c_fixture.py ../shared"""
import gzip
import os
import random
import sys

from tokenizers import Tokenizer

shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")
tok = Tokenizer.from_file(os.path.join(shared, "data", "dnabert2", "tokenizer.json"))

with gzip.open(os.path.join(shared, "data", "genomes", "saureus_n315.fasta.gz"), "rt") as f:
    genome = "".join(line.strip() for line in f if not line.startswith(">"))

rng = random.Random(7)
cases = ["A", "ACGT", "NNNNNNNNNN", "acgtACGT", "ACGTRYKMSWBDHVN", "ACGT[MASK]ACGT", "ACG-TTA.GGC*AT"]
for length in (10, 100, 1000, 1000, 1000, 5000):
    start = rng.randrange(0, len(genome) - length)
    cases.append(genome[start:start + length])

out = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "c", "tokenizer_fixture.tsv")
with open(out, "w") as f:
    for s in cases:
        ids = tok.encode(s).ids
        f.write(s + "\t" + " ".join(map(str, ids)) + "\n")
print("wrote", len(cases), "cases to", out)
