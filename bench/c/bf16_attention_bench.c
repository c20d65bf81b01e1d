/* Attention's bfloat16 tile products (Sources/CFloatKernels/bf16_attention.c) against the float32 ones, one thread,
 * on the tiles flash attention runs (128 queries × 256 keys × head dim 64). First checks both bf16 products against
 * a float64 reference computed from the bf16-rounded inputs (rounded here, bit by bit, independently of the kernel)
 * on awkward shapes: odd key counts, odd and small head dims, row tails, strides.
 *
 *   /opt/swift/usr/bin/clang -O2 -I Sources/CFloatKernels/include -I Sources/CInt8Kernels/include \
 *       bench/c/bf16_attention_bench.c Sources/CFloatKernels/bf16_attention.c Sources/CFloatKernels/f32_gemm.c \
 *       Sources/CInt8Kernels/int8_kernels.c -lm -lpthread -o /tmp/bf16_attention_bench
 *   /tmp/bf16_attention_bench
 */
#include "bf16_attention.h"
#include "f32_gemm.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static unsigned long long state = 88172645463325252ULL;
static float uniform(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (float)((state >> 11) * (1.0 / 9007199254740992.0) * 2 - 1);
}
/* round to the nearest bfloat16, ties to even (finite inputs) */
static double bf16(float x) {
    uint32_t u; memcpy(&u, &x, 4);
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    float r; memcpy(&r, &u, 4);
    return r;
}

static int check(size_t rows, size_t kn, size_t d) {
    size_t ldq = d + 3, ldk = d + 5, lds = kn + 7, ldv = d + 2, ldo = d + 9, ldp = kn + 1;
    float *q = malloc(rows * ldq * 4), *k = malloc(kn * ldk * 4), *s = malloc(rows * lds * 4);
    float *p = malloc(rows * ldp * 4), *v = malloc(kn * ldv * 4), *o = malloc(rows * ldo * 4), *o0 = malloc(rows * ldo * 4);
    for (size_t i = 0; i < rows * ldq; i++) q[i] = uniform();
    for (size_t i = 0; i < kn * ldk; i++) k[i] = uniform();
    for (size_t i = 0; i < rows * ldp; i++) p[i] = fabsf(uniform());
    for (size_t i = 0; i < kn * ldv; i++) v[i] = uniform();
    for (size_t i = 0; i < rows * lds; i++) s[i] = 12345.f;
    for (size_t i = 0; i < rows * ldo; i++) o[i] = o0[i] = uniform();
    float alpha = 0.125f;
    if (dnabert_bf16_qk(q, ldq, rows, k, ldk, kn, d, alpha, s, lds) != 0) return 1;
    if (dnabert_bf16_pv_acc(p, ldp, rows, kn, v, ldv, d, o, ldo) != 0) return 1;
    int bad = 0;
    for (size_t r = 0; r < rows && !bad; r++) {
        for (size_t j = 0; j < lds; j++) {
            float got = s[r * lds + j];
            if (j >= kn) { if (got != 12345.f) { bad = 1; break; } continue; }
            double ref = 0, mag = 0;
            for (size_t c = 0; c < d; c++) {
                double t = bf16(q[r * ldq + c]) * bf16(k[j * ldk + c]);
                ref += t; mag += fabs(t);
            }
            ref *= alpha; mag *= alpha;
            if (fabs(got - ref) > 1e-6 * mag + 1e-30) { bad = 1; break; }
        }
        for (size_t c = 0; c < ldo && !bad; c++) {
            float got = o[r * ldo + c];
            if (c >= d) { if (got != o0[r * ldo + c]) bad = 1; continue; }
            double ref = o0[r * ldo + c], mag = fabs(ref);
            for (size_t j = 0; j < kn; j++) {
                double t = bf16(p[r * ldp + j]) * bf16(v[j * ldv + c]);
                ref += t; mag += fabs(t);
            }
            if (fabs(got - ref) > 1e-6 * mag + 1e-30) bad = 1;
        }
    }
    free(q); free(k); free(s); free(p); free(v); free(o); free(o0);
    if (bad) fprintf(stderr, "mismatch at rows %zu kn %zu d %zu\n", rows, kn, d);
    return bad;
}

int main(void) {
    if (!dnabert_bf16_cpu_has_avx512bf16()) { printf("this CPU has no AVX512_BF16: nothing to measure\n"); return 0; }
    size_t rs[] = {1, 5, 6, 7, 13, 128}, ks[] = {1, 2, 3, 17, 64, 65, 255, 256, 1024}, ds[] = {1, 2, 7, 31, 32, 33, 64, 65, 96, 256};
    int shapes = 0, bad = 0;
    for (size_t a = 0; a < sizeof rs / sizeof *rs; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
            for (size_t c = 0; c < sizeof ds / sizeof *ds; c++) { bad += check(rs[a], ks[b], ds[c]); shapes++; }
    printf("bf16 tile products vs float64 on bf16-rounded inputs: %d shapes, %d bad\n", shapes, bad);
    if (bad) return 1;

    size_t qn = 128, kn = 256, d = 64, ld = 3 * 768;
    float *q = malloc(qn * ld * 4), *k = malloc(kn * ld * 4), *v = malloc(kn * ld * 4), *s = malloc(qn * kn * 4), *o = calloc(qn * d, 4);
    for (size_t i = 0; i < qn * ld; i++) q[i] = uniform();
    for (size_t i = 0; i < kn * ld; i++) { k[i] = uniform(); v[i] = uniform(); }
    for (size_t i = 0; i < qn * kn; i++) s[i] = fabsf(uniform());
    double flop = 2.0 * qn * kn * d;
    const char *names[4] = {"S = Q·Kᵀ  float32", "S = Q·Kᵀ  bf16   ", "O += P·V  float32", "O += P·V  bf16   "};
    for (int c = 0; c < 4; c++) {
        double best = 1e9;
        for (int rep = 0; rep < 7; rep++) {
            double t0 = now();
            for (int it = 0; it < 200; it++) {
                if (c == 0) dnabert_f32_gemm_nt(q, ld, qn, d, k, ld, 0, kn, NULL, 0.125f, s, kn);
                if (c == 1) dnabert_bf16_qk(q, ld, qn, k, ld, kn, d, 0.125f, s, kn);
                if (c == 2) dnabert_f32_gemm_nn_acc(s, kn, qn, kn, v, ld, d, o, d);
                if (c == 3) dnabert_bf16_pv_acc(s, kn, qn, kn, v, ld, d, o, d);
            }
            double t = (now() - t0) / 200;
            if (t < best) best = t;
        }
        printf("%s  128×256×64 tile: %7.2f µs  %6.1f GFLOP/s\n", names[c], best * 1e6, flop / best * 1e-9);
    }
    return 0;
}
