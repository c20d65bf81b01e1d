#!/usr/bin/env python3
"""Independent reference for the C FASTA/FASTQ reader test: parses a FASTA/FASTQ file (gzip by magic bytes) with
plain Python string handling and prints one line per record: name, description, sequence, quality, tab-separated
(tabs and newlines cannot occur in any field: whitespace is dropped from residues, and header fields are split on
whitespace runs with tabs turned into spaces), so `diff` can compare it with Tests/c/test_fasta.c's output."""
import gzip
import re
import sys

raw = open(sys.argv[1], "rb").read()
if raw[:2] == b"\x1f\x8b":
    raw = gzip.decompress(raw)
lines = [l for l in re.split(rb"\r\n|\r|\n", raw)]
lines = [l.strip() for l in lines]
lines = [l for l in lines if l]
out = []


def header(h):
    parts = h.split(None, 1)
    name = parts[0].decode() if parts else ""
    desc = parts[1].strip().decode() if len(parts) > 1 else ""
    return name, desc


def residues(l):
    return re.sub(rb"\s+", b"", l).decode()


i = 0
fastq = bool(lines) and lines[0].startswith(b"@")
if not fastq:
    name, desc, seq = None, "", ""
    for l in lines:
        if l.startswith(b">"):
            if name is not None:
                out.append((name, desc, seq, ""))
            name, desc = header(l[1:])
            seq = ""
        else:
            if name is None:
                name, desc, seq = "", "", ""
            seq += residues(l)
    if name is not None:
        out.append((name, desc, seq, ""))
else:
    while i < len(lines):
        name, desc = header(lines[i][1:])
        i += 1
        seq = ""
        while i < len(lines) and not lines[i].startswith(b"+"):
            seq += residues(lines[i])
            i += 1
        i += 1  # '+'
        qual = ""
        while i < len(lines) and len(qual) < len(seq):
            qual += residues(lines[i])
            i += 1
        out.append((name, desc, seq, qual))
for r in out:
    print("\t".join(f.replace("\t", " ") for f in r))
