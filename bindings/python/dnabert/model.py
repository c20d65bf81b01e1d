"""The DNABERT-2 encoder: load checkpoints, hidden states, MLM logits, embeddings — numpy in and out."""
import ctypes
import json
import os

import numpy as np

from . import _lib
from ._lib import DNABertError, Handle, check, lib
from ._progress import ProgressReporter
from ._inputs import sequence_input
from .tokenizer import Tokenizer, _as_bytes

PROGRESS_FN = _lib.PROGRESS_FN


class ModelInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("vocab_size", ctypes.c_int32), ("hidden_size", ctypes.c_int32), ("num_layers", ctypes.c_int32),
                ("num_heads", ctypes.c_int32), ("intermediate_size", ctypes.c_int32), ("num_labels", ctypes.c_int32),
                ("has_mlm_head", ctypes.c_int32), ("has_pooler", ctypes.c_int32), ("has_tokenizer", ctypes.c_int32),
                ("num_parameters", ctypes.c_int64), ("precision", ctypes.c_int32)]


class ForwardParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_threads", ctypes.c_int32)]


class EmbedParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("pooling", ctypes.c_int32), ("max_length", ctypes.c_int32),
                ("overlap", ctypes.c_int32), ("batch_size", ctypes.c_int32), ("uppercase", ctypes.c_int32),
                ("n_threads", ctypes.c_int32), ("progress", PROGRESS_FN), ("progress_user_data", ctypes.c_void_p),
                ("distributed", ctypes.c_int32)]



_P = ctypes.c_void_p
c_float_p = ctypes.POINTER(ctypes.c_float)
c_int32_p, c_size_p, c_char_pp = _lib.c_int32_p, _lib.c_size_p, _lib.c_char_pp

_lib.declare({
    "dnabert_blas_info": ([ctypes.c_char_p, ctypes.c_size_t, c_size_p], ctypes.c_int),
    "dnabert_blas_benchmark": ([ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_double)], ctypes.c_int),
    "dnabert_model_load": ([ctypes.c_char_p, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_model_create": ([ctypes.c_char_p, ctypes.c_size_t, _P, ctypes.c_uint64, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_model_save": ([_P, ctypes.c_char_p], ctypes.c_int),
    "dnabert_model_free": ([_P], None),
    "dnabert_model_get_info": ([_P, ctypes.POINTER(ModelInfo)], ctypes.c_int),
    "dnabert_model_config_json": ([_P, ctypes.c_char_p, ctypes.c_size_t, c_size_p], ctypes.c_int),
    "dnabert_model_tokenizer": ([_P, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_forward_default_params": ([], ForwardParams),
    "dnabert_forward": ([_P, c_int32_p, c_int32_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(ForwardParams),
                         c_float_p], ctypes.c_int),
    "dnabert_forward_all_hidden": ([_P, c_int32_p, c_int32_p, ctypes.c_size_t, ctypes.c_size_t,
                                    ctypes.POINTER(ForwardParams), c_float_p], ctypes.c_int),
    "dnabert_attention_map": ([_P, c_int32_p, c_int32_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int32,
                               ctypes.POINTER(ForwardParams), c_float_p], ctypes.c_int),
    "dnabert_mlm_logits": ([_P, c_int32_p, c_int32_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(ForwardParams),
                            c_float_p], ctypes.c_int),
    "dnabert_embed_default_params": ([], EmbedParams),
    "dnabert_embed": ([_P, c_char_pp, c_size_p, ctypes.c_size_t, ctypes.POINTER(EmbedParams), c_float_p],
                      ctypes.c_int),
    "dnabert_convert_pytorch": ([ctypes.c_char_p, ctypes.c_char_p], ctypes.c_int),
    "dnabert_model_quantize": ([_P, ctypes.c_int32, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_int8_kernel": ([], ctypes.c_char_p),
    "dnabert_int8_attention": ([], ctypes.c_char_p),
    "dnabert_int8_linear": ([c_float_p, ctypes.c_size_t, ctypes.c_size_t, c_float_p, ctypes.c_size_t, c_float_p,
                             ctypes.c_int32, ctypes.c_int32, c_float_p, ctypes.POINTER(ctypes.c_double)], ctypes.c_int),
    "dnabert_int8_linear_smoothed": ([c_float_p, ctypes.c_size_t, ctypes.c_size_t, c_float_p, ctypes.c_size_t, c_float_p,
                                      c_float_p, ctypes.c_int32, ctypes.c_int32, c_float_p, ctypes.POINTER(ctypes.c_double)],
                                     ctypes.c_int),
})

# Precision names (see README "Reduced precision") and their DNABERT_PRECISION_* codes.
_PRECISIONS = {"fp32": 0, "float32": 0, "int8": 1}
_PRECISION_NAMES = {0: "fp32", 1: "int8"}


def _precision_code(precision):
    key = str(precision).lower() if isinstance(precision, str) else None
    if key not in _PRECISIONS:
        raise DNABertError(f"unknown precision {precision!r} (expected one of: fp32, int8)", -1)
    return _PRECISIONS[key]


def int8_kernel():
    """The int8 GEMM kernel in use: 'avx512vnni', 'avx2' or 'generic' (the CPU's best; DNABERT_INT8_KERNEL=generic
    or =avx2 forces a slower one, giving the same numbers)."""
    return lib.dnabert_int8_kernel().decode()


def int8_attention():
    """How an int8 model's attention tile products run on this CPU: 'bf16' (Q, K, P, V rounded to bfloat16, float32
    sums; CPUs whose AVX512_BF16 outruns float32 FMA, i.e. AMD Zen 4 on) or 'float32'. DNABERT_INT8_ATTENTION=float32
    (or =bf16), set before the library loads, overrides it. Float32 models always use float32."""
    return lib.dnabert_int8_attention().decode()


def int8_linear(x, w, bias=None, threads=0, repeats=1, return_seconds=False, smooth=None):
    """y = x·Wᵀ (+ bias) through the library's int8 linear (W quantized symmetrically per output channel, x per row
    at run time with the row's own scale and zero point).
    With `smooth` ([in], finite, > 0), SmoothQuant smoothing as in a quantized model: W·diag(smooth) is quantized
    and each row of x is multiplied by 1/smooth before its quantization. For tests and benchmarks; with
    return_seconds, also the best wall time of `repeats` runs."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    w = np.ascontiguousarray(np.asarray(w, dtype=np.float32))
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ValueError(f"x must be [rows, in] and w [out, in], got {x.shape} and {w.shape}")
    b = None
    if bias is not None:
        b = np.ascontiguousarray(np.asarray(bias, dtype=np.float32))
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias must have shape ({w.shape[0]},), got {b.shape}")
    s = None
    if smooth is not None:
        s = np.ascontiguousarray(np.asarray(smooth, dtype=np.float32))
        if s.shape != (w.shape[1],):
            raise ValueError(f"smooth must have shape ({w.shape[1]},), got {s.shape}")
    y = np.empty((x.shape[0], w.shape[0]), dtype=np.float32)
    t = ctypes.c_double()
    fp = lambda a: a.ctypes.data_as(c_float_p) if a is not None else None  # noqa: E731
    if s is None:
        check(lib.dnabert_int8_linear(fp(x), x.shape[0], x.shape[1], fp(w), w.shape[0], fp(b), int(threads),
                                      int(repeats), fp(y), ctypes.byref(t)))
    else:
        check(lib.dnabert_int8_linear_smoothed(fp(x), x.shape[0], x.shape[1], fp(w), w.shape[0], fp(s), fp(b),
                                               int(threads), int(repeats), fp(y), ctypes.byref(t)))
    return (y, t.value) if return_seconds else y


_POOLING = {"mean": 0, "cls": 1}


def blas_info():
    """The BLAS the library runs (library, OpenBLAS kernel, threads, how the kernel was chosen)."""
    n = ctypes.c_size_t()
    buf = ctypes.create_string_buffer(1024)
    check(lib.dnabert_blas_info(buf, len(buf), ctypes.byref(n)))
    return buf.raw[:n.value].decode()


def blas_benchmark(n=2048, threads=0):
    """GFLOP/s of an n×n×n float32 sgemm through the library's own BLAS, split across `threads` (0 = all cores)
    as the model's layers run it; the best product of about half a second after a warm-up."""
    g = ctypes.c_double()
    check(lib.dnabert_blas_benchmark(int(n), int(threads), ctypes.byref(g)))
    return g.value


def convert_pytorch(bin_path, safetensors_path):
    """Convert a PyTorch pytorch_model.bin into model.safetensors (never executes pickle code)."""
    check(lib.dnabert_convert_pytorch(os.fsencode(bin_path), os.fsencode(safetensors_path)))


class Config(dict):
    """config.json as a dict whose keys also read as attributes (Hugging Face's `model.config.hidden_size`)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the config has no '{name}'") from None

    def to_dict(self):
        return dict(self)


class ModelOutput(dict):
    """Hugging Face's output object: fields as keys and attributes, and by position (`out[0]` is the first)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return tuple(self.values())[key]
        return dict.__getitem__(self, key)

    def to_tuple(self):
        return tuple(self.values())


def _is_torch(x):
    return type(x).__module__.startswith("torch")


def _numpy(x):
    """A torch tensor (or anything array-like) as numpy; None stays None."""
    if x is None:
        return None
    if _is_torch(x):
        return x.detach().cpu().numpy()
    return x


def _to_torch(a):
    import torch
    return torch.from_numpy(np.ascontiguousarray(a))


class Model(Handle):
    """A DNABERT-2 encoder (config + weights + optional tokenizer). Thread-safe for inference."""

    _kind = "model"
    _free_name = "dnabert_model_free"
    name_or_path = None        # the folder it was loaded from (from_pretrained)

    @classmethod
    def from_pretrained(cls, directory, precision=None, **kwargs):
        """Load a model folder: config.json + model.safetensors or pytorch_model.bin (+ tokenizer.json).
        `precision` ("fp32" or "int8"; None = as stored) quantizes a float32 checkpoint after loading; an int8
        checkpoint loads as int8 (asking it for "fp32" raises DNABertError).
        Hugging Face keyword arguments that do not apply on the CPU (trust_remote_code, torch_dtype="float32",
        device_map="cpu", local_files_only) are accepted and ignored."""
        ignored = {"trust_remote_code", "torch_dtype", "dtype", "device_map", "local_files_only", "low_cpu_mem_usage"}
        unknown = sorted(set(kwargs) - ignored)
        if unknown:
            raise TypeError(f"Model.from_pretrained got unexpected keyword argument(s) {unknown}")
        want = None if precision is None else _precision_code(precision)
        h = ctypes.c_void_p()
        check(lib.dnabert_model_load(os.fsencode(directory), ctypes.byref(h)))
        m = cls(h.value)
        m.name_or_path = os.fspath(directory)
        if want is None or want == m.info["precision"]:
            return m
        with m:
            q = m.quantize(precision)
        q.name_or_path = os.fspath(directory)
        return q

    @property
    def precision(self):
        """'fp32' or 'int8'."""
        return _PRECISION_NAMES.get(self.info["precision"], "unknown")

    def quantize(self, precision="int8"):
        """A new Model at `precision` (this one is unchanged). Raises DNABertError for an unknown name or a model
        that is already int8."""
        h = ctypes.c_void_p()
        check(lib.dnabert_model_quantize(self._handle(), _precision_code(precision), ctypes.byref(h)))
        return type(self)(h.value)

    @classmethod
    def from_config(cls, config, tokenizer=None, seed=0):
        """A model with random weights for a config (dict, JSON text, or path to config.json)."""
        if isinstance(config, dict):
            text = json.dumps(config)
        elif isinstance(config, (str, os.PathLike)) and os.path.isfile(config):
            text = open(config).read()
        else:
            text = str(config)
        data = text.encode()
        h = ctypes.c_void_p()
        check(lib.dnabert_model_create(data, len(data), tokenizer._handle() if tokenizer is not None else None,
                                       int(seed), ctypes.byref(h)))
        return cls(h.value)

    # ---- description ----
    @property
    def info(self):
        i = ModelInfo()
        i.struct_size = ctypes.sizeof(ModelInfo)
        check(lib.dnabert_model_get_info(self._handle(), ctypes.byref(i)))
        return {k: getattr(i, k) for k, _ in ModelInfo._fields_[1:]}

    @property
    def config(self):
        """The model's config.json as a dict that also reads as attributes (`model.config.hidden_size`)."""
        n = ctypes.c_size_t()
        status = lib.dnabert_model_config_json(self._handle(), None, 0, ctypes.byref(n))
        if status not in (0, -4):
            check(status)
        buf = ctypes.create_string_buffer(n.value + 1)
        check(lib.dnabert_model_config_json(self._handle(), buf, len(buf), ctypes.byref(n)))
        return Config(json.loads(buf.raw[:n.value].decode()))

    def num_parameters(self, only_trainable=False, exclude_embeddings=False):
        """Number of parameters (as Hugging Face's): all of them (the library's inference model has no frozen
        part, so only_trainable changes nothing), or without the embedding tables (words and token types)."""
        i = self.info
        n = int(i["num_parameters"])
        if exclude_embeddings:
            c = self.config
            n -= int(c.get("vocab_size", i["vocab_size"])) * i["hidden_size"]
            n -= int(c.get("type_vocab_size", 2)) * i["hidden_size"]
        return n

    @property
    def hidden_size(self):
        return self.info["hidden_size"]

    @property
    def tokenizer(self):
        """The model's tokenizer (from tokenizer.json in its folder), or None."""
        h = ctypes.c_void_p()
        status = lib.dnabert_model_tokenizer(self._handle(), ctypes.byref(h))
        if status == -8:
            return None
        check(status)
        return Tokenizer(h.value)

    def save_pretrained(self, directory):
        """Write config.json, model.safetensors and tokenizer.json into directory."""
        check(lib.dnabert_model_save(self._handle(), os.fsencode(directory)))

    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dnabert.Model (closed)>"
        i = self.info
        return (f"<dnabert.Model layers={i['num_layers']} hidden={i['hidden_size']} heads={i['num_heads']} "
                f"params={i['num_parameters']:,}>")

    # ---- raw-id inference ----
    @staticmethod
    def _inputs(ids, attention_mask):
        ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int32))
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2 or ids.shape[0] == 0 or ids.shape[1] == 0:
            raise ValueError(f"ids must be a non-empty [batch, length] array, got shape {ids.shape}")
        mask = None
        if attention_mask is not None:
            mask = np.ascontiguousarray(np.asarray(attention_mask, dtype=np.int32))
            if mask.ndim == 1:
                mask = mask[None, :]
            if mask.shape != ids.shape:
                raise ValueError(f"attention_mask shape {mask.shape} differs from ids shape {ids.shape}")
        return ids, mask

    def _params(self, threads):
        p = lib.dnabert_forward_default_params()
        p.n_threads = int(threads)
        return p

    def forward(self, ids=None, attention_mask=None, threads=0, output_hidden_states=False, *, input_ids=None,
                token_type_ids=None, return_dict=None, **kwargs):
        """Last hidden state [B, L, hidden] (float32; zeros at padding). With output_hidden_states=True returns
        [num_layers + 1, B, L, hidden]: the embedding output then every layer.

        Hugging Face form: `model(input_ids=..., attention_mask=...)` or `model(**tok(seqs, padding=True))` returns
        a ModelOutput: `.last_hidden_state` (also `out[0]`), `.hidden_states` (a tuple, with
        output_hidden_states=True). torch tensors in → torch tensors out. token_type_ids must be all 0 (DNABERT-2
        has one segment)."""
        hf = input_ids is not None or return_dict is True
        if input_ids is not None:
            if ids is not None:
                raise TypeError("give the token ids once: ids or input_ids")
            ids = input_ids
        if ids is None:
            raise TypeError("forward() needs the token ids (input_ids=...)")
        unknown = sorted(k for k in kwargs if k not in ("output_attentions", "position_ids", "head_mask"))
        if unknown:
            raise TypeError(f"forward() got unexpected keyword argument(s) {unknown}")
        for k in ("position_ids", "head_mask"):
            if kwargs.get(k) is not None:
                raise NotImplementedError(f"{k} is not supported (ALiBi positions; no head masking)")
        if kwargs.get("output_attentions"):
            raise NotImplementedError("output_attentions: use model.attention_map(ids, layer=...) (one layer at a time)")
        torch_in = _is_torch(ids)
        ids, attention_mask = _numpy(ids), _numpy(attention_mask)
        if token_type_ids is not None and np.any(_numpy(token_type_ids) != 0):
            raise ValueError("token_type_ids must be all 0: DNABERT-2 encodes one segment")
        out = self._forward(ids, attention_mask, threads, output_hidden_states)
        if not hf:
            return out
        wrap = _to_torch if torch_in else (lambda a: a)
        if output_hidden_states:
            return ModelOutput(last_hidden_state=wrap(out[-1]), hidden_states=tuple(wrap(h) for h in out))
        return ModelOutput(last_hidden_state=wrap(out))

    def _forward(self, ids, attention_mask, threads, output_hidden_states):
        ids, mask = self._inputs(ids, attention_mask)
        B, L = ids.shape
        H = self.hidden_size
        p = self._params(threads)
        mp = mask.ctypes.data_as(_lib.c_int32_p) if mask is not None else None
        if output_hidden_states:
            out = np.empty((self.info["num_layers"] + 1, B, L, H), dtype=np.float32)
            check(lib.dnabert_forward_all_hidden(self._handle(), ids.ctypes.data_as(_lib.c_int32_p), mp, B, L,
                                                 ctypes.byref(p), out.ctypes.data_as(c_float_p)))
            return out
        out = np.empty((B, L, H), dtype=np.float32)
        check(lib.dnabert_forward(self._handle(), ids.ctypes.data_as(_lib.c_int32_p), mp, B, L, ctypes.byref(p),
                                  out.ctypes.data_as(c_float_p)))
        return out

    __call__ = forward

    def mlm_logits(self, ids, attention_mask=None, threads=0):
        """Masked-language-model logits [B, L, vocab]."""
        ids, mask = self._inputs(ids, attention_mask)
        B, L = ids.shape
        out = np.empty((B, L, self.info["vocab_size"]), dtype=np.float32)
        p = self._params(threads)
        check(lib.dnabert_mlm_logits(self._handle(), ids.ctypes.data_as(_lib.c_int32_p),
                                     mask.ctypes.data_as(_lib.c_int32_p) if mask is not None else None, B, L,
                                     ctypes.byref(p), out.ctypes.data_as(c_float_p)))
        return out

    def attention_map(self, ids, attention_mask=None, layer=0, threads=0):
        """Attention probabilities of one layer [B, heads, L, L] (short inputs only: quadratic memory)."""
        ids, mask = self._inputs(ids, attention_mask)
        B, L = ids.shape
        out = np.empty((B, self.info["num_heads"], L, L), dtype=np.float32)
        p = self._params(threads)
        check(lib.dnabert_attention_map(self._handle(), ids.ctypes.data_as(_lib.c_int32_p),
                                        mask.ctypes.data_as(_lib.c_int32_p) if mask is not None else None, B, L,
                                        int(layer), ctypes.byref(p), out.ctypes.data_as(c_float_p)))
        return out

    # ---- sequences in, embeddings out ----
    def embed(self, sequences, pooling="mean", max_length=512, overlap=64, batch_size=16, uppercase=True, threads=0,
              progress=None, distributed=False):
        """One embedding per sequence, [N, hidden] float32, tokenized with the model's tokenizer.

        sequences: a DNA string, a list of them, a pandas DataFrame (its `sequence` column), or the path of a
        FASTA/FASTQ file (plain or gzip) or of a CSV/TSV with a `sequence` column, which is read (one row per record).

        pooling: "mean" (the sequence's tokens, [CLS]/[SEP]/padding excluded) or "cls".
        Sequences longer than max_length tokens are embedded by overlapping windows (overlap tokens shared),
        stitched back: each token's state is averaged over the windows that contain it.
        """
        sequences = sequence_input(sequences)   # a path is read as FASTA/FASTQ/CSV, never embedded as letters
        if pooling not in _POOLING:
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        data = [_as_bytes(s) for s in sequences]
        n = len(data)
        out = np.empty((n, self.hidden_size), dtype=np.float32)
        if n == 0:
            return out
        p = lib.dnabert_embed_default_params()
        p.pooling = _POOLING[pooling]
        p.max_length = int(max_length)
        p.overlap = int(overlap)
        p.batch_size = int(batch_size)
        p.uppercase = 1 if uppercase else 0
        p.n_threads = int(threads)
        # distributed=True: one rank of `mpirun -np N python ...`; every rank passes the same sequences, each runs
        # every N-th forward batch and all ranks get all rows, identical to one process.
        p.distributed = 1 if distributed else 0
        reporter = ProgressReporter(progress if progress is not None else (False if n < 64 else None), "embed")
        p.progress = reporter.callback
        seqs = (ctypes.c_char_p * n)(*data)
        lens = (ctypes.c_size_t * n)(*[len(d) for d in data])
        try:
            status = lib.dnabert_embed(self._handle(), seqs, lens, n, ctypes.byref(p),
                                       out.ctypes.data_as(c_float_p))
        finally:
            reporter.close()
        if reporter.interrupted:
            raise KeyboardInterrupt
        check(status)
        return out
