#!/usr/bin/env python3
"""Exhaustive check of the Swift tokenizer against Hugging Face `tokenizers` on real genomes.

Writes every 1 kbp window of every genome in ../shared/data/genomes (plus lower-case and N-containing
variants of some, one 100 kbp window per genome, and 5000 random strings mixing DNA with special tokens,
whitespace, punctuation and non-ASCII) to a text file, runs the Swift dump probe on it, and
compares ids and offsets with HF line by line.

  python3 tools/reference/compare_tokenizer_exhaustive.py   (from the package root; builds in release)
"""
import array
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import GENOMES, TOKJSON, ROOT, read_genome, byte_offsets  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def main():
    work = os.environ.get("TMPDIR", "/tmp") + f"/dnabert-exhaustive-{os.getpid()}"
    os.makedirs(work, exist_ok=True)
    rng = random.Random(7)
    lines = []
    for g in sorted(os.listdir(GENOMES)):
        if not g.endswith(".fasta.gz"):
            continue
        seq = read_genome(os.path.join(GENOMES, g), limit=10**9)
        for i in range(0, len(seq) - 999, 1000):
            lines.append(seq[i:i + 1000])
        for _ in range(200):
            i = rng.randrange(0, len(seq) - 1000)
            w = list(seq[i:i + 1000])
            for _ in range(5):
                w[rng.randrange(1000)] = rng.choice("Nnacgt -")
            lines.append("".join(w))
        lines.append(seq[len(seq) // 2:len(seq) // 2 + 100_000])
    # Random strings mixing DNA with specials, partial specials, whitespace, punctuation, non-ASCII.
    pieces = list("ACGTACGTNnacgt -_.*[]\t\r") + ["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MAS", "MASK]",
                                                   "é", "日", "\u0301", "\u200d", "\u00a0", "\u2003", "😀",
                                                   "\x00", "\x7f", "\u0085", "٣", "Ⅻ", "ǅ", "\U0001e900"]
    for _ in range(5000):
        n = rng.choice([0, 1, 2, 5, 10, 30, 100, 400, 1500])
        w = rng.choice([0.9, 0.5, 0.1])
        lines.append("".join(rng.choice("ACGT") if rng.random() < w else rng.choice(pieces) for _ in range(n)))
    inp, out = os.path.join(work, "in.txt"), os.path.join(work, "out.bin")
    with open(inp, "w") as f:
        for l in lines:
            f.write(l + "\n")
    env = dict(os.environ, DNABERT_EXHAUSTIVE=f"{inp}:{out}")
    subprocess.run(["swift", "build", "-c", "release", "--build-tests", "-Xswiftc", "-enable-testing"], cwd=ROOT, check=True)
    subprocess.run(["swift", "test", "-c", "release", "-Xswiftc", "-enable-testing", "--skip-build",
                    "--filter", "TokenizerExhaustiveProbe"], cwd=ROOT, env=env, check=True)
    ours = array.array("i")
    with open(out, "rb") as f:
        ours.frombytes(f.read())
    tok = Tokenizer.from_file(TOKJSON)
    encs = tok.encode_batch(lines)
    pos = 0
    bad = 0
    for k, (text, e) in enumerate(zip(lines, encs)):
        n = ours[pos]
        ids = list(ours[pos + 1:pos + 1 + n])
        offs = list(ours[pos + 1 + n:pos + 1 + 3 * n])
        pos += 1 + 3 * n
        if ids != e.ids or offs != byte_offsets(text, e.offsets):
            bad += 1
            if bad < 5:
                print("MISMATCH line", k, text[:80])
    assert pos == len(ours)
    print(f"{len(lines)} sequences ({sum(map(len, lines)) / 1e6:.1f} Mbp): {bad} mismatches")
    os.remove(inp)
    os.remove(out)
    os.rmdir(work)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
