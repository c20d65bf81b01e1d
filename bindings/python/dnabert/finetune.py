"""Fine-tuning DNABERT-2 for sequence classification (LoRA or full) from Python.

    import dnabert
    model = dnabert.Model.from_pretrained("examples/models/dnabert2-small-5genomes")
    clf = dnabert.finetune(model, "train.csv", dev="dev.csv", test="test.csv", lora_r=8, epochs=3)
    clf.test_metrics                     # {'accuracy': ..., 'f1': ..., 'mcc': ..., ...}
    clf.predict(["ACGT...", "GGCA..."])  # labels (class names when the training labels were names)
    clf.predict_proba([...])             # [N, num_labels]
    clf.save("runs/clf")                 # a Hugging Face PEFT adapter (LoRA) or a full model folder
    clf = dnabert.Classifier.load(model, "runs/clf")

Labels: a CSV/TSV file with `sequence,label` columns, or `(sequences, labels)` in memory where a label is an int
(class index), a str (class name), a float (regression target) or a list of ints/names (multi-label); a 2-D numpy
0/1 array is a multi-label indicator matrix.
"""
import ctypes
import json
import math
import os
import warnings

import numpy as np

from . import _lib
from ._lib import DNABertError, Handle, check, lib
from ._progress import make_bar
from .model import ForwardParams, Model
from ._inputs import frame_labels, frame_sequences, is_dataframe, sequence_input
from .tokenizer import _as_bytes

_P = ctypes.c_void_p
c_float_p = ctypes.POINTER(ctypes.c_float)
c_int32_p, c_size_p, c_char_pp = _lib.c_int32_p, _lib.c_size_p, _lib.c_char_pp

PROBLEM_AUTO, PROBLEM_SINGLE_LABEL, PROBLEM_MULTI_LABEL, PROBLEM_REGRESSION = 0, 1, 2, 3
_PROBLEM_NAMES = {PROBLEM_AUTO: None, PROBLEM_SINGLE_LABEL: "single_label_classification",
                  PROBLEM_MULTI_LABEL: "multi_label_classification", PROBLEM_REGRESSION: "regression"}
_PROBLEM_CODES = {None: PROBLEM_AUTO, "auto": PROBLEM_AUTO,
                  "single_label": PROBLEM_SINGLE_LABEL, "single_label_classification": PROBLEM_SINGLE_LABEL,
                  "multi_label": PROBLEM_MULTI_LABEL, "multi_label_classification": PROBLEM_MULTI_LABEL,
                  "regression": PROBLEM_REGRESSION}
_POOLING = {"mean": 0, "cls": 1}
_FINETUNE_POOLING = {None: -1, "auto": -1, **_POOLING}     # -1: DNABERT_POOL_AUTO
_POOLING_NAMES = {0: "mean", 1: "cls"}
_LORA_TARGETS = ("Wqkv", "attention.output.dense", "gated_layers", "wo")
_SELECT_BY = ("loss", "accuracy", "f1", "mcc", "precision", "recall", "pearson", "spearman", "r2")


class DatasetInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_sequences", ctypes.c_int64), ("problem_type", ctypes.c_int32), ("num_labels", ctypes.c_int32),
                ("has_label_names", ctypes.c_int32)]


class FinetuneParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("lora_r", ctypes.c_int32), ("lora_alpha", ctypes.c_double),
                ("lora_dropout", ctypes.c_double), ("lora_targets", ctypes.c_char_p), ("pooling", ctypes.c_int32),
                ("epochs", ctypes.c_double), ("max_steps", ctypes.c_int32), ("batch_size", ctypes.c_int32),
                ("grad_accum", ctypes.c_int32), ("warmup_steps", ctypes.c_int32), ("eval_every", ctypes.c_int32),
                ("max_length", ctypes.c_int32), ("n_threads", ctypes.c_int32), ("use_class_weights", ctypes.c_int32),
                ("learning_rate", ctypes.c_double), ("dropout", ctypes.c_double), ("max_grad_norm", ctypes.c_double),
                ("weight_decay", ctypes.c_double), ("select_by", ctypes.c_char_p), ("seed", ctypes.c_uint64),
                ("reverse_complement", ctypes.c_int32), ("out_dir", ctypes.c_char_p),
                ("distributed", ctypes.c_int32)]


class FinetuneMetrics(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("step", ctypes.c_int64), ("total_steps", ctypes.c_int64), ("epoch", ctypes.c_double),
                ("loss", ctypes.c_double), ("learning_rate", ctypes.c_double), ("grad_norm", ctypes.c_double),
                ("tokens_per_second", ctypes.c_double), ("elapsed_seconds", ctypes.c_double),
                ("eta_seconds", ctypes.c_double), ("dev_loss", ctypes.c_double), ("dev_accuracy", ctypes.c_double),
                ("dev_f1", ctypes.c_double), ("dev_mcc", ctypes.c_double), ("dev_precision", ctypes.c_double),
                ("dev_recall", ctypes.c_double), ("dev_pearson", ctypes.c_double), ("dev_spearman", ctypes.c_double)]

    def as_dict(self):
        """The step's figures; NaN (not evaluated / not defined) becomes None."""
        d = {}
        for k, _ in self._fields_[1:]:
            v = getattr(self, k)
            d[k] = None if isinstance(v, float) and math.isnan(v) else v
        return d


FINETUNE_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(FinetuneMetrics))


class FinetunerInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("step", ctypes.c_int64), ("total_steps", ctypes.c_int64), ("steps_per_epoch", ctypes.c_int64),
                ("trainable_parameters", ctypes.c_int64), ("max_length", ctypes.c_int32),
                ("learning_rate", ctypes.c_double), ("best_step", ctypes.c_int64), ("best_value", ctypes.c_double)]


class ClassifierInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("num_labels", ctypes.c_int32), ("problem_type", ctypes.c_int32), ("pooling", ctypes.c_int32),
                ("lora_r", ctypes.c_int32), ("lora_alpha", ctypes.c_double), ("trainable_parameters", ctypes.c_int64),
                ("max_length", ctypes.c_int32), ("has_label_names", ctypes.c_int32), ("reverse_complement", ctypes.c_int32)]


class PredictParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_threads", ctypes.c_int32), ("batch_size", ctypes.c_int32),
                ("max_length", ctypes.c_int32), ("long_inputs", ctypes.c_int32), ("window_overlap", ctypes.c_int32),
                ("window_pooling", ctypes.c_int32)]


class PredictReport(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_long", ctypes.c_int64), ("n_windows", ctypes.c_int64),
                ("longest_tokens", ctypes.c_int32), ("max_length", ctypes.c_int32)]


class LongInputWarning(UserWarning):
    """Inputs longer than a classifier's max_length were truncated (see predict_proba's long_inputs)."""


_LONG_INPUTS = {"truncate": 0, "windows": 1}
_WINDOW_POOLING = {"mean": 0, "max": 1}


def _warn_level():
    """stacklevel pointing at the user's call (outside this package)."""
    import inspect
    here = os.path.dirname(os.path.abspath(__file__))
    level = 1
    for frame in inspect.stack()[1:]:
        level += 1
        if not os.path.abspath(frame.filename).startswith(here):
            return level - 1
    return 2


class EvalResult(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n", ctypes.c_int64), ("loss", ctypes.c_double), ("accuracy", ctypes.c_double),
                ("f1", ctypes.c_double), ("mcc", ctypes.c_double), ("precision", ctypes.c_double),
                ("recall", ctypes.c_double), ("pearson", ctypes.c_double), ("spearman", ctypes.c_double),
                ("mse", ctypes.c_double), ("r2", ctypes.c_double)]


_lib.declare({
    "dnabert_dataset_read": ([ctypes.c_char_p, _P, ctypes.c_int32, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_dataset_from_arrays": ([c_char_pp, c_size_p, c_char_pp, ctypes.c_size_t, _P, ctypes.c_int32,
                                     ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_dataset_get_info": ([_P, ctypes.POINTER(DatasetInfo)], ctypes.c_int),
    "dnabert_dataset_label_name": ([_P, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t, c_size_p], ctypes.c_int),
    "dnabert_dataset_labels": ([_P, c_float_p, ctypes.c_size_t], ctypes.c_int),
    "dnabert_dataset_free": ([_P], None),
    "dnabert_finetune_default_params": ([], FinetuneParams),
    "dnabert_finetuner_create": ([_P, _P, _P, ctypes.POINTER(FinetuneParams), ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_finetuner_step": ([_P, ctypes.POINTER(FinetuneMetrics)], ctypes.c_int),
    "dnabert_finetuner_run": ([_P, FINETUNE_CALLBACK, ctypes.c_void_p], ctypes.c_int),
    "dnabert_finetuner_classifier": ([_P, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_finetuner_get_info": ([_P, ctypes.POINTER(FinetunerInfo)], ctypes.c_int),
    "dnabert_finetuner_free": ([_P], None),
    "dnabert_classifier_load": ([_P, ctypes.c_char_p, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_classifier_save": ([_P, ctypes.c_char_p], ctypes.c_int),
    "dnabert_classifier_get_info": ([_P, ctypes.POINTER(ClassifierInfo)], ctypes.c_int),
    "dnabert_classifier_label_name": ([_P, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t, c_size_p],
                                      ctypes.c_int),
    "dnabert_classifier_predict": ([_P, c_char_pp, c_size_p, ctypes.c_size_t, ctypes.POINTER(ForwardParams),
                                    c_float_p], ctypes.c_int),
    "dnabert_classifier_logits": ([_P, c_int32_p, c_int32_p, ctypes.c_size_t, ctypes.c_size_t,
                                   ctypes.POINTER(ForwardParams), c_float_p], ctypes.c_int),
    "dnabert_classifier_evaluate": ([_P, _P, ctypes.POINTER(ForwardParams), ctypes.POINTER(EvalResult), c_float_p],
                                    ctypes.c_int),
    "dnabert_classifier_read_dataset": ([_P, ctypes.c_char_p, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_classifier_dataset_from_arrays": ([_P, c_char_pp, c_size_p, c_char_pp, ctypes.c_size_t,
                                                ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_finetuner_test": ([_P, _P, ctypes.POINTER(EvalResult)], ctypes.c_int),
    "dnabert_decide_labels": ([ctypes.c_int32, c_float_p, ctypes.c_size_t, ctypes.c_int32, c_int32_p], ctypes.c_int),
    "dnabert_classifier_merged_model": ([_P, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_classifier_free": ([_P], None),
    "dnabert_predict_default_params": ([], PredictParams),
    "dnabert_classifier_predict_ex": ([_P, c_char_pp, c_size_p, ctypes.c_size_t, ctypes.POINTER(PredictParams), c_float_p,
                                       ctypes.POINTER(PredictReport)], ctypes.c_int),
})

if ctypes.sizeof(FinetuneParams) != lib.dnabert_finetune_default_params().struct_size:   # pragma: no cover
    raise ImportError("dnabert_finetune_params differs between these bindings and the library: rebuild both")


# ---- helpers ------------------------------------------------------------------------------------

def _problem_code(problem_type):
    if isinstance(problem_type, (int, np.integer)) and not isinstance(problem_type, bool):
        if int(problem_type) in _PROBLEM_NAMES:
            return int(problem_type)
    elif problem_type is None or isinstance(problem_type, str):
        key = problem_type.lower() if isinstance(problem_type, str) else None
        if key in _PROBLEM_CODES:
            return _PROBLEM_CODES[key]
    raise ValueError(f"problem_type must be one of 'auto', 'single_label_classification', "
                     f"'multi_label_classification', 'regression' (short forms 'single_label', 'multi_label'), "
                     f"got {problem_type!r}")


def _read_name(fn, handle, index):
    n = ctypes.c_size_t()
    buf = ctypes.create_string_buffer(256)
    status = fn(handle, int(index), buf, len(buf), ctypes.byref(n))
    if status == -4:
        buf = ctypes.create_string_buffer(n.value + 1)
        status = fn(handle, int(index), buf, len(buf), ctypes.byref(n))
    check(status)
    return buf.raw[:n.value].decode("utf-8", "replace")


def _sequence_list(sequences, what="sequences"):
    """Sequences as a list of bytes; a single str is one sequence; a path is read as a FASTA/FASTQ/CSV file (never
    tokenized as letters); a DataFrame gives its `sequence` column."""
    items = sequence_input(sequences, what)
    return [_as_bytes(s, f"{what}[{i}]") for i, s in enumerate(items)]


def _c_sequences(data):
    n = len(data)
    seqs = (ctypes.c_char_p * max(n, 1))(*data)
    lens = (ctypes.c_size_t * max(n, 1))(*[len(d) for d in data])
    return seqs, lens


def _label_text(v, i):
    """One label as the C API (and a CSV field) spells it; also tells whether it was a list (multi-label)."""
    if isinstance(v, (bool, np.bool_)):
        return str(int(v)), False
    if isinstance(v, (int, np.integer)):
        return str(int(v)), False
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"labels[{i}] is {f}: a regression target must be finite")
        return repr(f), False
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if isinstance(v, str):
        if not v:
            raise ValueError(f"labels[{i}] is an empty string")
        if "\0" in v:
            raise ValueError(f"labels[{i}] contains a NUL character")
        return v, False
    if isinstance(v, (list, tuple, set, frozenset, np.ndarray)):
        parts = []
        for x in (sorted(v, key=str) if isinstance(v, (set, frozenset)) else list(v)):
            t, nested = _label_text(x, i)
            if nested or ";" in t:
                raise ValueError(f"labels[{i}]: a multi-label entry must be a list of ints or names, got {v!r}")
            parts.append(t)
        return ";".join(parts), True
    if v is None:
        raise ValueError(f"labels[{i}] is None")
    raise TypeError(f"labels[{i}] must be an int, float, str or a list (multi-label), got {type(v).__name__}")


def _indicator_rows(m):
    """A multi-label indicator matrix [n, num_labels] of 0/1 → lists of label indices."""
    if m.dtype.kind not in "biuf":
        raise TypeError(f"a 2-D label array must be a 0/1 indicator matrix, got dtype {m.dtype}")
    if not np.isin(m, (0, 1)).all():
        raise ValueError("a 2-D label array must be a 0/1 indicator matrix [n, num_labels]")
    return [np.flatnonzero(r).tolist() for r in m]


def _sized(T):
    """A result struct for the library to fill, its struct_size set (the ABI's rule)."""
    r = T()
    r.struct_size = ctypes.sizeof(T)
    return r


def _threads(threads):
    p = ForwardParams(ctypes.sizeof(ForwardParams), 0)
    p.n_threads = int(threads)
    return ctypes.byref(p)


def decide_labels(problem_type, scores):
    """The library's label decision (the one every binding and the CLI use) on scores [N, num_labels]:
    single-label → class indices [N] (argmax, the first on ties); multi-label → a 0/1 matrix [N, num_labels]
    (score >= 0.5). Regression has no decision."""
    code = _problem_code(problem_type)
    s = np.ascontiguousarray(scores, dtype=np.float32)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D array [N, num_labels], got shape {s.shape}")
    n, k = s.shape
    out = np.zeros((n, k) if code == PROBLEM_MULTI_LABEL else (n,), dtype=np.int32)
    check(lib.dnabert_decide_labels(code, s.ctypes.data_as(c_float_p), n, k, out.ctypes.data_as(c_int32_p)))
    return out


def _metrics_dict(r):
    d = {"n": int(r.n)}
    for k, _ in EvalResult._fields_[2:]:
        v = getattr(r, k)
        if not math.isnan(v):
            d[k] = float(v)
    return d


# ---- data -----------------------------------------------------------------------------------------

class Dataset(Handle):
    """Labelled sequences: a CSV/TSV file with `sequence` and `label` columns, or `(sequences, labels)`.

    like: a training Dataset whose label mapping (class names → indices, label count) this one must use; dev and
    test data must be read like the training data. problem_type: "auto" (inferred from the labels: lists or `0;2`
    → multi-label, ints → classes, other numbers → regression, other text → class names), "single_label",
    "multi_label" or "regression".
    """

    _kind = "dataset"
    _free_name = "dnabert_dataset_free"

    def __init__(self, source, labels=None, like=None, problem_type="auto", sequence_column="sequence",
                 label_column="label"):
        if like is not None and not isinstance(like, Dataset):
            raise TypeError(f"like must be a Dataset, got {type(like).__name__}")
        if is_dataframe(source):
            if labels is not None:
                raise TypeError("a DataFrame carries its labels: give its label_column, not labels=")
            source, labels = (frame_sequences(source, sequence_column, "data"),
                              frame_labels(source, label_column, "data"))
        code = _problem_code(problem_type)
        like_h = like._handle() if like is not None else None
        h = ctypes.c_void_p()
        if labels is None and isinstance(source, tuple):
            if len(source) != 2:
                raise ValueError(f"a data tuple must be (sequences, labels), got {len(source)} items")
            source, labels = source
        if labels is None:
            if not isinstance(source, (str, bytes, os.PathLike)):
                raise TypeError("Dataset needs a CSV path or (sequences, labels), got "
                                f"{type(source).__name__}")
            path = os.fsencode(source)
            check(lib.dnabert_dataset_read(path, like_h, code, ctypes.byref(h)))
            self.path = os.fsdecode(path)
            self.sequences = None
        else:
            seqs = _sequence_list(source)
            if isinstance(labels, (str, bytes)):
                raise TypeError("labels must be a list (one label per sequence), got a single string")
            indicator_columns = None
            if isinstance(labels, np.ndarray) and labels.ndim == 2:
                labels, indicator_columns = _indicator_rows(labels), labels.shape[1]
                if code == PROBLEM_AUTO:
                    code = PROBLEM_MULTI_LABEL
            try:
                labels = list(labels)
            except TypeError:
                raise TypeError(f"labels must be a list, got {type(labels).__name__}") from None
            if len(seqs) != len(labels):
                raise ValueError(f"{len(seqs)} sequences but {len(labels)} labels")
            if not seqs:
                raise ValueError("no sequences: a dataset needs at least one labelled sequence")
            for i, s in enumerate(seqs):
                if not s:
                    raise ValueError(f"sequences[{i}] is empty")
            texts, multi = [], False
            for i, v in enumerate(labels):
                t, is_list = _label_text(v, i)
                texts.append(t.encode("utf-8"))
                multi = multi or is_list
            if multi and code == PROBLEM_AUTO and like is None:
                code = PROBLEM_MULTI_LABEL
            cs, cl = _c_sequences(seqs)
            lab = (ctypes.c_char_p * len(texts))(*texts)
            check(lib.dnabert_dataset_from_arrays(cs, cl, lab, len(seqs), like_h, code, ctypes.byref(h)))
            if indicator_columns is not None:
                info = _sized(DatasetInfo)
                status = lib.dnabert_dataset_get_info(h, ctypes.byref(info))
                if status != 0 or info.num_labels != indicator_columns:
                    lib.dnabert_dataset_free(h)
                    check(status)
                    raise ValueError(f"the label matrix has {indicator_columns} columns but only labels "
                                     f"0..{info.num_labels - 1} occur; every label needs at least one positive row "
                                     "(or pass like= a training Dataset)")
            self.path = None
            self.sequences = [s.decode("utf-8") for s in seqs]
        super().__init__(h.value)

    @classmethod
    def _for_classifier(cls, clf, data, sequence_column="sequence", label_column="label"):
        """A path, a DataFrame or (sequences, labels) read with a classifier's label mapping (by the library)."""
        h = ctypes.c_void_p()
        self = cls.__new__(cls)
        if is_dataframe(data):
            data = (frame_sequences(data, sequence_column, "data"), frame_labels(data, label_column, "data"))
        if isinstance(data, (str, bytes, os.PathLike)):
            path = os.fsencode(data)
            check(lib.dnabert_classifier_read_dataset(clf._handle(), path, ctypes.byref(h)))
            self.path, self.sequences = os.fsdecode(path), None
        else:
            if not (isinstance(data, (tuple, list)) and len(data) == 2):
                raise TypeError("data must be a CSV path, a dnabert.Dataset or a (sequences, labels) tuple, "
                                f"got {type(data).__name__}")
            seqs, labels = _sequence_list(data[0]), data[1]
            if isinstance(labels, np.ndarray) and labels.ndim == 2:
                labels = _indicator_rows(labels)
            labels = list(labels)
            if len(seqs) != len(labels):
                raise ValueError(f"{len(seqs)} sequences but {len(labels)} labels")
            texts = [_label_text(v, i)[0].encode("utf-8") for i, v in enumerate(labels)]
            cs, cl = _c_sequences(seqs)
            lab = (ctypes.c_char_p * len(texts))(*texts)
            check(lib.dnabert_classifier_dataset_from_arrays(clf._handle(), cs, cl, lab, len(seqs), ctypes.byref(h)))
            self.path, self.sequences = None, [s.decode("utf-8") for s in seqs]
        Handle.__init__(self, h.value)
        return self

    @classmethod
    def from_csv(cls, path, like=None, problem_type="auto"):
        return cls(path, like=like, problem_type=problem_type)

    @classmethod
    def from_arrays(cls, sequences, labels, like=None, problem_type="auto"):
        return cls(sequences, labels, like=like, problem_type=problem_type)

    def _info(self):
        i = _sized(DatasetInfo)
        check(lib.dnabert_dataset_get_info(self._handle(), ctypes.byref(i)))
        return i

    @property
    def n(self):
        return int(self._info().n_sequences)

    def __len__(self):
        return self.n

    @property
    def problem_type(self):
        """'single_label_classification', 'multi_label_classification' or 'regression'."""
        return _PROBLEM_NAMES.get(self._info().problem_type)

    @property
    def num_labels(self):
        return int(self._info().num_labels)

    @property
    def label_names(self):
        """Class names by index when the labels were names, else None."""
        i = self._info()
        if not i.has_label_names:
            return None
        return [_read_name(lib.dnabert_dataset_label_name, self._handle(), k) for k in range(i.num_labels)]

    @property
    def labels(self):
        """Class indices (int64 [n]), label indicators (int64 [n, num_labels]) or targets (float32 [n])."""
        i = self._info()
        k = i.num_labels if i.problem_type == PROBLEM_MULTI_LABEL else 1
        out = np.empty(int(i.n_sequences) * k, dtype=np.float32)
        check(lib.dnabert_dataset_labels(self._handle(), out.ctypes.data_as(c_float_p), out.size))
        if i.problem_type == PROBLEM_REGRESSION:
            return out
        if i.problem_type == PROBLEM_MULTI_LABEL:
            return out.reshape(-1, k).astype(np.int64)
        return out.astype(np.int64)

    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dnabert.Dataset (closed)>"
        names = self.label_names
        lab = f" labels={names}" if names is not None and len(names) <= 8 else ""
        return f"<dnabert.Dataset n={self.n} {self.problem_type} num_labels={self.num_labels}{lab}>"


def _as_dataset(data, like=None, what="data", sequence_column="sequence", label_column="label"):
    """A Dataset from a path, a Dataset (checked against `like`), a pandas DataFrame or (sequences, labels)."""
    if isinstance(data, Dataset):
        if like is not None:
            _check_same_schema(data, like, what)
        return data
    if is_dataframe(data):
        return Dataset(data, like=like, sequence_column=sequence_column, label_column=label_column)
    if isinstance(data, (str, bytes, os.PathLike)):
        return Dataset(data, like=like)
    if isinstance(data, tuple) and len(data) == 2:
        return Dataset(data[0], data[1], like=like)
    if isinstance(data, list) and len(data) == 2 and not isinstance(data[0], (str, bytes)):
        return Dataset(data[0], data[1], like=like)
    raise TypeError(f"{what} must be a CSV path, a dnabert.Dataset, a pandas DataFrame or a (sequences, labels) "
                    f"tuple, got {type(data).__name__}")


def _check_same_schema(data, like, what):
    if (data.problem_type, data.num_labels, data.label_names) != (like.problem_type, like.num_labels,
                                                                 like.label_names):
        raise ValueError(f"{what}: its labels ({data.problem_type}, {data.num_labels} labels, names "
                         f"{data.label_names}) differ from the training data's ({like.problem_type}, "
                         f"{like.num_labels} labels, names {like.label_names}); read it with like=<train Dataset>")


# ---- the classifier -------------------------------------------------------------------------------

class Classifier(Handle):
    """A sequence classifier: a base model with LoRA adapters and a head, or a fully fine-tuned model."""

    _kind = "classifier"
    _free_name = "dnabert_classifier_free"

    def __init__(self, handle, base=None, like=None):
        super().__init__(handle)
        self.base = base              # keeps the base Model alive (the library also holds it)
        self._like = like             # the training Dataset (label mapping for evaluate)
        self.history = []             # per-step metrics when it came from finetune()
        self.test_metrics = None
        self.last_predict_report = None   # the last predict_proba's lengths (n_long, n_windows, ...)

    @classmethod
    def load(cls, model, directory):
        """Load a classifier saved by save(): a PEFT LoRA adapter directory on `model` (a Model or a model folder),
        or a fully fine-tuned model folder (model may be None)."""
        if isinstance(model, (str, os.PathLike)):
            model = Model.from_pretrained(model)
        if model is not None and not isinstance(model, Model):
            raise TypeError(f"model must be a dnabert.Model, a model folder or None, got {type(model).__name__}")
        if not isinstance(directory, (str, bytes, os.PathLike)):
            raise TypeError(f"directory must be a path, got {type(directory).__name__}")
        h = ctypes.c_void_p()
        check(lib.dnabert_classifier_load(model._handle() if model is not None else None, os.fsencode(directory),
                                          ctypes.byref(h)))
        return cls(h.value, base=model)

    @classmethod
    def from_pretrained(cls, directory, model=None):
        """Hugging Face's habit: load a classifier folder. A LoRA adapter finds its base model through
        adapter_config.json's base_model_name_or_path when that is a local model folder (absolute, or relative to
        the working folder or to the adapter); give `model` (a Model or a folder) otherwise. A full model folder
        (a merged or fully fine-tuned classifier) needs no base."""
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"no classifier folder '{directory}'")
        if model is None:
            mode = None
            extras = os.path.join(directory, "dnabert_classifier.json")
            if os.path.isfile(extras):
                try:
                    mode = json.load(open(extras)).get("mode")
                except (OSError, ValueError, AttributeError):
                    mode = None
            cfg = os.path.join(directory, "adapter_config.json")
            if mode != "full" and os.path.isfile(cfg):
                try:
                    base = json.load(open(cfg)).get("base_model_name_or_path")
                except (OSError, ValueError, AttributeError) as e:
                    raise DNABertError(f"'{cfg}': {e}", -3) from None
                found = None
                if isinstance(base, str) and base:
                    for c in (base, os.path.join(directory, base)):
                        if os.path.isfile(os.path.join(c, "config.json")):
                            found = c
                            break
                if found is None:
                    raise DNABertError(f"'{directory}' is a LoRA adapter whose base_model_name_or_path ({base!r}) is "
                                       "not a local model folder: pass the base as model=", -8)
                model = found
        return cls.load(model, directory)

    def save_pretrained(self, directory):
        """Hugging Face's name for save()."""
        self.save(directory)

    def __call__(self, input_ids=None, attention_mask=None, token_type_ids=None, threads=0, **kwargs):
        """Hugging Face's form: `clf(**tok(seqs, padding=True))` → a ModelOutput with `.logits` [B, num_labels]
        (forward strand only; predict_proba averages both strands of a strand-symmetric classifier)."""
        from .model import ModelOutput, _is_torch, _numpy, _to_torch
        if input_ids is None:
            raise TypeError("Classifier(...) needs input_ids (token ids); for sequences use predict_proba")
        if kwargs.get("labels") is not None:
            raise NotImplementedError("labels= (a training loss) is not computed here; use finetune / evaluate")
        torch_in = _is_torch(input_ids)
        if token_type_ids is not None and np.any(_numpy(token_type_ids) != 0):
            raise ValueError("token_type_ids must be all 0: DNABERT-2 encodes one segment")
        lg = self.logits(_numpy(input_ids), _numpy(attention_mask), threads)
        return ModelOutput(logits=_to_torch(lg) if torch_in else lg)

    # ---- description ----
    def _info(self):
        i = _sized(ClassifierInfo)
        check(lib.dnabert_classifier_get_info(self._handle(), ctypes.byref(i)))
        return i

    @property
    def info(self):
        i = self._info()
        d = {k: getattr(i, k) for k, _ in ClassifierInfo._fields_[1:]}
        d["problem_type"] = _PROBLEM_NAMES.get(i.problem_type)
        d["pooling"] = _POOLING_NAMES.get(i.pooling, i.pooling)
        d["has_label_names"] = bool(i.has_label_names)
        d["reverse_complement"] = bool(i.reverse_complement)
        d["mode"] = "lora" if i.lora_r > 0 else "full"
        if i.lora_r == 0:
            d["lora_alpha"] = None
        d["label_names"] = self.label_names
        return d

    @property
    def num_labels(self):
        return int(self._info().num_labels)

    @property
    def problem_type(self):
        return _PROBLEM_NAMES.get(self._info().problem_type)

    @property
    def label_names(self):
        """Class names by index when the training labels were names, else None."""
        i = self._info()
        if not i.has_label_names:
            return None
        return [_read_name(lib.dnabert_classifier_label_name, self._handle(), k) for k in range(i.num_labels)]

    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dnabert.Classifier (closed)>"
        i = self.info
        mode = f"LoRA r={i['lora_r']} alpha={i['lora_alpha']:g}" if i["lora_r"] > 0 else "full fine-tuning"
        names = f" labels={i['label_names']}" if i["label_names"] and len(i["label_names"]) <= 8 else ""
        return (f"<dnabert.Classifier {i['problem_type']} num_labels={i['num_labels']}{names} {mode} "
                f"pooling={i['pooling']} trainable={i['trainable_parameters']:,} max_length={i['max_length']}>")

    # ---- inference ----
    def predict_proba(self, sequences, threads=0, long_inputs="truncate", window_overlap=None, window_pooling="mean",
                      max_length=None, batch_size=32):
        """Class probabilities [N, num_labels] (softmax), label probabilities (sigmoid, multi-label) or
        regression outputs [N, 1], float32. Sequences are upper-cased.

        sequences: DNA strings, a DataFrame (its `sequence` column) or the path of a FASTA/FASTQ/CSV file (read).
        Inputs with more tokens than the classifier's max_length (its training length, or max_length here):
        long_inputs="truncate" keeps their first max_length tokens and warns once per call;
        long_inputs="windows" scores overlapping windows (window_overlap tokens shared, default a quarter of the
        window) and pools them by window_pooling ("mean" of the windows' probabilities, or "max" per label)."""
        data = _sequence_list(sequences)
        k = self.num_labels
        out = np.empty((len(data), k), dtype=np.float32)
        if not data:
            return out
        for i, s in enumerate(data):
            if not s:
                raise ValueError(f"sequences[{i}] is empty")
        if long_inputs not in _LONG_INPUTS:
            raise ValueError(f"long_inputs must be 'truncate' or 'windows', got {long_inputs!r}")
        if window_pooling not in _WINDOW_POOLING:
            raise ValueError(f"window_pooling must be 'mean' or 'max', got {window_pooling!r}")
        p = lib.dnabert_predict_default_params()
        p.n_threads = _int("threads", threads, 0)
        p.batch_size = _int("batch_size", batch_size, 1)
        p.max_length = 0 if max_length is None else _int("max_length", max_length, 3)
        p.long_inputs = _LONG_INPUTS[long_inputs]
        p.window_overlap = -1 if window_overlap is None else _int("window_overlap", window_overlap, 0)
        p.window_pooling = _WINDOW_POOLING[window_pooling]
        report = _sized(PredictReport)
        seqs, lens = _c_sequences(data)
        check(lib.dnabert_classifier_predict_ex(self._handle(), seqs, lens, len(data), ctypes.byref(p),
                                                out.ctypes.data_as(c_float_p), ctypes.byref(report)))
        self.last_predict_report = {k: getattr(report, k) for k, _ in PredictReport._fields_[1:]}
        if report.n_long > 0 and long_inputs == "truncate":
            warnings.warn(f"{report.n_long} of {len(data)} sequences are longer than the classifier's "
                          f"{report.max_length} tokens (longest {report.longest_tokens}) and were truncated to their "
                          f"first {report.max_length} tokens; pass long_inputs='windows' to score them by sliding "
                          "windows", LongInputWarning, stacklevel=_warn_level())
        return out

    def _labels_of(self, scores):
        pt = self.problem_type
        if pt == "regression":
            return scores[:, 0].astype(np.float64)
        names = self.label_names
        decided = decide_labels(pt, scores)   # the library's decision: argmax / >= 0.5
        if pt == "multi_label_classification":
            rows = [np.flatnonzero(r).tolist() for r in decided]
            return [[names[j] for j in r] for r in rows] if names else rows
        idx = decided.astype(np.int64)
        if names:
            return np.array([names[j] for j in idx], dtype=str)
        return idx.astype(np.int64)

    def predict(self, sequences, threads=0, **kwargs):
        """Labels: class names (numpy str array) when the training labels were names, else class indices
        (int64); multi-label: a list of label lists (probability >= 0.5); regression: float64 predictions.
        Inputs and keyword arguments (long_inputs="windows", ...) as predict_proba."""
        return self._labels_of(self.predict_proba(sequences, threads, **kwargs))

    def logits(self, ids, attention_mask=None, threads=0):
        """Logits [B, num_labels] of right-padded token ids (as the tokenizer's encode_batch gives), no dropout."""
        ids, mask = Model._inputs(ids, attention_mask)
        B, L = ids.shape
        out = np.empty((B, self.num_labels), dtype=np.float32)
        check(lib.dnabert_classifier_logits(self._handle(), ids.ctypes.data_as(c_int32_p),
                                            mask.ctypes.data_as(c_int32_p) if mask is not None else None, B, L,
                                            _threads(threads), out.ctypes.data_as(c_float_p)))
        return out

    def _dataset(self, data, sequence_column="sequence", label_column="label"):
        """Evaluation data with this classifier's label mapping: the training Dataset's when known, else the
        library's (dnabert_classifier_read_dataset / dnabert_classifier_dataset_from_arrays)."""
        if isinstance(data, (str, os.PathLike)) and not os.path.isfile(data):
            raise FileNotFoundError(f"evaluation data: no such file '{os.fspath(data)}'")
        if self._like is not None and getattr(self._like, "_h", None):
            return _as_dataset(data, like=self._like, what="evaluation data", sequence_column=sequence_column,
                               label_column=label_column)
        if is_dataframe(data):
            return Dataset._for_classifier(self, data, sequence_column, label_column)
        if isinstance(data, Dataset):
            i = self._info()
            if (data.num_labels, data.label_names) != (int(i.num_labels), self.label_names):
                raise ValueError("evaluation data: its labels differ from the classifier's; pass a path or "
                                 "(sequences, labels) to read them with the classifier's label mapping")
            return data
        return Dataset._for_classifier(self, data)

    def evaluate(self, data, threads=0, return_scores=False, sequence_column="sequence", label_column="label"):
        """Loss and metrics on labelled data (a CSV/TSV path, a Dataset, a pandas DataFrame with sequence and label
        columns, or (sequences, labels)): n, loss, accuracy, f1, mcc, precision, recall (macro, as scikit-learn)
        for classification; pearson, spearman, mse, r2 for regression. With return_scores=True returns
        (metrics, scores [N, num_labels])."""
        ds = self._dataset(data, sequence_column, label_column)
        r = _sized(EvalResult)
        scores = np.empty((ds.n, self.num_labels), dtype=np.float32) if return_scores else None
        check(lib.dnabert_classifier_evaluate(self._handle(), ds._handle(), _threads(threads), ctypes.byref(r),
                                              scores.ctypes.data_as(c_float_p) if scores is not None else None))
        m = _metrics_dict(r)
        return (m, scores) if return_scores else m

    # ---- output ----
    def save(self, directory):
        """LoRA: a Hugging Face PEFT adapter (adapter_config.json + adapter_model.safetensors, loadable by peft on
        the base model) + dnabert_classifier.json; full: a BertForSequenceClassification model folder."""
        if not isinstance(directory, (str, bytes, os.PathLike)):
            raise TypeError(f"directory must be a path, got {type(directory).__name__}")
        check(lib.dnabert_classifier_save(self._handle(), os.fsencode(directory)))

    def merged_model(self):
        """A standalone Model (BertForSequenceClassification layout) with the adapters merged into the weights."""
        h = ctypes.c_void_p()
        check(lib.dnabert_classifier_merged_model(self._handle(), ctypes.byref(h)))
        return Model(h.value)


# ---- training -------------------------------------------------------------------------------------

# Hugging Face TrainingArguments / peft LoraConfig spellings → ours.
_HF_NAMES = {"learning_rate": "lr", "num_train_epochs": "epochs", "per_device_train_batch_size": "batch_size",
             "train_batch_size": "batch_size", "gradient_accumulation_steps": "grad_accum", "output_dir": "out",
             "eval_steps": "eval_every", "metric_for_best_model": "select_by", "r": "lora_r",
             "target_modules": "lora_targets", "hidden_dropout_prob": "dropout"}


def _hf_arguments(fn):
    """Accepts the Hugging Face spellings (learning_rate=, num_train_epochs=, ...) beside ours; both at once is
    an error. metric_for_best_model may carry HF's "eval_" prefix."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for hf, ours in _HF_NAMES.items():
            if hf in kwargs:
                if ours in kwargs:
                    raise TypeError(f"give {ours}= or {hf}= (its Hugging Face name), not both")
                v = kwargs.pop(hf)
                if hf == "metric_for_best_model" and isinstance(v, str):
                    v = v[5:] if v.startswith("eval_") else v
                    v = "mcc" if v == "matthews_correlation" else v
                kwargs[ours] = v
        return fn(*args, **kwargs)
    return wrapper


def _targets(lora_targets):
    if isinstance(lora_targets, str):
        lora_targets = [t.strip() for t in lora_targets.split(",")]
    try:
        names = [str(t) for t in lora_targets]
    except TypeError:
        raise TypeError(f"lora_targets must be a list of module names, got {type(lora_targets).__name__}") from None
    if not names:
        raise ValueError(f"lora_targets is empty; choose from {list(_LORA_TARGETS)}")
    bad = [t for t in names if t not in _LORA_TARGETS]
    if bad:
        raise ValueError(f"unknown LoRA target(s) {bad}; choose from {list(_LORA_TARGETS)}")
    return ",".join(names).encode()


def _int(name, v, lo=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    return int(v)


def _float(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def _make_params(lora_r=8, lora_alpha=32, lora_dropout=0.05, lora_targets=("Wqkv", "attention.output.dense", "gated_layers", "wo"),
                 full=False, pooling=None, epochs=3, max_steps=0, batch_size=32, grad_accum=1, lr=None,
                 warmup_steps=None, eval_every=0, max_length=0, class_weights=False, dropout=None, max_grad_norm=1.0,
                 weight_decay=0.01, select_by="loss", seed=0, threads=0, reverse_complement=None, out=None,
                 distributed=False):
    p = lib.dnabert_finetune_default_params()
    p.lora_r = 0 if full else _int("lora_r", lora_r, 0)
    p.lora_alpha = _float("lora_alpha", lora_alpha)
    p.lora_dropout = _float("lora_dropout", lora_dropout)
    p._targets = _targets(lora_targets)       # keeps the bytes alive with the struct
    p.lora_targets = p._targets
    if pooling not in _FINETUNE_POOLING:
        raise ValueError(f"pooling must be None (auto), 'cls' or 'mean', got {pooling!r}")
    p.pooling = _FINETUNE_POOLING[pooling]
    p.epochs = _float("epochs", epochs)
    p.max_steps = _int("max_steps", max_steps, 0)
    p.batch_size = _int("batch_size", batch_size, 1)
    p.grad_accum = _int("grad_accum", grad_accum, 1)
    p.learning_rate = 0.0 if lr is None else _float("lr", lr)
    p.warmup_steps = -1 if warmup_steps is None else _int("warmup_steps", warmup_steps, 0)
    p.eval_every = _int("eval_every", eval_every, 0)
    p.max_length = _int("max_length", max_length, 0)
    p.use_class_weights = 1 if class_weights else 0
    if reverse_complement is not None and not isinstance(reverse_complement, (bool, np.bool_)):
        raise TypeError(f"reverse_complement must be None (auto), True or False, got {type(reverse_complement).__name__}")
    p.reverse_complement = -1 if reverse_complement is None else (1 if reverse_complement else 0)
    p.dropout = -1.0 if dropout is None else _float("dropout", dropout)
    p.max_grad_norm = _float("max_grad_norm", max_grad_norm)
    p.weight_decay = _float("weight_decay", weight_decay)
    if select_by not in _SELECT_BY:
        raise ValueError(f"select_by must be one of {list(_SELECT_BY)}, got {select_by!r}")
    p._select = select_by.encode()
    p.select_by = p._select
    p.seed = _int("seed", seed, 0)
    p.n_threads = _int("threads", threads, 0)
    if out is not None:
        if not isinstance(out, (str, bytes, os.PathLike)):
            raise TypeError(f"out must be a directory path, got {type(out).__name__}")
        p._out = os.fsencode(out)
        p.out_dir = p._out
    p.distributed = 1 if distributed else 0
    return p


class FineTuner(Handle):
    """Step-by-step fine-tuning of a new classifier on `model` (which is not modified).

    train/dev: CSV paths, Datasets or (sequences, labels); dev is read like train. Keyword arguments as finetune().
    Use step() (one optimizer step, dev evaluation when due) or run(); `classifier` is the classifier being trained
    (after run(), with the best dev parameters restored)."""

    _kind = "finetuner"
    _free_name = "dnabert_finetuner_free"

    @_hf_arguments
    def __init__(self, model, train, dev=None, sequence_column="sequence", label_column="label", **params):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a dnabert.Model, got {type(model).__name__}")
        p = _make_params(**params)
        cols = dict(sequence_column=sequence_column, label_column=label_column)
        train = _as_dataset(train, what="train", **cols)
        dev = _as_dataset(dev, like=train, what="dev", **cols) if dev is not None else None
        h = ctypes.c_void_p()
        check(lib.dnabert_finetuner_create(model._handle(), train._handle(), dev._handle() if dev is not None else None,
                                           ctypes.byref(p), ctypes.byref(h)))
        super().__init__(h.value)
        self.model, self.train, self.dev = model, train, dev
        self.history = []
        self._classifier = None

    @property
    def info(self):
        i = _sized(FinetunerInfo)
        check(lib.dnabert_finetuner_get_info(self._handle(), ctypes.byref(i)))
        d = {k: getattr(i, k) for k, _ in FinetunerInfo._fields_[1:]}
        if math.isnan(d["best_value"]):
            d["best_value"] = None
        if d["best_step"] < 0:
            d["best_step"] = None
        return d

    def step(self):
        """One optimizer step (with the dev evaluation when due); returns its metrics (dict; dev_* None when the
        dev set was not evaluated)."""
        m = _sized(FinetuneMetrics)
        check(lib.dnabert_finetuner_step(self._handle(), ctypes.byref(m)))
        d = m.as_dict()
        self.history.append(d)
        return d

    def run(self, progress=None):
        """Train to the last step, then restore the best dev parameters. progress: None/True = a tqdm bar (if tqdm
        is installed), False = none, or a function called with each step's metrics (return False to stop early;
        the best parameters so far are kept). Returns the metric history (list of dicts)."""
        bar = None
        if progress is None or progress is True:
            bar = make_bar("finetune", unit="step")   # tqdm.auto, or a plain log line off a terminal
        state = {"interrupted": False, "stopped": False, "error": None}
        post = {}

        def on_step(_user, mp):
            try:
                d = mp.contents.as_dict()
                self.history.append(d)
                if bar is not None:
                    bar.total = d["total_steps"]
                    bar.n = d["step"]
                    post["loss"] = f"{d['loss']:.3f}"
                    if d["dev_mcc"] is not None:
                        post["dev_mcc"] = f"{d['dev_mcc']:.3f}"
                    elif d["dev_loss"] is not None:
                        post["dev_loss"] = f"{d['dev_loss']:.3f}"
                    bar.set_postfix(post, refresh=True)
                if callable(progress) and progress(d) is False:
                    state["stopped"] = True
                    return 1
                return 0
            except KeyboardInterrupt:
                state["interrupted"] = True
                return 1
            except Exception as e:  # never unwind through the library
                state["error"] = e
                return 1

        cb = FINETUNE_CALLBACK(on_step)
        try:
            status = lib.dnabert_finetuner_run(self._handle(), cb, None)
        finally:
            if bar is not None:
                bar.close()
        if state["interrupted"]:
            raise KeyboardInterrupt
        if state["error"] is not None:
            raise state["error"]
        if not (state["stopped"] and status == -6):
            check(status)
        return self.history

    def test(self, data, threads=None):
        """Metrics of the classifier as it is now (after run(): the kept parameters) on test data read like the
        training data; with out= also writes out/test_metrics.json and out/test_predictions.csv (by the library)."""
        ds = _as_dataset(data, like=self.train, what="test")
        r = _sized(EvalResult)
        check(lib.dnabert_finetuner_test(self._handle(), ds._handle(), ctypes.byref(r)))
        return _metrics_dict(r)

    @property
    def classifier(self):
        """The classifier being trained (the same object: it changes while the run goes on)."""
        if self._classifier is None or not self._classifier._h:
            h = ctypes.c_void_p()
            check(lib.dnabert_finetuner_classifier(self._handle(), ctypes.byref(h)))
            self._classifier = Classifier(h.value, base=self.model, like=self.train)
            self._classifier.history = self.history
        return self._classifier


@_hf_arguments
def finetune(model, train, dev=None, test=None, lora_r=8, lora_alpha=32, lora_dropout=0.05,
             lora_targets=("Wqkv", "attention.output.dense", "gated_layers", "wo"), full=False, pooling=None, epochs=3, max_steps=0,
             batch_size=32, grad_accum=1, lr=None, warmup_steps=None, eval_every=0, max_length=0,
             class_weights=False, dropout=None, max_grad_norm=1.0, weight_decay=0.01, select_by="loss", seed=0,
             threads=0, reverse_complement=None, out=None, progress=True, sequence_column="sequence",
             label_column="label", distributed=False):
    """Fine-tune `model` for sequence classification and return the Classifier.

    model: a Model or a model folder. train/dev/test: CSV paths (`sequence,label`), Datasets or
    (sequences, labels); dev/test are read like train. LoRA (rank lora_r, scaling lora_alpha / lora_r, adapters on
    lora_targets among Wqkv, attention.output.dense, gated_layers, wo) unless full=True or lora_r=0 (every encoder
    weight trains; default: all four). pooling None (default, also "auto"): "mean" for a strand-symmetric run
    (see reverse_complement), "cls" (DNABERT-2's pooler on [CLS]) otherwise; or "mean"/"cls" explicitly; the choice is
    in the classifier's info()["pooling"]. epochs (fractional allowed) or
    max_steps > 0; lr None = 1e-3 with LoRA, 3e-5 full; warmup_steps None = min(50, 10% of the steps);
    eval_every 0 = the dev set once per epoch (and at the end); the best dev parameters by select_by ("loss" or
    accuracy, f1, mcc, ... ) are kept. max_length 0 = the longest training sequence's tokens (<= 512).
    reverse_complement=True for strand-symmetric tasks (sequences from either strand): each training example
    is reverse-complemented with probability 1/2 when drawn and the classifier scores a sequence by the mean of
    both strands' probabilities; not for strand-specific tasks (oriented promoters, splice sites). None (default):
    auto, on when the training sequences' 3-mer counts are strand-symmetric (sequences from a random strand; see the
    README, "Defaults"), off otherwise; the choice is in the classifier's info()["reverse_complement"].

    Hugging Face spellings work too: learning_rate, num_train_epochs, per_device_train_batch_size,
    gradient_accumulation_steps, output_dir, eval_steps, metric_for_best_model (TrainingArguments) and r,
    target_modules (peft's LoraConfig). train/dev/test may be pandas DataFrames (columns sequence_column and
    label_column, default "sequence" and "label").

    The classifier gets `.history` (one dict per step: loss, learning_rate, dev_* when evaluated, ...) and, with
    test, `.test_metrics`. With out, saves the classifier there with metrics.jsonl (one line per step) and
    test_metrics.json. progress: True = a tqdm bar (loss, dev MCC), False = none, or a function of each step's
    metrics (return False to stop early).
    distributed=True: data-parallel over MPI, run as `mpirun -np N python script.py` (every rank the same call;
    micro-batch k of a step on rank k mod N; dev evaluation sharded; rank 0 writes out).
    """
    if isinstance(model, (str, os.PathLike)):
        model = Model.from_pretrained(model)
    params = dict(lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, lora_targets=lora_targets,
                  full=full, pooling=pooling, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                  grad_accum=grad_accum, lr=lr, warmup_steps=warmup_steps, eval_every=eval_every,
                  max_length=max_length, class_weights=class_weights, dropout=dropout, max_grad_norm=max_grad_norm,
                  weight_decay=weight_decay, select_by=select_by, seed=seed, threads=threads,
                  reverse_complement=reverse_complement, out=out, distributed=distributed)
    cols = dict(sequence_column=sequence_column, label_column=label_column)
    train = _as_dataset(train, what="train", **cols)
    dev = _as_dataset(dev, like=train, what="dev", **cols) if dev is not None else None
    test = _as_dataset(test, like=train, what="test", **cols) if test is not None else None
    # With out, the library manages the folder (metrics.jsonl each step, the best classifier saved after each
    # improving dev evaluation, the kept classifier and loss.svg at the end, test files): a killed run leaves
    # its best classifier.
    ft = FineTuner(model, train, dev, **params)
    try:
        ft.run(progress=progress)
        clf = ft.classifier
        if test is not None:
            clf.test_metrics = ft.test(test)
    finally:
        ft.close()
    clf.history = ft.history
    return clf
