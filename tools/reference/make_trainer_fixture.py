#!/usr/bin/env python3
"""Reference merges from Hugging Face `tokenizers` BpeTrainer for Tests/DNABertTests/BPETrainerTests.swift.

Corpus: the first BASES bases of a genome's first record cut into WORD-base lines (one HF "word" per line, the
Whitespace pre-tokenizer), trained to VOCAB tokens (5 specials included) with min_frequency 2. Writes
Tests/Fixtures/hf_bpe_trainer_<name>.json with the settings, the alphabet and the merges in rank order.

    python3 tools/reference/make_trainer_fixture.py examples/data/hpylori_sjm180.fasta.gz hpylori   # in the repo
    python3 tools/reference/make_trainer_fixture.py $DNABERT_DATA/genomes/ecoli_k12_mg1655.fasta.gz ecoli
"""
import gzip, json, os, sys
import tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
if len(sys.argv) != 3:
    sys.exit(__doc__)
genome, name = sys.argv[1], sys.argv[2]
BASES, WORD, VOCAB = 300_000, 1000, 1024

seq = []
with gzip.open(genome, "rt") as f:
    for line in f:
        if line.startswith(">"):
            if seq: break
            continue
        seq.append(line.strip())
seq = "".join(seq)[:BASES]
assert set(seq) <= set("ACGT"), "expected plain ACGT in the fixture region"
lines = [seq[i:i + WORD] for i in range(0, len(seq), WORD)]

specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
tok = Tokenizer(models.BPE(unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, special_tokens=specials, show_progress=False)
tok.train_from_iterator(lines, trainer)
model = json.loads(tok.to_str())["model"]
merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
vocab = sorted(model["vocab"].items(), key=lambda kv: kv[1])
alphabet = [t for t, i in vocab if i >= 5 and len(t) == 1 and i < 5 + 4]
# Every merge must add exactly one token (true unless HF re-derives an existing string).
assert len(merges) == VOCAB - 5 - len(alphabet), (len(merges), len(alphabet))
out = {
    "generator": f"tools/reference/make_trainer_fixture.py, tokenizers {tokenizers.__version__}",
    "file": os.path.basename(genome), "bases": BASES, "word_length": WORD, "vocab_size": VOCAB,
    "min_frequency": 2, "alphabet": alphabet, "merges": merges,
}
path = os.path.join(root, "Tests", "Fixtures", f"hf_bpe_trainer_{name}.json")
with open(path, "w") as f:
    json.dump(out, f, indent=0)
print(f"wrote {path}: {len(merges)} merges, alphabet {alphabet}")
