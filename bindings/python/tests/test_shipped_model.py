"""The project's shipped model (examples/models/, pretrained here by `dnabert pretrain`) has learned DNA: on
held-out genome (the last 5% of each record, never trained on) its masked-token loss is well below the unigram
baseline and its accuracy well above the most-frequent-token guess. Masking and both baselines are computed here,
independently of the library's training code."""
import glob
import gzip
import os

import numpy as np
import pytest

import dnabert

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL = os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes")

from conftest import GENOMES, needs_data


def records(path):
    out, cur = [], []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if cur:
                    out.append("".join(cur))
                cur = []
            else:
                cur.append(line.strip())
    if cur:
        out.append("".join(cur))
    return out


@pytest.fixture(scope="module")
def model():
    return dnabert.Model.from_pretrained(MODEL)


# The thresholds below were set on the held-out tails of all five genomes the model was pretrained on.
@needs_data("the five pretraining genomes (genomes/*.fasta.gz)")
def test_beats_unigram_baseline_on_held_out_dna(model):
    tok = model.tokenizer
    train_counts = np.zeros(tok.vocab_size)
    windows = []
    rng = np.random.default_rng(0)
    for f in sorted(glob.glob(os.path.join(GENOMES, "*.fasta.gz"))):
        for r in records(f):
            cut = len(r) - -(-len(r) * 5 // 100)   # the held-out tail: the last 5% (rounded up)
            train_counts += np.bincount(tok.encode(r[:cut], add_special_tokens=False), minlength=tok.vocab_size)
            tail = r[cut:]
            for s in rng.integers(0, max(1, len(tail) - 700), 12):
                w = tail[s:s + 700]
                if "N" not in w:
                    windows.append(w)
    batch = tok.encode_batch(windows, max_length=128, padding="max_length")
    ids, mask = batch.input_ids, batch.attention_mask
    special = np.isin(ids, list(tok.special_ids.values()))
    chosen = (rng.random(ids.shape) < 0.15) & ~special & (mask == 1)
    labels = ids[chosen]
    p = (train_counts + 1) / (train_counts + 1).sum()
    unigram_loss = -np.log(p[labels]).mean()
    unigram_acc = (labels == p.argmax()).mean()

    def mlm(inputs):
        logits = model.mlm_logits(inputs, mask).astype(np.float64)[chosen]
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -logp[np.arange(len(labels)), labels].mean(), (logp.argmax(axis=1) == labels).mean()

    # strict: every chosen position is [MASK], so only the context can tell
    strict = ids.copy()
    strict[chosen] = tok.special_ids["mask"]
    strict_loss, strict_acc = mlm(strict)
    # the standard MLM evaluation (as in training and DNABERT-2's reports): 80% [MASK], 10% random, 10% unchanged
    standard = ids.copy()
    r = rng.random(len(labels))
    replaced = np.where(r < 0.8, tok.special_ids["mask"],
                        np.where(r < 0.9, rng.integers(5, tok.vocab_size, len(labels)), labels))
    standard[chosen] = replaced
    standard_loss, standard_acc = mlm(standard)
    print(f"held-out masked tokens: {len(labels)}; unigram loss {unigram_loss:.3f}, accuracy {unigram_acc:.3f}; "
          f"model strict {strict_loss:.3f} / {strict_acc:.3f}; standard {standard_loss:.3f} / {standard_acc:.3f}")
    assert len(labels) > 2000
    assert strict_loss < unigram_loss - 0.3 and strict_acc > 2.2 * unigram_acc
    assert standard_loss < unigram_loss - 0.75 and standard_acc > 7.5 * unigram_acc


def test_shipped_files(model):
    info = model.info
    assert info["num_layers"] == 4 and info["hidden_size"] == 256 and info["has_mlm_head"] and info["has_tokenizer"]
    assert os.path.getsize(os.path.join(MODEL, "model.safetensors")) <= 25 * 1024 * 1024
