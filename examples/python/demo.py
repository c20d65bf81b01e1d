#!/usr/bin/env python3
"""`make demo`: the main job on the bundled data — train a DNABERT-2-style BPE tokenizer on a bundled genome,
encode another genome with it and with DNABERT-2's own tokenizer, print compression and speed."""
import gzip
import os
import tempfile
import time

import dnabert

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
train_file = os.path.join(DATA, "hpylori_sjm180.fasta.gz")
test_file = os.path.join(DATA, "saureus_n315.fasta.gz")


def read(path):
    with gzip.open(path, "rt") as f:
        return "".join(line.strip() for line in f if not line.startswith(">"))


print(f"dnabert {dnabert.version()} ({dnabert.library_path})")
t0 = time.perf_counter()
tok = dnabert.Tokenizer.train([train_file], vocab_size=4096)
print(f"trained a 4096-token BPE tokenizer on H. pylori ({len(read(train_file)) / 1e6:.2f} Mbp) "
      f"in {time.perf_counter() - t0:.2f} s")
out = os.path.join(tempfile.gettempdir(), "dnabert-demo-tokenizer.json")
tok.save(out)
print(f"saved to {out} (Hugging Face tokenizer.json format)")

genome = read(test_file)
windows = [genome[i:i + 1000] for i in range(0, len(genome) - 999, 1000)]
reference = dnabert.Tokenizer.from_file(os.path.join(DATA, "dnabert2", "tokenizer.json"))
print(f"\nencoding S. aureus ({len(genome) / 1e6:.2f} Mbp):")
print(f"{'tokenizer':28s} {'bp/token':>9s} {'batch 1 kbp':>13s} {'whole genome':>14s}")
for name, t in (("trained on H. pylori", tok), ("DNABERT-2 (published)", reference)):
    t0 = time.perf_counter()
    rows = t.encode_batch(windows, add_special_tokens=False)
    tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = t.encode(genome, add_special_tokens=False)
    tc = time.perf_counter() - t0
    print(f"{name:28s} {len(genome) / len(ids):9.2f} {len(windows) * 1000 / tb / 1e6:8.1f} Mbp/s "
          f"{len(genome) / tc / 1e6:9.1f} Mbp/s")
    assert t.decode(ids) == genome
print("\ndecode(encode(genome)) == genome for both tokenizers")
