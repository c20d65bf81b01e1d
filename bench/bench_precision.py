#!/usr/bin/env python3
"""Encoder forward at float32 and int8: dnabert against PyTorch eager fp32, ONNX Runtime fp32 and ONNX Runtime int8,
every peer in the same run (issue 14, "Speed goals"). A benchmark, not a test.

DNABERT-2-117M shape (12 layers, hidden 768, 12 heads, GEGLU 3072), random weights. The PyTorch peer is the
reference model of bench/bench_forward.py (eager modules, scaled_dot_product_attention, ALiBi as an additive mask),
seeded so every child builds the same weights; it is exported once to ONNX (TorchScript exporter, dynamic batch and
length) into a temporary folder, and `onnxruntime.quantization.quantize_dynamic` (default: QInt8 weights) makes the
int8 peer from that file. The exported graph is checked against PyTorch at a length it was not traced with.
dnabert builds its own random weights of the same shape (`Model.from_config`, seed 1; its int8 case is
`model.quantize("int8")` of them): timings do not depend on the values.

Cases: torch (fp32), ort-fp32, ort-int8, dnabert-fp32, dnabert-int8. Each (case, shape) runs in its own process
with the same thread count, best of --reps (and of at least 1 s of forwards) after a warm-up; rounds alternate the cases (the order rotates every
round) and the table shows the best over rounds; with several rounds the goal ratios are printed again from each case's
median round. Every child also measures its own GEMM rate on the MLP shape
([max(B·L, 512), 768] × [768, 3072]): torch.mm; ONNX Runtime running a one-MatMul graph (float32, and the same graph
through quantize_dynamic for the int8 peer); dnabert's `blas_benchmark` (an n×n×n sgemm through the OpenBLAS it
loads) and `int8_linear` (row quantization + VNNI GEMM) for its int8 case.

The CPU's peaks come from register-only loops in a small C program compiled here with gcc: 12 independent
accumulators of `vfmadd231ps zmm` (float32 FMA, 2 FLOP per lane) and `vpdpbusd zmm` (int8 VNNI, 2 OP per byte
pair: 4 multiply-adds per 32-bit lane), 1 and N threads (pthreads); on a CPU with AVX2 but no AVX-512, `vfmadd231ps ymm`
and `vpmaddwd ymm` + `vpaddd` (the exact int16 product of dnabert's AVX2 int8 kernel, 32 OP per vpmaddwd). "peak %" = achieved model (GFLOP or GOP)/s over
the peak at the thread count used (float32 peak for fp32 cases, VNNI peak for int8 cases; attention and the
float32 parts of an int8 model are counted at their FLOPs, so the int8 fraction is an upper-bound-flavoured figure).

Usage: python3 bench/bench_precision.py [--threads 2] [--shapes 1x128,8x128,1x512,1x2048,1x8192] [--rounds 2]
                                        [--reps 2] [--cases torch,ort-fp32,ort-int8,dnabert-fp32,dnabert-int8]
                                        [--no-peak] [--qlora-steps 4]
The last row is a LoRA fine-tuning step (117M, 8x128, r 8 on Wqkv and the attention output; the float32 step of
bench/bench_finetune_step.py) on the float32 base and on the int8 base (QLoRA-style), in two alternating children.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the children's environment (the library picks its kernel).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_forward  # noqa: E402  (the reference PyTorch model and the FLOP count)
import bench_finetune_step  # noqa: E402  (the float32 LoRA step child, reused for the QLoRA row)
from bench_train_step import PRESETS, TOKENIZER, VOCAB, Child, child_env  # noqa: E402

H, I, NH, NL, V = bench_forward.H, bench_forward.I, bench_forward.NH, bench_forward.NL, bench_forward.V
flops = bench_forward.flops
CASES = ["torch", "ort-fp32", "ort-int8", "dnabert-fp32", "dnabert-int8"]

# The reference model's source, up to (not including) its timing code: defines Encoder, reads B L threads reps
# from argv and seeds torch with 0, so every child that runs it builds the same weights.
TORCH_MODEL = bench_forward.CHILD_TORCH.split("m = Encoder().eval()")[0]

COMMON = r"""
import json, sys, time
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
def best_of(fn, reps, min_seconds=1.0):
    # at least `reps` forwards and at least min_seconds of them, the same rule for every peer: a 25 ms forward
    # is timed some 40 times, a 1.5 s one `reps` times
    best, n, spent = 1e9, 0, 0.0
    while n < reps or spent < min_seconds:
        t0 = time.perf_counter(); fn(); t = time.perf_counter() - t0
        best = min(best, t); n += 1; spent += t
    return best
def rate(fn, ops, seconds=1.0):
    fn(); t0 = time.perf_counter(); n = 0
    while time.perf_counter() - t0 < seconds:
        fn(); n += 1
    return ops * n / (time.perf_counter() - t0) / 1e9
"""

CHILD_EXPORT = TORCH_MODEL + r"""
import numpy as np
out_dir = sys.argv[5]
m = Encoder().eval()
ids = torch.randint(5, V, (2, 64)); mask = torch.ones(2, 64, dtype=torch.long)
fp32 = out_dir + "/model.onnx"
with torch.inference_mode():
    torch.onnx.export(m, (ids, mask), fp32, input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                      dynamic_axes={"input_ids": {0: "B", 1: "L"}, "attention_mask": {0: "B", 1: "L"},
                                    "hidden": {0: "B", 1: "L"}}, opset_version=17, dynamo=False)
from onnxruntime.quantization import quantize_dynamic
quantize_dynamic(fp32, out_dir + "/model_int8.onnx")
# The exported graph must follow the length: compare with PyTorch at a shape it was not traced with.
import onnxruntime as ort
ids = torch.randint(5, V, (1, 200)); mask = torch.ones(1, 200, dtype=torch.long)
with torch.inference_mode():
    ref = m(ids, mask).numpy()
s = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"])
got = s.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
err = float(np.abs(got - ref).max())
if not err < 1e-3:
    raise SystemExit(f"ONNX export disagrees with PyTorch at 1x200: max |diff| {err}")
print(json.dumps({"max_abs_diff": err}))
"""

CHILD_TORCH = TORCH_MODEL + COMMON + r"""
m = Encoder().eval()
ids = torch.randint(5, V, (B, L)); mask = torch.ones(B, L, dtype=torch.long)
with torch.inference_mode():
    m(ids[:, :min(L, 64)], mask[:, :min(L, 64)])
    best = best_of(lambda: m(ids, mask), reps)
    T = max(B * L, 512)
    a = torch.randn(T, H); w = torch.randn(I, H)
    gemm = rate(lambda: torch.mm(a, w.t()), 2 * T * H * I)
print(json.dumps({"seconds": best, "rss_mb": peak_rss_mb(), "gemm": gemm}))
"""

CHILD_ORT = COMMON + r"""
import numpy as np, onnxruntime as ort, onnx
from onnx import helper, TensorProto, numpy_helper
B, L, threads, reps = map(int, sys.argv[1:5])
path, int8, tmp = sys.argv[5], sys.argv[6] == "1", sys.argv[7]
H, I, V = %d, %d, %d
def session(p):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(p, o, providers=["CPUExecutionProvider"])
s = session(path)
rng = np.random.default_rng(0)
ids = rng.integers(5, V, size=(B, L)).astype(np.int64); mask = np.ones((B, L), dtype=np.int64)
s.run(None, {"input_ids": ids[:, :min(L, 64)], "attention_mask": mask[:, :min(L, 64)]})
best = best_of(lambda: s.run(None, {"input_ids": ids, "attention_mask": mask}), reps)
# The peer's own GEMM: one MatMul [T, H] x [H, I] (quantize_dynamic'd for the int8 peer).
T = max(B * L, 512)
w = numpy_helper.from_array(rng.standard_normal((H, I)).astype(np.float32), "W")
g = helper.make_graph([helper.make_node("MatMul", ["A", "W"], ["Y"])], "mm",
                      [helper.make_tensor_value_info("A", TensorProto.FLOAT, [T, H])],
                      [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, I])], [w])
mm = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
mm.ir_version = 8
mp = tmp + "/matmul_%%d.onnx" %% os.getpid()
onnx.save(mm, mp)
if int8:
    from onnxruntime.quantization import quantize_dynamic
    quantize_dynamic(mp, mp + ".int8.onnx"); mp = mp + ".int8.onnx"
sm = session(mp)
a = rng.standard_normal((T, H)).astype(np.float32)
gemm = rate(lambda: sm.run(None, {"A": a}), 2 * T * H * I)
print(json.dumps({"seconds": best, "rss_mb": peak_rss_mb(), "gemm": gemm}))
""" % (H, I, V)
CHILD_ORT = "import os\n" + CHILD_ORT

CHILD_DNABERT = COMMON + r"""
import numpy as np
import dnabert
B, L, threads, reps = map(int, sys.argv[1:5])
int8 = sys.argv[5] == "1"
H, I, NH, NL, V = %d, %d, %d, %d, %d
cfg = {"vocab_size": V, "hidden_size": H, "num_hidden_layers": NL, "num_attention_heads": NH, "intermediate_size": I}
m = dnabert.Model.from_config(cfg, seed=1)
if int8:
    m = m.quantize("int8")
    assert m.precision == "int8", m.precision
rng = np.random.default_rng(0)
ids = rng.integers(5, V, size=(B, L)).astype(np.int32)
ids[:, 0] = 1; ids[:, -1] = 2
m.forward(ids[:, :min(L, 64)], threads=threads)
best = best_of(lambda: m.forward(ids, threads=threads), reps)
T = max(B * L, 512)
if int8:
    x = rng.standard_normal((T, H)).astype(np.float32); w = rng.standard_normal((I, H)).astype(np.float32)
    _, sec = dnabert.int8_linear(x, w, threads=threads, repeats=5, return_seconds=True)
    gemm = 2 * T * H * I / sec / 1e9
    kernel = dnabert.int8_kernel()
else:
    gemm = dnabert.blas_benchmark(1024, threads)
    kernel = dnabert.blas_info()
print(json.dumps({"seconds": best, "rss_mb": peak_rss_mb(), "gemm": gemm, "kernel": kernel}))
""" % (H, I, NH, NL, V)

# The timing harness both peak programs share: `run(loop, threads, ops per ITERS)` is the best of 3 rates of
# `threads` copies of `loop` running at once; main starts with the thread count from argv.
PEAK_HARNESS = r"""
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static double run(void *(*fn)(void *), int n, double ops_per_iter) {
    pthread_t th[64]; double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, fn, NULL);
        for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
        double r = ops_per_iter * ITERS * n / (now() - t0) / 1e9;
        if (r > best) best = r;
    }
    return best;
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    if (n < 1 || n > 64) return 2;
"""

PEAK_C = r"""
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define ITERS 20000000L
static volatile float sinkf; static volatile int sinki;
static void *fma_loop(void *arg) {
    (void)arg;
    /* distinct starting values, so the compiler cannot merge identical chains */
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = _mm512_set1_ps(1.1f), a2 = _mm512_set1_ps(1.2f), a3 = _mm512_set1_ps(1.3f),
           a4 = _mm512_set1_ps(1.4f), a5 = _mm512_set1_ps(1.5f), a6 = _mm512_set1_ps(1.6f), a7 = _mm512_set1_ps(1.7f),
           a8 = _mm512_set1_ps(1.8f), a9 = _mm512_set1_ps(1.9f), a10 = _mm512_set1_ps(2.0f), a11 = _mm512_set1_ps(2.1f);
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (long i = 0; i < ITERS; i++) {
        a0 = _mm512_fmadd_ps(a0, x, y); a1 = _mm512_fmadd_ps(a1, x, y); a2 = _mm512_fmadd_ps(a2, x, y);
        a3 = _mm512_fmadd_ps(a3, x, y); a4 = _mm512_fmadd_ps(a4, x, y); a5 = _mm512_fmadd_ps(a5, x, y);
        a6 = _mm512_fmadd_ps(a6, x, y); a7 = _mm512_fmadd_ps(a7, x, y); a8 = _mm512_fmadd_ps(a8, x, y);
        a9 = _mm512_fmadd_ps(a9, x, y); a10 = _mm512_fmadd_ps(a10, x, y); a11 = _mm512_fmadd_ps(a11, x, y);
        /* every accumulator is live and opaque each iteration: no chain can be merged or hoisted */
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
        __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
               _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)),
                             _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
    sinkf = _mm512_reduce_add_ps(s);
    return NULL;
}
static void *vnni_loop(void *arg) {
    (void)arg;
    __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2), a3 = _mm512_set1_epi32(3),
            a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5), a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7),
            a8 = _mm512_set1_epi32(8), a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
    const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
    for (long i = 0; i < ITERS; i++) {
        a0 = _mm512_dpbusd_epi32(a0, x, y); a1 = _mm512_dpbusd_epi32(a1, x, y); a2 = _mm512_dpbusd_epi32(a2, x, y);
        a3 = _mm512_dpbusd_epi32(a3, x, y); a4 = _mm512_dpbusd_epi32(a4, x, y); a5 = _mm512_dpbusd_epi32(a5, x, y);
        a6 = _mm512_dpbusd_epi32(a6, x, y); a7 = _mm512_dpbusd_epi32(a7, x, y); a8 = _mm512_dpbusd_epi32(a8, x, y);
        a9 = _mm512_dpbusd_epi32(a9, x, y); a10 = _mm512_dpbusd_epi32(a10, x, y);
        a11 = _mm512_dpbusd_epi32(a11, x, y);
        /* every accumulator is live and opaque each iteration: no chain can be merged or hoisted */
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
        __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)),
                                 _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11))));
    sinki = _mm512_reduce_add_epi32(s);
    return NULL;
}
@HARNESS@
    /* 12 accumulators x 16 lanes x 2 FLOP; 12 x 64 byte pairs x 2 OP */
    printf("{\"fp32\": %.1f, \"int8\": %.1f}\n", run(fma_loop, n, 12 * 16 * 2.0), run(vnni_loop, n, 12 * 64 * 2.0));
    return 0;
}
"""

# The same register-only loops for a CPU with AVX2 but no AVX-512 (written in assembly so no compiler can fold
# them): 12 independent `vfmadd231ps ymm` (8 lanes × 2 FLOP), and the exact int8 path of dnabert's AVX2 kernel,
# `vpmaddwd ymm` (16 int16 products summed in pairs, 32 OP) each followed by the `vpaddd` into its accumulator.
PEAK_AVX2_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define ITERS 20000000L
#define R12(OP) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11) OP(12) OP(13) OP(14) OP(15)
#define FMA(i) "vfmadd231ps %%ymm1, %%ymm2, %%ymm" #i "\n"
#define R6(OP) OP(4, 10) OP(5, 11) OP(6, 12) OP(7, 13) OP(8, 14) OP(9, 15)
#define MADD(a, t) "vpmaddwd %%ymm1, %%ymm2, %%ymm" #t "\n vpaddd %%ymm" #t ", %%ymm" #a ", %%ymm" #a "\n"
static void *fma_loop(void *arg) {
    (void)arg; long n = ITERS;
    __asm__ volatile("vxorps %%ymm1, %%ymm1, %%ymm1\n vxorps %%ymm2, %%ymm2, %%ymm2\n"
                     "1:\n" R12(FMA) "dec %0\n jnz 1b\n" : "+r"(n) :: "memory", "xmm1", "xmm2", "xmm4", "xmm5",
                     "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    return NULL;
}
static void *madd_loop(void *arg) {
    (void)arg; long n = ITERS * 2;   /* 6 pairs per pass: twice the passes for 12 per ITERS */
    __asm__ volatile("vpxor %%ymm1, %%ymm1, %%ymm1\n vpxor %%ymm2, %%ymm2, %%ymm2\n"
                     "1:\n" R6(MADD) "dec %0\n jnz 1b\n" : "+r"(n) :: "memory", "xmm1", "xmm2", "xmm4", "xmm5",
                     "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    return NULL;
}
@HARNESS@
    /* 12 FMAs x 8 lanes x 2 FLOP; 12 vpmaddwd x 16 products x 2 OP per ITERS */
    printf("{\"fp32\": %.1f, \"int8\": %.1f}\n", run(fma_loop, n, 12 * 8 * 2.0), run(madd_loop, n, 12 * 16 * 2.0));
    return 0;
}
"""


def run_child(code, argv):
    r = subprocess.run([sys.executable, "-c", code] + [str(a) for a in argv], env=child_env(),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:] or r.stdout[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


INT8_PEAK_NAME = "int8"


def cpu_peaks(tmp, threads):
    """{threads: {"fp32": GFLOP/s, "int8": GOP/s}} from the register-only loops: AVX-512 (zmm FMA, vpdpbusd) on a
    CPU with AVX-512 VNNI, AVX2 (ymm FMA, vpmaddwd + vpaddd: the ceiling of dnabert's exact AVX2 int8 kernel) on
    one with AVX2 only; None without gcc or either."""
    global INT8_PEAK_NAME
    flags = open("/proc/cpuinfo").read()
    if shutil.which("gcc") is None or " avx2" not in flags:
        print("CPU peak: skipped (needs gcc and a CPU with AVX2 or AVX-512 VNNI)")
        return None
    src, exe = os.path.join(tmp, "peak.c"), os.path.join(tmp, "peak")
    vnni = "avx512_vnni" in flags
    with open(src, "w") as f:
        f.write((PEAK_C if vnni else PEAK_AVX2_C).replace("@HARNESS@", PEAK_HARNESS))
    INT8_PEAK_NAME = "int8 VNNI vpdpbusd" if vnni else "int8 AVX2 vpmaddwd+vpaddd"
    flags_cc = ["-mavx512f", "-mavx512vnni"] if vnni else ["-mavx2", "-mfma"]
    subprocess.run(["gcc", "-O2", *flags_cc, "-pthread", src, "-o", exe], check=True)
    out = {}
    for n in sorted({1, threads}):
        out[n] = json.loads(subprocess.run([exe, str(n)], capture_output=True, text=True, check=True).stdout)
    return out


# The float32 LoRA step of bench_finetune_step.py; with args["int8"] the model is quantized before the finetuner is
# created (QLoRA-style: frozen int8 base, float32 adapters and head).
_FT = "ft = ctypes.c_void_p()\ncheck(lib.dnabert_finetuner_create(model,"
assert bench_finetune_step.CHILD_DNABERT.count(_FT) == 1
CHILD_STEP = bench_finetune_step.CHILD_DNABERT.replace(_FT, """if args.get("int8"):
    q = ctypes.c_void_p()
    check(lib.dnabert_model_quantize(model, 1, ctypes.byref(q)))   # DNABERT_PRECISION_INT8
    model = q
""" + _FT)


def qlora_step(threads, steps):
    """Best and median seconds of a LoRA step (117M, 8x128, r 8) on the float32 base, on the int8 base (QLoRA), and
    on the int8 base with float32 input gradients (DNABERT_INT8_BACKWARD=fp32, the diagnostic), the children taking
    turns step by step (the order rotating) after one warm-up step each."""
    common = dict(config=PRESETS["base"], vocab=VOCAB, B=8, L=128, threads=threads, sgemm_n=1024, mode="lora",
                  tokenizer=TOKENIZER)
    env = child_env()
    names = ["fp32", "int8", "int8-fp32-backward"]
    sides = {"fp32": Child(CHILD_STEP, dict(common, int8=False), env)}
    try:
        sides["int8"] = Child(CHILD_STEP, dict(common, int8=True), env)
        sides["int8-fp32-backward"] = Child(CHILD_STEP, dict(common, int8=True), dict(env, DNABERT_INT8_BACKWARD="fp32"))
        t = {name: [] for name in names}
        for name in sides:
            sides[name].ask("step")
        for i in range(steps):
            for name in names[i % 3:] + names[:i % 3]:
                t[name].append(sides[name].ask("step")["seconds"])
    finally:
        for side in sides.values():
            side.close()
    return {k: (min(v), statistics.median(v)) for k, v in t.items()}


def run_case(case, B, L, threads, reps, tmp):
    if case == "torch":
        return run_child(CHILD_TORCH, [B, L, threads, reps])
    if case in ("ort-fp32", "ort-int8"):
        int8 = case == "ort-int8"
        path = os.path.join(tmp, "model_int8.onnx" if int8 else "model.onnx")
        return run_child(CHILD_ORT, [B, L, threads, reps, path, int(int8), tmp])
    if case in ("dnabert-fp32", "dnabert-int8"):
        return run_child(CHILD_DNABERT, [B, L, threads, reps, int(case == "dnabert-int8")])
    raise ValueError(case)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default="1x128,8x128,1x512,1x2048,1x8192")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2, help="timed forwards per child (best of)")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--no-peak", action="store_true", help="skip the register-only peak loops")
    ap.add_argument("--qlora-steps", type=int, default=4,
                    help="timed LoRA steps (117M, 8x128, r 8) on the float32 and the int8 base; 0 skips the row")
    args = ap.parse_args()
    shapes = [tuple(map(int, s.split("x"))) for s in args.shapes.split(",") if s]
    cases = [c for c in args.cases.split(",") if c]
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r} (expected some of {','.join(CASES)})")
    try:
        import onnx  # noqa: F401  (the export and quantize_dynamic need it)
        import onnxruntime
        import torch
    except ImportError as e:
        sys.exit(f"bench_precision.py runs the peers in the same run and needs them installed ({e}): "
                 "python3 -m pip install torch onnxruntime onnx")
    print(f"DNABERT-2-117M shape, random weights, {args.threads} threads, {args.rounds} rounds x best of {args.reps} (and of >= 1 s of forwards); "
          f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}", flush=True)
    tmp = tempfile.mkdtemp(prefix="bench_precision_")
    try:
        peaks = None if args.no_peak else cpu_peaks(tmp, args.threads)
        if peaks:
            for n, p in peaks.items():
                print(f"CPU peak, {n} thread(s): float32 FMA {p['fp32']:.0f} GFLOP/s, {INT8_PEAK_NAME} "
                      f"{p['int8']:.0f} GOP/s", flush=True)
        if any(c.startswith("ort") for c in cases):
            e = run_child(CHILD_EXPORT, [1, 64, args.threads, 1, tmp])
            print(f"ONNX export checked against PyTorch at 1x200: max |diff| {e['max_abs_diff']:.2e}", flush=True)
        best, gemm, kernel, times = {}, {}, {}, {}
        for rnd in range(args.rounds if cases and shapes else 0):   # (--cases "" or --shapes "": the QLoRA row only)
            order = cases[rnd % len(cases):] + cases[:rnd % len(cases)]
            for B, L in shapes:
                reps = args.reps if B * L <= 2048 else max(1, args.reps - 1)
                for c in order:
                    r = run_case(c, B, L, args.threads, reps, tmp)
                    k = (c, B, L)
                    best[k] = min(best.get(k, 1e9), r["seconds"])
                    times.setdefault(k, []).append(r["seconds"])
                    gemm[k] = max(gemm.get(k, 0.0), r["gemm"])
                    if "kernel" in r:
                        kernel[c] = r["kernel"]
                    print(f"  round {rnd + 1} {B}x{L} {c}: {r['seconds']:.3f} s, GEMM {r['gemm']:.0f} G/s, "
                          f"RSS {r['rss_mb']:.0f} MB", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if peaks:
        # Measured again at the end, best of both: on a shared machine a loop that lost its core reads low.
        tmp2 = tempfile.mkdtemp(prefix="bench_precision_")
        try:
            again = cpu_peaks(tmp2, args.threads)
        finally:
            shutil.rmtree(tmp2, ignore_errors=True)
        for n, p in again.items():
            peaks[n] = {k: max(peaks[n][k], p[k]) for k in p}
            print(f"CPU peak, {n} thread(s), best of start and end: float32 FMA {peaks[n]['fp32']:.0f} GFLOP/s, "
                  f"{INT8_PEAK_NAME} {peaks[n]['int8']:.0f} GOP/s")
    peak = peaks.get(args.threads) if peaks else None
    print(f"\nSeconds (best over rounds), model G(FL)OP/s and fraction of the CPU peak at {args.threads} threads, "
          f"each peer's own GEMM rate on [max(B*L,512),768]x[768,3072]:")
    print(f"{'B x L':>8s} | " + " | ".join(f"{c:>24s}" for c in cases))
    for B, L in shapes:
        f = flops(B, L)
        cells = []
        for c in cases:
            s = best.get((c, B, L))
            if s is None:
                cells.append(f"{'-':>24s}")
                continue
            rate = f / s / 1e9
            frac = ""
            if peak:
                frac = f"{100 * rate / peak['int8' if c.endswith('int8') else 'fp32']:3.0f}%"
            cells.append(f"{s:7.3f}s {rate:5.0f} {frac:>4s} g{gemm[(c, B, L)]:4.0f}")
        print(f"{B:>3d}x{L:<4d} | " + " | ".join(cells))

    def ratio(t, a, b, B, L):
        sa, sb = t.get((a, B, L)), t.get((b, B, L))
        return None if sa is None or sb is None else sb / sa

    def goal_ratios(t, B, L, goals):
        """The two goal ratios of issue 14 from the seconds `t` (best or median per case), goals noted or not."""
        parts = []
        peers = [t[(c, B, L)] for c in ("torch", "ort-fp32") if (c, B, L) in t]
        if ("dnabert-fp32", B, L) in t and peers:
            parts.append(f"dnabert fp32 / faster of torch, ORT fp32 = {min(peers) / t[('dnabert-fp32', B, L)]:.2f}x"
                         + (" (goal >= 1.0)" if goals else ""))
        r = ratio(t, "dnabert-int8", "ort-int8", B, L)
        if r is not None:
            parts.append(f"dnabert int8 / ORT int8 = {r:.2f}x"
                         + (" (goal >= 1.3)" if goals and (B, L) in ((8, 128), (1, 512)) else ""))
        return parts

    print("\nRatios (speed of the first over the second; goals from issue 14):")
    for B, L in shapes:
        parts = goal_ratios(best, B, L, goals=True)
        r = ratio(best, "dnabert-int8", "dnabert-fp32", B, L)
        if r is not None:
            parts.append(f"dnabert int8 / dnabert fp32 = {r:.2f}x" + (" (goal >= 2.5)" if (B, L) == (8, 128) else ""))
        r = ratio(best, "ort-int8", "ort-fp32", B, L)
        if r is not None:
            parts.append(f"ORT int8 / ORT fp32 = {r:.2f}x")
        print(f"{B:>3d}x{L:<4d}: " + "; ".join(parts))
    if args.rounds > 1:
        # The host's noise moves single rounds by more than the goals' margins: the same ratios from each case's
        # median round (each round being the best of --reps forwards in one process).
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\nThe same ratios from each case's median over the {args.rounds} rounds:")
        for B, L in shapes:
            parts = goal_ratios(med, B, L, goals=False)
            if parts:
                print(f"{B:>3d}x{L:<4d}: " + "; ".join(parts))
    for c, k in kernel.items():
        print(f"{c} kernel: {k}")
    if args.qlora_steps > 0:
        q = qlora_step(args.threads, args.qlora_steps)
        print(f"\nLoRA step (117M, 8x128, r 8, Wqkv + attention output; best / median of {args.qlora_steps}, alternating):"
              f" float32 base {q['fp32'][0]:.3f} / {q['fp32'][1]:.3f} s, int8 base (QLoRA) {q['int8'][0]:.3f} / "
              f"{q['int8'][1]:.3f} s: {q['fp32'][0] / q['int8'][0]:.2f}x / {q['fp32'][1] / q['int8'][1]:.2f}x "
              f"(goal >= 1.6x); int8 base with float32 input gradients (DNABERT_INT8_BACKWARD=fp32) "
              f"{q['int8-fp32-backward'][0]:.3f} / {q['int8-fp32-backward'][1]:.3f} s: "
              f"{q['fp32'][0] / q['int8-fp32-backward'][0]:.2f}x / {q['fp32'][1] / q['int8-fp32-backward'][1]:.2f}x")


if __name__ == "__main__":
    main()
