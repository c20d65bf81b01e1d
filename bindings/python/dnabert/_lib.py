"""Loading libdnabert and declaring its C functions (every argtypes/restype set)."""
import ctypes
import os

c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_float_p = ctypes.POINTER(ctypes.c_float)
c_char_pp = ctypes.POINTER(ctypes.c_char_p)

DNABERT_OK = 0
ERROR_NAMES = {
    -1: "invalid argument", -2: "I/O error", -3: "format error", -4: "buffer too small",
    -5: "out of memory", -6: "cancelled", -7: "unsupported", -8: "not found", -9: "internal error",
}


class DNABertError(RuntimeError):
    """An error reported by libdnabert; `code` is the negative DNABERT_ERR_* status."""

    def __init__(self, message, code=-9):
        super().__init__(message)
        self.code = code


class EncodeParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("add_special_tokens", ctypes.c_int32),
                ("max_length", ctypes.c_int32), ("uppercase", ctypes.c_int32), ("n_threads", ctypes.c_int32)]


class Progress(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("stage", ctypes.c_char_p), ("current", ctypes.c_int64),
                ("total", ctypes.c_int64), ("elapsed_seconds", ctypes.c_double), ("eta_seconds", ctypes.c_double)]


PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Progress))


class BPETrainParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("vocab_size", ctypes.c_int32), ("min_frequency", ctypes.c_int32),
                ("max_token_length", ctypes.c_int32), ("word_length", ctypes.c_int32), ("case_policy", ctypes.c_int32),
                ("non_acgt_policy", ctypes.c_int32), ("n_threads", ctypes.c_int32), ("max_bases", ctypes.c_int64),
                ("progress", PROGRESS_FN), ("progress_user_data", ctypes.c_void_p)]


TrainParams = BPETrainParams   # the 0.1 name


class SpecialIds(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("unk", ctypes.c_int32), ("cls", ctypes.c_int32), ("sep", ctypes.c_int32), ("pad", ctypes.c_int32),
                ("mask", ctypes.c_int32)]


def _candidates():
    env = os.environ.get("DNABERT_LIB")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.join(here, "libdnabert.so"),
            os.path.normpath(os.path.join(here, "..", "..", "..", "build", "lib", "libdnabert.so")),
            "libdnabert.so"]


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("cannot load libdnabert.so (set DNABERT_LIB=/path/to/libdnabert.so):\n  " + "\n  ".join(errors))


lib, lib_path = _load()

P = _P = ctypes.c_void_p
_SIGNATURES = {
    "dnabert_version": ([], ctypes.c_char_p),
    "dnabert_last_error": ([], ctypes.c_char_p),
    "dnabert_clear_error": ([], None),
    "dnabert_tokenizer_load": ([ctypes.c_char_p, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_tokenizer_load_json": ([ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_P)], ctypes.c_int),
    "dnabert_tokenizer_save": ([_P, ctypes.c_char_p], ctypes.c_int),
    "dnabert_tokenizer_to_json": ([_P, ctypes.c_char_p, ctypes.c_size_t, c_size_p], ctypes.c_int),
    "dnabert_tokenizer_free": ([_P], None),
    "dnabert_tokenizer_vocab_size": ([_P, c_int32_p], ctypes.c_int),
    "dnabert_tokenizer_token_to_id": ([_P, ctypes.c_char_p, c_int32_p], ctypes.c_int),
    "dnabert_tokenizer_id_to_token": ([_P, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t, c_size_p], ctypes.c_int),
    "dnabert_tokenizer_special_ids": ([_P, ctypes.POINTER(SpecialIds)], ctypes.c_int),
    "dnabert_encode_default_params": ([], EncodeParams),
    "dnabert_tokenizer_max_tokens": ([_P, ctypes.c_size_t, ctypes.POINTER(EncodeParams), c_size_p], ctypes.c_int),
    "dnabert_encode": ([_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(EncodeParams), c_int32_p, c_int64_p,
                        ctypes.c_size_t, c_size_p], ctypes.c_int),
    "dnabert_encode_batch": ([_P, c_char_pp, c_size_p, ctypes.c_size_t, ctypes.POINTER(EncodeParams), c_int32_p,
                              c_int64_p, ctypes.c_size_t, c_int64_p], ctypes.c_int),
    "dnabert_encode_batch_padded": ([_P, c_char_pp, c_size_p, ctypes.c_size_t, ctypes.POINTER(EncodeParams),
                                     ctypes.c_size_t, c_int32_p, c_int32_p, c_int32_p], ctypes.c_int),
    "dnabert_decode": ([_P, c_int32_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, c_size_p],
                       ctypes.c_int),
    "dnabert_bpe_train_default_params": ([], BPETrainParams),
    "dnabert_tokenizer_train": ([c_char_pp, ctypes.c_size_t, ctypes.POINTER(BPETrainParams), ctypes.POINTER(_P)],
                                ctypes.c_int),
    "dnabert_tokenizer_train_from_sequences": ([c_char_pp, c_size_p, ctypes.c_size_t, ctypes.POINTER(BPETrainParams),
                                                ctypes.POINTER(_P)], ctypes.c_int),
}



def declare(signatures):
    """Set argtypes/restype of each C function; a missing symbol means a library older than these bindings."""
    for name, (args, res) in signatures.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            raise ImportError(f"{lib_path} has no {name}: the library is older than these bindings; rebuild it") from None
        f.argtypes = args
        f.restype = res


declare(_SIGNATURES)


def check(status):
    """Raise DNABertError with the library's message for a non-zero status."""
    if status != DNABERT_OK:
        msg = lib.dnabert_last_error()
        text = msg.decode("utf-8", "replace") if msg else ""
        raise DNABertError(text or ERROR_NAMES.get(status, f"error {status}"), status)
    return status


class Handle:
    """Owns one library handle: freed by close(), a `with` block, or the garbage collector."""

    _kind = "object"          # for messages
    _free_name = None         # name of the C function that frees the handle

    def __init__(self, handle):
        if not handle:
            raise DNABertError(f"no {self._kind} handle", -1)
        self._h = ctypes.c_void_p(handle)

    def close(self):
        h, self._h = getattr(self, "_h", None), None
        if h:
            getattr(lib, self._free_name)(h)

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if not self._h:
            raise DNABertError(f"the {self._kind} was closed", -1)
        return self._h
