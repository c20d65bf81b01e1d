"""Int8 precision (issue 14): the quantization arithmetic against a numpy re-implementation, the portable kernel
against the VNNI one, accuracy gates against float32 on real DNA with the shipped model's real weights, QLoRA
fine-tuning on an int8 base, the int8 checkpoint layout read back with numpy, and bad input."""
import csv
import glob
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import dnabert
from conftest import DATA, GENOMES, accuracy_gate, head_csv, read_fasta

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL = os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes")
TASK = os.path.join(ROOT, "examples", "data", "tasks", "coding_200")
LOCAL_GENOMES = os.path.join(ROOT, "examples", "data")


# ---- independent reference implementations (numpy only) ----
def np_quantize_rows(a):
    """Symmetric per-row int8: scale = max|row| / 127, q = clip(rint(a * (127 / max|row|)), -127, 127), in float32."""
    a = a.astype(np.float32)
    m = np.abs(a).max(axis=1)
    ok = (m > 0) & np.isfinite(m)
    inv = np.where(ok, np.float32(127) / np.where(ok, m, 1).astype(np.float32), 0).astype(np.float32)
    q = np.clip(np.rint(a * inv[:, None]), -127, 127).astype(np.int8)
    scale = np.where(ok, m / np.float32(127), 0).astype(np.float32)
    return q, scale


def np_quantize_rows_u8(a):
    """Activations as the library quantizes them, per row, in float32: lo = min(0, min row), hi = max(0, max row),
    inv = 255 / (hi - lo), zp = clip(rint(-lo * inv), 0, 255), q = clip(rint(a * inv) + zp, 0, 255), scale =
    (hi - lo) / 255 (a row without a usable range: scale 0, zp 0, q 0). Returns q - zp (int) and the scales."""
    a = a.astype(np.float32)
    lo = np.minimum(a.min(axis=1), 0).astype(np.float32)
    hi = np.maximum(a.max(axis=1), 0).astype(np.float32)
    rng = (hi - lo).astype(np.float32)
    ok = (rng > 0) & np.isfinite(rng)
    inv = np.where(ok, np.float32(255) / np.where(ok, rng, 1).astype(np.float32), 0).astype(np.float32)
    zp = np.clip(np.rint((-lo * inv).astype(np.float32)), 0, 255).astype(np.float32)
    q = np.clip(np.rint((a * inv[:, None]).astype(np.float32)) + zp[:, None], 0, 255)
    scale = np.where(ok, rng / np.float32(255), 0).astype(np.float32)
    return (q - zp[:, None]).astype(np.int64) * ok[:, None], scale


def np_smooth(x, w, smooth):
    """SmoothQuant smoothing as the library does it, in float32: activations x·(1/s) (the reciprocal rounded to
    float32 first), weights W[n, j]·s[j]."""
    s = np.asarray(smooth, dtype=np.float32)
    inv = (np.float32(1) / s).astype(np.float32)
    return (x.astype(np.float32) * inv[None, :]).astype(np.float32), (w.astype(np.float32) * s[None, :]).astype(np.float32)


def np_int8_linear(x, w, bias=None, smooth=None):
    if smooth is not None:
        x, w = np_smooth(x, w, smooth)
    qx, sx = np_quantize_rows_u8(x)
    qw, sw = np_quantize_rows(w)
    acc = qx.astype(np.int64) @ qw.astype(np.int64).T
    y = acc.astype(np.float32) * (sx[:, None] * sw[None, :]).astype(np.float32)
    return y + bias.astype(np.float32) if bias is not None else y


def read_safetensors(path):
    """A plain safetensors reader → {name: (dtype, array)}, metadata."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    types = {"F32": np.float32, "I8": np.int8}
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        out[name] = (e["dtype"], np.frombuffer(raw[8 + n + b:8 + n + en], dtype=types[e["dtype"]]).reshape(e["shape"]))
    return out, meta


def genome_windows(count, width, seed=0):
    files = (sorted(glob.glob(os.path.join(GENOMES, "*.fasta.gz"))) if GENOMES else []) or sorted(glob.glob(os.path.join(LOCAL_GENOMES, "*.fasta.gz")))
    if not files:
        pytest.skip("no genome FASTA files found (shared/data/genomes or examples/data)")
    recs = [s for f in files for _, s in read_fasta(f)]
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        r = recs[rng.integers(len(recs))]
        if len(r) <= width:
            continue
        s = int(rng.integers(0, len(r) - width))
        w = r[s:s + width].upper()
        if "N" not in w:
            out.append(w)
    return out


@pytest.fixture(scope="module")
def fp32():
    return dnabert.Model.from_pretrained(MODEL)


@pytest.fixture(scope="module")
def int8(fp32):
    return fp32.quantize("int8")


# ---- arithmetic ----
def test_int8_linear_matches_numpy_reimplementation():
    rng = np.random.default_rng(3)
    for rows, k, n in [(1, 768, 64), (37, 250, 45), (130, 1024, 200)]:
        x = rng.normal(size=(rows, k)).astype(np.float32)
        x[0, 5] = 40.0                       # an outlier coarsens only its own row
        if rows > 2:
            x[2] = 0                         # an all-zero row: scale 0, output = bias
        w = (rng.normal(size=(n, k)) * 0.05).astype(np.float32)
        w[1] = 0
        w[3, :4] = [0.5, -0.5, 0.25, -0.5]   # ties at ±127 and exact halves
        b = rng.normal(size=n).astype(np.float32)
        y = dnabert.int8_linear(x, w, b, threads=2)
        ref = np_int8_linear(x, w, b)
        np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
        # and it is a product: close to the float one within the quantization error
        exact = x.astype(np.float64) @ w.T.astype(np.float64) + b
        scale = np.abs(exact).max()
        if rows > 1:
            assert np.abs(y - exact)[1:].max() / scale < 0.03  # ordinary rows
        assert np.abs(y - exact)[0].max() / scale < 0.2        # the outlier row (coarser, as expected)
        if rows > 2:
            np.testing.assert_array_equal(y[2], b)
        # smoothed: the same arithmetic after x·(1/s) and W·s (s with exact halves, powers of two and odd values)
        s = np.exp(rng.normal(size=k)).astype(np.float32)
        s[:3] = [1.0, 0.5, 3.0]
        y = dnabert.int8_linear(x, w, b, threads=2, smooth=s)
        np.testing.assert_allclose(y, np_int8_linear(x, w, b, smooth=s), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(dnabert.int8_linear(x, w, b, smooth=np.ones(k)), dnabert.int8_linear(x, w, b))


def test_smoothing_moves_an_outlier_channel_into_the_weight():
    """An outlier input channel (as the shipped model's LayerNorm outputs have) coarsens every token's int8 scale;
    smoothing with s_j = sqrt(max|X_j| / max|W[:, j]|) shrinks the product's error."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(64, 256)).astype(np.float32)
    x[:, 7] *= 25                                        # one outlier channel in every row
    w = (rng.normal(size=(96, 256)) * 0.05).astype(np.float32)
    exact = x.astype(np.float64) @ w.T.astype(np.float64)
    s = np.sqrt(np.abs(x).max(0) / np.abs(w).max(0)).astype(np.float32)
    plain = dnabert.int8_linear(x, w)
    smoothed = dnabert.int8_linear(x, w, smooth=s)
    err = lambda y: np.sqrt(np.mean((y - exact) ** 2))  # noqa: E731
    assert err(smoothed) < 0.5 * err(plain), (err(smoothed), err(plain))
    for bad in (np.zeros(256), np.full(256, np.nan), -np.ones(256), np.full(256, np.inf)):
        with pytest.raises(dnabert.DNABertError, match="smoothing factor"):
            dnabert.int8_linear(x, w, smooth=bad)


def test_saved_int8_checkpoint_is_numpy_quantization_of_fp32_weights(int8, tmp_path):
    int8.save_pretrained(str(tmp_path / "q"))
    q, meta = read_safetensors(str(tmp_path / "q" / "model.safetensors"))
    f, _ = read_safetensors(os.path.join(MODEL, "model.safetensors"))
    assert meta.get("dnabert_precision") == "int8"
    names = [n for n in q if n.endswith(".weight_scale")]
    assert len(names) == 4 * int8.info["num_layers"]
    assert len([n for n in q if n.endswith(".weight_smooth")]) == len(names)
    for sname in names:
        wname = sname[:-len("_scale")]
        dtype, qv = q[wname]
        assert dtype == "I8"
        w = f[wname][1]
        sdtype, smooth = q[wname + "_smooth"]
        assert sdtype == "F32" and smooth.shape == (w.shape[1],)
        assert np.isfinite(smooth).all() and (smooth > 0).all()
        assert not (smooth == 1).all()                    # smoothing is on
        # the stored int8 weight is numpy's per-output-channel quantization of W·diag(s)
        ref_q, ref_s = np_quantize_rows((w * smooth[None, :]).astype(np.float32))
        np.testing.assert_array_equal(qv, ref_q)
        np.testing.assert_array_equal(q[sname][1], ref_s)
        # and stands for W: q·scale/s is W within half a quantization step of the smoothed weight, per column
        deq = qv.astype(np.float32) * ref_s[:, None] / smooth[None, :]
        assert (np.abs(deq - w) <= 0.5001 * ref_s[:, None] / smooth[None, :] + 1e-12).all()
    # float tensors are stored unchanged
    np.testing.assert_array_equal(q["bert.embeddings.word_embeddings.weight"][1], f["bert.embeddings.word_embeddings.weight"][1])


def test_generic_kernel_gives_the_same_numbers_as_simd(fp32, int8, tmp_path):
    """DNABERT_INT8_KERNEL=generic forces the portable path (as on a CPU without AVX2): the same numbers as the
    CPU's own kernel (AVX2 or AVX-512 VNNI)."""
    kernel = dnabert.int8_kernel()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(19, 300)).astype(np.float32)
    x[:, 11] *= 20                                       # an outlier channel, as after a LayerNorm
    w = rng.normal(size=(70, 300)).astype(np.float32)
    s = np.exp(rng.normal(size=300)).astype(np.float32)  # smoothing: the pre-scaling both kernels share
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "s.npy", s)
    seqs = genome_windows(6, 300, seed=9)
    script = (
        "import sys, numpy as np, dnabert\n"
        "assert dnabert.int8_kernel() == 'generic', dnabert.int8_kernel()\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r}); w = np.load({str(tmp_path / 'w.npy')!r})\n"
        f"s = np.load({str(tmp_path / 's.npy')!r})\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, dnabert.int8_linear(x, w))\n"
        f"np.save({str(tmp_path / 'ys.npy')!r}, dnabert.int8_linear(x, w, smooth=s))\n"
        f"m = dnabert.Model.from_pretrained({MODEL!r}, precision='int8')\n"
        f"np.save({str(tmp_path / 'e.npy')!r}, m.embed({seqs!r}, threads=1))\n")
    env = dict(os.environ, DNABERT_INT8_KERNEL="generic")
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=600)
    y_generic, ys_generic = np.load(tmp_path / "y.npy"), np.load(tmp_path / "ys.npy")
    np.testing.assert_allclose(y_generic, np_int8_linear(x, w), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ys_generic, np_int8_linear(x, w, smooth=s), rtol=1e-6, atol=1e-6)
    if kernel == "generic":
        pytest.skip("this CPU has neither AVX2 nor AVX-512 VNNI: both runs used the portable kernel (checked against numpy only)")
    np.testing.assert_array_equal(y_generic, dnabert.int8_linear(x, w))
    np.testing.assert_array_equal(ys_generic, dnabert.int8_linear(x, w, smooth=s))
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), int8.embed(seqs, threads=1), rtol=1e-5, atol=1e-6)


def test_int8_attention_products_are_named_and_can_be_forced(fp32, int8, tmp_path):
    """int8_attention() names how an int8 model's attention tile products run; DNABERT_INT8_ATTENTION forces either
    (bf16 only where the CPU has AVX512_BF16). The two give close but different int8 embeddings, and a float32
    model's embeddings are bit-identical whatever the setting (float32 models never round to bfloat16)."""
    mode = dnabert.int8_attention()
    assert mode in ("bf16", "float32")
    seqs = genome_windows(6, 300, seed=10)
    script = (
        "import sys, numpy as np, dnabert\n"
        "print(dnabert.int8_attention())\n"
        f"f = dnabert.Model.from_pretrained({MODEL!r})\n"
        f"np.save(sys.argv[1] + '_f.npy', f.embed({seqs!r}, threads=1))\n"
        f"np.save(sys.argv[1] + '_q.npy', f.quantize('int8').embed({seqs!r}, threads=1))\n")
    got = {}
    for forced in ("float32", "bf16"):
        env = dict(os.environ, DNABERT_INT8_ATTENTION=forced)
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path / forced)], check=True, env=env, timeout=600,
                             capture_output=True, text=True).stdout.strip()
        got[forced] = out
        np.testing.assert_array_equal(np.load(tmp_path / f"{forced}_f.npy"), fp32.embed(seqs, threads=1))
    assert got["float32"] == "float32"
    q32 = np.load(tmp_path / "float32_q.npy")
    np.testing.assert_array_equal(int8.embed(seqs, threads=1) if mode == "float32" else q32, q32)
    if got["bf16"] != "bf16":
        assert got["bf16"] == "float32"
        pytest.skip("this CPU has no AVX512_BF16: DNABERT_INT8_ATTENTION=bf16 falls back to float32 (checked)")
    qbf = np.load(tmp_path / "bf16_q.npy")
    if mode == "bf16":
        np.testing.assert_array_equal(int8.embed(seqs, threads=1), qbf)
    c = cosine(q32.astype(np.float64), qbf.astype(np.float64))
    assert np.all(c > 0.9999) and np.any(q32 != qbf), c


# ---- accuracy gates on real DNA ----
def cosine(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@accuracy_gate("0.5")
def test_embeddings_of_1000_genome_windows_match_fp32(fp32, int8):
    seqs = genome_windows(1000, 400)
    a = fp32.embed(seqs, batch_size=32)
    b = int8.embed(seqs, batch_size=32)
    c = cosine(a.astype(np.float64), b.astype(np.float64))
    print(f"int8 vs fp32 embedding cosine: median {np.median(c):.6f}, min {c.min():.6f}")
    assert np.median(c) >= 0.999
    assert c.min() >= 0.995


@accuracy_gate("0.2")
def test_mlm_argmax_agreement_on_masked_positions(fp32, int8):
    tok = fp32.tokenizer
    seqs = genome_windows(200, 500, seed=1)
    batch = tok.encode_batch(seqs, max_length=128, padding="max_length")
    ids, mask = np.array(batch.input_ids), np.array(batch.attention_mask)
    rng = np.random.default_rng(2)
    special = np.isin(ids, list(tok.special_ids.values()))
    chosen = (rng.random(ids.shape) < 0.15) & ~special & (mask == 1)
    ids = ids.copy()
    ids[chosen] = tok.special_ids.get("mask", tok.special_ids.get("[MASK]"))
    truth = np.array(batch.input_ids)[chosen]
    la = fp32.mlm_logits(ids, mask)[chosen]
    a = la.argmax(-1)
    b = int8.mlm_logits(ids, mask)[chosen].argmax(-1)
    top2 = np.sort(la, -1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 0.05      # fp32's top-1 ahead of its runner-up by more than 0.05
    agree, agree_clear = np.mean(a == b), np.mean((a == b)[clear])
    print(f"MLM argmax agreement int8 vs fp32 on {chosen.sum()} masked positions: {agree:.4f}; "
          f"on the {clear.mean():.0%} without a near-tie: {agree_clear:.4f}; "
          f"accuracy fp32 {np.mean(a == truth):.4f} int8 {np.mean(b == truth):.4f}")
    assert chosen.sum() > 1000
    assert agree >= 0.98
    assert agree_clear >= 0.99
    assert abs(np.mean(a == truth) - np.mean(b == truth)) <= 0.005


def test_every_inference_entry_point_runs_int8(fp32, int8, tmp_path):
    tok = fp32.tokenizer
    seqs = genome_windows(4, 300, seed=4)
    batch = tok.encode_batch(seqs, max_length=96, padding="max_length")
    ids, mask = np.array(batch.input_ids), np.array(batch.attention_mask)
    mask[1, 40:] = 0
    for out_a, out_b in [(fp32.forward(ids, mask), int8.forward(ids, mask)),
                         (fp32.forward(ids, mask, output_hidden_states=True), int8.forward(ids, mask, output_hidden_states=True))]:
        assert out_a.shape == out_b.shape
        real = np.broadcast_to(mask[..., None] == 1, out_a.shape[-3:])
        va, vb = out_a[..., real].reshape(-1), out_b[..., real].reshape(-1)
        assert np.corrcoef(va, vb)[0, 1] > 0.999
        assert (out_b[..., ~real] == 0).all()
    la, lb = fp32.mlm_logits(ids, mask), int8.mlm_logits(ids, mask)
    assert np.mean(la.argmax(-1)[mask == 1] == lb.argmax(-1)[mask == 1]) > 0.97
    # saved and loaded again: identical numbers, precision kept
    int8.save_pretrained(str(tmp_path / "q"))
    back = dnabert.Model.from_pretrained(str(tmp_path / "q"))
    assert back.precision == "int8" and back.info["precision"] == 1
    np.testing.assert_array_equal(back.forward(ids, mask), int8.forward(ids, mask))
    np.testing.assert_array_equal(back.embed(seqs), int8.embed(seqs))
    # the int8 file is about a quarter of the float32 one for the quantized linears
    assert os.path.getsize(tmp_path / "q" / "model.safetensors") < 0.7 * os.path.getsize(os.path.join(MODEL, "model.safetensors"))


def test_precision_api(fp32, int8):
    assert fp32.precision == "fp32" and int8.precision == "int8"
    assert fp32.info["precision"] == 0
    m = dnabert.Model.from_pretrained(MODEL, precision="int8")
    assert m.precision == "int8"
    assert dnabert.Model.from_pretrained(MODEL, precision="fp32").precision == "fp32"
    copy = fp32.quantize("fp32")
    assert copy.precision == "fp32"
    assert dnabert.int8_kernel() in ("avx512vnni", "avx2", "generic")


def test_int8_model_holds_no_float32_copies_and_still_trains(fp32, int8, tmp_path):
    """An int8 model keeps its quantized linears in int8 only (the weights' memory `dnabert model info` reports is
    about a quarter of float32's, the parameter count the same); QLoRA, full fine-tuning, merging and saving still
    work from it (the float32 weights they need are dequantized), and pretraining it is a clear error."""
    assert int8.num_parameters() == fp32.num_parameters() and int8.info["num_parameters"] == fp32.info["num_parameters"]
    from conftest import find_cli
    cli = find_cli()
    if cli is not None:
        int8.save_pretrained(str(tmp_path / "q"))

        def weights_mb(folder):
            out = subprocess.run([cli, "model", "info", folder], check=True, capture_output=True, text=True, timeout=120).stdout
            line = next(ln for ln in out.splitlines() if ln.startswith("weights in memory:"))
            return float(line.split()[3])
        # shipped model: 21.2 MB float32; int8 8.8 MB (its float32 embeddings and head stay: not a full quarter)
        assert weights_mb(str(tmp_path / "q")) < 0.45 * weights_mb(MODEL)
    train = head_csv(os.path.join(TASK, "train.csv"), tmp_path / "train.csv", rows=64)
    seqs, _ = read_csv(os.path.join(TASK, "test.csv"))
    seqs = seqs[:8]
    for full in (False, True):
        ft = dnabert.FineTuner(int8, train, max_steps=2, batch_size=8, max_length=64, seed=1, full=full, threads=2)
        losses = [ft.step()["loss"] for _ in range(2)]
        assert all(np.isfinite(losses)), losses
        clf = ft.classifier
        proba = np.asarray(clf.predict_proba(seqs))
        merged = clf.merged_model()
        assert merged.precision == "fp32" and merged.num_parameters() > 0
        folder = str(tmp_path / f"merged{int(full)}")
        merged.save_pretrained(folder)
        back = dnabert.Classifier.from_pretrained(folder)
        # the merged float32 model runs the linears in float32 where the classifier ran them in int8 (QLoRA);
        # full fine-tuning trained float32 copies, so there the two are the same computation
        np.testing.assert_allclose(np.asarray(back.predict_proba(seqs)), proba, atol=1e-5 if full else 0.05)
    with pytest.raises(dnabert.DNABertError, match="pretraining needs a float32 model"):
        from dnabert.pretrain import Trainer
        Trainer(int8, [os.path.join(LOCAL_GENOMES, "hpylori_sjm180.fasta.gz")], str(tmp_path / "pt"), steps=2,
                batch_size=2, seq_len=32)


# ---- bad input ----
def test_unknown_precision_names_and_double_quantize(fp32, int8, tmp_path):
    for bad in ["int4", "", "INT16", None, 8]:
        with pytest.raises(dnabert.DNABertError, match="unknown precision"):
            fp32.quantize(bad)
    with pytest.raises(dnabert.DNABertError, match="unknown precision"):
        dnabert.Model.from_pretrained(MODEL, precision="bf8")
    with pytest.raises(dnabert.DNABertError, match="already int8"):
        int8.quantize("int8")
    with pytest.raises(dnabert.DNABertError, match="already int8"):
        int8.quantize("fp32")
    int8.save_pretrained(str(tmp_path / "q"))
    with pytest.raises(dnabert.DNABertError, match="already int8"):
        dnabert.Model.from_pretrained(str(tmp_path / "q"), precision="fp32")


def _rewrite(src, dst, edit):
    """Copy an int8 model folder, rewriting model.safetensors through edit(header, data) -> (header, data)."""
    os.makedirs(dst)
    for f in ("config.json", "tokenizer.json"):
        with open(os.path.join(src, f), "rb") as a, open(os.path.join(dst, f), "wb") as b:
            b.write(a.read())
    raw = open(os.path.join(src, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header, data = json.loads(raw[8:8 + n]), bytearray(raw[8 + n:])
    header, data = edit(header, data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + bytes(data))


def test_corrupted_int8_files_are_refused(int8, tmp_path):
    src = str(tmp_path / "q")
    int8.save_pretrained(src)
    name = "bert.encoder.layer.1.mlp.wo.weight"

    def neg_scale(h, d):
        b = h[name + "_scale"]["data_offsets"][0]
        d[b:b + 4] = struct.pack("<f", -1.0)
        return h, d

    def nan_scale(h, d):
        b = h[name + "_scale"]["data_offsets"][0]
        d[b:b + 4] = struct.pack("<f", float("nan"))
        return h, d

    def drop_scale(h, d):
        e = h.pop(name + "_scale")
        # keep the data region tiled: give its bytes to a new, unexpected tensor name
        h["bert.encoder.layer.1.mlp.wo.bias_extra"] = e
        return h, d

    def wrong_scale_shape(h, d):
        e = h[name + "_scale"]
        e["shape"] = [e["shape"][0] // 2, 2]
        return h, d

    def float_dtype(h, d):
        h[name]["dtype"] = "U8"
        return h, d

    def extra_scale(h, d):
        e = h.pop(name + "_scale")
        h["bert.encoder.layer.1.mlp.unknown.weight_scale"] = e
        return h, d

    def smooth_value(v):
        def edit(h, d):
            b = h[name + "_smooth"]["data_offsets"][0] + 4 * 17
            d[b:b + 4] = struct.pack("<f", v)
            return h, d
        return edit

    def wrong_smooth_shape(h, d):
        e = h[name + "_smooth"]
        e["shape"] = [e["shape"][0] // 2, 2]
        return h, d

    def smooth_of_scale_length(h, d):
        # the attention output's [H] smoothing vector under wo's name (wo's input is [I])
        a, b = name + "_smooth", "bert.encoder.layer.1.attention.output.dense.weight_smooth"
        h[a], h[b] = h[b], h[a]
        return h, d

    def extra_smooth(h, d):
        e = h.pop(name + "_smooth")
        h["bert.encoder.layer.1.mlp.unknown.weight_smooth"] = e
        return h, d

    for i, edit in enumerate([neg_scale, nan_scale, drop_scale, wrong_scale_shape, float_dtype, extra_scale]):
        dst = str(tmp_path / f"bad{i}")
        _rewrite(src, dst, edit)
        with pytest.raises(dnabert.DNABertError):
            dnabert.Model.from_pretrained(dst)
    # smoothing factors: zero, negative, NaN, infinite, so small that 1/s overflows, mis-shaped, of another linear,
    # under an unknown name — each a format error naming the tensor
    smooth_edits = [smooth_value(0.0), smooth_value(-1.0), smooth_value(float("nan")), smooth_value(float("inf")),
                    smooth_value(1e-45), wrong_smooth_shape, smooth_of_scale_length, extra_smooth]
    for i, edit in enumerate(smooth_edits):
        dst = str(tmp_path / f"bad_smooth{i}")
        _rewrite(src, dst, edit)
        with pytest.raises(dnabert.DNABertError, match="int8 checkpoint: .*weight_smooth"):
            dnabert.Model.from_pretrained(dst)
    # truncated file
    dst = str(tmp_path / "trunc")
    _rewrite(src, dst, lambda h, d: (h, d))
    p = os.path.join(dst, "model.safetensors")
    raw = open(p, "rb").read()
    open(p, "wb").write(raw[:len(raw) - 1000])
    with pytest.raises(dnabert.DNABertError):
        dnabert.Model.from_pretrained(dst)


def test_int8_checkpoint_without_smoothing_still_loads(fp32, tmp_path):
    """The layout written before smoothing existed (I8 + _scale only, weights quantized unsmoothed) loads with s = 1
    and gives the numbers of an unsmoothed quantization (DNABERT_INT8_SMOOTH_ALPHA=none, a diagnostic)."""
    f, _ = read_safetensors(os.path.join(MODEL, "model.safetensors"))
    src = str(tmp_path / "q")
    fp32.quantize("int8").save_pretrained(src)
    q, meta = read_safetensors(os.path.join(src, "model.safetensors"))
    old = {}
    for n, (dt, a) in q.items():
        if n.endswith("_smooth"):
            continue
        if dt == "I8":
            qa, sa = np_quantize_rows(f[n][1])
            old[n], old[n + "_scale"] = ("I8", qa), ("F32", sa)
        elif not n.endswith("_scale"):
            old[n] = (dt, a)
    dst = str(tmp_path / "old")
    os.makedirs(dst)
    for name in ("config.json", "tokenizer.json"):
        with open(os.path.join(src, name), "rb") as a, open(os.path.join(dst, name), "wb") as b:
            b.write(a.read())
    _write_safetensors(os.path.join(dst, "model.safetensors"), old, meta)
    m = dnabert.Model.from_pretrained(dst)
    assert m.precision == "int8"
    seqs = genome_windows(6, 300, seed=12)
    np.save(tmp_path / "old.npy", m.embed(seqs, threads=1))
    script = (
        "import numpy as np, dnabert\n"
        f"m = dnabert.Model.from_pretrained({MODEL!r}, precision='int8')\n"
        f"np.save({str(tmp_path / 'plain.npy')!r}, m.embed({seqs!r}, threads=1))\n")
    subprocess.run([sys.executable, "-c", script], check=True, env=dict(os.environ, DNABERT_INT8_SMOOTH_ALPHA="none"), timeout=600)
    np.testing.assert_array_equal(np.load(tmp_path / "old.npy"), np.load(tmp_path / "plain.npy"))
    smoothed = dnabert.Model.from_pretrained(src).embed(seqs, threads=1)
    assert not np.array_equal(smoothed, np.load(tmp_path / "old.npy"))


def _write_safetensors(path, tensors, meta):
    """A plain safetensors writer: {name: (dtype, array)} laid out contiguously in name order."""
    header, chunks, off = {"__metadata__": meta}, [], 0
    for n in sorted(tensors):
        dt, a = tensors[n]
        b = np.ascontiguousarray(a).tobytes()
        header[n] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


# ---- fine-tuning: classifier agreement and QLoRA ----
def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["sequence"] for r in rows], np.array([int(r["label"]) for r in rows])


def mcc(y, p):
    """Matthews correlation of integer labels, any number of classes (Gorodkin's R_K from the confusion matrix;
    the two-class formula when there are two)."""
    y, p = np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.int64)
    k = int(max(y.max(), p.max())) + 1
    c = np.zeros((k, k), dtype=np.float64)
    np.add.at(c, (y, p), 1)
    true, pred, n = c.sum(axis=1), c.sum(axis=0), c.sum()
    den = np.sqrt((n * n - pred @ pred) * (n * n - true @ true))
    return float((np.trace(c) * n - true @ pred) / den) if den > 0 else 0.0


def test_mcc_reference():
    # the hand-computed two-class case, and the multi-class one against its definition as a correlation of one-hot
    # label vectors (both independent of the confusion-matrix formula above)
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1]); p = np.array([1, 0, 1, 0, 0, 1, 0, 1])
    tp, tn, fp, fn = 3, 3, 1, 1
    assert mcc(y, p) == pytest.approx((tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 200); p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 3, 200))
    Y, P = np.eye(3)[y], np.eye(3)[p]
    Yc, Pc = Y - Y.mean(axis=0), P - P.mean(axis=0)
    assert mcc(y, p) == pytest.approx(np.sum(Yc * Pc) / np.sqrt(np.sum(Yc * Yc) * np.sum(Pc * Pc)))


# The bundled tasks: the repository's coding_200 sample, and the other two full tasks from DNABERT_DATA. Steps and
# the floor the float32 LoRA must clear (so that the comparison means something) per task: splice_400 (three
# classes, 6-mer floor 0.354) needs more steps to learn on the small model (MCC 0.30 after 60, 0.34 after 150).
FINETUNE_TASKS = [("coding_200", TASK, 60, 0.3),
                  ("gene_start_300", os.path.join(DATA, "tasks", "gene_start_300") if DATA else None, 60, 0.3),
                  ("splice_400", os.path.join(DATA, "tasks", "splice_400") if DATA else None, 150, 0.25)]


@accuracy_gate("1–4")
@pytest.mark.parametrize("name,task,steps,floor", FINETUNE_TASKS, ids=[t[0] for t in FINETUNE_TASKS])
def test_classifier_agreement_and_qlora(fp32, int8, tmp_path, name, task, steps, floor):
    if task is None:
        pytest.skip(f"needs tasks/{name} from DNABERT_DATA (unset)")
    train, dev, test = (os.path.join(task, f"{s}.csv") for s in ("train", "dev", "test"))
    tseqs, ty = read_csv(test)
    kw = dict(dev=dev, max_steps=steps, batch_size=32, eval_every=30, seed=1, progress=False)
    clf = dnabert.finetune(fp32, train, **kw)
    clf.save(str(tmp_path / "lora"))
    # the float32-trained classifier on the int8 base agrees with itself on the float32 base
    on_int8 = dnabert.Classifier.load(int8, str(tmp_path / "lora"))
    pa = np.asarray(clf.predict(tseqs)); pb = np.asarray(on_int8.predict(tseqs))
    agree = np.mean(pa == pb)
    print(f"{name}: classifier agreement fp32 vs int8 base: {agree:.4f}")
    assert agree >= 0.99
    # QLoRA: LoRA on the frozen int8 base; test MCC within 0.02 of float32-base LoRA
    q = dnabert.finetune(int8, train, **kw)
    q.save(str(tmp_path / "qlora"))
    names = clf.label_names if hasattr(clf, "label_names") else None

    def as_int(pred):
        return np.array([int(names[p]) if names is not None and isinstance(p, (int, np.integer)) else int(p) for p in pred])

    m_lora = mcc(ty, as_int(pa))
    pq = np.asarray(q.predict(tseqs))
    m_q = mcc(ty, as_int(pq))
    print(f"{name}: test MCC: LoRA on fp32 {m_lora:.4f}, QLoRA on int8 {m_q:.4f}")
    assert m_lora > floor, "the float32 LoRA baseline did not learn the task"
    assert abs(m_q - m_lora) <= 0.02
    # QLoRA's adapters are ordinary PEFT adapters that load on the float32 model
    cfg = json.load(open(tmp_path / "qlora" / "adapter_config.json"))
    assert cfg.get("peft_type") == "LORA"
    back = dnabert.Classifier.load(fp32, str(tmp_path / "qlora"))
    assert np.mean(np.asarray(back.predict(tseqs)) == pq) >= 0.99


def test_cli_precision_option(int8, tmp_path):
    from conftest import find_cli
    cli = find_cli()
    if cli is None:
        pytest.skip("the dnabert CLI is not built (set DNABERT_CLI or build build/bin/dnabert)")
    seqs = genome_windows(5, 300, seed=11)
    fa = tmp_path / "s.fa"
    fa.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    out = tmp_path / "e.tsv"
    subprocess.run([cli, "embed", "--model", MODEL, "--precision", "int8", "-q", "-o", str(out), str(fa)], check=True, timeout=300)
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    got = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float32)
    np.testing.assert_allclose(got, int8.embed(seqs), rtol=1e-4, atol=1e-5)
    bad = subprocess.run([cli, "embed", "--model", MODEL, "--precision", "int4", "-q", str(fa)], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "unknown precision" in bad.stderr
    subprocess.run([cli, "model", "quantize", "-o", str(tmp_path / "q"), MODEL], check=True, timeout=300, capture_output=True)
    assert dnabert.Model.from_pretrained(str(tmp_path / "q")).precision == "int8"
    info = subprocess.run([cli, "model", "info", str(tmp_path / "q")], check=True, timeout=300, capture_output=True,
                          text=True).stdout
    assert (f"precision: int8 (int8 kernel on this CPU: {dnabert.int8_kernel()}, "
            f"attention products: {dnabert.int8_attention()})") in info, info


def test_cli_finetune_and_predict_at_int8(fp32, int8, tmp_path):
    """`dnabert finetune --precision int8` trains on the int8 base (QLoRA) and saves a PEFT adapter that loads on
    both bases; `dnabert predict --precision int8` gives the probabilities of that classifier on the int8 base, as the
    Python API computes them, and not those of the float32 base."""
    from conftest import find_cli
    cli = find_cli()
    if cli is None:
        pytest.skip("the dnabert CLI is not built (set DNABERT_CLI or build build/bin/dnabert)")
    train = head_csv(os.path.join(TASK, "train.csv"), tmp_path / "train.csv", rows=64)
    test = head_csv(os.path.join(TASK, "test.csv"), tmp_path / "test.csv", rows=12)
    seqs, _ = read_csv(test)
    out = tmp_path / "q"
    subprocess.run([cli, "finetune", "--model", MODEL, "--train", train, "--out", str(out), "--max-steps", "2",
                    "--batch-size", "8", "--seed", "3", "--precision", "int8", "-q"], check=True, timeout=300)
    assert json.load(open(out / "adapter_config.json")).get("peft_type") == "LORA"
    on_int8 = np.asarray(dnabert.Classifier.load(int8, str(out)).predict_proba(seqs))
    on_fp32 = np.asarray(dnabert.Classifier.load(fp32, str(out)).predict_proba(seqs))

    def cli_probs(*extra):
        r = subprocess.run([cli, "predict", "--model", MODEL, "--adapter", str(out), *extra, test], check=True,
                           timeout=300, capture_output=True, text=True)
        rows = list(csv.DictReader(r.stdout.splitlines()))
        return np.array([[float(row["prob_0"]), float(row["prob_1"])] for row in rows])
    got = cli_probs("--precision", "int8")
    np.testing.assert_allclose(got, on_int8, rtol=1e-5, atol=1e-6)
    assert np.abs(got - on_fp32).max() > 1e-6, "the CLI's int8 predictions are the float32 base's"
    np.testing.assert_allclose(cli_probs(), on_fp32, rtol=1e-5, atol=1e-6)   # the default: the model as stored
    bad = subprocess.run([cli, "predict", "--model", MODEL, "--adapter", str(out), "--precision", "int3", test],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "unknown precision" in bad.stderr
