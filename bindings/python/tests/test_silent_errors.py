"""Issue 13 §1 — no silent wrong results from Python: a merged classifier folder reloads as the same classifier,
a file path is read as a file (never tokenized as letters), and inputs longer than a classifier's max_length
warn (truncation) or are scored by windows whose pooled score equals a naive window-by-window computation."""
import gzip
import os
import warnings

import numpy as np
import pytest

import dnabert
from dnabert import DNABertError

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL_DIR = os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes")
TASK = os.path.join(ROOT, "examples", "data", "tasks", "coding_200")
TRAIN, TEST = (os.path.join(TASK, f"{s}.csv") for s in ("train", "test"))
ALL_TARGETS = ("Wqkv", "attention.output.dense", "gated_layers", "wo")


def read_csv(path):
    import csv
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["sequence"] for r in rows], [int(r["label"]) for r in rows]


@pytest.fixture(scope="module")
def model():
    return dnabert.Model.from_pretrained(MODEL_DIR)


@pytest.fixture(scope="module")
def data():
    return read_csv(TRAIN)[0][:96], read_csv(TRAIN)[1][:96], read_csv(TEST)[0][:80]


@pytest.mark.parametrize("pooling,rc", [("mean", True), ("mean", False), ("cls", True)])
def test_merged_model_reloads_as_the_same_classifier(model, data, tmp_path, pooling, rc):
    seqs, y, test = data
    names = ["noncoding" if v == 0 else "coding" for v in y]
    clf = dnabert.finetune(model, (seqs, names), max_steps=3, lr=5e-3, pooling=pooling, reverse_complement=rc,
                           lora_targets=ALL_TARGETS, progress=False)
    expected = clf.predict_proba(test)
    merged = clf.merged_model()
    merged.save_pretrained(tmp_path / "m")
    back = dnabert.Classifier.load(None, tmp_path / "m")
    info = back.info
    assert info["mode"] == "full"
    assert info["pooling"] == pooling
    assert info["reverse_complement"] is rc
    assert info["label_names"] == ["coding", "noncoding"]
    assert info["max_length"] == clf.info["max_length"]
    assert info["problem_type"] == "single_label_classification"
    got = back.predict_proba(test)
    assert np.abs(got - expected).max() <= 1e-5
    assert list(back.predict(test)) == list(clf.predict(test))
    # Hugging Face reads the label names and the problem type from config.json.
    import json
    cfg = json.load(open(tmp_path / "m" / "config.json"))
    assert cfg["id2label"] == {"0": "coding", "1": "noncoding"} and cfg["problem_type"] == "single_label_classification"


def write_fasta(path, records, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt") as f:
        for name, s in records:
            f.write(f">{name} some description\n")
            for i in range(0, len(s), 60):
                f.write(s[i:i + 60] + "\n")


def test_a_path_is_read_as_a_file_never_embedded_as_letters(model, data, tmp_path):
    _, _, test = data
    recs = [(f"r{i}", s) for i, s in enumerate(test[:5])]
    direct = model.embed([s for _, s in recs])
    for name, gz in (("reads.fa", False), ("reads.fa.gz", True)):
        p = tmp_path / name
        write_fasta(p, recs, gz=gz)
        np.testing.assert_allclose(model.embed(str(p)), direct, atol=1e-6)
        np.testing.assert_allclose(model.embed(p), direct, atol=1e-6)            # pathlib.Path too
    fq = tmp_path / "reads.fq"
    with open(fq, "w") as f:
        for name, s in recs:
            f.write(f"@{name}\n{s}\n+\n{'I' * len(s)}\n")
    np.testing.assert_allclose(model.embed(str(fq)), direct, atol=1e-6)
    csvp = tmp_path / "seqs.csv"
    with open(csvp, "w") as f:
        f.write("id,sequence\n" + "".join(f"{n},{s}\n" for n, s in recs))
    np.testing.assert_allclose(model.embed(str(csvp)), direct, atol=1e-6)
    # dnabert.read_fasta yields (name, sequence), as an independent parse gives them.
    assert list(dnabert.read_fasta(tmp_path / "reads.fa.gz")) == recs
    assert list(dnabert.read_fasta(fq)) == recs
    # A path that does not exist is refused, never tokenized.
    with pytest.raises(FileNotFoundError, match="looks like a file path"):
        model.embed("reads_missing.fa")
    with pytest.raises(FileNotFoundError):
        model.embed(tmp_path / "nope.fa")
    # A list holding a path is refused with the way out.
    with pytest.raises(ValueError, match="names a file"):
        model.embed([str(tmp_path / "reads.fa")])
    # A file that is neither FASTA/FASTQ nor a table with a sequence column is refused with a message.
    bad = tmp_path / "notes.txt"
    bad.write_text("hello world\n")
    with pytest.raises(ValueError, match="sequence"):
        model.embed(str(bad))


def test_classifier_reads_files_too(model, data, tmp_path):
    seqs, y, test = data
    clf = dnabert.finetune(model, (seqs, y), max_steps=1, progress=False)
    p = tmp_path / "test.fa"
    write_fasta(p, [(f"s{i}", s) for i, s in enumerate(test[:7])])
    np.testing.assert_array_equal(clf.predict(str(p)), clf.predict(test[:7]))
    np.testing.assert_allclose(clf.predict_proba(p), clf.predict_proba(test[:7]), atol=1e-7)
    np.testing.assert_allclose(clf.predict_proba(TEST)[:7], clf.predict_proba(test[:7]), atol=1e-7)  # CSV column
    with pytest.raises(FileNotFoundError):
        clf.predict("test_missing.fa")
    with pytest.raises((DNABertError, FileNotFoundError, ValueError)):
        clf.evaluate("test_missing.csv")


def naive_windows(clf, tok, seq, width, overlap, how):
    """Each window scored alone through logits + softmax, pooled by mean or max (a re-implementation)."""
    ids = tok.encode(seq.upper(), add_special_tokens=False)
    ids = list(ids.ids if hasattr(ids, "ids") else ids)
    starts, s = [], 0
    while True:
        if s + width >= len(ids):
            starts.append(max(len(ids) - width, 0))
            break
        starts.append(s)
        s += width - overlap
    sp = tok.special_ids
    rows = []
    for s0 in starts:
        w = [sp["cls"]] + ids[s0:s0 + width] + [sp["sep"]]
        lg = clf.logits(np.array([w], dtype=np.int32))[0].astype(np.float64)
        e = np.exp(lg - lg.max())
        rows.append(e / e.sum())
    rows = np.array(rows)
    return rows.mean(axis=0) if how == "mean" else rows.max(axis=0)


@pytest.mark.parametrize("how", ["mean", "max"])
def test_long_inputs_warn_or_are_scored_by_windows(model, data, how):
    seqs, y, test = data
    clf = dnabert.finetune(model, (seqs, y), max_steps=1, progress=False)
    ml = clf.info["max_length"]
    long = "".join(test[:8])                     # ~1.6 kbp for a classifier trained on 200 bp
    batch = [test[10], long, test[11]]
    with pytest.warns(dnabert.LongInputWarning, match="1 of 3 sequences are longer") as rec:
        p_trunc = clf.predict_proba(batch)
    assert len(rec) == 1                          # once per call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p_win = clf.predict_proba(batch, long_inputs="windows", window_overlap=8, window_pooling=how)
        clf.predict_proba(test[:5])               # short inputs: no warning
    assert clf.last_predict_report["n_long"] == 0
    tok = model.tokenizer
    want = naive_windows(clf, tok, long, ml - 2, 8, how)
    np.testing.assert_allclose(p_win[1], want, atol=1e-5)
    np.testing.assert_allclose(p_win[[0, 2]], p_trunc[[0, 2]], atol=1e-6)
    assert not np.allclose(p_win[1], p_trunc[1], atol=1e-4)
    with pytest.raises(ValueError, match="long_inputs"):
        clf.predict_proba(batch, long_inputs="slide")
    with pytest.raises(DNABertError, match="overlap"):
        clf.predict_proba(batch, long_inputs="windows", window_overlap=10_000)


# ---- the command line --------------------------------------------------------------------------------------

def cli_or_skip():
    import conftest
    cli = conftest.find_cli()
    if cli is None:
        pytest.skip("the dnabert CLI is not built (make cli); set DNABERT_CLI")
    return cli


def run(args):
    import subprocess
    return subprocess.run(args, capture_output=True, text=True)


def test_cli_embed_reads_a_csv_and_writes_atomically(tmp_path):
    cli = cli_or_skip()
    seqs = read_csv(TEST)[0][:6]
    csvp = tmp_path / "in.csv"
    csvp.write_text("id,sequence,label\n" + "".join(f"s{i},{s},0\n" for i, s in enumerate(seqs)))
    out = tmp_path / "out.tsv"
    r = run([cli, "embed", "--model", MODEL_DIR, "-q", str(csvp), "-o", str(out)])
    assert r.returncode == 0, r.stderr
    rows = out.read_text().splitlines()
    assert len(rows) == 1 + len(seqs) and [l.split("\t")[0] for l in rows[1:]] == [f"s{i}" for i in range(6)]
    model = dnabert.Model.from_pretrained(MODEL_DIR)
    want = model.embed(seqs)
    got = np.array([[float(x) for x in l.split("\t")[1:]] for l in rows[1:]], dtype=np.float32)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # A failing run (a truncated gzip file after a good one) leaves the previous output untouched, and no
    # temporary file behind.
    before = out.read_bytes()
    good = tmp_path / "good.fa"
    write_fasta(good, [("a", seqs[0])])
    bad = os.path.join(ROOT, "Tests", "Fixtures", "truncated.fa.gz")
    r = run([cli, "embed", "--model", MODEL_DIR, "-q", str(good), bad, "-o", str(out)])
    assert r.returncode != 0
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["good.fa", "in.csv", "out.tsv"]
    fresh = tmp_path / "fresh.tsv"
    r = run([cli, "embed", "--model", MODEL_DIR, "-q", str(good), bad, "-o", str(fresh)])
    assert r.returncode != 0 and not fresh.exists()     # never a header-only file


def test_cli_predict_warns_or_uses_windows(model, data, tmp_path):
    cli = cli_or_skip()
    seqs, y, test = data
    clf = dnabert.finetune(model, (seqs, y), max_steps=1, progress=False)
    clf.save(tmp_path / "clf")
    fa = tmp_path / "in.fa"
    long = "".join(test[:8])
    write_fasta(fa, [("short", test[10]), ("long", long)])
    r = run([cli, "predict", "--model", MODEL_DIR, "--adapter", str(tmp_path / "clf"), str(fa), "-o", str(tmp_path / "p.csv")])
    assert r.returncode == 0, r.stderr
    assert "1 of 2 sequences are longer" in r.stderr and "--long-inputs windows" in r.stderr
    r = run([cli, "predict", "--model", MODEL_DIR, "--adapter", str(tmp_path / "clf"), "--long-inputs", "windows",
             "--window-overlap", "8", str(fa), "-o", str(tmp_path / "w.csv")])
    assert r.returncode == 0, r.stderr
    import csv
    rows = list(csv.DictReader(open(tmp_path / "w.csv")))
    want = clf.predict_proba([test[10], long], long_inputs="windows", window_overlap=8)
    got = np.array([[float(rw["prob_0"]), float(rw["prob_1"])] for rw in rows])
    np.testing.assert_allclose(got, want, atol=1e-5)
