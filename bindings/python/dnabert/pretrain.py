"""Masked-language-model pretraining from Python: a step-by-step Trainer and a one-call pretrain()."""
import ctypes
import json
import math
import os

from . import _lib
from ._lib import DNABertError, Handle, check, lib
from ._progress import make_bar
from .model import Model
from .tokenizer import Tokenizer


class PretrainParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("steps", ctypes.c_int32), ("batch_size", ctypes.c_int32),
                ("grad_accum", ctypes.c_int32), ("seq_len", ctypes.c_int32), ("warmup_steps", ctypes.c_int32),
                ("eval_every", ctypes.c_int32), ("checkpoint_every", ctypes.c_int32),
                ("keep_checkpoints", ctypes.c_int32), ("validation_windows", ctypes.c_int32),
                ("drop_windows_with_n", ctypes.c_int32), ("reverse_complement", ctypes.c_int32),
                ("resume", ctypes.c_int32), ("n_threads", ctypes.c_int32), ("learning_rate", ctypes.c_double),
                ("dropout", ctypes.c_double), ("max_grad_norm", ctypes.c_double), ("beta1", ctypes.c_double),
                ("beta2", ctypes.c_double), ("eps", ctypes.c_double), ("weight_decay", ctypes.c_double),
                ("seed", ctypes.c_uint64), ("distributed", ctypes.c_int32)]


class PretrainMetrics(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("step", ctypes.c_int64), ("total_steps", ctypes.c_int64), ("tokens", ctypes.c_int64),
                ("loss", ctypes.c_double), ("learning_rate", ctypes.c_double), ("grad_norm", ctypes.c_double),
                ("tokens_per_second", ctypes.c_double), ("elapsed_seconds", ctypes.c_double),
                ("eta_seconds", ctypes.c_double), ("validation_loss", ctypes.c_double),
                ("validation_accuracy", ctypes.c_double)]

    def as_dict(self):
        d = {k: getattr(self, k) for k, _ in self._fields_[1:]}
        for k in ("validation_loss", "validation_accuracy", "grad_norm"):
            if math.isnan(d[k]):
                d[k] = None
        return d


TrainMetrics = PretrainMetrics   # the 0.1 name
TRAIN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(PretrainMetrics))
_P = ctypes.c_void_p

_lib.declare({
    "dnabert_pretrain_default_params": ([], PretrainParams),
    "dnabert_trainer_create": ([_P, _lib.c_char_pp, ctypes.c_size_t, ctypes.c_char_p, ctypes.POINTER(PretrainParams),
                                ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_trainer_step": ([_P, ctypes.POINTER(PretrainMetrics)], ctypes.c_int),
    "dnabert_trainer_evaluate": ([_P, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)], ctypes.c_int),
    "dnabert_trainer_save_checkpoint": ([_P], ctypes.c_int),
    "dnabert_trainer_run": ([_P, TRAIN_CALLBACK, ctypes.c_void_p], ctypes.c_int),
    "dnabert_trainer_free": ([_P], None),
})

PRESETS = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128},
    "small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 8, "intermediate_size": 1024},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
}


def _params(steps, batch_size, grad_accum, seq_len, lr, warmup, dropout, max_grad_norm, eval_every, checkpoint_every,
            keep_checkpoints, validation_windows, drop_windows_with_n, reverse_complement, resume, threads, seed,
            distributed=False):
    p = lib.dnabert_pretrain_default_params()
    p.steps, p.batch_size, p.grad_accum, p.seq_len = int(steps), int(batch_size), int(grad_accum), int(seq_len)
    p.learning_rate = float(lr)
    p.warmup_steps = -1 if warmup is None else int(warmup)
    p.dropout = -1.0 if dropout is None else float(dropout)
    p.max_grad_norm = float(max_grad_norm)
    p.eval_every, p.checkpoint_every, p.keep_checkpoints = int(eval_every), int(checkpoint_every), int(keep_checkpoints)
    p.validation_windows = int(validation_windows)
    p.drop_windows_with_n = 1 if drop_windows_with_n else 0
    p.reverse_complement = 1 if reverse_complement else 0
    p.resume = 1 if resume else 0
    p.n_threads = int(threads)
    p.seed = int(seed)
    p.distributed = 1 if distributed else 0
    return p


class Trainer(Handle):
    """Step-by-step MLM pretraining of `model` (trained in place) on FASTA files, writing checkpoints and
    metrics into out_dir. Use step(), evaluate(), save_checkpoint(), or run()."""

    _kind = "trainer"
    _free_name = "dnabert_trainer_free"

    def __init__(self, model, files, out_dir, steps=1000, batch_size=32, grad_accum=1, seq_len=128, lr=5e-4,
                 warmup=None, dropout=None, max_grad_norm=1.0, eval_every=100, checkpoint_every=500,
                 keep_checkpoints=3, validation_windows=256, drop_windows_with_n=True, reverse_complement=True,
                 resume=False, threads=0, seed=0, distributed=False):
        if isinstance(files, (str, bytes, os.PathLike)):
            files = [files]
        paths = [os.fsencode(f) for f in files]
        if not paths:
            raise ValueError("no input files")
        p = _params(steps, batch_size, grad_accum, seq_len, lr, warmup, dropout, max_grad_norm, eval_every,
                    checkpoint_every, keep_checkpoints, validation_windows, drop_windows_with_n, reverse_complement,
                    resume, threads, seed, distributed)
        arr = (ctypes.c_char_p * len(paths))(*paths)
        h = ctypes.c_void_p()
        check(lib.dnabert_trainer_create(model._handle(), arr, len(paths), os.fsencode(out_dir), ctypes.byref(p),
                                         ctypes.byref(h)))
        super().__init__(h.value)
        self.model = model
        self.out_dir = str(out_dir)
        self.history = []

    def step(self):
        """One optimizer step; returns its metrics (dict)."""
        m = PretrainMetrics()
        m.struct_size = ctypes.sizeof(PretrainMetrics)
        check(lib.dnabert_trainer_step(self._handle(), ctypes.byref(m)))
        d = m.as_dict()
        self.history.append(d)
        return d

    def evaluate(self):
        """(validation MLM loss, masked-token accuracy)."""
        loss, acc = ctypes.c_double(), ctypes.c_double()
        check(lib.dnabert_trainer_evaluate(self._handle(), ctypes.byref(loss), ctypes.byref(acc)))
        return loss.value, acc.value

    def save_checkpoint(self):
        check(lib.dnabert_trainer_save_checkpoint(self._handle()))

    def run(self, progress=None):
        """Train to the last step. progress: None = a tqdm bar if tqdm is installed; False = none; or a function
        called with each step's metrics (return False to stop after a checkpoint). Returns the metric history."""
        bar = None
        if progress is None or progress is True:
            bar = make_bar("pretrain", unit="step")   # tqdm.auto, or a plain log line off a terminal
        state = {"interrupted": False}

        def on_step(_user, mp):
            try:
                d = mp.contents.as_dict()
                self.history.append(d)
                if bar is not None:
                    bar.total = d["total_steps"]
                    bar.n = d["step"]
                    post = {"loss": f"{d['loss']:.3f}"}
                    if d["validation_loss"] is not None:
                        post["val"] = f"{d['validation_loss']:.3f}"
                    bar.set_postfix(post, refresh=True)
                if callable(progress) and progress(d) is False:
                    return 1
                return 0
            except KeyboardInterrupt:
                state["interrupted"] = True
                return 1
            except Exception:  # never unwind through the library
                return 0

        cb = TRAIN_CALLBACK(on_step)
        try:
            status = lib.dnabert_trainer_run(self._handle(), cb, None)
        finally:
            if bar is not None:
                bar.close()
        if state["interrupted"]:
            raise KeyboardInterrupt
        check(status)
        return self.history


def pretrain(config, tokenizer, files, out, steps=1000, batch_size=32, seq_len=128, lr=5e-4, seed=0, resume=False,
             progress=None, **kwargs):
    """Pretrain a model with masked-language modelling and return it (trained), with `.history` (metrics per step).

    config: "tiny", "small", "base" (DNABERT-2-117M), a dict or config.json path, or a Model to continue training.
    tokenizer: a Tokenizer or a tokenizer.json path (ignored when config is a Model with a tokenizer).
    Other keyword arguments: grad_accum, warmup, dropout, max_grad_norm, eval_every, checkpoint_every,
    keep_checkpoints, validation_windows, drop_windows_with_n, reverse_complement, threads, distributed.

    distributed=True: data-parallel over MPI, run as `mpirun -np N python train.py` (every rank runs the same
    script; micro-batch k of a step on rank k mod N; rank 0 alone writes files; Open MPI is loaded at run time).
    """
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = Tokenizer.from_file(tokenizer)
    if isinstance(config, Model):
        model = config
    else:
        if isinstance(config, str) and config in PRESETS:
            cfg = dict(PRESETS[config], vocab_size=tokenizer.vocab_size)
        elif isinstance(config, dict):
            cfg = dict(config)
        else:
            cfg = json.load(open(config))
        model = Model.from_config(cfg, tokenizer=tokenizer, seed=seed)
    trainer = Trainer(model, files, out, steps=steps, batch_size=batch_size, seq_len=seq_len, lr=lr, seed=seed,
                      resume=resume, **kwargs)
    try:
        trainer.run(progress=progress)
    finally:
        model.history = trainer.history
        trainer.close()
    return model
