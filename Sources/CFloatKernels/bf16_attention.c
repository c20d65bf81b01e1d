/* Attention's tile products on bfloat16 pairs (vdpbf16ps); see include/bf16_attention.h. */
#include "bf16_attention.h"
#include "int8_kernels.h"   /* dnabert_cpu_leaf7_if_os_saves */
#include "kernel_scratch.h"
#include <stdint.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define DNABERT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* The thread's scratch (kernel_scratch.h) as region A (the broadcast operand, Q or P, as pairs) and region B (one
 * 64-column panel of K or V), AREA dwords each. */
enum { NB = 4, PANEL = 16 * NB, MR = 6, AREA = 32768, MAX_D = 256, MAX_KN = 2 * AREA / PANEL };

int dnabert_bf16_cpu_has_avx512bf16(void) {
#ifdef DNABERT_X86
    unsigned b7, c7;
    if (!dnabert_cpu_leaf7_if_os_saves(0xE6, &b7, &c7)) return 0;               /* xmm/ymm/opmask/zmm state */
    if (!(((b7 >> 16) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1))) return 0;   /* AVX512 F, BW, VL */
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    if (a < 1) return 0;                                                         /* no sub-leaf 1 */
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 5) & 1;                                                         /* AVX512_BF16 */
#else
    return 0;
#endif
}

int dnabert_cpu_is_amd(void) {
#ifdef DNABERT_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;             /* "Auth" "enti" "cAMD" */
#else
    return 0;
#endif
}

_Static_assert(sizeof(uint32_t) * 2 * AREA <= DNABERT_KERNEL_SCRATCH_BYTES, "both regions must fit the scratch");

static int have_bf16(void) {
    static int have = -1;   /* CPUID once; a race only repeats the same answer */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) { h = dnabert_bf16_cpu_has_avx512bf16(); __atomic_store_n(&have, h, __ATOMIC_RELAXED); }
    return h;
}

#ifdef DNABERT_X86
#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

static inline __mmask16 lanes(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

/* Row x[0 ..< n] as n2 = ⌈n/2⌉ bf16 pairs (element 2i in the low half of dword i; a missing last element is 0). */
BF16 static void pairs_of_row(const float *x, size_t n, uint32_t *out) {
    size_t n2 = (n + 1) / 2;
    for (size_t t = 0; 16 * t < n2; t++) {           /* 32 floats → 16 dwords */
        size_t c = 32 * t, left = n - c;
        __m512 lo = _mm512_maskz_loadu_ps(lanes(left), x + c);
        __m512 hi = _mm512_maskz_loadu_ps(left > 16 ? lanes(left - 16) : 0, x + c + 16);
        __m512i w = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        _mm512_mask_storeu_epi32(out + 16 * t, lanes(n2 - 16 * t), w);
    }
}

/* In-register transpose of 16 × 16 dwords: r[i] lane j → r[j] lane i. */
BF16 static inline void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* r[4i + e], 128-bit lane L: rows 4i..4i+3 of column 4L + e */
    for (int e = 0; e < 4; e++) {
        __m512i u0 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0x44), u1 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0xEE);
        __m512i v0 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0x44), v1 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0xEE);
        t[e] = _mm512_shuffle_i32x4(u0, v0, 0x88);
        t[e + 4] = _mm512_shuffle_i32x4(u0, v0, 0xDD);
        t[e + 8] = _mm512_shuffle_i32x4(u1, v1, 0x88);
        t[e + 12] = _mm512_shuffle_i32x4(u1, v1, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* K panel (reduction d): keys j0 ..< j0 + nj (nj ≤ 64; the rest zero) as buf[c2 · 64 + jj] = pair(k[j0 + jj, 2c2], k[j0 + jj, 2c2 + 1])
 * for c2 < d2 = ⌈d/2⌉. */
BF16 static void pack_k_panel(const float *k, size_t ldk, size_t d, size_t j0, size_t nj, uint32_t *buf) {
    size_t d2 = (d + 1) / 2;
    for (size_t g = 0; g < NB; g++) {
        size_t first = 16 * g, nk = nj > first ? (nj - first < 16 ? nj - first : 16) : 0;
        for (size_t t = 0; t < d2; t += 16) {
            __m512i r[16];
            size_t c = 2 * t, left = d - c;
            __mmask16 mlo = lanes(left), mhi = left > 16 ? lanes(left - 16) : 0;
            for (size_t i = 0; i < 16; i++) {
                if (i < nk) {
                    const float *row = k + (j0 + first + i) * ldk + c;
                    r[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(mhi, row + 16), _mm512_maskz_loadu_ps(mlo, row));
                } else {
                    r[i] = _mm512_setzero_si512();
                }
            }
            transpose16(r);
            for (size_t e = 0; e < 16 && t + e < d2; e++) _mm512_store_si512(buf + (t + e) * PANEL + first, r[e]);
        }
    }
}

/* V panel (reduction kn): columns c0 ..< c0 + nc (nc ≤ 64; the rest zero) as buf[j2 · 64 + cc] = pair(v[2j2, c0 + cc], v[2j2 + 1, c0 + cc])
 * for j2 < ⌈kn/2⌉ (a missing last row is zero). */
BF16 static void pack_v_panel(const float *v, size_t ldv, size_t kn, size_t c0, size_t nc, uint32_t *buf) {
    size_t kn2 = (kn + 1) / 2;
    for (size_t j2 = 0; j2 < kn2; j2++) {
        const float *a = v + 2 * j2 * ldv + c0, *b = a + ldv;
        int has_b = 2 * j2 + 1 < kn;
        for (size_t g = 0; g < NB; g++) {
            size_t first = 16 * g;
            __mmask16 m = nc > first ? lanes(nc - first) : 0;
            __m256i ha = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, a + first));
            __m256i hb = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(has_b ? m : 0, b + first));
            __m512i w = _mm512_or_si512(_mm512_cvtepu16_epi32(ha), _mm512_slli_epi32(_mm512_cvtepu16_epi32(hb), 16));
            _mm512_store_si512(buf + j2 * PANEL + first, w);
        }
    }
}

/* ALiBi for a score tile, applied in the QK product's epilogue: s[r, j] = fma(−slope, |qpos[r] − kpos[j]|,
 * alpha · (q·k)), and rmax[r] = max(rmax[r], max_j s[r, j]) over the stored columns. NULL when not wanted. */
typedef struct { const float *qpos, *kpos; float slope; float *rmax; } alibi_t;

/* R rows × 64 columns: y = alpha · A·B (or y += A·B when accumulate), A's rows as pairs at a + i·lda, the panel's
 * pair row kk at b + kk·64, kn2 pairs; only the columns of masks m are stored; with `al` (not accumulating), the
 * ALiBi bias of rows al->qpos[0 ..< R] and columns al->kpos[0 ..< 64] is added and the rows' maxima kept. */
#define DEF_MICRO(R)                                                                                          \
BF16 static void micro_##R(const uint32_t *a, size_t lda, const uint32_t *b, size_t kn2, float *y, size_t ldy, \
                           float alpha, int accumulate, const __mmask16 *m, const alibi_t *ab) {             \
    __m512 acc[R][NB];                                                                                       \
    for (int i = 0; i < R; i++) for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_ps();               \
    for (size_t kk = 0; kk < kn2; kk++) {                                                                    \
        __m512bh bv[NB];                                                                                     \
        for (int j = 0; j < NB; j++) bv[j] = (__m512bh)_mm512_load_si512(b + kk * PANEL + 16 * j);          \
        for (int i = 0; i < R; i++) {                                                                        \
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i * lda + kk]);                                 \
            for (int j = 0; j < NB; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, bv[j]);                \
        }                                                                                                    \
    }                                                                                                        \
    __m512 al = _mm512_set1_ps(alpha);                                                                       \
    if (ab) {                                                                                                \
        const __m512 ns = _mm512_set1_ps(-ab->slope);                                                        \
        for (int i = 0; i < R; i++) {                                                                        \
            __m512 qp = _mm512_set1_ps(ab->qpos[i]), mx = _mm512_set1_ps(ab->rmax[i]);                      \
            for (int j = 0; j < NB; j++) {                                                                   \
                if (!m[j]) continue;                                                                         \
                __m512 dist = _mm512_abs_ps(_mm512_sub_ps(qp, _mm512_maskz_loadu_ps(m[j], ab->kpos + 16 * j)));      \
                __m512 v = _mm512_fmadd_ps(ns, dist, _mm512_mul_ps(acc[i][j], al));                        \
                _mm512_mask_storeu_ps(y + i * ldy + 16 * j, m[j], v);                                        \
                mx = _mm512_mask_max_ps(mx, m[j], v, mx);     /* a NaN score is passed over */               \
            }                                                                                                \
            ab->rmax[i] = _mm512_reduce_max_ps(mx);                                                          \
        }                                                                                                    \
        return;                                                                                              \
    }                                                                                                        \
    for (int j = 0; j < NB; j++) {                                                                           \
        if (!m[j]) continue;                                                                                 \
        for (int i = 0; i < R; i++) {                                                                        \
            float *yp = y + i * ldy + 16 * j;                                                                \
            __m512 v = accumulate ? _mm512_add_ps(acc[i][j], _mm512_maskz_loadu_ps(m[j], yp))              \
                                  : _mm512_mul_ps(acc[i][j], al);                                            \
            _mm512_mask_storeu_ps(yp, m[j], v);                                                              \
        }                                                                                                    \
    }                                                                                                        \
}
DEF_MICRO(6)
DEF_MICRO(1)

static inline void panel_masks(size_t nc, __mmask16 *m) {
    for (int j = 0; j < NB; j++) {
        size_t f = 16 * (size_t)j;
        m[j] = nc > f ? lanes(nc - f) : 0;
    }
}

/* `ab` moved to rows r0 and columns c0. */
static inline const alibi_t *alibi_at(const alibi_t *ab, size_t r0, size_t c0, alibi_t *t) {
    if (!ab) return 0;
    *t = (alibi_t){ ab->qpos + r0, ab->kpos + c0, ab->slope, ab->rmax + r0 };
    return t;
}

/* All rows of A (pairs, row stride lda) through one panel; `ab` (or NULL): ALiBi with qpos, rmax at row 0 of A and
 * kpos at the panel's first column. */
BF16 static void rows_through_panel(const uint32_t *a, size_t lda, size_t rows, const uint32_t *b, size_t kn2,
                                    float *y, size_t ldy, float alpha, int accumulate, size_t nc, const alibi_t *ab) {
    __mmask16 m[NB];
    panel_masks(nc, m);
    alibi_t t;
    size_t r = 0;
    for (; r + MR <= rows; r += MR)
        micro_6(a + r * lda, lda, b, kn2, y + r * ldy, ldy, alpha, accumulate, m, alibi_at(ab, r, 0, &t));
    for (; r < rows; r++)
        micro_1(a + r * lda, lda, b, kn2, y + r * ldy, ldy, alpha, accumulate, m, alibi_at(ab, r, 0, &t));
}

/* B of a pair product: packed 64 columns at a time into region B by `pack` (src, ld, red, first column, columns,
 * buf), or packed beforehand (column panel p at packed + p · stride, 64-byte aligned). */
typedef void (*pack_fn)(const float *, size_t, size_t, size_t, size_t, uint32_t *);
typedef struct { const float *src; size_t ld; pack_fn pack; const uint32_t *packed; size_t stride; } operand_b;

/* y (=, or += when accumulate) alpha · A·B over pairs: A's rows (red floats each, row stride lda) converted to pairs
 * in region A (both regions when B comes packed), then each panel of B through them. */
BF16 static void pair_product(const float *a, size_t lda, size_t rows, size_t red, const operand_b *b, size_t cols,
                              float *y, size_t ldy, float alpha, int accumulate, const alibi_t *ab, uint32_t *buf) {
    alibi_t t;
    size_t red2 = (red + 1) / 2, block = (b->pack ? AREA : 2 * AREA) / red2;
    uint32_t *pa = buf, *pb = buf + AREA;
    for (size_t r0 = 0; r0 < rows; r0 += block) {
        size_t rn = rows - r0 < block ? rows - r0 : block;
        for (size_t r = 0; r < rn; r++) pairs_of_row(a + (r0 + r) * lda, red, pa + r * red2);
        for (size_t c0 = 0, p = 0; c0 < cols; c0 += PANEL, p++) {
            size_t nc = cols - c0 < PANEL ? cols - c0 : PANEL;
            const uint32_t *panel = b->packed + p * b->stride;
            if (b->pack) { b->pack(b->src, b->ld, red, c0, nc, pb); panel = pb; }
            rows_through_panel(pa, red2, rn, panel, red2, y + r0 * ldy + c0, ldy, alpha, accumulate, nc,
                               alibi_at(ab, r0, c0, &t));
        }
    }
}
#endif

size_t dnabert_bf16_packed_k_size(size_t kn, size_t d) { return (kn + PANEL - 1) / PANEL * ((d + 1) / 2) * PANEL; }

size_t dnabert_bf16_packed_v_size(size_t kn, size_t d) { return (d + PANEL - 1) / PANEL * ((kn + 1) / 2) * PANEL; }

const uint32_t *dnabert_bf16_packed_k_tile(const uint32_t *kp, size_t j0, size_t d) { return kp + j0 / PANEL * ((d + 1) / 2) * PANEL; }

const uint32_t *dnabert_bf16_packed_v_tile(const uint32_t *vp, size_t j0) { return vp + j0 / 2 * PANEL; }

size_t dnabert_bf16_packed_v_stride(size_t kn_all) { return (kn_all + 1) / 2 * PANEL; }

int dnabert_bf16_pack_k(const float *k, size_t ldk, size_t kn, size_t d, uint32_t *out) {
#ifdef DNABERT_X86
    if (!have_bf16() || d > MAX_D || ((uintptr_t)out & 63)) return -1;
    size_t d2 = (d + 1) / 2;
    for (size_t j0 = 0, p = 0; j0 < kn; j0 += PANEL, p++)
        pack_k_panel(k, ldk, d, j0, kn - j0 < PANEL ? kn - j0 : PANEL, out + p * d2 * PANEL);
    return 0;
#else
    (void)k; (void)ldk; (void)kn; (void)d; (void)out;
    return -1;
#endif
}

int dnabert_bf16_pack_v(const float *v, size_t ldv, size_t kn, size_t d, uint32_t *out) {
#ifdef DNABERT_X86
    if (!have_bf16() || d > MAX_D || ((uintptr_t)out & 63)) return -1;
    size_t kn2 = (kn + 1) / 2;
    for (size_t c0 = 0, p = 0; c0 < d; c0 += PANEL, p++)
        pack_v_panel(v, ldv, kn, c0, d - c0 < PANEL ? d - c0 : PANEL, out + p * kn2 * PANEL);
    return 0;
#else
    (void)v; (void)ldv; (void)kn; (void)d; (void)out;
    return -1;
#endif
}

#ifdef DNABERT_X86
/* S = alpha · Q·Kᵀ (with ALiBi when ab), K as operand B. -1: no AVX512_BF16, d too large, a misaligned packed K,
 * ALiBi without a reduction (d = 0), or no scratch. */
static int qk(const float *q, size_t ldq, size_t rows, const operand_b *kb, size_t kn, size_t d, float alpha, float *s,
              size_t lds, const alibi_t *ab) {
    if (!have_bf16() || d > MAX_D || ((uintptr_t)kb->packed & 63) || (ab && d == 0)) return -1;
    if (ab) for (size_t r = 0; r < rows; r++) ab->rmax[r] = -INFINITY;
    if (rows == 0 || kn == 0) return 0;
    if (d == 0) {
        for (size_t r = 0; r < rows; r++) memset(s + r * lds, 0, sizeof(float) * kn);
        return 0;
    }
    uint32_t *buf = dnabert_kernel_scratch();
    if (!buf) return -1;
    pair_product(q, ldq, rows, d, kb, kn, s, lds, alpha, 0, ab, buf);
    return 0;
}

/* O += P·V, V as operand B. */
static int pv(const float *p, size_t ldp, size_t rows, size_t kn, const operand_b *vb, size_t d, float *o, size_t ldo) {
    if (!have_bf16() || kn > (vb->pack ? MAX_KN : 2 * MAX_KN) || ((uintptr_t)vb->packed & 63) || (vb->stride & 15)) return -1;
    if (rows == 0 || kn == 0 || d == 0) return 0;
    uint32_t *buf = dnabert_kernel_scratch();
    if (!buf) return -1;
    pair_product(p, ldp, rows, kn, vb, d, o, ldo, 1.f, 1, 0, buf);
    return 0;
}
#define X86_ONLY(call) return (call)
#else
#define X86_ONLY(call) (void)have_bf16; return -1
#endif

int dnabert_bf16_qk(const float *q, size_t ldq, size_t rows, const float *k, size_t ldk, size_t kn, size_t d,
                    float alpha, float *s, size_t lds) {
#ifdef DNABERT_X86
    operand_b kb = { k, ldk, pack_k_panel, 0, 0 };
#endif
    X86_ONLY(qk(q, ldq, rows, &kb, kn, d, alpha, s, lds, 0));
}

int dnabert_bf16_qk_packed(const float *q, size_t ldq, size_t rows, const uint32_t *kp, size_t kn, size_t d,
                           float alpha, float *s, size_t lds) {
#ifdef DNABERT_X86
    operand_b kb = { 0, 0, 0, kp, ((d + 1) / 2) * PANEL };
#endif
    X86_ONLY(qk(q, ldq, rows, &kb, kn, d, alpha, s, lds, 0));
}

int dnabert_bf16_qk_alibi(const float *q, size_t ldq, size_t rows, const float *k, size_t ldk, size_t kn, size_t d,
                          float alpha, const float *qpos, const float *kpos, float slope, float *s, size_t lds,
                          float *rmax) {
#ifdef DNABERT_X86
    operand_b kb = { k, ldk, pack_k_panel, 0, 0 };
    alibi_t ab = { qpos, kpos, slope, rmax };
#endif
    X86_ONLY(qk(q, ldq, rows, &kb, kn, d, alpha, s, lds, &ab));
}

int dnabert_bf16_qk_alibi_packed(const float *q, size_t ldq, size_t rows, const uint32_t *kp, size_t kn, size_t d,
                                 float alpha, const float *qpos, const float *kpos, float slope, float *s, size_t lds,
                                 float *rmax) {
#ifdef DNABERT_X86
    operand_b kb = { 0, 0, 0, kp, ((d + 1) / 2) * PANEL };
    alibi_t ab = { qpos, kpos, slope, rmax };
#endif
    X86_ONLY(qk(q, ldq, rows, &kb, kn, d, alpha, s, lds, &ab));
}

int dnabert_bf16_pv_acc(const float *p, size_t ldp, size_t rows, size_t kn, const float *v, size_t ldv, size_t d,
                        float *o, size_t ldo) {
#ifdef DNABERT_X86
    operand_b vb = { v, ldv, pack_v_panel, 0, 0 };
#endif
    X86_ONLY(pv(p, ldp, rows, kn, &vb, d, o, ldo));
}

int dnabert_bf16_pv_acc_packed(const float *p, size_t ldp, size_t rows, size_t kn, const uint32_t *vp,
                               size_t vstride, size_t d, float *o, size_t ldo) {
#ifdef DNABERT_X86
    operand_b vb = { 0, 0, 0, vp, vstride };
#endif
    X86_ONLY(pv(p, ldp, rows, kn, &vb, d, o, ldo));
}
