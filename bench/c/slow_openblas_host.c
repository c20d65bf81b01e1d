/* Build and run (after `swift build -c release`):
 *   gcc -O2 -o /tmp/slow_host bench/c/slow_openblas_host.c -lopenblas -ldl
 *   OPENBLAS_CORETYPE=Prescott /tmp/slow_host .build/release/libdnabert.so
 * Measured 2026-11-25: host Prescott sgemm 44.6 GFLOP/s; through libdnabert (private dlmopen copy, SkylakeX) 227. */
/* A host program linked against OpenBLAS (like R), whose OpenBLAS initialised with the slow Prescott core,
 * then dlopen()s libdnabert.so and runs a 512x768x768 product through DNABert's Linear.forward (called by its
 * Swift symbol: pointer/integer arguments use the C registers). Times it and asks both copies for their core. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
char *openblas_get_corename(void);
void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
void openblas_set_num_threads(int);
typedef void (*linear_fn)(const float *, long, long, long, const float *, long, const float *, float *, long, long);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    printf("host's OpenBLAS core: %s\n", openblas_get_corename());
    unsetenv("OPENBLAS_CORETYPE");   /* the user did not ask for a core type; the host just got a slow one */
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
    linear_fn lin = (linear_fn)dlsym(h, "$s7DNABert6LinearO7forward1x3ldx4rows10inFeatures6weight03outG04bias1y3ldy7threadsySPySfG_S3iAOSiAOSgSpySfGS2itFZ");
    if (!lin) { printf("dlsym failed\n"); return 1; }
    long m = 512, n = 768, k = 768;
    float *x = malloc(m * k * 4), *w = malloc(n * k * 4), *y = malloc(m * n * 4);
    for (long i = 0; i < m * k; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (long i = 0; i < n * k; i++) w[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        for (int i = 0; i < 10; i++) lin(x, k, m, k, w, n, NULL, y, n, 1);
        double t = (now() - t0) / 10; if (t < best) best = t;
    }
    openblas_set_num_threads(1);
    double hb = 1e9;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        for (int i = 0; i < 10; i++) cblas_sgemm(101, 111, 112, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
        double t = (now() - t0) / 10; if (t < hb) hb = t;
    }
    printf("host's own cblas_sgemm (1 thread): %.1f GFLOP/s\n", 2.0 * m * n * k / hb / 1e9);
    for (int i = 0; i < 1; i++) lin(x, k, m, k, w, n, NULL, y, n, 1);
    /* check one entry against a direct dot product */
    double ref = 0; for (long p = 0; p < k; p++) ref += (double)x[3 * k + p] * w[5 * k + p];
    printf("through libdnabert: %.1f GFLOP/s, y[3,5] = %.5f (reference %.5f)\n", 2.0 * m * n * k / best / 1e9, y[3 * n + 5], ref);
    printf("host's OpenBLAS core afterwards: %s\n", openblas_get_corename());
    return 0;
}
