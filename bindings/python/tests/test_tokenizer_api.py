"""The Python API: shapes, options, training, and errors raised as DNABertError (never a crash)."""
import gzip
import os

import numpy as np
import pytest

import dnabert
from dnabert import DNABertError

from conftest import DNABERT2_TOKENIZER


def test_version_and_library():
    assert dnabert.version() == dnabert.__version__
    assert os.path.exists(dnabert.library_path) or dnabert.library_path == "libdnabert.so"


def test_encode_types(tok):
    ids = tok.encode("ACGTACGT")
    assert ids.dtype == np.int32 and ids[0] == 1 and ids[-1] == 2
    assert tok.encode(b"ACGTACGT").tolist() == ids.tolist()
    assert tok.encode("ACGTACGT", add_special_tokens=False).tolist() == ids[1:-1].tolist()
    assert tok.encode("acgtacgt", uppercase=True).tolist() == ids.tolist()
    with pytest.raises(TypeError):
        tok.encode(12345)
    with pytest.raises(ValueError):
        tok.encode("ACGT", max_length=0)


def test_batch_forms(tok):
    seqs = ["ACGTAGGCTAGCTAGGATCGA", "", "TTTT"]
    rows = tok.encode_batch(seqs)
    assert [r.tolist() for r in rows] == [tok.encode(s).tolist() for s in seqs]
    b = tok.encode_batch(seqs, padding=True)
    assert b.input_ids.shape == b.attention_mask.shape == (3, len(rows[0]))
    assert b.attention_mask.sum(axis=1).tolist() == [len(r) for r in rows]
    b = tok.encode_batch(seqs, padding="max_length", max_length=4)
    assert b["input_ids"].shape == (3, 4) and b["input_ids"][1].tolist() == [1, 2, 3, 3]
    assert tok.encode_batch([]) == []
    assert len(tok(seqs, padding=True).input_ids) == 3          # HF's call: lists unless return_tensors
    rows, offsets = tok.encode_batch(seqs, return_offsets=True)
    assert offsets[0][1][0] == 0 and offsets[0][-1].tolist() == [0, 0]


def test_train_from_sequences_and_files(tmp_path):
    import random
    rng = random.Random(1)
    seqs = ["".join(rng.choice("AACGTT") for _ in range(3000)) for _ in range(4)]
    t = dnabert.Tokenizer.train_from_sequences(seqs, vocab_size=40, progress=False)
    assert t.vocab_size == 40
    assert len(t.encode(seqs[0])) < len(seqs[0]) / 1.5
    # periodic input runs out of pairs seen twice: training stops early rather than inventing tokens
    t = dnabert.Tokenizer.train_from_sequences(["ACGTTGCA" * 50], vocab_size=4096, progress=False)
    assert 9 < t.vocab_size < 4096
    fa = tmp_path / "x.fa.gz"
    with gzip.open(fa, "wt") as f:
        f.write(">a\n" + "\n".join(seqs[0][i:i + 60] for i in range(0, 3000, 60)) + "\n>b desc\n"
                + "".join(seqs[1][i:i + 50].lower() + "NNNN\n" for i in range(0, 3000, 50)))
    t2 = dnabert.Tokenizer.train(str(fa), vocab_size=30, progress=False)
    assert t2.vocab_size == 30
    with pytest.raises(ValueError):
        dnabert.Tokenizer.train(str(fa), case="lower")
    with pytest.raises(ValueError):
        dnabert.Tokenizer.train([], vocab_size=30)


def test_errors_raise(tmp_path, tok):
    with pytest.raises(DNABertError, match="nonexistent"):
        dnabert.Tokenizer.from_file("/nonexistent/tokenizer.json")
    bad = tmp_path / "bad.json"
    for text in ["", "{", '{"model": {"type": "BPE", "vocab": {"A": 0}, "merges": ["A Z"]}}', "[1, 2, 3]", "null",
                 '{"model": {"type": "BPE", "vocab": {"A": 99999999999}, "merges": []}}', "[" * 10000]:
        bad.write_text(text)
        with pytest.raises(DNABertError):
            dnabert.Tokenizer.from_file(str(bad))
    with pytest.raises(DNABertError):
        tok.decode([5, 6, 100000])
    with pytest.raises(DNABertError):
        tok.decode([-1])
    with pytest.raises(IndexError):
        tok.id_to_token(4096)
    assert tok.token_to_id("NOT_A_TOKEN") is None
    with pytest.raises(DNABertError):
        dnabert.Tokenizer.train(["/nonexistent.fa"], progress=False)
    corrupt = tmp_path / "corrupt.fa.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(100))
    with pytest.raises(DNABertError):
        dnabert.Tokenizer.train([str(corrupt)], progress=False)
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(DNABertError):
        dnabert.Tokenizer.train([str(empty)], vocab_size=100, progress=False)


def test_closed_tokenizer_raises():
    t = dnabert.Tokenizer.from_file(DNABERT2_TOKENIZER)
    with t:
        assert t.vocab_size == 4096
    with pytest.raises(DNABertError, match="closed"):
        t.encode("ACGT")
    t.close()


def test_json_round_trip(tok):
    text = tok.to_str()
    t2 = dnabert.Tokenizer.from_str(text)
    s = "ACGTTAGCATCGATCGATCGATGCATGCATGCTAGCTAGCTAGCTAGCTGATCGTAGCTAGC"
    assert t2.encode(s).tolist() == tok.encode(s).tolist()
