"""Worker threads: "all cores" (threads=0) follows the process's CPU affinity (taskset, numactl, a batch scheduler's
binding), and the worker pool's spinning (DNABERT_SPIN_US) changes nothing but timing. Each case runs in a fresh
process, since the core count and the spin setting are read once per process."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT, find_cli

FIXTURE = os.path.join(ROOT, "Tests", "DNABertTests", "Fixtures", "model")

FORWARD = textwrap.dedent("""
    import sys
    import numpy as np
    import dnabert
    m = dnabert.Model.from_pretrained(sys.argv[1])
    rng = np.random.default_rng(3)
    ids = rng.integers(5, 40, size=(5, 70)).astype(np.int32)
    mask = np.ones_like(ids); mask[2, 50:] = 0
    outs = [m.forward(ids, mask, threads=t) for t in (0, 1, 2, 3, 7)]
    for _ in range(30):                      # many regions in a row, with the pool awake or asleep between them
        outs.append(m.forward(ids[:, :20], mask[:, :20], threads=2))
    np.save(sys.argv[2], np.stack(outs[:5]))
    assert all(np.array_equal(o, outs[5]) for o in outs[6:])
""")


def cores_reported(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout
    line = [l for l in out.splitlines() if l.startswith("threads:")]
    assert line, out
    return int(line[0].split()[1])


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity: Linux only")
def test_all_cores_means_the_cpus_of_the_affinity_mask():
    cli = find_cli()
    if cli is None:
        pytest.skip("the dnabert CLI is not built (set DNABERT_CLI or build build/bin/dnabert)")
    assert cores_reported([cli, "--version"]) == len(os.sched_getaffinity(0))
    if shutil.which("taskset") is None:
        pytest.skip("taskset (util-linux) is not installed")
    cpu = sorted(os.sched_getaffinity(0))[0]
    assert cores_reported(["taskset", "-c", str(cpu), cli, "--version"]) == 1


@pytest.mark.parametrize("spin", ["0", "1000", "50000"])
def test_spinning_changes_nothing_but_timing(spin, tmp_path):
    outs = {}
    for name, env_spin in (("default", None), ("set", spin)):
        env = dict(os.environ)
        env.pop("DNABERT_SPIN_US", None)
        if env_spin is not None:
            env["DNABERT_SPIN_US"] = env_spin
        path = tmp_path / f"{name}.npy"
        subprocess.run([sys.executable, "-c", FORWARD, FIXTURE, str(path)], check=True, env=env, timeout=300)
        outs[name] = np.load(path)
    # the spin setting does not change the hidden states at any thread count, and the thread count does not change
    # them either where the float32 products run on dnabert's own kernel (see assert_thread_invariant)
    np.testing.assert_array_equal(outs["set"], outs["default"])
    assert_thread_invariant(outs["default"], os.environ)


def own_float32_kernel(env):
    """Whether the float32 products run on dnabert's kernel (AVX-512 CPUs; README "The linear layers' own float32
    kernel"), whose sums do not depend on how the rows and channels are split across threads. Elsewhere they run on
    OpenBLAS, whose AVX2 kernel rounds a product's last bits differently depending on how the matrix is split."""
    return "avx512f" in _cpu_flags() and env.get("DNABERT_F32_GEMM") != "blas"


def assert_thread_invariant(outs, env):
    for i in range(1, len(outs)):
        if own_float32_kernel(env):
            np.testing.assert_array_equal(outs[i], outs[0])
        else:
            np.testing.assert_allclose(outs[i], outs[0], rtol=1e-5, atol=1e-5)


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@pytest.mark.skipif(not {"avx2", "fma"} <= _cpu_flags(), reason="OpenBLAS's Haswell kernel needs AVX2 and FMA")
def test_thread_count_changes_nothing_under_another_blas_kernel(tmp_path):
    # OpenBLAS's Haswell sgemm sums in another order than dnabert's own float32 kernel (AVX-512 CPUs) and than its
    # SkylakeX kernel. The fixture's 48-channel layers are narrower than one 64-channel panel per thread: they once
    # went to sgemm at 2 threads and to dnabert's kernel at 1, so the hidden states depended on the thread count
    # whenever a user's OPENBLAS_CORETYPE picked a kernel with other rounding.
    env = dict(os.environ, OPENBLAS_CORETYPE="Haswell")
    env.pop("DNABERT_SPIN_US", None)
    path = tmp_path / "haswell.npy"
    subprocess.run([sys.executable, "-c", FORWARD, FIXTURE, str(path)], check=True, env=env, timeout=300)
    assert_thread_invariant(np.load(path), env)
