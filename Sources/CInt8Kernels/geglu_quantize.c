/* Int8 inference's GEGLU, written straight into the u8 rows of the MLP output projection (see int8_kernels.h,
 * dnabert_i8_geglu_rows and dnabert_i8_geglu_quantize_rows).
 *
 * GELU(x) = x·Φ(x) = ½·x·(1 + erf(x/√2)) with erf(z) = z·P(z²)/Q(z²), P and Q of degree 5 (Q(0) = 1), z clamped
 * to ±3.9 (where erf is 1 to float precision). The coefficients are a reweighted least-squares fit in Float64
 * (tools/reference/fit_erf_rational.py); evaluated in float32 as below, |erf error| ≤ 3.5e-7. No exp and one
 * division: about a third less time per element than the exp-based form of the float32 path (Abramowitz &
 * Stegun 7.1.26, |error| ≤ 1.5e-7), for an input that is quantized to 8 bits right after.
 *
 * Every path (AVX-512, AVX2 + FMA, portable C) performs the same float32 operations in the same order — products,
 * sums, fused multiply-adds and one division, each rounded once — so they give the same bits, as the int8 GEMM
 * paths do. */
#include "int8_kernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DNABERT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#pragma STDC FP_CONTRACT OFF

/* erf(z) ≈ z·P(u)/Q(u), u = z², coefficients of u⁰ … u⁵. */
#define P0 1.128378987312317f
#define P1 0.19193187355995178f
#define P2 0.052965350449085236f
#define P3 0.0038363798521459103f
#define P4 0.0002874281199183315f
#define P5 2.0502272946032463e-06f
#define Q1 0.5034269690513611f
#define Q2 0.1147540956735611f
#define Q3 0.015108234249055386f
#define Q4 0.0011815800098702312f
#define Q5 3.822754661086947e-05f
#define ZMAX 3.9f
#define RSQRT2 0.70710678118654752f

/* One element, the reference order of operations. A NaN stays NaN (the final product has x in it). */
static inline float gelu1(float x) {
    float z = x * RSQRT2;
    z = z > ZMAX ? ZMAX : z;
    z = z < -ZMAX ? -ZMAX : z;
    float u = z * z;
    float p = fmaf(fmaf(fmaf(fmaf(fmaf(P5, u, P4), u, P3), u, P2), u, P1), u, P0);
    float q = fmaf(fmaf(fmaf(fmaf(fmaf(Q5, u, Q4), u, Q3), u, Q2), u, Q1), u, 1.f);
    float e = (z * p) / q;
    float h = 0.5f * x;
    return h * (1.f + e);
}

static void geglu_row_generic(const float *a, const float *b, size_t n, const float *inv_s, float *out) {
    for (size_t j = 0; j < n; j++) {
        float g = gelu1(a[j]) * b[j];
        out[j] = inv_s ? g * inv_s[j] : g;
    }
}

#ifdef DNABERT_X86
/* Lines of a and b this far ahead (floats) are prefetched: the rows come from memory, written there by the gated
 * product's streaming stores (512 floats ahead: 0.49–0.66 ns per element against 0.56–0.70 with the hardware
 * prefetcher alone, one thread, 1,024 rows × 3,072, three alternating runs). */
enum { AHEAD = 512 };

/* GELU of W-bit vectors (W = 512 or 256), one body for both families so that they do the same operations in the
 * same order (the portable path's, see gelu1): the same bits. */
#define DEF_GELU(NAME, W, TARGET)                                                                            \
__attribute__((target(TARGET)))                                                                              \
static inline __m##W NAME(__m##W x) {                                                                        \
    const __m##W c = _mm##W##_set1_ps(ZMAX);                                                                 \
    __m##W z = _mm##W##_mul_ps(x, _mm##W##_set1_ps(RSQRT2));                                                 \
    z = _mm##W##_min_ps(z, c);                        /* a NaN z becomes ±3.9 here; x keeps the result NaN */ \
    z = _mm##W##_max_ps(z, _mm##W##_sub_ps(_mm##W##_setzero_ps(), c));                                      \
    __m##W u = _mm##W##_mul_ps(z, z);                                                                        \
    __m##W p = _mm##W##_fmadd_ps(_mm##W##_set1_ps(P5), u, _mm##W##_set1_ps(P4));                             \
    p = _mm##W##_fmadd_ps(p, u, _mm##W##_set1_ps(P3));                                                       \
    p = _mm##W##_fmadd_ps(p, u, _mm##W##_set1_ps(P2));                                                       \
    p = _mm##W##_fmadd_ps(p, u, _mm##W##_set1_ps(P1));                                                       \
    p = _mm##W##_fmadd_ps(p, u, _mm##W##_set1_ps(P0));                                                       \
    __m##W q = _mm##W##_fmadd_ps(_mm##W##_set1_ps(Q5), u, _mm##W##_set1_ps(Q4));                             \
    q = _mm##W##_fmadd_ps(q, u, _mm##W##_set1_ps(Q3));                                                       \
    q = _mm##W##_fmadd_ps(q, u, _mm##W##_set1_ps(Q2));                                                       \
    q = _mm##W##_fmadd_ps(q, u, _mm##W##_set1_ps(Q1));                                                       \
    q = _mm##W##_fmadd_ps(q, u, _mm##W##_set1_ps(1.f));                                                      \
    __m##W e = _mm##W##_div_ps(_mm##W##_mul_ps(z, p), q);                                                    \
    return _mm##W##_mul_ps(_mm##W##_mul_ps(_mm##W##_set1_ps(0.5f), x), _mm##W##_add_ps(_mm##W##_set1_ps(1.f), e)); \
}
DEF_GELU(gelu16, 512, "avx512f")
DEF_GELU(gelu8, 256, "avx2,fma")

__attribute__((target("avx512f")))
static void geglu_row_avx512(const float *a, const float *b, size_t n, const float *inv_s, float *out) {
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        _mm_prefetch((const char *)(a + j + AHEAD), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + j + AHEAD), _MM_HINT_T0);
        __m512 g = _mm512_mul_ps(gelu16(_mm512_loadu_ps(a + j)), _mm512_loadu_ps(b + j));
        if (inv_s) g = _mm512_mul_ps(g, _mm512_loadu_ps(inv_s + j));
        _mm512_storeu_ps(out + j, g);
    }
    if (j < n) geglu_row_generic(a + j, b + j, n - j, inv_s ? inv_s + j : 0, out + j);
}

__attribute__((target("avx2,fma")))
static void geglu_row_avx2(const float *a, const float *b, size_t n, const float *inv_s, float *out) {
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 g = _mm256_mul_ps(gelu8(_mm256_loadu_ps(a + j)), _mm256_loadu_ps(b + j));
        if (inv_s) g = _mm256_mul_ps(g, _mm256_loadu_ps(inv_s + j));
        _mm256_storeu_ps(out + j, g);
    }
    if (j < n) geglu_row_generic(a + j, b + j, n - j, inv_s ? inv_s + j : 0, out + j);
}

/* FMA3 (CPUID.1:ECX bit 12): the AVX2 kernel family is chosen on AVX2 alone, and a few CPUs have one without the
 * other. */
static int have_fma(void) {
    static int have = -1;   /* CPUID once; a race only repeats the same answer */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        unsigned a, b, c, d;
        h = __get_cpuid(1, &a, &b, &c, &d) ? (int)((c >> 12) & 1) : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h;
}
#endif

static void geglu_row(const float *a, const float *b, size_t n, const float *inv_s, float *out, int kernel) {
#ifdef DNABERT_X86
    if (kernel == DNABERT_I8_AVX512VNNI) { geglu_row_avx512(a, b, n, inv_s, out); return; }
    if (kernel == DNABERT_I8_AVX2 && have_fma()) { geglu_row_avx2(a, b, n, inv_s, out); return; }
#endif
    (void)kernel;
    geglu_row_generic(a, b, n, inv_s, out);
}

void dnabert_i8_geglu_rows(const float *h, size_t ldh, size_t rows, size_t inner, const float *inv_s, float *out,
                           size_t ldo, int kernel) {
    for (size_t r = 0; r < rows; r++) geglu_row(h + r * ldh, h + r * ldh + inner, inner, inv_s, out + r * ldo, kernel);
}

void dnabert_i8_geglu_quantize_rows(const float *h, size_t ldh, size_t rows, size_t inner, const float *inv_s,
                                    float *tmp, uint8_t *q, size_t ldq, float *scales, int32_t *zps, int kernel) {
    for (size_t r = 0; r < rows; r++) {
        geglu_row(h + r * ldh, h + r * ldh + inner, inner, inv_s, tmp, kernel);
        dnabert_i8_quantize_rows_u8(tmp, inner, 1, inner, q + r * ldq, ldq, scales + r, zps + r, kernel);
    }
}
