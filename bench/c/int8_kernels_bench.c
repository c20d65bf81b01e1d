/* The int8 GEMM kernels alone against OpenBLAS sgemm, one thread, on the 117M linears' shapes; first checks that
 * every SIMD kernel the CPU runs gives the portable path's outputs bit for bit on awkward shapes.
 *
 *   /opt/swift/usr/bin/clang -O2 -I Sources/CInt8Kernels/include bench/c/int8_kernels_bench.c \
 *       Sources/CInt8Kernels/int8_kernels.c -ldl -lm -o /tmp/int8_kernels_bench
 *   env -u OPENBLAS_CORETYPE /tmp/int8_kernels_bench
 *
 * Build it with clang, as SwiftPM builds the library: gcc 12 spills the AVX2 micro-kernel's accumulators (about
 * 60 % of the speed). "GOP/s" counts 2 operations per multiply-add, like sgemm's GFLOP/s; "+quant" includes the
 * row quantization of the activations, which the library does before each product. */
#include "int8_kernels.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static unsigned long long state = 88172645463325252ULL;
static float uniform(void) {   /* xorshift64, in [-1, 1) */
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (float)((state >> 11) * (1.0 / 9007199254740992.0) * 2 - 1);
}
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);

typedef struct { size_t rows, n, k, kpad, npad; float *x, *w, *b, *sw, *sx; int8_t *packed; int32_t *colsum, *zp; uint8_t *xq; } Case;

static Case make_case(size_t rows, size_t n, size_t k) {
    Case c = {rows, n, k, (k + 3) / 4 * 4, (n + 15) / 16 * 16, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    c.x = malloc(rows * k * 4); c.w = malloc(n * k * 4); c.b = malloc(n * 4);
    c.sw = calloc(c.npad, 4); c.sx = malloc(rows * 4); c.zp = malloc(rows * 4); c.colsum = malloc(c.npad * 4);
    c.packed = aligned_alloc(64, (c.npad * c.kpad + 63) / 64 * 64); c.xq = malloc(rows * c.kpad);
    for (size_t i = 0; i < rows * k; i++) c.x[i] = uniform() * (i % 97 == 0 ? 20 : 1);   /* a few outliers */
    for (size_t i = 0; i < n * k; i++) c.w[i] = uniform();
    for (size_t i = 0; i < n; i++) c.b[i] = uniform();
    int8_t *wq = malloc(n * c.kpad);
    dnabert_i8_quantize_rows_s8(c.w, k, n, k, wq, c.kpad, c.sw);
    dnabert_i8_pack_weights(wq, c.kpad, n, k, c.packed, c.colsum);
    free(wq);
    return c;
}
static void free_case(Case *c) { free(c->x); free(c->w); free(c->b); free(c->sw); free(c->sx); free(c->zp); free(c->colsum); free(c->packed); free(c->xq); }

/* y over columns [c0, n) with `kernel`, after quantizing the activations with it. */
static void run(Case *c, int kernel, size_t c0, const float *bias, float *y) {
    dnabert_i8_quantize_rows_u8(c->x, c->k, c->rows, c->k, c->xq, c->kpad, c->sx, c->zp, kernel);
    dnabert_i8_gemm(c->xq, c->sx, c->zp, c->rows, c->kpad, c->packed, c->colsum, c->sw, bias, c0, c->n, y, c->n, kernel);
}

static int check(size_t rows, size_t n, size_t k, int kernel) {
    Case c = make_case(rows, n, k);
    float *y0 = malloc(rows * n * 4), *y1 = malloc(rows * n * 4);
    int bad = 0;
    for (int pass = 0; pass < 2 && !bad; pass++) {
        size_t c0 = pass ? (n / 32) * 16 : 0;              /* a column range starting at a 16-channel block */
        const float *bias = pass ? NULL : c.b;
        memset(y0, 0, rows * n * 4); memset(y1, 0, rows * n * 4);
        run(&c, DNABERT_I8_GENERIC, c0, bias, y0);
        run(&c, kernel, c0, bias, y1);
        bad = memcmp(y0, y1, rows * n * 4) != 0;
    }
    if (bad) printf("MISMATCH: kernel %d, rows %zu n %zu k %zu\n", kernel, rows, n, k);
    free(y0); free(y1); free_case(&c);
    return bad;
}

int main(void) {
    int kernels[2], nk = 0;
    if (dnabert_i8_cpu_has_avx2()) kernels[nk++] = DNABERT_I8_AVX2;
    if (dnabert_i8_cpu_has_avx512vnni()) kernels[nk++] = DNABERT_I8_AVX512VNNI;
    if (nk == 0) { puts("this CPU has neither AVX2 nor AVX-512 VNNI: only the portable path runs here"); return 0; }
    int bad = 0;
    size_t rs[] = {1, 2, 5, 6, 7, 13, 64, 100}, ns[] = {1, 7, 8, 9, 16, 17, 40, 100}, ks[] = {1, 3, 4, 5, 8, 33, 100, 768};
    for (int q = 0; q < nk; q++)
        for (int a = 0; a < 8; a++) for (int b = 0; b < 8; b++) for (int d = 0; d < 8; d++) bad |= check(rs[a], ns[b], ks[d], kernels[q]);
    printf("%s\n", bad ? "FAIL: a SIMD kernel differs from the portable path" : "every SIMD kernel equals the portable path bit for bit (512 shapes each)");

    void *h = dlopen("libopenblas.so.0", RTLD_NOW);
    sgemm_fn sgemm = h ? (sgemm_fn)dlsym(h, "cblas_sgemm") : NULL;
    void (*set_threads)(int) = h ? (void (*)(int))dlsym(h, "openblas_set_num_threads") : NULL;
    if (set_threads) set_threads(1);
    size_t shapes[][3] = {{1024, 2304, 768}, {1024, 768, 768}, {1024, 6144, 768}, {1024, 768, 3072},
                          {128, 2304, 768}, {8, 768, 3072}};
    for (int q = 0; q < nk; q++) {
        printf("kernel %s, 1 thread, best of 5:\n", kernels[q] == DNABERT_I8_AVX2 ? "avx2" : "avx512vnni");
        for (int s = 0; s < 6; s++) {
            Case c = make_case(shapes[s][0], shapes[s][1], shapes[s][2]);
            float *y = malloc(c.rows * c.n * 4);
            double tg = 1e9, tq = 1e9, ts = 1e9;
            for (int rep = 0; rep < 5; rep++) {
                double t = now();
                dnabert_i8_quantize_rows_u8(c.x, c.k, c.rows, c.k, c.xq, c.kpad, c.sx, c.zp, kernels[q]);
                t = now() - t; if (t < tq) tq = t;
                t = now();
                dnabert_i8_gemm(c.xq, c.sx, c.zp, c.rows, c.kpad, c.packed, c.colsum, c.sw, c.b, 0, c.n, y, c.n, kernels[q]);
                t = now() - t; if (t < tg) tg = t;
                if (sgemm) {   /* row-major y = x · wᵀ */
                    t = now();
                    sgemm(101, 111, 112, (int)c.rows, (int)c.n, (int)c.k, 1.f, c.x, (int)c.k, c.w, (int)c.k, 0.f, y, (int)c.n);
                    t = now() - t; if (t < ts) ts = t;
                }
            }
            double ops = 2.0 * c.rows * c.n * c.k;
            printf("  %5zu x %5zu x %5zu: int8 %6.1f GOP/s (+quant %6.1f)", c.rows, c.n, c.k, ops / tg / 1e9, ops / (tg + tq) / 1e9);
            if (sgemm) printf("   OpenBLAS sgemm %6.1f GFLOP/s   int8+quant / sgemm %.2fx", ops / ts / 1e9, ts / (tg + tq));
            printf("\n");
            free(y); free_case(&c);
        }
    }
    return bad;
}
