/* The float32 linear kernel (Sources/CFloatKernels) alone against OpenBLAS sgemm, one thread, on the 117M linears'
 * shapes; first checks it against a float64 reference on awkward shapes (row, channel and k tails, k blocks,
 * channel ranges that start inside a panel).
 *
 *   /opt/swift/usr/bin/clang -O2 -I Sources/CFloatKernels/include -I Sources/CInt8Kernels/include \
 *       bench/c/f32_gemm_bench.c Sources/CFloatKernels/f32_gemm.c Sources/CInt8Kernels/int8_kernels.c \
 *       -ldl -lm -lpthread -o /tmp/f32_gemm_bench
 *   env -u OPENBLAS_CORETYPE /tmp/f32_gemm_bench
 *
 * OpenBLAS gets the same product (cblas_sgemm, x·Wᵀ, row-major) and then the bias pass the library used to run;
 * the last two lines time flash attention's per-tile products (the kernel's alpha and its accumulating y += x·V). */
#include "f32_gemm.h"
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static unsigned long long state = 88172645463325252ULL;
static float uniform(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (float)((state >> 11) * (1.0 / 9007199254740992.0) * 2 - 1);
}
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);

static int check(size_t rows, size_t n, size_t k, size_t c0, size_t c1, int with_bias) {
    size_t ldx = k + 3, ldw = k + 5, ldy = n + 7;
    float *x = malloc(rows * ldx * 4), *w = malloc(n * ldw * 4), *b = malloc(n * 4), *y = malloc(rows * ldy * 4);
    for (size_t i = 0; i < rows * ldx; i++) x[i] = uniform();
    for (size_t i = 0; i < n * ldw; i++) w[i] = uniform();
    for (size_t i = 0; i < n; i++) b[i] = uniform();
    for (size_t i = 0; i < rows * ldy; i++) y[i] = 12345.f;
    if (dnabert_f32_gemm_nt(x, ldx, rows, k, w, ldw, c0, c1, with_bias ? b : NULL, 1.f, y, ldy) != 0) return 1;
    int bad = 0;
    for (size_t r = 0; r < rows && !bad; r++)
        for (size_t c = 0; c < n; c++) {
            float got = y[r * ldy + c];
            if (c < c0 || c >= c1) { if (got != 12345.f) { bad = 1; break; } continue; }
            double ref = with_bias ? b[c] : 0, mag = 0;
            for (size_t i = 0; i < k; i++) { ref += (double)x[r * ldx + i] * w[c * ldw + i]; mag += fabs((double)x[r * ldx + i] * w[c * ldw + i]); }
            if (fabs(got - ref) > 1e-6 * (mag + 1)) { bad = 1; break; }
        }
    if (bad) printf("MISMATCH rows %zu n %zu k %zu c %zu..%zu bias %d\n", rows, n, k, c0, c1, with_bias);
    free(x); free(w); free(b); free(y);
    return bad;
}

int main(void) {
    if (!dnabert_f32_cpu_has_avx512()) { printf("this CPU has no AVX-512: the kernel is not used here\n"); return 0; }
    int bad = 0, cases = 0;
    size_t rs[] = {1, 5, 6, 7, 13, 64}, ns[] = {1, 16, 17, 63, 64, 65, 130}, ks[] = {1, 15, 16, 17, 100, 1025, 2100};
    for (int a = 0; a < 6; a++) for (int c = 0; c < 7; c++) for (int d = 0; d < 7; d++) {
        size_t n = ns[c];
        bad += check(rs[a], n, ks[d], 0, n, (a + d) & 1); cases++;
        if (n > 20) { bad += check(rs[a], n, ks[d], 3, n - 2, 1); cases++; }
    }
    if (bad) { printf("%d of %d shapes wrong\n", bad, cases); return 1; }
    printf("float64 reference agrees on %d shapes\n", cases);

    void *h = dlopen("libopenblas.so.0", RTLD_NOW);
    if (!h) { printf("no OpenBLAS to compare with\n"); return 0; }
    sgemm_fn sg = (sgemm_fn)dlsym(h, "cblas_sgemm");
    void (*st)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    if (st) st(1);
    size_t shapes[][3] = {{128, 2304, 768}, {128, 768, 768}, {128, 6144, 768}, {128, 768, 3072},
                          {512, 2304, 768}, {512, 768, 3072}, {1024, 6144, 768}, {1024, 768, 3072}, {16, 2304, 768}};
    printf("1 thread, best of 5 (GFLOP/s):\n");
    for (int s = 0; s < 9; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *x = malloc(m * k * 4), *w = malloc(n * k * 4), *b = malloc(n * 4), *y = malloc(m * n * 4);
        for (size_t i = 0; i < m * k; i++) x[i] = uniform();
        for (size_t i = 0; i < n * k; i++) w[i] = uniform();
        for (size_t i = 0; i < n; i++) b[i] = uniform();
        int reps = (int)(1e9 / (2.0 * m * n * k)) + 1;
        double to = 1e9, tk = 1e9;
        for (int t = 0; t < 5; t++) {
            double t0 = now();
            for (int r = 0; r < reps; r++) {
                sg(101, 111, 112, (int)m, (int)n, (int)k, 1.f, x, (int)k, w, (int)k, 0.f, y, (int)n);
                for (size_t i = 0; i < m; i++) for (size_t c = 0; c < n; c++) y[i * n + c] += b[c];
            }
            double t1 = now();
            if ((t1 - t0) / reps < to) to = (t1 - t0) / reps;
            t0 = now();
            for (int r = 0; r < reps; r++) dnabert_f32_gemm_nt(x, k, m, k, w, k, 0, n, b, 1.f, y, n);
            t1 = now();
            if ((t1 - t0) / reps < tk) tk = (t1 - t0) / reps;
        }
        double f = 2.0 * m * n * k / 1e9;
        printf("  %5zu x %5zu x %5zu: kernel %6.1f   OpenBLAS + bias %6.1f   kernel / OpenBLAS %.2fx\n", m, n, k, f / tk, f / to, to / tk);
        free(x); free(w); free(b); free(y);
    }
    /* Flash attention's two products per tile (query tile 128, key tile 256, head 64, rows of a fused [T, 3·768]
     * QKV buffer): S = scale·Q·Kᵀ and O += P·V, OpenBLAS as the library called it before. */
    {
        size_t qn = 128, kn = 256, d = 64, stride = 2304;
        float *qkv = malloc(kn * stride * 4), *sb = malloc(qn * kn * 4), *ob = malloc(qn * d * 4);
        for (size_t i = 0; i < kn * stride; i++) qkv[i] = uniform();
        for (size_t i = 0; i < qn * kn; i++) sb[i] = (uniform() + 1) / 2;
        for (size_t i = 0; i < qn * d; i++) ob[i] = 0;
        double best[4] = {1e9, 1e9, 1e9, 1e9};
        for (int t = 0; t < 5; t++) {
            double t0 = now();
            for (int r = 0; r < 200; r++) sg(101, 111, 112, (int)qn, (int)kn, (int)d, 0.125f, qkv, (int)stride, qkv + 768, (int)stride, 0.f, sb, (int)kn);
            double t1 = now(); if ((t1 - t0) / 200 < best[0]) best[0] = (t1 - t0) / 200;
            t0 = now();
            for (int r = 0; r < 200; r++) dnabert_f32_gemm_nt(qkv, stride, qn, d, qkv + 768, stride, 0, kn, NULL, 0.125f, sb, kn);
            t1 = now(); if ((t1 - t0) / 200 < best[1]) best[1] = (t1 - t0) / 200;
            t0 = now();
            for (int r = 0; r < 200; r++) sg(101, 111, 111, (int)qn, (int)d, (int)kn, 1.f, sb, (int)kn, qkv + 1536, (int)stride, 1.f, ob, (int)d);
            t1 = now(); if ((t1 - t0) / 200 < best[2]) best[2] = (t1 - t0) / 200;
            t0 = now();
            for (int r = 0; r < 200; r++) dnabert_f32_gemm_nn_acc(sb, kn, qn, kn, qkv + 1536, stride, d, ob, d);
            t1 = now(); if ((t1 - t0) / 200 < best[3]) best[3] = (t1 - t0) / 200;
        }
        double f = 2.0 * qn * kn * d / 1e9;
        printf("  attention tile S = scale·Q·Kᵀ (128 x 256 x 64): kernel %6.1f   OpenBLAS %6.1f   %.2fx\n", f / best[1], f / best[0], best[0] / best[1]);
        printf("  attention tile O += P·V     (128 x 64 x 256): kernel %6.1f   OpenBLAS %6.1f   %.2fx\n", f / best[3], f / best[2], best[2] / best[3]);
        free(qkv); free(sb); free(ob);
    }
    return 0;
}
