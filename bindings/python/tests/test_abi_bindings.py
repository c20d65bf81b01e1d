"""The bindings on the 0.2 ABI: the one label decision (dnabert_decide_labels) against numpy, and evaluation data
read with a loaded classifier's label mapping by the library (dnabert_classifier_dataset_from_arrays /
dnabert_classifier_read_dataset — no placeholder rows), checked against metrics recomputed from predict_proba."""
import csv
import os

import numpy as np
import pytest

import dnabert

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL_DIR = os.path.join(ROOT, "examples", "models", "dnabert2-small-5genomes")
TASK = os.path.join(ROOT, "examples", "data", "tasks", "coding_200")


def read_csv(path, n):
    with open(path) as f:
        rows = list(csv.DictReader(f))[:n]
    return [r["sequence"] for r in rows], [int(r["label"]) for r in rows]


def test_decide_labels_matches_numpy():
    rng = np.random.default_rng(5)
    s = rng.random((200, 4)).astype(np.float32)
    s[3] = [0.25, 0.25, 0.25, 0.25]                       # ties: the first class, as numpy's argmax
    np.testing.assert_array_equal(dnabert.decide_labels("single_label", s), s.argmax(axis=1))
    m = rng.random((50, 3)).astype(np.float32)
    m[0] = [0.5, np.nextafter(np.float32(0.5), np.float32(0)), 1.0]
    np.testing.assert_array_equal(dnabert.decide_labels("multi_label", m), (m >= 0.5).astype(np.int32))
    with pytest.raises(dnabert.DNABertError):
        dnabert.decide_labels("regression", s[:, :1])
    with pytest.raises(dnabert.DNABertError):
        dnabert.decide_labels("single_label", np.array([[np.nan, 0.2]], dtype=np.float32))


def test_loaded_classifier_reads_data_with_its_own_mapping(tmp_path):
    model = dnabert.Model.from_pretrained(MODEL_DIR)
    seqs, y = read_csv(os.path.join(TASK, "train.csv"), 64)
    names = ["noncoding" if v == 0 else "coding" for v in y]
    clf = dnabert.finetune(model, (seqs, names), max_steps=2, batch_size=16, progress=False)
    clf.save(str(tmp_path / "clf"))
    loaded = dnabert.Classifier.load(model, str(tmp_path / "clf"))
    assert loaded.label_names == ["coding", "noncoding"]
    tseqs, ty = read_csv(os.path.join(TASK, "test.csv"), 40)
    # only one class present: the mapping must still be the classifier's ("noncoding" = 1), not one inferred here
    only = [s for s, v in zip(tseqs, ty) if v == 0][:12]
    m = loaded.evaluate((only, ["noncoding"] * len(only)))
    proba = loaded.predict_proba(only)
    assert m["n"] == len(only)
    assert m["accuracy"] == pytest.approx(np.mean(proba.argmax(axis=1) == 1), abs=1e-12)
    assert m["loss"] == pytest.approx(float(np.mean(-np.log(proba[:, 1]))), rel=1e-4)
    with pytest.raises(dnabert.DNABertError):
        loaded.evaluate((only[:2], ["intergenic", "coding"]))   # a label the classifier does not know
    # a file with indices is read with the classifier's mapping too (label names "0"/"1" are not its names)
    with pytest.raises(dnabert.DNABertError):
        loaded.evaluate(os.path.join(TASK, "test.csv"))
