import gzip
import os
import shutil

import pytest

# Test data. Everything the default run needs is in the repository (examples/data: the published DNABERT-2
# tokenizer, the H. pylori and S. aureus genomes, a coding_200 subset). Larger external data (all five genomes)
# is read from $DNABERT_DATA (the shared data folder, laid out as genomes/, tasks/, dnabert2/; CI sets it to
# ../shared/data); tests that need it are reported as skipped, with the reason, when it is unset.
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
EXAMPLES_DATA = os.path.join(ROOT, "examples", "data")
DNABERT2_TOKENIZER = os.path.join(EXAMPLES_DATA, "dnabert2", "tokenizer.json")
DATA = os.environ.get("DNABERT_DATA") or None
GENOMES = os.path.join(DATA, "genomes") if DATA else None
REPO_GENOMES = ("hpylori_sjm180.fasta.gz", "saureus_n315.fasta.gz")
SHARED_GENOMES = ("ecoli_k12_mg1655.fasta.gz", "hpylori_sjm180.fasta.gz", "saureus_n315.fasta.gz",
                  "umaydis_chr01-08.fasta.gz", "vcholerae_o395.fasta.gz")


def needs_data(what):
    """Marks a test that needs `what` from $DNABERT_DATA: skipped, with the reason, when it is unset."""
    return pytest.mark.skipif(DATA is None, reason=f"needs {what} from DNABERT_DATA (unset); "
                              "set DNABERT_DATA to the shared data folder, e.g. ../shared/data")


ACCURACY = os.environ.get("DNABERT_ACCURACY") == "1"


def accuracy_gate(minutes):
    """Marks a reduced-precision accuracy gate on real DNA (whole fine-tunes, a thousand genome windows): run by
    `make test-accuracy` (DNABERT_ACCURACY=1), which CI runs after `make test`; skipped, with the reason, in the
    everyday `make test`."""
    return pytest.mark.skipif(not ACCURACY, reason=f"accuracy gate on real DNA (about {minutes} min on 2 AVX2 cores): "
                              "run by `make test-accuracy` (DNABERT_ACCURACY=1), which CI runs")


def genome_path(name):
    """A genome file: the repository's copy (examples/data) when it has one, else $DNABERT_DATA/genomes/name."""
    if name in REPO_GENOMES:
        return os.path.join(EXAMPLES_DATA, name)
    if DATA is None:
        pytest.skip(f"needs genomes/{name} from DNABERT_DATA (unset)")
    return os.path.join(GENOMES, name)


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


def head_csv(src, dst, rows=None):
    """Writes the header and the first `rows` rows of the CSV file `src` (all of them when None) to `dst`; returns
    `dst`. For test copies of a task with a smaller dev or test set."""
    with open(src) as f:
        lines = f.read().splitlines()
    with open(dst, "w") as f:
        f.write("\n".join(lines if rows is None else lines[:rows + 1]) + "\n")
    return str(dst)


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
    """The five shared genomes with $DNABERT_DATA, else the repository's two."""
    if DATA is not None:
        files = sorted(f for f in os.listdir(GENOMES) if f.endswith(".fasta.gz"))
        assert tuple(files) == SHARED_GENOMES, f"expected the 5 genomes in {GENOMES}"
    else:
        files = REPO_GENOMES
    return {f: read_fasta(genome_path(f)) for f in files}


@pytest.fixture(scope="session")
def hf_tok():
    from tokenizers import Tokenizer as HFTokenizer
    return HFTokenizer.from_file(DNABERT2_TOKENIZER)


@pytest.fixture(scope="session")
def tok():
    import dnabert
    return dnabert.Tokenizer.from_file(DNABERT2_TOKENIZER)
