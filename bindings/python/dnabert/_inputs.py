"""Sequence inputs: a file path is read as a file (FASTA/FASTQ, gzip or not; CSV/TSV with a `sequence` column),
never tokenized as if its letters were DNA; DataFrames with configurable column names."""
import csv
import gzip
import io
import os
import re

_PATHLIKE_EXT = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}(\.gz)?$")


def _open_text(path):
    """A text stream over a plain or gzip file (gzip detected from the content, not the name)."""
    with open(path, "rb") as f:
        magic = f.read(2)
    raw = gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def _first_char(path):
    with _open_text(path) as f:
        for line in f:
            s = line.lstrip("\ufeff").strip()
            if s:
                return s[0]
    return ""


def read_fasta(path):
    """Yield `(name, sequence)` for each record of a FASTA or FASTQ file, plain or gzip-compressed (detected from
    the content). `name` is the first word of the header line; sequence lines are joined.

        for name, seq in dnabert.read_fasta("reads.fa.gz"): ...
    """
    path = os.fspath(path)
    first = _first_char(path)
    if first not in (">", "@"):
        raise ValueError(f"'{path}' is not FASTA/FASTQ: its first character is {first!r} (expected '>' or '@')"
                         if first else f"'{path}' is empty")
    with _open_text(path) as f:
        if first == ">":
            name, chunks = None, []
            for line in f:
                line = line.rstrip("\r\n")
                if line.startswith(">"):
                    if name is not None:
                        yield name, "".join(chunks)
                    words = line[1:].split()
                    name, chunks = (words[0] if words else ""), []
                elif line.strip():
                    if name is None:
                        continue
                    chunks.append(line.strip())
            if name is not None:
                yield name, "".join(chunks)
            return
        # FASTQ: @name, sequence line(s), '+' line, quality line(s) as long as the sequence.
        lines = (l.rstrip("\r\n") for l in f)
        for line in lines:
            if not line.strip():
                continue
            if not line.startswith("@"):
                raise ValueError(f"'{path}': a FASTQ record must start with '@', got {line[:40]!r}")
            words = line[1:].split()
            name, seq = (words[0] if words else ""), []
            for s in lines:
                if s.startswith("+"):
                    break
                seq.append(s.strip())
            else:
                raise ValueError(f"'{path}': FASTQ record '{name}' has no '+' line")
            sequence = "".join(seq)
            qual = 0
            while qual < len(sequence):
                q = next(lines, None)
                if q is None:
                    raise ValueError(f"'{path}': FASTQ record '{name}' has a truncated quality line")
                qual += len(q.strip())
            yield name, sequence


def _delimiter(header):
    return "\t" if header.count("\t") > header.count(",") else ","


def read_table(path, sequence_column="sequence", label_column="label"):
    """(ids, sequences, labels or None) from a CSV/TSV file with a header (plain or gzip)."""
    path = os.fspath(path)
    with _open_text(path) as f:
        text = f.read()
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(first)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"'{path}' is empty")
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    if sequence_column.lower() not in lower:
        raise ValueError(f"'{path}' is neither FASTA/FASTQ nor a CSV/TSV with a '{sequence_column}' column "
                         f"(columns: {header[:8]})")
    si = lower.index(sequence_column.lower())
    li = lower.index(label_column.lower()) if label_column and label_column.lower() in lower else None
    ii = next((lower.index(k) for k in ("id", "name") if k in lower), None)
    ids, seqs, labels = [], [], []
    for n, r in enumerate(rows[1:], start=1):
        if si >= len(r):
            raise ValueError(f"'{path}' row {n + 1}: no '{sequence_column}' field")
        seqs.append(r[si].strip())
        ids.append(r[ii].strip() if ii is not None and ii < len(r) else str(n))
        if li is not None:
            labels.append(r[li].strip() if li < len(r) else "")
    return ids, seqs, (labels if li is not None else None)


def read_sequences(path, tables=True):
    """(names, sequences) from a FASTA/FASTQ file, or from a CSV/TSV file's `sequence` column when `tables`."""
    path = os.fspath(path)
    if _first_char(path) in (">", "@"):
        recs = list(read_fasta(path))
        if not recs:
            raise ValueError(f"'{path}' contains no sequences")
        return [r[0] for r in recs], [r[1] for r in recs]
    if not tables:
        raise ValueError(f"'{path}' is not a FASTA/FASTQ file")
    ids, seqs, _ = read_table(path)
    if not seqs:
        raise ValueError(f"'{path}' contains no sequences")
    return ids, seqs


def looks_like_path(s):
    """True for a string that cannot be DNA and reads like a file name (a separator or an extension)."""
    return len(s) < 4096 and ("/" in s or "\\" in s or bool(_PATHLIKE_EXT.search(s)))


def is_dataframe(x):
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns") and hasattr(x, "__getitem__")


def _column(df, name, what):
    cols = [str(c) for c in df.columns]
    if name in cols:
        return df[name]
    low = {c.lower(): c for c in cols}
    if name.lower() in low:
        return df[low[name.lower()]]
    raise ValueError(f"{what}: the DataFrame has no '{name}' column (columns: {cols[:8]}); "
                     f"name it with sequence_column= / label_column=")


def frame_sequences(df, sequence_column="sequence", what="sequences"):
    return [str(s) for s in _column(df, sequence_column, what).tolist()]


def frame_labels(df, label_column="label", what="labels"):
    return list(_column(df, label_column, what).tolist())


def sequence_input(x, what="sequences", tables=True, sequence_column="sequence"):
    """Sequences from what a user passes: a path (read as a file), a DataFrame (its sequence column), one string
    or a list of strings. A string naming no file but shaped like a path is refused, never tokenized."""
    if isinstance(x, os.PathLike):
        if not os.path.exists(x):
            raise FileNotFoundError(f"{what}: no such file: '{os.fspath(x)}'")
        return read_sequences(x, tables=tables)[1]
    if isinstance(x, str):
        if os.path.isfile(x):
            return read_sequences(x, tables=tables)[1]
        if looks_like_path(x):
            raise FileNotFoundError(f"{what}: '{x}' looks like a file path but no such file exists "
                                    "(pass DNA as a string or a list of strings, or an existing FASTA/FASTQ/CSV file)")
        return [x]
    if is_dataframe(x):
        return frame_sequences(x, sequence_column, what)
    if isinstance(x, (bytes, bytearray)) or type(x).__name__ in ("Seq", "MutableSeq", "SeqRecord"):
        return [x]
    try:
        items = list(x)
    except TypeError:
        raise TypeError(f"{what} must be DNA strings, a list of them, a DataFrame or a FASTA/FASTQ/CSV path, "
                        f"got {type(x).__name__}") from None
    for i, s in enumerate(items):
        if isinstance(s, os.PathLike) or (isinstance(s, str) and looks_like_path(s) and os.path.exists(s)):
            raise ValueError(f"{what}[{i}] names a file ('{os.fspath(s)}'): pass the path itself (not in a list) "
                             "to read it, or the sequences")
    return items
