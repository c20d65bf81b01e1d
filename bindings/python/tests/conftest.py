import gzip
import os

import pytest

SHARED = os.environ.get("DNABERT_SHARED") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared")
GENOMES = os.path.join(SHARED, "data", "genomes")
DNABERT2_TOKENIZER = os.path.join(SHARED, "data", "dnabert2", "tokenizer.json")


def read_fasta(path):
    """Independent FASTA reader (plain Python) → list of (name, sequence)."""
    opener = gzip.open if path.endswith(".gz") else open
    records, name, chunks = [], None, []
    with opener(path, "rt") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if name is not None:
                    records.append((name, "".join(chunks)))
                name, chunks = line[1:].split()[0] if len(line) > 1 else "", []
            elif line:
                chunks.append(line.strip())
    if name is not None:
        records.append((name, "".join(chunks)))
    return records


@pytest.fixture(scope="session")
def genomes():
    files = sorted(f for f in os.listdir(GENOMES) if f.endswith(".fasta.gz"))
    assert len(files) == 5, f"expected the 5 genomes in {GENOMES}"
    return {f: read_fasta(os.path.join(GENOMES, f)) for f in files}


@pytest.fixture(scope="session")
def hf_tok():
    from tokenizers import Tokenizer as HFTokenizer
    return HFTokenizer.from_file(DNABERT2_TOKENIZER)


@pytest.fixture(scope="session")
def tok():
    import dnabert
    return dnabert.Tokenizer.from_file(DNABERT2_TOKENIZER)
