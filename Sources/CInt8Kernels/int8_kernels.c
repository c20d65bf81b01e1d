/* Int8 GEMM kernels: a portable C path and an AVX-512 VNNI path chosen at run time (see int8_kernels.h).
 * The library is built for the baseline x86-64 CPU; the VNNI functions carry their own target attribute
 * and are only called after dnabert_i8_cpu_has_avx512vnni() said yes. Both paths compute the same int32
 * sums, so their outputs are bitwise equal (the float epilogue is the same expression). */
#include "int8_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DNABERT_X86 1
#include <immintrin.h>
#include <cpuid.h>
#endif

int dnabert_cpu_leaf7_if_os_saves(unsigned xcr0_mask, unsigned *b7, unsigned *c7) {
#ifdef DNABERT_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0;                       /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & xcr0_mask) != xcr0_mask) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    *b7 = b; *c7 = c;
    return 1;
#else
    (void)xcr0_mask; (void)b7; (void)c7;
    return 0;
#endif
}

int dnabert_i8_cpu_has_avx512vnni(void) {
#ifdef DNABERT_X86
    unsigned b, c;
    if (!dnabert_cpu_leaf7_if_os_saves(0xe6, &b, &c)) return 0;        /* XMM, YMM, opmask, ZMM state */
    return ((b >> 16) & 1) && ((b >> 30) & 1) && ((c >> 11) & 1);   /* AVX512F, AVX512BW, AVX512_VNNI */
#else
    return 0;
#endif
}

int dnabert_i8_cpu_has_avx2(void) {
#ifdef DNABERT_X86
    unsigned b, c;
    if (!dnabert_cpu_leaf7_if_os_saves(0x6, &b, &c)) return 0;         /* XMM and YMM state */
    return (b >> 5) & 1;                                    /* AVX2 */
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

/* A row's asymmetric u8 parameters from its extremes lo ≤ 0 ≤ hi (see int8_kernels.h); 0 when the row has no
 * usable range (all zeros, or Inf/NaN), which then quantizes to zeros with scale 0. */
static inline int row_params(float lo, float hi, float *inv, float *scale, int32_t *zp) {
    float range = hi - lo;
    if (!(range > 0) || !isfinite(range)) { *inv = 0; *scale = 0; *zp = 0; return 0; }
    *inv = 255.f / range;
    *scale = range / 255.f;
    float z = rintf(-lo * *inv);
    *zp = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
    return 1;
}

/* A NaN (from a NaN input) becomes 0, as the vector paths' max(v, 0) makes it, and is never converted as such. */
static inline uint8_t quant1_u8(float v, float inv, float zp) {
    float r = rintf(v * inv) + zp;
    return (uint8_t)(!(r > 0) ? 0 : r > 255 ? 255 : r);
}

static inline void row_range(const float *x, size_t k, float *lo, float *hi) {
    float a = 0, b = 0;
    for (size_t i = 0; i < k; i++) { if (x[i] < a) a = x[i]; if (x[i] > b) b = x[i]; }
    *lo = a; *hi = b;
}

#ifdef DNABERT_X86
/* 16 values rint(v · inv) + zp, clamped to 0..255, stored as u8 into q (quant1_u8's arithmetic). */
__attribute__((target("avx512f,avx512bw")))
static inline void quant16_u8_avx512(__m512 v, float inv, float zp, uint8_t *q) {
    v = _mm512_roundscale_ps(_mm512_mul_ps(v, _mm512_set1_ps(inv)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_add_ps(v, _mm512_set1_ps(zp));
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.f));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
}

__attribute__((target("avx512f,avx512bw")))
static void quantize_row_u8_avx512(const float *x, size_t k, uint8_t *q, float inv, float zp) {
    size_t i = 0;
    for (; i + 16 <= k; i += 16) quant16_u8_avx512(_mm512_loadu_ps(x + i), inv, zp, q + i);
    for (; i < k; i++) q[i] = quant1_u8(x[i], inv, zp);
}

__attribute__((target("avx512f")))
static void row_range_avx512(const float *x, size_t k, float *lo, float *hi) {
    size_t i = 0;
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    for (; i + 16 <= k; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        a = _mm512_min_ps(a, v); b = _mm512_max_ps(b, v);
    }
    float ra = _mm512_reduce_min_ps(a), rb = _mm512_reduce_max_ps(b);
    for (; i < k; i++) { if (x[i] < ra) ra = x[i]; if (x[i] > rb) rb = x[i]; }
    *lo = ra; *hi = rb;
}

/* The smoothed row (x · inv_s, rounded to float as the portable path's scratch row is) quantized without storing
 * it: one pass for its extremes, one that recomputes the same products and quantizes them. Returns whether the row
 * has a usable range (else the caller writes the zero row). */
__attribute__((target("avx512f,avx512bw")))
static int quantize_row_u8_smoothed_avx512(const float *x, const float *inv_s, size_t k, uint8_t *q, float *scale,
                                           int32_t *zp) {
    size_t i = 0;
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    for (; i + 16 <= k; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(inv_s + i));
        a = _mm512_min_ps(a, v); b = _mm512_max_ps(b, v);
    }
    float lo = _mm512_reduce_min_ps(a), hi = _mm512_reduce_max_ps(b);
    for (size_t j = i; j < k; j++) { float v = x[j] * inv_s[j]; if (v < lo) lo = v; if (v > hi) hi = v; }
    float inv;
    if (!row_params(lo, hi, &inv, scale, zp)) return 0;
    const float z = (float)*zp;
    for (i = 0; i + 16 <= k; i += 16)
        quant16_u8_avx512(_mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(inv_s + i)), inv, z, q + i);
    for (; i < k; i++) q[i] = quant1_u8(x[i] * inv_s[i], inv, z);
    return 1;
}

__attribute__((target("avx2")))
static void quantize_row_u8_avx2(const float *x, size_t k, uint8_t *q, float inv, float zp) {
    size_t i = 0;
    __m256 vinv = _mm256_set1_ps(inv), vz = _mm256_set1_ps(zp), lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.f);
    for (; i + 8 <= k; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
        v = _mm256_add_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        __m256i iv = _mm256_cvtps_epi32(v);                                    /* 0..255 in each 32-bit lane */
        __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_packus_epi16(w, w));
    }
    for (; i < k; i++) q[i] = quant1_u8(x[i], inv, zp);
}

__attribute__((target("avx2")))
static void row_range_avx2(const float *x, size_t k, float *lo, float *hi) {
    size_t i = 0;
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    for (; i + 8 <= k; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        a = _mm256_min_ps(a, v); b = _mm256_max_ps(b, v);
    }
    float va[8], vb[8], ra = 0, rb = 0;
    _mm256_storeu_ps(va, a); _mm256_storeu_ps(vb, b);
    for (int j = 0; j < 8; j++) { if (va[j] < ra) ra = va[j]; if (vb[j] > rb) rb = vb[j]; }
    for (; i < k; i++) { if (x[i] < ra) ra = x[i]; if (x[i] > rb) rb = x[i]; }
    *lo = ra; *hi = rb;
}
#endif

void dnabert_i8_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t k, uint8_t *q, size_t ldq,
                                 float *scales, int32_t *zps, int kernel) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        uint8_t *qr = q + r * ldq;
        float lo, hi, inv;
#ifdef DNABERT_X86
        if (kernel == DNABERT_I8_AVX512VNNI) row_range_avx512(xr, k, &lo, &hi); else
        if (kernel == DNABERT_I8_AVX2) row_range_avx2(xr, k, &lo, &hi); else
#endif
        row_range(xr, k, &lo, &hi);
        if (!row_params(lo, hi, &inv, scales + r, zps + r)) { memset(qr, 0, ldq); continue; }
        const float z = (float)zps[r];
#ifdef DNABERT_X86
        if (kernel == DNABERT_I8_AVX512VNNI) quantize_row_u8_avx512(xr, k, qr, inv, z); else
        if (kernel == DNABERT_I8_AVX2) quantize_row_u8_avx2(xr, k, qr, inv, z); else
#endif
        for (size_t i = 0; i < k; i++) qr[i] = quant1_u8(xr[i], inv, z);
        memset(qr + k, zps[r], ldq - k);
    }
}

void dnabert_i8_quantize_rows_u8_smoothed(const float *x, size_t ldx, size_t rows, size_t k, const float *inv_s,
                                          float *tmp, uint8_t *q, size_t ldq, float *scales, int32_t *zps, int kernel) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
#ifdef DNABERT_X86
        if (kernel == DNABERT_I8_AVX512VNNI) {
            uint8_t *qr = q + r * ldq;
            if (quantize_row_u8_smoothed_avx512(xr, inv_s, k, qr, scales + r, zps + r)) memset(qr + k, zps[r], ldq - k);
            else memset(qr, 0, ldq);
            continue;
        }
#endif
        for (size_t i = 0; i < k; i++) tmp[i] = xr[i] * inv_s[i];
        dnabert_i8_quantize_rows_u8(tmp, k, 1, k, q + r * ldq, ldq, scales + r, zps + r, kernel);
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
static void gemm_generic(const uint8_t *xq, const float *sx, const int32_t *zp, size_t rows, size_t kpad, const int8_t *packed,
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
                float v = (float)(acc[j] - zp[r] * colsum[c]) * (sx[r] * sw[c]);
                yr[c] = bias ? v + bias[c] : v;
            }
        }
    }
}

#ifdef DNABERT_X86
/* Epilogue of one 16-channel vector: (acc − zp·colsum) · sx · sw (+ bias), masked to the valid columns; with
 * `stream`, a whole aligned vector bypasses the caches (a non-temporal store; see gemm_vnni). */
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static inline void store16(__m512i acc, const int32_t *colsum, const float *sw, const float *bias, float sxr,
                           int32_t zpr, float *y, __mmask16 m, int stream) {
    __m512i cs = _mm512_maskz_loadu_epi32(m, colsum);
    __m512i v = _mm512_sub_epi32(acc, _mm512_mullo_epi32(cs, _mm512_set1_epi32(zpr)));
    __m512 s = _mm512_mul_ps(_mm512_set1_ps(sxr), _mm512_maskz_loadu_ps(m, sw));
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), s);
    if (bias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(m, bias));
    if (stream && m == 0xFFFF && !((uintptr_t)y & 63)) _mm512_stream_ps(y, f);
    else _mm512_mask_storeu_ps(y, m, f);
}

/* Micro-kernel: MR rows × NB blocks of 16 channels, all k. While it runs it also asks for `pfl` cache lines from
 * `pf` into L2 (one per k group, from the first), a share of the next weight panel: see gemm_vnni. */
#define DEF_MICRO(MR, NB)                                                                                    \
__attribute__((target("avx512f,avx512bw,avx512vnni")))                                                   \
static void micro_##MR##_##NB(const uint8_t *xq, size_t kpad, const int8_t *wb, size_t bstride,           \
                              const int32_t *colsum, const float *sw, const float *bias, const float *sx,   \
                              const int32_t *zp, size_t cb, size_t c1, float *y, size_t ldy, const char *pf,\
                              size_t pfl,                                                                   \
                              int stream) {                                                                 \
    __m512i acc[MR][NB];                                                                                     \
    for (int i = 0; i < MR; i++) for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_si512();          \
    size_t kg = kpad / 4;                                                                                    \
    for (size_t g = 0; g < kg; g++) {                                                                        \
        if (g < pfl) _mm_prefetch(pf + g * 64, _MM_HINT_T1);                                                 \
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
            store16(acc[i][j], colsum + c, sw + c, bias ? bias + c : 0, sx[i], zp[i], y + i * ldy + c, m, stream);   \
    }                                                                                                        \
}
DEF_MICRO(4, 4)
DEF_MICRO(1, 4)
DEF_MICRO(4, 1)
DEF_MICRO(1, 1)

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void gemm_vnni(const uint8_t *xq, const float *sx, const int32_t *zp, size_t rows, size_t kpad, const int8_t *packed,
                      const int32_t *colsum, const float *sw, const float *bias, size_t c0, size_t c1,
                      float *y, size_t ldy) {
    size_t bstride = kpad / 4 * 64;           /* bytes between consecutive 16-channel blocks */
    /* Rows in chunks that keep the chunk's activations in L2 while a 64-channel weight panel streams. */
    size_t mc = kpad >= 2048 ? 32 : 96;
    /* A panel (4 blocks, 4 · bstride bytes) is read from L2 by each 4-row tile of a chunk, but the first tile would
     * fetch it from L3 or memory: matrices wider than L2 (the gated MLP's 6,144 channels) ran 8–10 % below the
     * L2-resident rate. So the tiles of one panel prefetch the next panel (the chunk's first one after the last),
     * each a share of its lines. */
    size_t full = (c1 - c0) / 64 * 64, panelLines = 4 * bstride / 64;
    /* An output of 4 MB or more (the gated MLP's 6,144 or Wqkv's 2,304 channels over hundreds of rows) is far
     * larger than L2 and is read back by the next step from L3 or memory anyway: writing it with non-temporal
     * stores saves reading each line in before it is overwritten. Smaller outputs stay in cache for their reader.
     * The sfence at the end orders the stores before the caller's next step. */
    int stream = rows * (c1 - c0) >= ((size_t)1 << 20);
    for (size_t r0 = 0; r0 < rows; r0 += mc) {
        size_t r1 = r0 + mc < rows ? r0 + mc : rows, tiles = (r1 - r0) / 4;
        size_t share = tiles ? (panelLines + tiles - 1) / tiles : 0;
        size_t cb = c0;
        for (; cb + 64 <= c1; cb += 64) {
            const int8_t *wb = packed + (cb / 16) * bstride;
            size_t next = cb + 64 < c0 + full ? cb + 64 : c0;
            const char *pf = (const char *)(packed + (next / 16) * bstride);
            size_t r = r0, line = 0;
            for (; r + 4 <= r1; r += 4, line += share) {
                size_t n = line < panelLines ? (panelLines - line < share ? panelLines - line : share) : 0;
                micro_4_4(xq + r * kpad, kpad, wb, bstride, colsum, sw, bias, sx + r, zp + r, cb, c1, y + r * ldy, ldy,
                          pf + line * 64, n, stream);
            }
            for (; r < r1; r++)
                micro_1_4(xq + r * kpad, kpad, wb, bstride, colsum, sw, bias, sx + r, zp + r, cb, c1, y + r * ldy, ldy, 0, 0, stream);
        }
        for (; cb < c1; cb += 16) {
            const int8_t *wb = packed + (cb / 16) * bstride;
            size_t r = r0;
            for (; r + 4 <= r1; r += 4)
                micro_4_1(xq + r * kpad, kpad, wb, bstride, colsum, sw, bias, sx + r, zp + r, cb, c1, y + r * ldy, ldy, 0, 0, stream);
            for (; r < r1; r++)
                micro_1_1(xq + r * kpad, kpad, wb, bstride, colsum, sw, bias, sx + r, zp + r, cb, c1, y + r * ldy, ldy, 0, 0, stream);
        }
    }
    if (stream) _mm_sfence();
}
#endif

#ifdef DNABERT_X86
/* AVX2 path (no VNNI): vpmaddwd on int16. Each 16-byte quarter of a packed 64-byte group (4 channels × 4 k) is
 * sign-extended to 16 int16 values, so that 32-bit lane j holds channel j/2 and the k pair j%2; the row's 4 k
 * values (u8, widened to int16 once per row chunk) are broadcast as one 64-bit pattern, and vpmaddwd adds each
 * lane's two products into int32 exactly (|x·w| ≤ 255·127, no saturation, unlike vpmaddubsw). The two k-pair
 * halves of each channel are added at the end, so the int32 sums are those of the other paths. */
__attribute__((target("avx2")))
static inline void store8_avx2(__m256i a0, __m256i a1, const int32_t *colsum, const float *sw, const float *bias,
                               float sxr, int32_t zpr, float *y, size_t nc) {
    /* hadd: [c0 c1 c4 c5 | c2 c3 c6 c7] -> permute to c0..c7 */
    __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a0, a1), 0xD8);
    if (nc == 8) {
        __m256i v = _mm256_sub_epi32(s, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)colsum), _mm256_set1_epi32(zpr)));
        __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_mul_ps(_mm256_set1_ps(sxr), _mm256_loadu_ps(sw)));
        if (bias) f = _mm256_add_ps(f, _mm256_loadu_ps(bias));
        _mm256_storeu_ps(y, f);
    } else {
        int32_t acc[8];
        _mm256_storeu_si256((__m256i *)acc, s);
        for (size_t j = 0; j < nc; j++) {
            float v = (float)(acc[j] - zpr * colsum[j]) * (sxr * sw[j]);
            y[j] = bias ? v + bias[j] : v;
        }
    }
}

/* Micro-kernels: 6 rows (or 1) × 8 channels (half of a 16-channel block), all k; xs: int16 rows (stride kpad).
 * Written out by hand (no arrays) so that the 12 accumulators stay in registers with every compiler. */
#define AVX2_ROW(i, A0, A1)                                                                                  \
    { long long xv; memcpy(&xv, xs + (i) * kpad + g * 4, 8);                                              \
      __m256i xb = _mm256_set1_epi64x(xv);                                                                   \
      A0 = _mm256_add_epi32(A0, _mm256_madd_epi16(w0, xb));                                                  \
      A1 = _mm256_add_epi32(A1, _mm256_madd_epi16(w1, xb)); }
#define AVX2_WEIGHTS                                                                                          \
    __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wb + g * 64)));                      \
    __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wb + g * 64 + 16)));

/* The kernels take colsum/sw/bias/y already offset to the tile's first channel; nc of its 8 channels are stored. */
__attribute__((target("avx2")))
static void micro_avx2_6(const int16_t *xs, size_t kpad, const int8_t *wb, const int32_t *cs, const float *sw,
                         const float *bias, const float *sx, const int32_t *zp, size_t nc, float *y, size_t ldy) {
    __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
            a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
    size_t kg = kpad / 4;
    for (size_t g = 0; g < kg; g++) {
        AVX2_WEIGHTS
        AVX2_ROW(0, a00, a01) AVX2_ROW(1, a10, a11) AVX2_ROW(2, a20, a21)
        AVX2_ROW(3, a30, a31) AVX2_ROW(4, a40, a41) AVX2_ROW(5, a50, a51)
    }
    store8_avx2(a00, a01, cs, sw, bias, sx[0], zp[0], y, nc);
    store8_avx2(a10, a11, cs, sw, bias, sx[1], zp[1], y + ldy, nc);
    store8_avx2(a20, a21, cs, sw, bias, sx[2], zp[2], y + 2 * ldy, nc);
    store8_avx2(a30, a31, cs, sw, bias, sx[3], zp[3], y + 3 * ldy, nc);
    store8_avx2(a40, a41, cs, sw, bias, sx[4], zp[4], y + 4 * ldy, nc);
    store8_avx2(a50, a51, cs, sw, bias, sx[5], zp[5], y + 5 * ldy, nc);
}

__attribute__((target("avx2")))
static void micro_avx2_1(const int16_t *xs, size_t kpad, const int8_t *wb, const int32_t *cs, const float *sw,
                         const float *bias, const float *sx, const int32_t *zp, size_t nc, float *y) {
    __m256i a00 = _mm256_setzero_si256(), a01 = a00;
    size_t kg = kpad / 4;
    for (size_t g = 0; g < kg; g++) {
        AVX2_WEIGHTS
        AVX2_ROW(0, a00, a01)
    }
    store8_avx2(a00, a01, cs, sw, bias, sx[0], zp[0], y, nc);
}

__attribute__((target("avx2")))
static void widen_rows_avx2(const uint8_t *xq, size_t rows, size_t kpad, int16_t *xs) {
    size_t n = rows * kpad, i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(xs + i), _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(xq + i))));
    for (; i < n; i++) xs[i] = xq[i];
}

/* Rows per chunk whose int16 form stays in L2 while the 8-channel panels pass (a multiple of 6). */
static size_t avx2_chunk_rows(size_t kpad) { return kpad >= 2048 ? 24 : 72; }

/* xs holds round_up(min(rows, chunk), 6) int16 rows: a last tile of 2-5 rows runs through the 6-row kernel on
 * zeroed padding rows (their results are dropped), which streams each weight panel once instead of once per row. */
__attribute__((target("avx2")))
static void gemm_avx2(const uint8_t *xq, const float *sx, const int32_t *zp, size_t rows, size_t kpad, const int8_t *packed,
                      const int32_t *colsum, const float *sw, const float *bias, size_t c0, size_t c1,
                      float *y, size_t ldy, int16_t *xs) {
    size_t bstride = kpad / 4 * 64, mc = avx2_chunk_rows(kpad);
    for (size_t r0 = 0; r0 < rows; r0 += mc) {
        size_t r1 = r0 + mc < rows ? r0 + mc : rows, n = r1 - r0, full = n / 6 * 6, rem = n - full;
        widen_rows_avx2(xq + r0 * kpad, n, kpad, xs);
        if (rem >= 2) memset(xs + n * kpad, 0, (6 - rem) * kpad * sizeof(int16_t));
        float sx6[6] = {0};
        int32_t zp6[6] = {0};
        for (size_t i = 0; i < rem; i++) { sx6[i] = sx[r0 + full + i]; zp6[i] = zp[r0 + full + i]; }
        for (size_t c = c0; c < c1; c += 8) {
            /* 8-channel half of a 16-channel block: its 64-byte groups hold channels (c%16)..+8 at byte 32·half */
            const int8_t *wb = packed + (c / 16) * bstride + ((c % 16) / 8) * 32;
            size_t nc = c1 - c < 8 ? c1 - c : 8;
            const float *bc = bias ? bias + c : 0;
            for (size_t r = 0; r < full; r += 6)
                micro_avx2_6(xs + r * kpad, kpad, wb, colsum + c, sw + c, bc, sx + r0 + r, zp + r0 + r, nc, y + (r0 + r) * ldy + c, ldy);
            if (rem == 1) {
                micro_avx2_1(xs + full * kpad, kpad, wb, colsum + c, sw + c, bc, sx + r0 + full, zp + r0 + full, nc, y + (r0 + full) * ldy + c);
            } else if (rem > 1) {
                float tile[6 * 8];
                micro_avx2_6(xs + full * kpad, kpad, wb, colsum + c, sw + c, bc, sx6, zp6, nc, tile, 8);
                for (size_t i = 0; i < rem; i++) memcpy(y + (r0 + full + i) * ldy + c, tile + 8 * i, nc * sizeof(float));
            }
        }
    }
}
#endif

void dnabert_i8_gemm(const uint8_t *xq, const float *sx, const int32_t *zp, size_t rows, size_t kpad,
                     const int8_t *packed, const int32_t *colsum, const float *sw, const float *bias,
                     size_t c0, size_t c1, float *y, size_t ldy, int kernel) {
    if (rows == 0 || c1 <= c0) return;
#ifdef DNABERT_X86
    if (kernel == DNABERT_I8_AVX512VNNI) { gemm_vnni(xq, sx, zp, rows, kpad, packed, colsum, sw, bias, c0, c1, y, ldy); return; }
    if (kernel == DNABERT_I8_AVX2) {
        size_t mc = avx2_chunk_rows(kpad), n = rows < mc ? rows : mc;
        int16_t *xs = malloc((n + 5) / 6 * 6 * kpad * sizeof(int16_t));
        if (xs) { gemm_avx2(xq, sx, zp, rows, kpad, packed, colsum, sw, bias, c0, c1, y, ldy, xs); free(xs); return; }
        /* no memory for the int16 rows: the portable path computes the same sums without scratch */
    }
#endif
    (void)kernel;
    gemm_generic(xq, sx, zp, rows, kpad, packed, colsum, sw, bias, c0, c1, y, ldy);
}
