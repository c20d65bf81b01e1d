#!/usr/bin/env python3
"""Reference numbers for Sources/DNABert/FineTuning/Metrics.swift, computed by scikit-learn and SciPy.

Writes Tests/DNABertTests/Fixtures/finetune/metrics_cases.json:
  {"classification": [{"name", "num_classes", "predicted", "truth", "accuracy", "f1", "precision", "recall",
                       "mcc", "confusion"}],
   "regression":     [{"name", "predicted", "truth", "pearson", "spearman", "mse", "mae", "r2"}],
   "multi_label":    [{"name", "predicted", "truth", "accuracy", "f1", "precision", "recall", "mcc"}]}
NaN (scipy's answer for constant input) is written as null.

Usage: pip install numpy scikit-learn scipy; python3 tools/reference/make_metrics_fixture.py
"""
import json
import math
import os
import warnings

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn import metrics as skm

warnings.filterwarnings("ignore")
rng = np.random.default_rng(20261125)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "DNABertTests", "Fixtures", "finetune",
                   "metrics_cases.json")


def num(x):
    x = float(x)
    return None if math.isnan(x) else x


def cls_case(name, pred, truth, k):
    pred = np.asarray(pred, dtype=np.int64)
    truth = np.asarray(truth, dtype=np.int64)
    # labels=None: sklearn macro-averages over unique_labels(truth, pred), as the Swift code does.
    kw = dict(average="macro", zero_division=0)
    return {
        "name": name, "num_classes": k, "predicted": pred.tolist(), "truth": truth.tolist(),
        "accuracy": num(skm.accuracy_score(truth, pred)),
        "f1": num(skm.f1_score(truth, pred, **kw)),
        "precision": num(skm.precision_score(truth, pred, **kw)),
        "recall": num(skm.recall_score(truth, pred, **kw)),
        "mcc": num(skm.matthews_corrcoef(truth, pred)),
        "confusion": skm.confusion_matrix(truth, pred, labels=list(range(k))).tolist(),
    }


def reg_case(name, pred, truth):
    pred = np.asarray(pred, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if len(pred) >= 2:
        p = scipy.stats.pearsonr(pred, truth)[0]
        s = scipy.stats.spearmanr(pred, truth)[0]
    else:
        p = s = float("nan")
    return {
        "name": name, "predicted": pred.tolist(), "truth": truth.tolist(),
        "pearson": num(p), "spearman": num(s),
        "mse": num(skm.mean_squared_error(truth, pred)),
        "mae": num(skm.mean_absolute_error(truth, pred)),
        "r2": num(skm.r2_score(truth, pred)),
    }


def ml_case(name, pred, truth):
    pred = np.asarray(pred, dtype=np.int64)
    truth = np.asarray(truth, dtype=np.int64)
    kw = dict(average="macro", zero_division=0)
    return {
        "name": name, "predicted": pred.tolist(), "truth": truth.tolist(),
        "accuracy": num(skm.accuracy_score(truth, pred)),
        "f1": num(skm.f1_score(truth, pred, **kw)),
        "precision": num(skm.precision_score(truth, pred, **kw)),
        "recall": num(skm.recall_score(truth, pred, **kw)),
        "mcc": num(skm.matthews_corrcoef(truth.ravel(), pred.ravel())),
    }


def noisy(truth, k, p_correct):
    pred = truth.copy()
    flip = rng.random(len(truth)) > p_correct
    pred[flip] = rng.integers(0, k, flip.sum())
    return pred


cls = []
for k in (2, 3, 5):
    for n in (1, 7, 50, 400):
        for q in (0.3, 0.8):
            truth = rng.integers(0, k, n)
            cls.append(cls_case(f"random k={k} n={n} q={q}", noisy(truth, k, q), truth, k))
    # imbalanced: class 0 dominates
    truth = np.where(rng.random(300) < 0.9, 0, rng.integers(1, k, 300))
    cls.append(cls_case(f"imbalanced k={k}", noisy(truth, k, 0.7), truth, k))
    # all predictions one class
    truth = rng.integers(0, k, 60)
    cls.append(cls_case(f"constant prediction k={k}", np.full(60, k - 1), truth, k))
    # perfect
    cls.append(cls_case(f"perfect k={k}", truth, truth, k))
    # everything wrong
    cls.append(cls_case(f"all wrong k={k}", (truth + 1) % k, truth, k))
    # a class of 0..<K never occurs (neither true nor predicted)
    truth = rng.integers(0, k - 1, 80) if k > 2 else rng.integers(0, 1, 80)
    cls.append(cls_case(f"absent class k={k}", noisy(truth, k - 1, 0.6), truth, k))
    # a class only in predictions
    truth = rng.integers(0, k - 1, 40) if k > 2 else np.zeros(40, dtype=np.int64)
    pred = truth.copy(); pred[:5] = k - 1
    cls.append(cls_case(f"class only predicted k={k}", pred, truth, k))
# single class everywhere
cls.append(cls_case("one class only, all correct", np.zeros(10), np.zeros(10), 2))
cls.append(cls_case("one class only, label 1", np.ones(10), np.ones(10), 2))
cls.append(cls_case("truth one class, predictions mixed", rng.integers(0, 2, 30), np.ones(30), 2))

reg = []
for n in (2, 3, 10, 200):
    t = rng.normal(size=n)
    reg.append(reg_case(f"random n={n}", t + rng.normal(scale=0.5, size=n), t))
    reg.append(reg_case(f"anticorrelated n={n}", -2 * t + rng.normal(scale=0.1, size=n), t))
# ties for spearman: values on a coarse grid
t = rng.integers(0, 5, 100).astype(float)
reg.append(reg_case("ties both", rng.integers(0, 4, 100).astype(float), t))
reg.append(reg_case("ties truth", t + rng.normal(size=100), t))
reg.append(reg_case("perfect", t, t))
reg.append(reg_case("constant prediction", np.full(20, 0.5), rng.normal(size=20)))
reg.append(reg_case("constant truth", rng.normal(size=20), np.full(20, 3.0)))
reg.append(reg_case("constant truth exact", np.full(20, 3.0), np.full(20, 3.0)))
reg.append(reg_case("single sample", [1.5], [2.0]))
reg.append(reg_case("large offset", 1e6 + rng.normal(size=50), 1e6 + rng.normal(size=50)))

ml = []
# K = 1 is left out: sklearn reads an N×1 indicator column as binary (macro over classes 0 and 1), not as
# one label; Metrics.multiLabel scores it as one label.
for k in (2, 4, 7):
    for n in (1, 5, 60):
        t = (rng.random((n, k)) < 0.3).astype(np.int64)
        p = t.copy()
        flip = rng.random((n, k)) < 0.2
        p[flip] = 1 - p[flip]
        ml.append(ml_case(f"random k={k} n={n}", p, t))
t = (rng.random((30, 4)) < 0.4).astype(np.int64)
ml.append(ml_case("perfect", t, t))
ml.append(ml_case("all zero predictions", np.zeros_like(t), t))
ml.append(ml_case("all zero both", np.zeros((10, 3)), np.zeros((10, 3))))
ml.append(ml_case("all one predictions", np.ones_like(t), t))
t2 = t.copy(); t2[:, 2] = 0
p2 = t2.copy(); p2[:, 2] = 0; p2[:3, 0] = 1 - p2[:3, 0]
ml.append(ml_case("a label never occurs", p2, t2))

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "tools/reference/make_metrics_fixture.py",
               "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__,
                            "scipy": scipy.__version__},
               "classification": cls, "regression": reg, "multi_label": ml}, f, allow_nan=False)
print(f"wrote {OUT}: {len(cls)} classification, {len(reg)} regression, {len(ml)} multi-label cases")

# --- Hugging Face config.json label entries (for LabelSchema.configEntries / LabelSchema(config:)) ---------
# Written to a second file, hf_label_config.json: each case gives the constructor arguments and what
# transformers' BertConfig writes (to_dict) and reads back (from_dict: id2label, num_labels, problem_type).
from transformers import BertConfig  # noqa: E402
import transformers  # noqa: E402

hf_cases = []
for kwargs in [dict(num_labels=2), dict(num_labels=3, problem_type="single_label_classification"),
               dict(id2label={0: "neg", 1: "pos"}, problem_type="single_label_classification"),
               dict(id2label={0: "Zeta", 1: "enhancer", 2: "none", 3: "promoter"}),
               dict(num_labels=5, problem_type="multi_label_classification"),
               dict(num_labels=1, problem_type="regression"), dict(num_labels=1)]:
    d = BertConfig(**kwargs).to_dict()
    entries = {"id2label": {str(k): v for k, v in d["id2label"].items()}, "label2id": d["label2id"],
               "problem_type": d["problem_type"]}
    back = BertConfig.from_dict(json.loads(json.dumps(entries)))
    hf_cases.append({"kwargs": {k: ({str(a): b for a, b in v.items()} if isinstance(v, dict) else v)
                                for k, v in kwargs.items()},
                     "config": entries, "num_labels": back.num_labels, "problem_type": back.problem_type,
                     "id2label": [back.id2label[i] for i in range(back.num_labels)]})
HF_OUT = os.path.join(os.path.dirname(OUT), "hf_label_config.json")
with open(HF_OUT, "w") as f:
    json.dump({"generator": "tools/reference/make_metrics_fixture.py",
               "versions": {"transformers": transformers.__version__}, "cases": hf_cases}, f, indent=1)
print(f"wrote {HF_OUT}: {len(hf_cases)} cases")
