/* Int8 GEMM kernels: a portable C path and an AVX-512 VNNI path chosen at run time (see int8_kernels.h).
 * The library is built for the baseline x86-64 CPU; the VNNI functions carry their own target attribute
 * and are only called after dnabert_i8_cpu_has_avx512vnni() said yes. Both paths compute the same int32
 * sums, so their outputs are bitwise equal (the float epilogue is the same expression). */
#include "int8_kernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DNABERT_X86 1
#include <immintrin.h>
#include <cpuid.h>
#endif

int dnabert_i8_cpu_has_avx512vnni(void) {
#ifdef DNABERT_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0;                       /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6) != 0xe6) return 0;                      /* XMM, YMM, opmask, ZMM state enabled */
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int f = (b >> 16) & 1, bw = (b >> 30) & 1, vnni = (c >> 11) & 1;
    return f && bw && vnni;
#else
    return 0;
#endif
}

static inline float row_absmax(const float *x, size_t k) {
    float m = 0;
    for (size_t i = 0; i < k; i++) { float a = fabsf(x[i]); if (a > m) m = a; }
    return m;
}

static inline int quant1(float v, float inv) {
    float r = rintf(v * inv);
    if (r > 127.f) r = 127.f;
    if (r < -127.f) r = -127.f;
    return (int)r;
}

#ifdef DNABERT_X86
__attribute__((target("avx512f,avx512bw")))
static void quantize_row_u8_avx512(const float *x, size_t k, uint8_t *q, float inv) {
    size_t i = 0;
    __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.f), hi = _mm512_set1_ps(127.f);
    __m512i z = _mm512_set1_epi32(128);
    for (; i + 16 <= k; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv);
        v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        __m512i iv = _mm512_add_epi32(_mm512_cvtps_epi32(v), z);
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtepi32_epi8(iv));
    }
    for (; i < k; i++) q[i] = (uint8_t)(quant1(x[i], inv) + 128);
}

__attribute__((target("avx512f")))
static float row_absmax_avx512(const float *x, size_t k) {
    size_t i = 0;
    __m512 m = _mm512_setzero_ps();
    for (; i + 16 <= k; i += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    float r = _mm512_reduce_max_ps(m);
    for (; i < k; i++) { float a = fabsf(x[i]); if (a > r) r = a; }
    return r;
}
#endif

void dnabert_i8_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t k, uint8_t *q, size_t ldq,
                                 float *scales, int kernel) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        uint8_t *qr = q + r * ldq;
        float m;
#ifdef DNABERT_X86
        if (kernel == DNABERT_I8_AVX512VNNI) m = row_absmax_avx512(xr, k); else
#endif
        m = row_absmax(xr, k);
        /* m > 0 and finite: otherwise the row quantizes to 0 (an Inf/NaN row has no meaningful int8 form). */
        int ok = m > 0 && isfinite(m);
        float inv = ok ? 127.f / m : 0.f;
        scales[r] = ok ? m / 127.f : 0.f;
#ifdef DNABERT_X86
        if (kernel == DNABERT_I8_AVX512VNNI && ok) quantize_row_u8_avx512(xr, k, qr, inv); else
#endif
        for (size_t i = 0; i < k; i++) qr[i] = ok ? (uint8_t)(quant1(xr[i], inv) + 128) : 128;
        memset(qr + k, 128, ldq - k);
    }
}

void dnabert_i8_quantize_rows_u8_smoothed(const float *x, size_t ldx, size_t rows, size_t k, const float *inv_s,
                                          float *tmp, uint8_t *q, size_t ldq, float *scales, int kernel) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        for (size_t i = 0; i < k; i++) tmp[i] = xr[i] * inv_s[i];
        dnabert_i8_quantize_rows_u8(tmp, k, 1, k, q + r * ldq, ldq, scales + r, kernel);
    }
}

void dnabert_i8_quantize_rows_s8(const float *x, size_t ldx, size_t rows, size_t k, int8_t *q, size_t ldq,
                                 float *scales) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        int8_t *qr = q + r * ldq;
        float m = row_absmax(xr, k);
        int ok = m > 0 && isfinite(m);
        float inv = ok ? 127.f / m : 0.f;
        scales[r] = ok ? m / 127.f : 0.f;
        for (size_t i = 0; i < k; i++) qr[i] = ok ? (int8_t)quant1(xr[i], inv) : 0;
        memset(qr + k, 0, ldq - k);
    }
}

void dnabert_i8_pack_weights(const int8_t *wq, size_t ldq, size_t n, size_t k, int8_t *packed, int32_t *colsum) {
    size_t npad = (n + 15) / 16 * 16, kpad = (k + 3) / 4 * 4, kg = kpad / 4;
    memset(packed, 0, npad * kpad);
    for (size_t c = 0; c < npad; c++) {
        int32_t s = 0;
        if (c < n) {
            for (size_t i = 0; i < k; i++) {
                int8_t v = wq[c * ldq + i];
                s += v;
                packed[((c / 16) * kg + i / 4) * 64 + (c % 16) * 4 + i % 4] = v;
            }
        }
        colsum[c] = s;
    }
}

/* Portable path: the same int32 sums in plain C. */
static void gemm_generic(const uint8_t *xq, const float *sx, size_t rows, size_t kpad, const int8_t *packed,
                         const int32_t *colsum, const float *sw, const float *bias, size_t c0, size_t c1,
                         float *y, size_t ldy) {
    size_t kg = kpad / 4;
    for (size_t cb = c0; cb < c1; cb += 16) {
        const int8_t *wb = packed + (cb / 16) * kg * 64;
        size_t nc = c1 - cb < 16 ? c1 - cb : 16;
        for (size_t r = 0; r < rows; r++) {
            const uint8_t *xr = xq + r * kpad;
            int32_t acc[16] = {0};
            for (size_t g = 0; g < kg; g++) {
                const int8_t *w = wb + g * 64;
                const uint8_t *xv = xr + g * 4;
                for (int j = 0; j < 16; j++)
                    acc[j] += xv[0] * w[j * 4] + xv[1] * w[j * 4 + 1] + xv[2] * w[j * 4 + 2] + xv[3] * w[j * 4 + 3];
            }
            float *yr = y + r * ldy;
            for (size_t j = 0; j < nc; j++) {
                size_t c = cb + j;
                float v = (float)(acc[j] - 128 * colsum[c]) * (sx[r] * sw[c]);
                yr[c] = bias ? v + bias[c] : v;
            }
        }
    }
}

#ifdef DNABERT_X86
/* Epilogue of one 16-channel vector: (acc − 128·colsum) · sx · sw (+ bias), masked to the valid columns. */
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static inline void store16(__m512i acc, const int32_t *colsum, const float *sw, const float *bias, float sxr,
                           float *y, __mmask16 m) {
    __m512i cs = _mm512_maskz_loadu_epi32(m, colsum);
    __m512i v = _mm512_sub_epi32(acc, _mm512_slli_epi32(cs, 7));
    __m512 s = _mm512_mul_ps(_mm512_set1_ps(sxr), _mm512_maskz_loadu_ps(m, sw));
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), s);
    if (bias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(m, bias));
    _mm512_mask_storeu_ps(y, m, f);
}

/* Micro-kernel: MR rows × NB blocks of 16 channels, all k. */
#define DEF_MICRO(MR, NB)                                                                                    \
__attribute__((target("avx512f,avx512bw,avx512vnni")))                                                   \
static void micro_##MR##_##NB(const uint8_t *xq, size_t kpad, const int8_t *wb, size_t bstride,           \
                              const int32_t *colsum, const float *sw, const float *bias, const float *sx,   \
                              size_t cb, size_t c1, float *y, size_t ldy) {                                 \
    __m512i acc[MR][NB];                                                                                     \
    for (int i = 0; i < MR; i++) for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_si512();          \
    size_t kg = kpad / 4;                                                                                    \
    for (size_t g = 0; g < kg; g++) {                                                                        \
        __m512i w[NB];                                                                                       \
        for (int j = 0; j < NB; j++) w[j] = _mm512_loadu_si512((const void *)(wb + j * bstride + g * 64));  \
        for (int i = 0; i < MR; i++) {                                                                       \
            int32_t xv; memcpy(&xv, xq + i * kpad + g * 4, 4);                                               \
            __m512i xb = _mm512_set1_epi32(xv);                                                              \
            for (int j = 0; j < NB; j++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], xb, w[j]);              \
        }                                                                                                    \
    }                                                                                                        \
    for (int j = 0; j < NB; j++) {                                                                           \
        size_t c = cb + 16 * j;                                                                              \
        size_t nc = c1 - c < 16 ? c1 - c : 16;                                                               \
        __mmask16 m = (__mmask16)((1u << nc) - 1);                                                           \
        for (int i = 0; i < MR; i++)                                                                         \
            store16(acc[i][j], colsum + c, sw + c, bias ? bias + c : 0, sx[i], y + i * ldy + c, m);           \
    }                                                                                                        \
}
DEF_MICRO(4, 4)
DEF_MICRO(1, 4)
DEF_MICRO(4, 1)
DEF_MICRO(1, 1)

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void gemm_vnni(const uint8_t *xq, const float *sx, size_t rows, size_t kpad, const int8_t *packed,
                      const int32_t *colsum, const float *sw, const float *bias, size_t c0, size_t c1,
                      float *y, size_t ldy) {
    size_t bstride = kpad / 4 * 64;           /* bytes between consecutive 16-channel blocks */
    /* Rows in chunks that keep the chunk's activations in L2 while a 64-channel weight panel streams. */
    size_t mc = kpad >= 2048 ? 32 : 96;
    for (size_t r0 = 0; r0 < rows; r0 += mc) {
        size_t r1 = r0 + mc < rows ? r0 + mc : rows;
        size_t cb = c0;
        for (; cb + 64 <= c1; cb += 64) {
            const int8_t *wb = packed + (cb / 16) * bstride;
            size_t r = r0;
            for (; r + 4 <= r1; r += 4)
                micro_4_4(xq + r * kpad, kpad, wb, bstride, colsum, sw, bias, sx + r, cb, c1, y + r * ldy, ldy);
            for (; r < r1; r++)
                micro_1_4(xq + r * kpad, kpad, wb, bstride, colsum, sw, bias, sx + r, cb, c1, y + r * ldy, ldy);
        }
        for (; cb < c1; cb += 16) {
            const int8_t *wb = packed + (cb / 16) * bstride;
            size_t r = r0;
            for (; r + 4 <= r1; r += 4)
                micro_4_1(xq + r * kpad, kpad, wb, bstride, colsum, sw, bias, sx + r, cb, c1, y + r * ldy, ldy);
            for (; r < r1; r++)
                micro_1_1(xq + r * kpad, kpad, wb, bstride, colsum, sw, bias, sx + r, cb, c1, y + r * ldy, ldy);
        }
    }
}
#endif

void dnabert_i8_gemm(const uint8_t *xq, const float *sx, size_t rows, size_t kpad,
                     const int8_t *packed, const int32_t *colsum, const float *sw, const float *bias,
                     size_t c0, size_t c1, float *y, size_t ldy, int kernel) {
    if (rows == 0 || c1 <= c0) return;
#ifdef DNABERT_X86
    if (kernel == DNABERT_I8_AVX512VNNI) { gemm_vnni(xq, sx, rows, kpad, packed, colsum, sw, bias, c0, c1, y, ldy); return; }
#endif
    (void)kernel;
    gemm_generic(xq, sx, rows, kpad, packed, colsum, sw, bias, c0, c1, y, ldy);
}
