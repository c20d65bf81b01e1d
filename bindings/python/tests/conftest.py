import gzip
import os
import shutil

import pytest

SHARED = os.environ.get("DNABERT_SHARED") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared")
GENOMES = os.path.join(SHARED, "data", "genomes")
DNABERT2_TOKENIZER = os.path.join(SHARED, "data", "dnabert2", "tokenizer.json")


def find_cli():
    """The dnabert command-line tool: $DNABERT_CLI, $DNABERT_HOME/bin, the build tree, or PATH; None if absent."""
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [os.environ.get("DNABERT_CLI")]
    if os.environ.get("DNABERT_HOME"):
        cands.append(os.path.join(os.environ["DNABERT_HOME"], "bin", "dnabert"))
    cands.append(os.path.join(here, "..", "..", "..", "build", "bin", "dnabert"))
    cands.append(shutil.which("dnabert"))
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    return None


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
