"""The encoder from Python: against the project's PyTorch reference fixture, numpy re-derivations of attention
and pooling, and errors raised as DNABertError."""
import json
import os
import shutil
import threading

import numpy as np
import pytest

import dnabert
from dnabert import DNABertError

from conftest import DNABERT2_TOKENIZER

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURE = os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "model")


def read_safetensors(path):
    """Minimal independent safetensors reader (numpy only)."""
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    dtypes = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "I32": np.int32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


@pytest.fixture(scope="module")
def expected():
    return read_safetensors(os.path.join(FIXTURE, "expected.safetensors"))


@pytest.fixture(scope="module")
def weights():
    return read_safetensors(os.path.join(FIXTURE, "model.safetensors"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The fixture model plus DNABERT-2's tokenizer, as a user's model folder."""
    d = tmp_path_factory.mktemp("model")
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(FIXTURE, f), d / f)
    shutil.copy(DNABERT2_TOKENIZER, d / "tokenizer.json")
    return str(d)


@pytest.fixture(scope="module")
def model(model_dir):
    return dnabert.Model.from_pretrained(model_dir)


def inputs(e):
    return e["input_ids"].astype(np.int32), e["attention_mask"].astype(np.int32)


@pytest.mark.parametrize("weights_file", ["model.safetensors", "pytorch_model.bin"])
def test_matches_pytorch_reference(tmp_path, expected, weights_file):
    for f in ("config.json", weights_file):
        shutil.copy(os.path.join(FIXTURE, f), tmp_path / f)
    m = dnabert.Model.from_pretrained(str(tmp_path))
    ids, mask = inputs(expected)
    h = m.forward(ids, mask)
    assert h.shape == expected["last_hidden_state"].shape
    assert np.abs(h - expected["last_hidden_state"]).max() < 1e-4
    assert np.all(h[mask == 0] == 0)
    hs = m.forward(ids, mask, output_hidden_states=True)
    assert np.abs(hs[0] - expected["embedding_output"]).max() < 1e-4
    assert np.abs(hs[1] - expected["hidden_states.0"]).max() < 1e-4
    logits = m.mlm_logits(ids, mask)
    assert np.abs(logits - expected["mlm_logits"]).max() < 1e-3


def test_attention_map_matches_numpy(model, expected, weights):
    """Layer-0 attention probabilities re-derived in numpy from the reference's embedding output."""
    ids, mask = inputs(expected)
    probs = model.attention_map(ids, mask, layer=0)
    cfg = model.config
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // nh
    x = expected["embedding_output"].astype(np.float64)
    W = weights["bert.encoder.layer.0.attention.self.Wqkv.weight"].astype(np.float64)
    b = weights["bert.encoder.layer.0.attention.self.Wqkv.bias"].astype(np.float64)
    qkv = x @ W.T + b
    B, L, _ = x.shape
    q = qkv[..., :H].reshape(B, L, nh, d).transpose(0, 2, 1, 3)
    k = qkv[..., H:2 * H].reshape(B, L, nh, d).transpose(0, 2, 1, 3)
    slopes = expected["alibi_slopes"].astype(np.float64)
    pos = np.arange(L)
    alibi = -slopes[:, None, None] * np.abs(pos[None, :, None] - pos[None, None, :])
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + alibi[None] + ((1 - mask) * -10000.0)[:, None, None, :]
    scores -= scores.max(-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(-1, keepdims=True)
    real = mask.astype(bool)
    for bi in range(B):
        rows = real[bi]
        assert np.abs(probs[bi][:, rows][:, :, rows] - p[bi][:, rows][:, :, rows]).max() < 1e-5
    with pytest.raises(DNABertError, match="layer"):
        model.attention_map(ids, mask, layer=5)


def test_embed_mean_and_cls_equal_pooled_forward(model):
    tok = model.tokenizer
    seqs = ["ACGTAGCTAGGATCGATCGGATCGATTAGC", "GGGCCCATATATATCGCGCGAAATTTCCGAGAT" * 3, "A"]
    emb = model.embed(seqs)
    cls = model.embed(seqs, pooling="cls")
    assert emb.shape == (3, model.hidden_size)
    for i, s in enumerate(seqs):
        ids = tok.encode(s)
        h = model.forward(ids)[0]
        assert np.abs(emb[i] - h[1:-1].mean(axis=0)).max() < 1e-5
        assert np.abs(cls[i] - h[0]).max() < 1e-5


def test_embed_lower_case_folds_by_default(model):
    s = "acgtagctaggatcgatcggatcgattagc"
    assert np.array_equal(model.embed([s]), model.embed([s.upper()]))
    assert not np.array_equal(model.embed([s], uppercase=False), model.embed([s.upper()]))


def test_sliding_windows_stitch_like_the_documented_rule(model):
    """A sequence longer than max_length: windows of (max_length - 2) tokens, stride (width - overlap), the last
    aligned to the end; each token averaged over its windows, then over tokens — recomputed here in numpy."""
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 700))
    max_length, overlap = 24, 6
    tok = model.tokenizer
    t = tok.encode(seq, add_special_tokens=False)
    width = max_length - 2
    starts = list(range(0, len(t) - width, width - overlap)) + [len(t) - width]
    acc = np.zeros((len(t), model.hidden_size))
    cnt = np.zeros(len(t))
    for s in starts:
        ids = np.concatenate([[1], t[s:s + width], [2]]).astype(np.int32)
        h = model.forward(ids)[0]
        acc[s:s + width] += h[1:-1]
        cnt[s:s + width] += 1
    want = (acc / cnt[:, None]).mean(axis=0)
    got = model.embed([seq], max_length=max_length, overlap=overlap, batch_size=3)[0]
    assert len(t) > 3 * width
    assert np.abs(got - want).max() < 1e-5


def test_threads_share_one_model(model, expected):
    ids, mask = inputs(expected)
    want = model.forward(ids, mask, threads=1)  # same thread count: same summation order, same bits
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(model.forward(ids, mask, threads=1))
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(results) == 20
    assert all(np.array_equal(r, want) for r in results)


def test_save_and_reload(tmp_path, model, expected):
    model.save_pretrained(str(tmp_path / "saved"))
    assert sorted(os.listdir(tmp_path / "saved")) == ["config.json", "model.safetensors", "tokenizer.json"]
    m2 = dnabert.Model.from_pretrained(str(tmp_path / "saved"))
    ids, mask = inputs(expected)
    assert np.array_equal(m2.forward(ids, mask), model.forward(ids, mask))
    assert m2.config["num_attention_heads"] == 6


def test_random_model_from_config():
    cfg = {"vocab_size": 4096, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 64}
    tok = dnabert.Tokenizer.from_file(DNABERT2_TOKENIZER)
    m = dnabert.Model.from_config(cfg, tokenizer=tok, seed=3)
    m2 = dnabert.Model.from_config(cfg, tokenizer=tok, seed=3)
    e = m.embed(["ACGTACGTAGCTAGCTAGCATGCA"])
    assert e.shape == (1, 32) and np.isfinite(e).all()
    assert np.array_equal(e, m2.embed(["ACGTACGTAGCTAGCTAGCATGCA"]))


def test_convert_pytorch(tmp_path, weights):
    out = tmp_path / "converted.safetensors"
    dnabert.convert_pytorch(os.path.join(FIXTURE, "pytorch_model.bin"), str(out))
    conv = read_safetensors(str(out))
    for name, w in weights.items():
        assert np.array_equal(conv[name], w), name


def test_blas_info_names_the_kernel():
    info = dnabert.blas_info()
    assert "core" in info and "threads" in info


def test_blas_benchmark_rate_agrees_with_the_wall_clock():
    import time
    n = 256
    t0 = time.perf_counter()
    rate = dnabert.blas_benchmark(n, threads=2)
    elapsed = time.perf_counter() - t0
    # At least 4 products (a warm-up and 3 timed) ran within `elapsed`, so the best product's rate is at least
    # the wall-clock average; and it runs on at most a few cores (< 1 TFLOP/s per core on any CPU today).
    assert 8 * n ** 3 / elapsed / 1e9 <= rate < 2000, (rate, elapsed)
    assert elapsed >= 0.5
    for bad in [dict(n=0), dict(n=10 ** 6), dict(n=64, threads=-1)]:
        with pytest.raises(DNABertError, match="dnabert_blas_benchmark"):
            dnabert.blas_benchmark(**bad)


def test_errors(tmp_path, model, expected):
    with pytest.raises(DNABertError, match="config.json"):
        dnabert.Model.from_pretrained(str(tmp_path / "nope"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"hidden_size": -4}')
    shutil.copy(os.path.join(FIXTURE, "model.safetensors"), bad / "model.safetensors")
    with pytest.raises(DNABertError):
        dnabert.Model.from_pretrained(str(bad))
    (bad / "config.json").write_text(open(os.path.join(FIXTURE, "config.json")).read())
    raw = open(os.path.join(FIXTURE, "model.safetensors"), "rb").read()
    (bad / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DNABertError):
        dnabert.Model.from_pretrained(str(bad))
    ids, mask = inputs(expected)
    with pytest.raises(DNABertError, match="4096|range|vocab"):
        model.forward(np.array([[1, 5000, 2]]))
    with pytest.raises(ValueError):
        model.forward(ids, mask[:, :3])
    with pytest.raises(DNABertError):
        model.forward(ids, mask * 2)
    with pytest.raises(DNABertError, match="pooling|max_length|overlap"):
        model.embed(["ACGT"], max_length=2)
    with pytest.raises(ValueError):
        model.embed(["ACGT"], pooling="max")
    m = dnabert.Model.from_pretrained(FIXTURE)
    assert m.tokenizer is None
    with pytest.raises(DNABertError, match="tokenizer"):
        m.embed(["ACGT"])
    m.close()
    with pytest.raises(DNABertError, match="closed"):
        m.forward(ids)
