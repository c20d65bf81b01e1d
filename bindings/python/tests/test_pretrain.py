"""MLM pretraining from Python: the loss falls, a resumed run repeats an uninterrupted one, errors raise."""
import os
import random

import numpy as np
import pytest

import dnabert
from dnabert import DNABertError

from conftest import DNABERT2_TOKENIZER

TINY = {"vocab_size": 4096, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 64}


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """Repeated motifs with point mutations: structure an MLM can learn quickly."""
    rng = random.Random(3)
    motifs = ["".join(rng.choice("ACGT") for _ in range(40)) for _ in range(6)]
    seq = []
    while sum(map(len, seq)) < 60000:
        m = list(rng.choice(motifs))
        if rng.random() < 0.25:
            m[rng.randrange(40)] = rng.choice("ACGT")
        seq.append("".join(m))
    s = "".join(seq)
    path = tmp_path_factory.mktemp("genome") / "motifs.fa"
    path.write_text(">motifs\n" + "\n".join(s[i:i + 70] for i in range(0, len(s), 70)) + "\n")
    return str(path)


def options(**kw):
    o = dict(batch_size=8, seq_len=32, lr=3e-3, warmup=2, eval_every=3, checkpoint_every=3, validation_windows=16,
             threads=2, seed=5)
    o.update(kw)
    return o


def test_loss_falls_and_model_is_written(tmp_path, genome):
    tok = dnabert.Tokenizer.from_file(DNABERT2_TOKENIZER)
    model = dnabert.Model.from_config(TINY, tokenizer=tok, seed=1)
    trainer = dnabert.Trainer(model, [genome], str(tmp_path / "run"), steps=40, **options(eval_every=40))
    before, _ = trainer.evaluate()
    history = trainer.run(progress=False)
    assert len(history) == 40 and history[-1]["step"] == 40
    after = history[-1]["validation_loss"]
    assert before > 7.5 and after < before - 1.5, (before, after)
    assert history[-1]["validation_accuracy"] > 0.05
    for f in ("metrics.jsonl", "model/model.safetensors", "model/tokenizer.json", "checkpoint-40/checkpoint.json"):
        assert os.path.exists(tmp_path / "run" / f), f
    # the model handle was trained in place, and the saved folder loads with the same weights
    reloaded = dnabert.Model.from_pretrained(str(tmp_path / "run" / "model"))
    ids = tok.encode("ACGTACGGATCGATCGGACTAGC")
    assert np.array_equal(reloaded.forward(ids), model.forward(ids))


def test_resume_repeats_the_uninterrupted_run(tmp_path, genome):
    tok = dnabert.Tokenizer.from_file(DNABERT2_TOKENIZER)
    a = dnabert.pretrain(TINY, tok, [genome], str(tmp_path / "a"), steps=6, progress=False, **options())
    stop = dnabert.Trainer(dnabert.Model.from_config(TINY, tokenizer=tok, seed=5), [genome], str(tmp_path / "b"),
                           steps=6, **options())
    with pytest.raises(DNABertError, match="cancel"):
        stop.run(progress=lambda m: m["step"] < 3)
    stop.close()
    b = dnabert.pretrain(TINY, tok, [genome], str(tmp_path / "b"), steps=6, resume=True, progress=False, **options())
    assert [h["step"] for h in b.history] == [4, 5, 6]
    assert [h["loss"] for h in a.history][3:] == [h["loss"] for h in b.history]
    ids = tok.encode("ACGTACGGATCGATCGGACTAGC")
    assert np.array_equal(a.forward(ids), b.forward(ids))


def test_errors(tmp_path, genome):
    tok = dnabert.Tokenizer.from_file(DNABERT2_TOKENIZER)
    model = dnabert.Model.from_config(TINY, tokenizer=tok, seed=1)
    with pytest.raises(DNABertError, match="steps"):
        dnabert.Trainer(model, [genome], str(tmp_path / "x"), steps=0)
    with pytest.raises(DNABertError):
        dnabert.Trainer(model, ["/nonexistent.fa"], str(tmp_path / "x"), steps=2)
    bare = dnabert.Model.from_config(TINY, seed=1)
    with pytest.raises(DNABertError, match="tokenizer"):
        dnabert.Trainer(bare, [genome], str(tmp_path / "x"), steps=2)
