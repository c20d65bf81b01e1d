#!/usr/bin/env python3
"""Hugging Face `tokenizers` speed on the inputs of our perf probe (TokenizerPerfProbe), for comparison
in the same session. Also writes the probe's input (E. coli as one line) to /tmp/ecoli.txt.

  RAYON_NUM_THREADS=2 python3 tools/reference/hf_tokenizer_speed.py
  DNABERT_PERF=/tmp/ecoli.txt swift test -c release -Xswiftc -enable-testing --filter TokenizerPerfProbe

Prints wall-clock Mbp/s and Mbp per CPU-second (the latter is robust when other jobs share the machine).
"""
import gzip
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import GENOMES, TOKJSON  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def best(f, n, clock):
    b = 1e9
    for _ in range(n):
        s = clock()
        f()
        b = min(b, clock() - s)
    return b


def main():
    with gzip.open(os.path.join(GENOMES, "ecoli_k12_mg1655.fasta.gz"), "rt") as f:
        seq = "".join(l.strip() for l in f if not l.startswith(">"))
    with open("/tmp/ecoli.txt", "w") as f:
        f.write(seq)
    t = Tokenizer.from_file(TOKJSON)
    wins = [seq[i:i + 1000] for i in range(0, 2_000_000, 1000)]
    one = seq[:1_000_000]
    threads = os.environ.get("RAYON_NUM_THREADS", "all")
    for name, clock in [("wall", time.perf_counter), ("per CPU-second", time.process_time)]:
        tb = best(lambda: t.encode_batch(wins), 3, clock)
        t1 = best(lambda: t.encode(one), 2, clock)
        tl = best(lambda: t.encode(seq), 1, clock)
        print(f"HF {name}: batch 1kbp x{len(wins)} (threads {threads}) {2.0 / tb:.2f} Mbp/s; "
              f"single 1 Mbp {1.0 / t1:.2f} Mbp/s; single {len(seq) / 1e6:.2f} Mbp {len(seq) / 1e6 / tl:.2f} Mbp/s")


if __name__ == "__main__":
    main()
