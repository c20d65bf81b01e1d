"""Fork safety (issue 12 item 2): a process that imported dnabert and loaded a model forks (multiprocessing's
"fork" start method); the children's forwards must finish and equal the parent's, whether or not the parent had
run a forward (and so loaded OpenBLAS and started thread pools) before forking. Each scenario runs in a fresh
interpreter, so what other tests did in this process cannot hide the first case."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURE = os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "model")

SCRIPT = textwrap.dedent("""
    import multiprocessing as mp, sys
    import numpy as np
    import dnabert

    model = dnabert.Model.from_pretrained(sys.argv[1])
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 40, size=(4, 96)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 80:] = 0

    def run(_):
        return model.forward(ids, mask, threads=4)

    reference = run(None) if sys.argv[2] == "forward-before-fork" else None
    with mp.get_context("fork").Pool(2) as pool:
        outs = pool.map_async(run, range(4)).get(timeout=60)
    if reference is None:
        reference = run(None)
    for o in outs:
        assert np.array_equal(o, reference), "a forked child computed a different forward"
    print("ok", len(outs))
""")


@pytest.mark.parametrize("parent_forward", ["no-forward-before-fork", "forward-before-fork"])
def test_forward_in_forked_children(parent_forward, tmp_path):
    if sys.platform != "linux":
        pytest.skip("fork start method: Linux only")
    script = tmp_path / "fork_forward.py"
    script.write_text(SCRIPT)
    try:
        r = subprocess.run([sys.executable, str(script), FIXTURE, parent_forward], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ))
    except subprocess.TimeoutExpired:
        pytest.fail(f"forked children hung ({parent_forward})")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok 4"
