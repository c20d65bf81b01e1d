#!/usr/bin/env python3
"""Reference encodings of the DNABERT-2 tokenizer, computed by Hugging Face `tokenizers`, for the R tests.

Writes a tab-separated file (one row per case) that the R package's testthat suite compares against:
  name        case label
  sequence    the input text (no tabs or newlines)
  ids         HF ids with special tokens, space separated
  offsets     HF [start,end) character offsets for each token as "start:end", space separated
  ids_plain   HF ids without special tokens (add_special_tokens=False)
  ids_upper   HF ids of sequence.upper() (what uppercase=TRUE must give)
  ids_trunc16 HF ids with truncation to max_length=16 (special tokens included)

Usage: python3 tools/reference/make_r_fixture.py [tokenizer.json] [genome.fasta.gz] [out.tsv]
"""
import gzip
import random
import sys

from tokenizers import Tokenizer

TOKENIZER = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/dnabert2/tokenizer.json"
GENOME = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/genomes/hpylori_sjm180.fasta.gz"
OUT = sys.argv[3] if len(sys.argv) > 3 else "bindings/R/tests/testthat/fixtures/dnabert2_hf_reference.tsv"


def read_first_record(path):
    seq = []
    with gzip.open(path, "rt") as f:
        for i, line in enumerate(f):
            if line.startswith(">"):
                if i > 0:
                    break
                continue
            seq.append(line.strip())
    return "".join(seq)


def main():
    tok = Tokenizer.from_file(TOKENIZER)
    genome = read_first_record(GENOME)
    rng = random.Random(20261125)

    cases = [
        ("empty", ""),
        ("one_base", "A"),
        ("each_base", "T"),
        ("short", "ACGTACGTAC"),
        ("lower_case", "acgtacgtaaccggtt"),
        ("mixed_case", "ACGTacgtACGTTTGA"),
        ("n_run", "ACGTTGCANNNNNNNNNNACGGTTCA"),
        ("only_n", "NNNNNNNN"),
        ("iupac", "ACGRYKMSWBDHVNACGT"),
        ("mask_inside", "ACGTAGCT[MASK]GGATCCAT"),
        ("two_masks", "[MASK]ACGT[MASK]"),
        ("space_inside", "ACGTTA GGCATT"),
        ("dash_inside", "ACGT-TTAG"),
        ("homopolymer", "A" * 40),
        ("dinucleotide_repeat", "CA" * 30),
    ]
    for k in range(4):
        start = rng.randrange(0, len(genome) - 1000)
        cases.append((f"genome_window_{k + 1}_{start}", genome[start:start + 1000]))
    cases.append(("genome_window_lower", genome[5000:5300].lower()))

    def ids_str(ids):
        return " ".join(str(i) for i in ids)

    tok_trunc = Tokenizer.from_file(TOKENIZER)
    tok_trunc.enable_truncation(max_length=16)

    rows = ["name\tsequence\tids\toffsets\tids_plain\tids_upper\tids_trunc16"]
    for name, seq in cases:
        assert "\t" not in seq and "\n" not in seq
        enc = tok.encode(seq)
        plain = tok.encode(seq, add_special_tokens=False)
        upper = tok.encode(seq.upper())
        trunc = tok_trunc.encode(seq)
        offs = " ".join(f"{s}:{e}" for s, e in enc.offsets)
        rows.append("\t".join([name, seq, ids_str(enc.ids), offs, ids_str(plain.ids), ids_str(upper.ids),
                               ids_str(trunc.ids)]))
    with open(OUT, "w") as f:
        f.write("\n".join(rows) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
