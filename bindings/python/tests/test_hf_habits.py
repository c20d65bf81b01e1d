"""Issue 13 §2 — what a Hugging Face user types, works: the tokenizer call (padding, truncation, max_length,
return_tensors) compared with transformers' PreTrainedTokenizerFast on the same tokenizer.json, the HF names
(batch_decode, convert_ids_to_tokens, tokenize, *_token_id, from_pretrained), model(**inputs), num_parameters,
config attributes, TrainingArguments spellings, pandas DataFrames, Classifier.from_pretrained, progress lines off a
terminal, and a platform-tagged wheel."""
import io
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import dnabert
from dnabert import DNABertError

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL_DIR = os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes")
TASK = os.path.join(ROOT, "examples", "data", "tasks", "coding_200")
TRAIN = os.path.join(TASK, "train.csv")
SEQS = ["ACGTAGGCTAGCTAGGATCGATTTACGGA", "TTTTGGGCCA", "acgtacgtgatcgatcgatgctagctagctagcatcgatcgatcgatcgat", "G"]


@pytest.fixture(scope="module")
def model():
    return dnabert.Model.from_pretrained(MODEL_DIR)


@pytest.fixture(scope="module")
def ours():
    return dnabert.Tokenizer.from_pretrained(MODEL_DIR)


@pytest.fixture(scope="module")
def hf():
    transformers = pytest.importorskip("transformers", reason="the comparison needs Hugging Face transformers")
    return transformers.PreTrainedTokenizerFast(
        tokenizer_file=os.path.join(MODEL_DIR, "tokenizer.json"), unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")


def as_lists(enc):
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in enc.items()}


CALLS = [
    dict(),
    dict(padding=True),
    dict(padding="longest", truncation=True, max_length=8),
    dict(padding="max_length", truncation=True, max_length=12),
    dict(truncation=True, max_length=5),
    dict(max_length=6),                                  # HF truncates when max_length is given without padding
    dict(padding=True, add_special_tokens=False),
    dict(padding=True, return_attention_mask=False, return_token_type_ids=False),
    dict(padding=True, return_token_type_ids=True),
    dict(padding=True, pad_to_multiple_of=8),
]


@pytest.mark.parametrize("kw", CALLS, ids=[str(k) for k in CALLS])
def test_tokenizer_call_equals_transformers(ours, hf, kw):
    assert as_lists(ours(SEQS, **kw)) == as_lists(hf(SEQS, **kw))
    assert as_lists(ours(SEQS[0], **kw)) == as_lists(hf(SEQS[0], **kw))


@pytest.mark.parametrize("rt", ["np", "pt"])
def test_tokenizer_return_tensors(ours, hf, rt):
    if rt == "pt":
        pytest.importorskip("torch", reason="return_tensors='pt' needs PyTorch")
    kw = dict(padding=True, truncation=True, max_length=10, return_tensors=rt)
    a, b = ours(SEQS, **kw), hf(SEQS, **kw)
    assert set(a) == set(b)
    for k in b:
        assert type(a[k]) is type(b[k]) and a[k].dtype == b[k].dtype and a[k].tolist() == b[k].tolist()
    one = ours(SEQS[0], return_tensors=rt)
    assert tuple(one["input_ids"].shape) == tuple(hf(SEQS[0], return_tensors=rt)["input_ids"].shape)
    with pytest.raises(ValueError, match="padding"):
        ours(SEQS, return_tensors=rt)                    # ragged rows cannot be a tensor (HF refuses too)


def test_hf_token_names(ours, hf):
    for name in ("pad", "cls", "sep", "unk", "mask"):
        assert getattr(ours, f"{name}_token_id") == getattr(hf, f"{name}_token_id")
        assert getattr(ours, f"{name}_token") == getattr(hf, f"{name}_token")
    assert ours.all_special_ids == sorted(hf.all_special_ids)
    ids = hf(SEQS[2])["input_ids"]
    assert ours.convert_ids_to_tokens(ids) == hf.convert_ids_to_tokens(ids)
    assert ours.convert_ids_to_tokens(ids[1]) == hf.convert_ids_to_tokens(ids[1])
    assert ours.convert_ids_to_tokens(ids, skip_special_tokens=True) == hf.convert_ids_to_tokens(ids, skip_special_tokens=True)
    toks = hf.tokenize(SEQS[0])
    assert ours.tokenize(SEQS[0]) == toks
    assert ours.convert_tokens_to_ids(toks) == hf.convert_tokens_to_ids(toks)
    assert ours.convert_tokens_to_ids("NOT-A-TOKEN") == hf.convert_tokens_to_ids("NOT-A-TOKEN")
    batch = hf(SEQS, padding=True)["input_ids"]
    # HF joins token strings with spaces (the tokenizer.json has no decoder); the library concatenates them.
    for skip in (True, False):
        want = [s.replace(" ", "") for s in hf.batch_decode(batch, skip_special_tokens=skip)]
        assert ours.batch_decode(batch, skip_special_tokens=skip) == want
    assert len(ours) == len(hf) and ours.vocab_size == hf.vocab_size


def test_tokenizer_from_pretrained(tmp_path):
    shutil.copy(os.path.join(MODEL_DIR, "tokenizer.json"), tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 7}))
    t = dnabert.Tokenizer.from_pretrained(tmp_path)
    assert t.model_max_length == 7
    assert len(t(SEQS[2], truncation=True)["input_ids"]) == 7
    assert dnabert.Tokenizer.from_pretrained(tmp_path / "tokenizer.json").vocab_size == t.vocab_size
    with pytest.raises(FileNotFoundError):
        dnabert.Tokenizer.from_pretrained(tmp_path / "missing")


def test_model_call_with_hf_inputs(model, ours):
    torch = pytest.importorskip("torch", reason="model(**inputs) with torch tensors needs PyTorch")
    inputs = ours(SEQS, padding=True, return_tensors="pt")
    out = model(**inputs)
    ids = ours.encode_batch(SEQS, padding=True)
    want = model.forward(ids.input_ids, ids.attention_mask)
    assert isinstance(out.last_hidden_state, torch.Tensor)
    np.testing.assert_array_equal(out.last_hidden_state.numpy(), want)
    np.testing.assert_array_equal(out[0].numpy(), want)
    np_out = model(**ours(SEQS, padding=True, return_tensors="np"))
    np.testing.assert_array_equal(np_out.last_hidden_state, want)
    hs = model(**inputs, output_hidden_states=True).hidden_states
    assert len(hs) == model.config.num_hidden_layers + 1
    np.testing.assert_array_equal(hs[-1].numpy(), want)
    with pytest.raises(ValueError, match="token_type_ids"):
        model(input_ids=inputs["input_ids"], token_type_ids=torch.ones_like(inputs["input_ids"]))
    # the old positional form still returns the array
    np.testing.assert_array_equal(model(ids.input_ids, ids.attention_mask), want)


def safetensors_counts(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return {k: int(np.prod(v["shape"])) for k, v in header.items() if k != "__metadata__"}


def test_num_parameters_and_config(model):
    counts = safetensors_counts(os.path.join(MODEL_DIR, "model.safetensors"))
    cfg = json.load(open(os.path.join(MODEL_DIR, "config.json")))
    # the MLM decoder weight is tied to the word embeddings: one tensor, stored twice in the file
    total = sum(v for k, v in counts.items() if k != "cls.predictions.decoder.weight")
    assert model.num_parameters() == total
    H = cfg["hidden_size"]
    assert model.num_parameters(exclude_embeddings=True) == total - cfg["vocab_size"] * H - cfg.get("type_vocab_size", 2) * H
    assert model.config.hidden_size == cfg["hidden_size"] and model.config["num_hidden_layers"] == cfg["num_hidden_layers"]
    with pytest.raises(AttributeError):
        model.config.no_such_field


def read_task(n=128):
    import csv
    with open(TRAIN, newline="") as f:
        rows = list(csv.DictReader(f))[:n]
    return [r["sequence"] for r in rows], [int(r["label"]) for r in rows]


def test_training_arguments_spellings(model):
    seqs, y = read_task(64)
    a = dnabert.finetune(model, (seqs, y), max_steps=2, batch_size=16, lr=1e-3, seed=3, progress=False)
    b = dnabert.finetune(model, (seqs, y), max_steps=2, per_device_train_batch_size=16, learning_rate=1e-3, seed=3,
                         progress=False)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert [h["learning_rate"] for h in a.history] == [h["learning_rate"] for h in b.history]
    c = dnabert.finetune(model, (seqs, y), num_train_epochs=0.5, batch_size=16, progress=False)
    assert len(c.history) == 2                            # half an epoch of 64 sequences in batches of 16
    with pytest.raises(TypeError, match="not both"):
        dnabert.finetune(model, (seqs, y), lr=1e-3, learning_rate=1e-3, progress=False)


def test_pandas_dataframes(model, tmp_path):
    pd = pytest.importorskip("pandas", reason="DataFrame input needs pandas")
    seqs, y = read_task(96)
    df = pd.DataFrame({"sequence": seqs, "label": y})
    a = dnabert.finetune(model, df.iloc[:64], dev=df.iloc[64:], max_steps=2, batch_size=32, seed=1, progress=False)
    b = dnabert.finetune(model, (seqs[:64], y[:64]), dev=(seqs[64:], y[64:]), max_steps=2, batch_size=32, seed=1,
                         progress=False)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    other = df.rename(columns={"sequence": "dna", "label": "is_coding"})
    c = dnabert.finetune(model, other.iloc[:64], sequence_column="dna", label_column="is_coding", max_steps=2,
                         batch_size=32, seed=1, progress=False)
    assert [h["loss"] for h in c.history] == [h["loss"] for h in b.history]
    m1, m2 = a.evaluate(df.iloc[64:]), a.evaluate((seqs[64:], y[64:]))
    assert m1 == m2
    assert a.evaluate(other.iloc[64:], sequence_column="dna", label_column="is_coding") == m2
    np.testing.assert_array_equal(a.predict_proba(df.iloc[64:]), a.predict_proba(seqs[64:]))
    with pytest.raises(ValueError, match="no 'label' column"):
        dnabert.finetune(model, other, max_steps=1, progress=False, sequence_column="dna")
    # a classifier loaded from disk (no training Dataset) reads DataFrames with its own label mapping
    a.save(tmp_path / "clf")
    back = dnabert.Classifier.from_pretrained(tmp_path / "clf")
    assert back.evaluate(df.iloc[64:]) == m2


def test_classifier_from_pretrained(model, tmp_path):
    seqs, y = read_task(64)
    clf = dnabert.finetune(model, (seqs, y), max_steps=1, progress=False)
    clf.save(tmp_path / "adapter")
    cfg = json.load(open(tmp_path / "adapter" / "adapter_config.json"))
    assert os.path.samefile(cfg["base_model_name_or_path"], MODEL_DIR)
    back = dnabert.Classifier.from_pretrained(tmp_path / "adapter")
    np.testing.assert_array_equal(back.predict_proba(seqs[:10]), clf.predict_proba(seqs[:10]))
    clf.merged_model().save_pretrained(tmp_path / "merged")
    full = dnabert.Classifier.from_pretrained(tmp_path / "merged")
    np.testing.assert_allclose(full.predict_proba(seqs[:10]), clf.predict_proba(seqs[:10]), atol=1e-5)
    cfg["base_model_name_or_path"] = "zhihan1996/DNABERT-2-117M"      # a Hub id: not reachable here
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(DNABertError, match="pass the base as model="):
        dnabert.Classifier.from_pretrained(tmp_path / "adapter")
    np.testing.assert_array_equal(dnabert.Classifier.from_pretrained(tmp_path / "adapter", model=MODEL_DIR)
                                  .predict_proba(seqs[:10]), clf.predict_proba(seqs[:10]))
    # clf(**inputs).logits, as a transformers classification model
    tok = model.tokenizer
    inputs = tok(seqs[:4], padding=True, return_tensors="np")
    np.testing.assert_array_equal(clf(**inputs).logits, clf.logits(inputs["input_ids"], inputs["attention_mask"]))


def test_progress_is_plain_lines_off_a_terminal():
    from dnabert._progress import LogBar, make_bar
    buf = io.StringIO()
    bar = LogBar("finetune", total=100, unit="step", stream=buf, interval=0.0)
    for i in range(1, 101):
        bar.n = i
        bar.set_postfix({"loss": "0.5"})
    bar.close()
    text = buf.getvalue()
    assert "\r" not in text and "finetune: 100/100 steps (100%), loss=0.5" in text
    # pytest captures stderr (not a terminal): the bindings choose the log lines, not a tqdm bar
    assert isinstance(make_bar("x"), LogBar)


def test_read_fasta_yields_name_and_sequence(tmp_path):
    p = tmp_path / "a.fa"
    p.write_text(">one first record\nACGT\nacgt\n\n>two\nGG\n")
    assert list(dnabert.read_fasta(p)) == [("one", "ACGTacgt"), ("two", "GG")]


def test_wheel_is_platform_tagged(tmp_path):
    try:
        import setuptools.command.bdist_wheel  # noqa: F401  (setuptools >= 70.1 builds wheels itself)
    except ImportError:
        pytest.importorskip("wheel", reason="building a wheel needs setuptools >= 70.1 or the wheel package")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(tmp_path), os.path.join(ROOT, "bindings", "python")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    wheels = [f for f in os.listdir(tmp_path) if f.endswith(".whl")]
    import sysconfig
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")       # linux_x86_64 here
    assert len(wheels) == 1 and wheels[0].endswith(f"-py3-none-{plat}.whl"), wheels
    import zipfile
    names = zipfile.ZipFile(tmp_path / wheels[0]).namelist()
    assert "dnabert/libdnabert.so" in names and "Root-Is-Purelib: false" in \
        zipfile.ZipFile(tmp_path / wheels[0]).read(next(n for n in names if n.endswith("/WHEEL"))).decode()
