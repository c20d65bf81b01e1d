"""The DNA BPE tokenizer: Hugging Face tokenizer.json compatible, numpy in and out."""
import ctypes
import os

import numpy as np

from . import _lib
from ._lib import DNABertError, Handle, check, lib
from ._progress import ProgressReporter

_CASE = {"upper": 0, "keep": 1}
_NONACGT = {"split": 0, "keep": 1}


def _as_bytes(seq, what="sequence"):
    if isinstance(seq, str):
        return seq.encode("utf-8")
    if isinstance(seq, (bytes, bytearray, memoryview)):
        return bytes(seq)
    # Biopython Seq, Biostrings-like objects, anything with a str form that is DNA
    if hasattr(seq, "__str__") and type(seq).__name__ in ("Seq", "MutableSeq", "SeqRecord"):
        return str(getattr(seq, "seq", seq)).encode("utf-8")
    raise TypeError(f"{what} must be str or bytes, got {type(seq).__name__}")


def _byte_to_char_offsets(text, offsets):
    """Byte offsets → character offsets (only needed for non-ASCII text)."""
    if text.isascii():
        return offsets
    raw = text.encode("utf-8")
    # char index of every byte position (continuation bytes map to their character)
    starts = np.frombuffer(raw, dtype=np.uint8)
    is_start = (starts & 0xC0) != 0x80
    char_index = np.concatenate([[0], np.cumsum(is_start)])
    return char_index[offsets]


class BatchEncoding(dict):
    """Encoded batch (as Hugging Face's): `input_ids`, `attention_mask` (and `token_type_ids` from `tok(...)`), as
    keys and attributes; `model(**batch)` takes it as it is."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to(self, device):
        """Moves torch tensors to `device` (Hugging Face's habit); numpy arrays and lists stay as they are."""
        return BatchEncoding({k: (v.to(device) if hasattr(v, "to") and not isinstance(v, np.ndarray) else v)
                              for k, v in self.items()})


def _as_tensor(rows, return_tensors, what="input_ids"):
    """Rows of equal length as "np" (int64, as Hugging Face) or "pt" (torch.long); ragged rows are refused."""
    if len({len(r) for r in rows}) > 1:
        raise ValueError(f"cannot make a tensor of {what} of different lengths: pass padding=True (or "
                         "padding='max_length' with max_length) with return_tensors")
    arr = np.array([list(map(int, r)) for r in rows], dtype=np.int64).reshape(len(rows), -1)
    if return_tensors == "np":
        return arr
    if return_tensors == "pt":
        try:
            import torch
        except ImportError:
            raise ImportError("return_tensors='pt' needs PyTorch (pip install torch); use return_tensors='np'") from None
        return torch.from_numpy(arr)
    raise ValueError(f"return_tensors must be None, 'np' or 'pt', got {return_tensors!r}")


class Tokenizer(Handle):
    """A BPE tokenizer (DNABERT-2's or one trained here). Thread-safe; free with close() or a `with` block."""

    _kind = "tokenizer"
    _free_name = "dnabert_tokenizer_free"

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path):
        """Load a Hugging Face tokenizer.json (BPE model)."""
        h = ctypes.c_void_p()
        check(lib.dnabert_tokenizer_load(os.fsencode(path), ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def from_str(cls, json_text):
        """Load from the JSON text of a tokenizer.json."""
        data = json_text.encode("utf-8") if isinstance(json_text, str) else bytes(json_text)
        h = ctypes.c_void_p()
        check(lib.dnabert_tokenizer_load_json(data, len(data), ctypes.byref(h)))
        return cls(h.value)

    @staticmethod
    def _train_params(vocab_size, min_frequency, max_token_length, word_length, case, non_acgt, threads, max_bases):
        p = lib.dnabert_bpe_train_default_params()
        p.vocab_size = int(vocab_size)
        p.min_frequency = int(min_frequency)
        p.max_token_length = int(max_token_length)
        if word_length is not None:
            p.word_length = int(word_length)
        if case not in _CASE:
            raise ValueError(f"case must be one of {sorted(_CASE)}, got {case!r}")
        if non_acgt not in _NONACGT:
            raise ValueError(f"non_acgt must be one of {sorted(_NONACGT)}, got {non_acgt!r}")
        p.case_policy = _CASE[case]
        p.non_acgt_policy = _NONACGT[non_acgt]
        p.n_threads = int(threads)
        p.max_bases = int(max_bases)
        return p

    @classmethod
    def train(cls, files, vocab_size=4096, min_frequency=2, max_token_length=0, word_length=None, case="upper",
              non_acgt="split", threads=0, max_bases=0, progress=None):
        """Train a DNABERT-2-style BPE tokenizer on FASTA files (plain or .gz).

        case: "upper" folds lower case to upper case, "keep" keeps it distinct.
        non_acgt: "split" cuts words at any non-ACGT character, "keep" keeps IUPAC codes in the alphabet.
        progress: None = a tqdm bar if tqdm is installed; False = none.
        """
        if isinstance(files, (str, bytes, os.PathLike)):
            files = [files]
        paths = [os.fsencode(f) for f in files]
        if not paths:
            raise ValueError("no input files")
        p = cls._train_params(vocab_size, min_frequency, max_token_length, word_length, case, non_acgt, threads,
                              max_bases)
        arr = (ctypes.c_char_p * len(paths))(*paths)
        return cls._run_training(lambda h, pp: lib.dnabert_tokenizer_train(arr, len(paths), pp, h), p, progress)

    @classmethod
    def train_from_sequences(cls, sequences, vocab_size=4096, min_frequency=2, max_token_length=0, word_length=None,
                             case="upper", non_acgt="split", threads=0, max_bases=0, progress=None):
        """Train on in-memory sequences (str or bytes)."""
        data = [_as_bytes(s) for s in sequences]
        p = cls._train_params(vocab_size, min_frequency, max_token_length, word_length, case, non_acgt, threads,
                              max_bases)
        seqs = (ctypes.c_char_p * max(len(data), 1))(*data)
        lens = (ctypes.c_size_t * max(len(data), 1))(*[len(d) for d in data])
        return cls._run_training(
            lambda h, pp: lib.dnabert_tokenizer_train_from_sequences(seqs, lens, len(data), pp, h), p, progress)

    @classmethod
    def _run_training(cls, call, params, progress):
        reporter = ProgressReporter(progress, "train tokenizer")
        params.progress = reporter.callback
        h = ctypes.c_void_p()
        try:
            status = call(ctypes.byref(h), ctypes.byref(params))
        finally:
            reporter.close()
        if reporter.interrupted:
            raise KeyboardInterrupt
        check(status)
        return cls(h.value)

    # ---- vocabulary --------------------------------------------------------------------------
    @property
    def vocab_size(self):
        n = ctypes.c_int32()
        check(lib.dnabert_tokenizer_vocab_size(self._handle(), ctypes.byref(n)))
        return n.value

    def __len__(self):
        return self.vocab_size

    @property
    def special_ids(self):
        s = _lib.SpecialIds()
        s.struct_size = ctypes.sizeof(_lib.SpecialIds)
        check(lib.dnabert_tokenizer_special_ids(self._handle(), ctypes.byref(s)))
        return {k: getattr(s, k) for k in ("unk", "cls", "sep", "pad", "mask") if getattr(s, k) >= 0}

    def token_to_id(self, token):
        """Id of a token, or None if it is not in the vocabulary."""
        i = ctypes.c_int32()
        status = lib.dnabert_tokenizer_token_to_id(self._handle(), token.encode("utf-8"), ctypes.byref(i))
        if status == -8:
            return None
        check(status)
        return i.value

    def id_to_token(self, token_id):
        """String of a token id (IndexError if outside the vocabulary)."""
        buf = ctypes.create_string_buffer(256)
        n = ctypes.c_size_t()
        status = lib.dnabert_tokenizer_id_to_token(self._handle(), int(token_id), buf, len(buf), ctypes.byref(n))
        if status == -4:
            buf = ctypes.create_string_buffer(n.value + 1)
            status = lib.dnabert_tokenizer_id_to_token(self._handle(), int(token_id), buf, len(buf), ctypes.byref(n))
        if status == -8:
            raise IndexError(lib.dnabert_last_error().decode())
        check(status)
        return buf.raw[:n.value].decode("utf-8")

    def get_vocab(self):
        """{token: id} for the whole vocabulary."""
        return {self.id_to_token(i): i for i in range(self.vocab_size)}

    # ---- encoding -----------------------------------------------------------------------------
    def _params(self, add_special_tokens, max_length, uppercase, threads=0):
        p = lib.dnabert_encode_default_params()
        p.add_special_tokens = 1 if add_special_tokens else 0
        if max_length is not None:
            if int(max_length) <= 0:
                raise ValueError(f"max_length must be positive, got {max_length}")
            p.max_length = int(max_length)
        p.uppercase = 1 if uppercase else 0
        if int(threads) < 0:
            raise ValueError("threads must be >= 0")
        p.n_threads = int(threads)
        return p

    def _max_tokens(self, nbytes, params):
        n = ctypes.c_size_t()
        check(lib.dnabert_tokenizer_max_tokens(self._handle(), nbytes, ctypes.byref(params), ctypes.byref(n)))
        return n.value

    def encode(self, sequence, add_special_tokens=True, max_length=None, uppercase=False, return_offsets=False):
        """Token ids (numpy int32) of one sequence of any length.

        With return_offsets=True returns (ids, offsets) where offsets[i] = [start, end) of token i in the input
        (character positions; [0, 0) for special tokens), so tokens map back to genome coordinates.
        """
        data = _as_bytes(sequence)
        params = self._params(add_special_tokens, max_length, uppercase)
        cap = max(self._max_tokens(len(data), params), 1)
        ids = np.empty(cap, dtype=np.int32)
        offsets = np.empty((cap, 2), dtype=np.int64) if return_offsets else None
        n = ctypes.c_size_t()
        check(lib.dnabert_encode(self._handle(), data, len(data), ctypes.byref(params),
                                 ids.ctypes.data_as(_lib.c_int32_p),
                                 offsets.ctypes.data_as(_lib.c_int64_p) if offsets is not None else None,
                                 cap, ctypes.byref(n)))
        ids = ids[:n.value].copy()
        if not return_offsets:
            return ids
        offsets = offsets[:n.value].copy()
        if isinstance(sequence, str):
            offsets = _byte_to_char_offsets(sequence, offsets)
        return ids, offsets

    def encode_batch(self, sequences, add_special_tokens=True, max_length=None, padding=False, uppercase=False,
                     threads=0, return_offsets=False):
        """Encode many sequences in parallel.

        padding=False: a list of int32 arrays (truncated to max_length if given).
        padding=True or "longest": a BatchEncoding with `input_ids` and `attention_mask` [N, L], L = the longest
        row (at most max_length); padding="max_length": L = max_length.
        """
        data = [_as_bytes(s) for s in sequences]
        n = len(data)
        params = self._params(add_special_tokens, max_length, uppercase, threads)
        if padding not in (False, True, "longest", "max_length", "do_not_pad"):
            raise ValueError(f"padding must be False, True, 'longest' or 'max_length', got {padding!r}")
        if padding == "max_length" and max_length is None:
            raise ValueError("padding='max_length' needs max_length")
        seqs = (ctypes.c_char_p * max(n, 1))(*data)
        lens = (ctypes.c_size_t * max(n, 1))(*[len(d) for d in data])
        if padding == "max_length":
            ids = np.empty((n, max_length), dtype=np.int32)
            mask = np.empty((n, max_length), dtype=np.int32)
            if n:
                check(lib.dnabert_encode_batch_padded(self._handle(), seqs, lens, n, ctypes.byref(params), max_length,
                                                      ids.ctypes.data_as(_lib.c_int32_p),
                                                      mask.ctypes.data_as(_lib.c_int32_p), None))
            return BatchEncoding(input_ids=ids, attention_mask=mask)
        per_seq_extra = self._max_tokens(0, params)
        cap = max(sum(len(d) for d in data) + n * per_seq_extra, 1)
        flat = np.empty(cap, dtype=np.int32)
        offs = np.empty((cap, 2), dtype=np.int64) if return_offsets else None
        starts = np.zeros(n + 1, dtype=np.int64)
        check(lib.dnabert_encode_batch(self._handle(), seqs, lens, n, ctypes.byref(params),
                                       flat.ctypes.data_as(_lib.c_int32_p),
                                       offs.ctypes.data_as(_lib.c_int64_p) if offs is not None else None,
                                       cap, starts.ctypes.data_as(_lib.c_int64_p)))
        if padding in (False, "do_not_pad"):
            rows = [flat[starts[i]:starts[i + 1]].copy() for i in range(n)]
            if not return_offsets:
                return rows
            offsets = []
            for i in range(n):
                o = offs[starts[i]:starts[i + 1]].copy()
                s = sequences[i]
                offsets.append(_byte_to_char_offsets(s, o) if isinstance(s, str) else o)
            return rows, offsets
        lengths = np.diff(starts)
        width = int(lengths.max()) if n else 0
        pad = self.special_ids.get("pad")
        if pad is None:
            raise DNABertError("the tokenizer defines no [PAD] token, so it cannot pad", -1)
        ids = np.full((n, width), pad, dtype=np.int32)
        col = np.arange(width)
        mask = (col[None, :] < lengths[:, None]).astype(np.int32)
        ids[mask.astype(bool)] = flat[:int(starts[-1])]
        return BatchEncoding(input_ids=ids, attention_mask=mask)

    def __call__(self, text, text_pair=None, add_special_tokens=True, padding=False, truncation=None, max_length=None,
                 return_tensors=None, return_token_type_ids=None, return_attention_mask=None, return_length=False,
                 uppercase=False, threads=0, **kwargs):
        """Hugging Face's tokenizer call: `tok(seqs, padding=True, truncation=True, max_length=128,
        return_tensors="pt")` → a BatchEncoding with input_ids and attention_mask (token_type_ids, all 0, with
        return_token_type_ids=True), as transformers' PreTrainedTokenizerFast on the same tokenizer.json.

        text: one sequence (then unbatched lists, or [1, L] tensors) or a list. padding: False / "do_not_pad",
        True / "longest", "max_length". truncation: True / "longest_first" / "only_first" keeps the first
        max_length tokens (special tokens included; max_length None → model_max_length); None truncates when
        max_length is given without padding (as Hugging Face does); False never. return_tensors: None (Python
        lists), "np" (int64 arrays) or "pt" (torch tensors). Pairs of sequences are not supported."""
        if text_pair is not None:
            raise NotImplementedError("sequence pairs are not supported (DNABERT-2 encodes one sequence at a time)")
        unknown = sorted(k for k in kwargs if k not in ("verbose", "is_split_into_words", "pad_to_multiple_of"))
        if unknown:
            raise TypeError(f"Tokenizer.__call__ got unexpected keyword argument(s) {unknown}")
        if kwargs.get("is_split_into_words"):
            raise NotImplementedError("is_split_into_words is not supported")
        single = isinstance(text, (str, bytes, bytearray))
        seqs = [text] if single else list(text)
        if padding in (True, "longest"):
            pad_mode = "longest"
        elif padding in (False, None, "do_not_pad"):
            pad_mode = None
        elif padding == "max_length":
            pad_mode = "max_length"
        else:
            raise ValueError(f"padding must be True, False, 'longest', 'max_length' or 'do_not_pad', got {padding!r}")
        if truncation in (True, "longest_first", "only_first"):
            trunc = True
        elif truncation in (False, "do_not_truncate"):
            trunc = False
        elif truncation is None:
            trunc = max_length is not None and pad_mode is None
        else:
            raise ValueError(f"truncation must be True, False, 'longest_first', 'only_first' or 'do_not_truncate', "
                             f"got {truncation!r}")
        limit = max_length if max_length is not None else self.model_max_length
        if pad_mode == "max_length" and limit is None:
            raise ValueError("padding='max_length' needs max_length (or a tokenizer with model_max_length)")
        rows = self.encode_batch(seqs, add_special_tokens=add_special_tokens,
                                 max_length=limit if trunc and limit is not None else None, uppercase=uppercase,
                                 threads=threads)
        rows = [r.tolist() for r in rows]
        lengths = [len(r) for r in rows]
        masks = [[1] * n for n in lengths]
        if pad_mode is not None:
            width = max(lengths, default=0) if pad_mode == "longest" else int(limit)
            multiple = kwargs.get("pad_to_multiple_of")
            if multiple:
                width = -(-width // int(multiple)) * int(multiple)
            pad = self.pad_token_id
            if pad is None:
                raise DNABertError("the tokenizer defines no [PAD] token, so it cannot pad", -1)
            rows = [r + [pad] * max(0, width - len(r)) for r in rows]       # longer rows stay (as HF's)
            masks = [m + [0] * max(0, width - len(m)) for m in masks]
        out = BatchEncoding()
        fields = [("input_ids", rows)]
        if return_token_type_ids:   # transformers 5's PreTrainedTokenizerFast leaves them out unless asked
            fields.append(("token_type_ids", [[0] * len(r) for r in rows]))
        if return_attention_mask is not False:
            fields.append(("attention_mask", masks))
        for k, v in fields:
            if return_tensors is not None:
                out[k] = _as_tensor(v, return_tensors, k)
            else:
                out[k] = v[0] if single else v
        if return_length:
            out["length"] = (_as_tensor([[n] for n in lengths], return_tensors).reshape(-1) if return_tensors
                             else (lengths[0] if single else lengths))
        return out

    # ---- Hugging Face names ------------------------------------------------------------------------
    model_max_length = None   # set by from_pretrained from tokenizer_config.json; None = no limit

    @classmethod
    def from_pretrained(cls, path):
        """Load a model or tokenizer folder (its tokenizer.json; model_max_length from tokenizer_config.json when
        present) or a tokenizer.json file, as Hugging Face's AutoTokenizer.from_pretrained(folder)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            file = os.path.join(path, "tokenizer.json")
            if not os.path.isfile(file):
                raise FileNotFoundError(f"'{path}' has no tokenizer.json")
        elif os.path.isfile(path):
            file = path
        else:
            raise FileNotFoundError(f"no tokenizer folder or file '{path}' (a local folder with tokenizer.json; "
                                    "the Hugging Face Hub is not reached)")
        tok = cls.from_file(file)
        cfg = os.path.join(os.path.dirname(file), "tokenizer_config.json")
        if os.path.isfile(cfg):
            import json
            try:
                m = json.load(open(cfg)).get("model_max_length")
            except (OSError, ValueError):
                m = None
            if isinstance(m, int) and 0 < m < 1 << 30:
                tok.model_max_length = m
        return tok

    def _special(self, name):
        return self.special_ids.get(name)

    @property
    def pad_token_id(self):
        return self._special("pad")

    @property
    def cls_token_id(self):
        return self._special("cls")

    @property
    def sep_token_id(self):
        return self._special("sep")

    @property
    def unk_token_id(self):
        return self._special("unk")

    @property
    def mask_token_id(self):
        return self._special("mask")

    bos_token_id = cls_token_id
    eos_token_id = sep_token_id

    def _special_token(self, name):
        i = self._special(name)
        return None if i is None else self.id_to_token(i)

    pad_token = property(lambda self: self._special_token("pad"))
    cls_token = property(lambda self: self._special_token("cls"))
    sep_token = property(lambda self: self._special_token("sep"))
    unk_token = property(lambda self: self._special_token("unk"))
    mask_token = property(lambda self: self._special_token("mask"))

    @property
    def all_special_ids(self):
        return sorted(set(self.special_ids.values()))

    @property
    def all_special_tokens(self):
        return [self.id_to_token(i) for i in self.all_special_ids]

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        """Token strings of ids (one id → one string)."""
        if isinstance(ids, (int, np.integer)):
            return self.id_to_token(int(ids))
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self.id_to_token(int(i)) for i in np.asarray(ids).reshape(-1).tolist() if int(i) not in special]

    def convert_tokens_to_ids(self, tokens):
        """Ids of token strings; a token outside the vocabulary gives the unknown token's id."""
        if isinstance(tokens, str):
            i = self.token_to_id(tokens)
            return self.unk_token_id if i is None else i
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def tokenize(self, text, add_special_tokens=False, uppercase=False):
        """Token strings of one sequence (without [CLS]/[SEP] unless add_special_tokens, as Hugging Face)."""
        return self.convert_ids_to_tokens(self.encode(text, add_special_tokens=add_special_tokens, uppercase=uppercase))

    def batch_decode(self, sequences, skip_special_tokens=False, **kwargs):
        """Hugging Face's batch_decode: one string per row (token strings concatenated, as `decode`); padding
        and the other special tokens are dropped with skip_special_tokens=True."""
        if hasattr(sequences, "detach"):
            sequences = sequences.detach().cpu().numpy()
        return [self.decode(ids, skip_special_tokens=skip_special_tokens) for ids in sequences]

    # ---- decoding -----------------------------------------------------------------------------
    def decode(self, ids, skip_special_tokens=True):
        """The DNA string of a sequence of ids (token strings concatenated; special tokens skipped)."""
        arr = np.ascontiguousarray(np.asarray(ids).reshape(-1))
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"ids must be integers, got {arr.dtype}")
        if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
            raise DNABertError("decode: an id does not fit in int32", -1)
        arr = arr.astype(np.int32, copy=False)
        n = ctypes.c_size_t()
        cap = arr.size * 8 + 64
        for _ in range(2):
            buf = ctypes.create_string_buffer(cap)
            status = lib.dnabert_decode(self._handle(), arr.ctypes.data_as(_lib.c_int32_p), arr.size,
                                        1 if skip_special_tokens else 0, buf, cap, ctypes.byref(n))
            if status == -4:
                cap = n.value + 1
                continue
            check(status)
            return buf.raw[:n.value].decode("utf-8", "replace")
        check(status)

    def decode_batch(self, batch, skip_special_tokens=True):
        return [self.decode(ids, skip_special_tokens) for ids in batch]

    # ---- saving -------------------------------------------------------------------------------
    def save(self, path):
        """Write a tokenizer.json that Hugging Face `tokenizers` loads."""
        check(lib.dnabert_tokenizer_save(self._handle(), os.fsencode(path)))

    def to_str(self):
        n = ctypes.c_size_t()
        status = lib.dnabert_tokenizer_to_json(self._handle(), None, 0, ctypes.byref(n))
        if status not in (0, -4):
            check(status)
        buf = ctypes.create_string_buffer(n.value + 1)
        check(lib.dnabert_tokenizer_to_json(self._handle(), buf, len(buf), ctypes.byref(n)))
        return buf.raw[:n.value].decode("utf-8")

    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dnabert.Tokenizer (closed)>"
        return f"<dnabert.Tokenizer vocab_size={self.vocab_size} special={self.special_ids}>"
