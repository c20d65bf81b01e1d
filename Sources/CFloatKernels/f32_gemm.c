/* Float32 y = x·Wᵀ (+ bias) with on-the-fly panel packing; see include/f32_gemm.h. */
#include "f32_gemm.h"
#include "int8_kernels.h"   /* dnabert_cpu_leaf7_if_os_saves */
#include "kernel_scratch.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define DNABERT_X86 1
#include <immintrin.h>
#endif

enum { NB = 4, PANEL = 16 * NB, KC = 1024, MR = 6 };

int dnabert_f32_cpu_has_avx512(void) {
    unsigned b7, c7;
    return dnabert_cpu_leaf7_if_os_saves(0xE6, &b7, &c7) && ((b7 >> 16) & 1);   /* xmm/ymm/opmask/zmm; AVX512F */
}

/* kernel_scratch.h: one buffer per thread, shared with the bf16 attention products. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;
static void make_key(void) { scratch_key_ok = pthread_key_create(&scratch_key, free) == 0; }
void *dnabert_kernel_scratch(void) {
    pthread_once(&scratch_once, make_key);
    if (!scratch_key_ok) return NULL;
    void *p = pthread_getspecific(scratch_key);
    if (p) return p;
    if (posix_memalign(&p, 64, DNABERT_KERNEL_SCRATCH_BYTES) != 0) return NULL;
    if (pthread_setspecific(scratch_key, p) != 0) { free(p); return NULL; }
    return p;
}
/* the panel buffer, KC × 64 floats */
_Static_assert(sizeof(float) * KC * PANEL <= DNABERT_KERNEL_SCRATCH_BYTES, "a weight panel must fit the scratch");

#ifdef DNABERT_X86
#define AVX512 __attribute__((target("avx512f")))

/* Packs channels cb ..< cb + nc (nc ≤ 64; the rest of the panel is zero) and k0 ..< k0 + kc of W into
 * buf[j][kk][16] = W[cb + 16j + c, k0 + kk] — 16×16 tiles transposed in registers. */
AVX512 static void pack_panel(const float *w, size_t ldw, size_t cb, size_t nc, size_t k0, size_t kc, float *buf) {
    for (size_t j = 0; j < NB; j++) {
        float *dst = buf + j * kc * 16;
        size_t first = 16 * j, rows = nc > first ? (nc - first < 16 ? nc - first : 16) : 0;
        if (rows == 0) { memset(dst, 0, sizeof(float) * kc * 16); continue; }
        const float *src = w + (cb + first) * ldw + k0;
        for (size_t kk = 0; kk < kc; kk += 16) {
            size_t kn = kc - kk < 16 ? kc - kk : 16;
            __mmask16 km = (__mmask16)((1u << kn) - 1);
            __m512 r[16], t[16];
            for (size_t c = 0; c < 16; c++)
                r[c] = c < rows ? _mm512_maskz_loadu_ps(km, src + c * ldw + kk) : _mm512_setzero_ps();
            for (int i = 0; i < 8; i++) {
                t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            for (int i = 0; i < 4; i++) {
                __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
                __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
                r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
                r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
                r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
                r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
            }
            /* r[4i + e], 128-bit lane L: rows 4i..4i+3 of element 4L + e. */
            for (int e = 0; e < 4; e++) {
                __m512 u0 = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x44), u1 = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xEE);
                __m512 v0 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x44), v1 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xEE);
                /* stored straight from registers (an array of results was turned into a stack copy + memcpy) */
                float *o = dst + (kk + (size_t)e) * 16;
                if ((size_t)e < kn) _mm512_store_ps(o, _mm512_shuffle_f32x4(u0, v0, 0x88));
                if ((size_t)e + 4 < kn) _mm512_store_ps(o + 4 * 16, _mm512_shuffle_f32x4(u0, v0, 0xDD));
                if ((size_t)e + 8 < kn) _mm512_store_ps(o + 8 * 16, _mm512_shuffle_f32x4(u1, v1, 0x88));
                if ((size_t)e + 12 < kn) _mm512_store_ps(o + 12 * 16, _mm512_shuffle_f32x4(u1, v1, 0xDD));
            }
        }
    }
}

/* Masks of the valid lanes of a panel's four 16-channel blocks when it has nc (≤ 64) channels. */
static inline void channel_masks(size_t nc, __mmask16 *m) {
    for (int j = 0; j < NB; j++) {
        size_t f = 16 * (size_t)j, v = nc > f ? (nc - f < 16 ? nc - f : 16) : 0;
        m[j] = (__mmask16)((1u << v) - 1);
    }
}

/* Lines of W for the next panel that a micro-kernel call asks into the cache while it computes (see gemm_avx512):
 * `left` lines, one every `every` k steps, walking rows of `lpr` lines `ldb` bytes apart from `row` + `col` lines. */
typedef struct { const char *row; size_t ldb, lpr, col, left, every; } prefetch_walk;

static inline void prefetch_step(prefetch_walk *pw) {
    _mm_prefetch(pw->row + pw->col * 64, _MM_HINT_T0);
    pw->left--;
    if (++pw->col == pw->lpr) { pw->col = 0; pw->row += pw->ldb; }
}

/* R rows × 64 channels over one k block: y (+)= alpha · x·P, where the panel P holds channel block j's values for
 * reduction index kk at p + j·jstride + kk·kstride (packed: jstride kc·16, kstride 16; a row-major [k, n] matrix
 * such as attention's V: jstride 16, kstride its row stride). first: write alpha·x·P (+ bias) instead of adding it
 * to y. Loads are masked to the valid channels, so an unpacked matrix is never read past its last column. pw (or
 * NULL): lines to prefetch while the k loop runs. */
#define DEF_MICRO(R)                                                                                          \
AVX512 static void micro_##R(const float *x, size_t ldx, const float *p, size_t jstride, size_t kstride,       \
                             size_t kc, float *y, size_t ldy, const float *bias, float alpha, int first,      \
                             const __mmask16 *m, prefetch_walk *pw) {                                         \
    __m512 acc[R][NB];                                                                                       \
    for (int i = 0; i < R; i++) for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_ps();               \
    size_t countdown = pw && pw->left ? pw->every : 0;                                                        \
    for (size_t kk = 0; kk < kc; kk++) {                                                                     \
        if (countdown && --countdown == 0) { prefetch_step(pw); countdown = pw->left ? pw->every : 0; }      \
        __m512 wv[NB];                                                                                       \
        for (int j = 0; j < NB; j++) wv[j] = _mm512_maskz_loadu_ps(m[j], p + j * jstride + kk * kstride);   \
        for (int i = 0; i < R; i++) {                                                                        \
            __m512 xb = _mm512_set1_ps(x[i * ldx + kk]);                                                     \
            for (int j = 0; j < NB; j++) acc[i][j] = _mm512_fmadd_ps(xb, wv[j], acc[i][j]);                 \
        }                                                                                                    \
    }                                                                                                        \
    __m512 a = _mm512_set1_ps(alpha);                                                                        \
    for (int j = 0; j < NB; j++) {                                                                           \
        if (!m[j]) continue;                                                                                 \
        __m512 add = first ? (bias ? _mm512_maskz_loadu_ps(m[j], bias + 16 * j) : _mm512_setzero_ps())      \
                           : _mm512_setzero_ps();                                                           \
        for (int i = 0; i < R; i++) {                                                                        \
            float *yp = y + i * ldy + 16 * j;                                                                \
            __m512 v = _mm512_fmadd_ps(acc[i][j], a, first ? add : _mm512_maskz_loadu_ps(m[j], yp));        \
            _mm512_mask_storeu_ps(yp, m[j], v);                                                              \
        }                                                                                                    \
    }                                                                                                        \
}
DEF_MICRO(6)
DEF_MICRO(1)

AVX512 static void gemm_avx512(const float *x, size_t ldx, size_t rows, size_t k, const float *w, size_t ldw,
                               size_t c0, size_t c1, const float *bias, float alpha, float *y, size_t ldy, float *buf) {
    /* k blocks of near-equal size, each at most KC */
    size_t nk = (k + KC - 1) / KC, kb = (k + nk - 1) / nk;
    for (size_t k0 = 0; k0 < k; k0 += kb) {
        size_t kc = k - k0 < kb ? k - k0 : kb;
        int first = k0 == 0;
        for (size_t cb = c0; cb < c1; cb += PANEL) {
            size_t nc = c1 - cb < PANEL ? c1 - cb : PANEL;
            __mmask16 m[NB];
            channel_masks(nc, m);
            pack_panel(w, ldw, cb, nc, k0, kc, buf);
            /* W is read once per call, from memory for the model's matrices: packing waited for it. So the 6-row
             * tiles of this panel spread prefetches of the next panel's lines (the next channels of this k block,
             * or the first ones of the next block) over their k loops, and its packing finds them in cache. */
            size_t ncb = cb + PANEL < c1 ? cb + PANEL : c0, nk0 = cb + PANEL < c1 ? k0 : k0 + kb;
            prefetch_walk pw = {0};
            if (nk0 < k) {
                size_t nnc = c1 - ncb < PANEL ? c1 - ncb : PANEL, nkc = k - nk0 < kb ? k - nk0 : kb;
                pw.row = (const char *)(w + ncb * ldw + nk0); pw.ldb = ldw * sizeof(float);
                pw.lpr = (nkc * sizeof(float) + 63) / 64;
                pw.left = nnc * pw.lpr;
            }
            size_t tiles = rows / MR;
            if (tiles && pw.left) pw.every = kc * tiles / pw.left > 0 ? kc * tiles / pw.left : 1;
            const float *xb = x + k0, *bb = bias ? bias + cb : NULL;
            size_t r = 0;
            for (; r + MR <= rows; r += MR)
                micro_6(xb + r * ldx, ldx, buf, kc * 16, 16, kc, y + r * ldy + cb, ldy, bb, alpha, first, m, &pw);
            for (; r < rows; r++)
                micro_1(xb + r * ldx, ldx, buf, kc * 16, 16, kc, y + r * ldy + cb, ldy, bb, alpha, first, m, NULL);
        }
    }
}

/* y += x·V with V row-major [k, n] (row stride ldv), read in place: its rows are already the micro-kernel's layout. */
AVX512 static void gemm_nn_acc_avx512(const float *x, size_t ldx, size_t rows, size_t k, const float *v, size_t ldv,
                                      size_t n, float *y, size_t ldy) {
    for (size_t cb = 0; cb < n; cb += PANEL) {
        size_t nc = n - cb < PANEL ? n - cb : PANEL;
        __mmask16 m[NB];
        channel_masks(nc, m);
        size_t r = 0;
        for (; r + MR <= rows; r += MR) micro_6(x + r * ldx, ldx, v + cb, 16, ldv, k, y + r * ldy + cb, ldy, NULL, 1.f, 0, m, NULL);
        for (; r < rows; r++) micro_1(x + r * ldx, ldx, v + cb, 16, ldv, k, y + r * ldy + cb, ldy, NULL, 1.f, 0, m, NULL);
    }
}
#endif

static int have_avx512(void) {
    static int have = -1;   /* CPUID once; a race only repeats the same answer */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) { h = dnabert_f32_cpu_has_avx512(); __atomic_store_n(&have, h, __ATOMIC_RELAXED); }
    return h;
}

int dnabert_f32_gemm_nt(const float *x, size_t ldx, size_t rows, size_t k, const float *w, size_t ldw,
                        size_t c0, size_t c1, const float *bias, float alpha, float *y, size_t ldy) {
#ifdef DNABERT_X86
    if (!have_avx512()) return -1;
    if (rows == 0 || c1 <= c0) return 0;
    if (k == 0) {
        for (size_t r = 0; r < rows; r++)
            for (size_t c = c0; c < c1; c++) y[r * ldy + c] = bias ? bias[c] : 0.f;
        return 0;
    }
    float *buf = dnabert_kernel_scratch();
    if (!buf) return -1;
    gemm_avx512(x, ldx, rows, k, w, ldw, c0, c1, bias, alpha, y, ldy, buf);
    return 0;
#else
    (void)x; (void)ldx; (void)rows; (void)k; (void)w; (void)ldw; (void)c0; (void)c1; (void)bias; (void)alpha;
    (void)y; (void)ldy;
    return -1;
#endif
}

int dnabert_f32_gemm_nn_acc(const float *x, size_t ldx, size_t rows, size_t k, const float *v, size_t ldv, size_t n,
                            float *y, size_t ldy) {
#ifdef DNABERT_X86
    if (!have_avx512()) return -1;
    if (rows == 0 || n == 0 || k == 0) return 0;
    gemm_nn_acc_avx512(x, ldx, rows, k, v, ldv, n, y, ldy);
    return 0;
#else
    (void)x; (void)ldx; (void)rows; (void)k; (void)v; (void)ldv; (void)n; (void)y; (void)ldy;
    return -1;
#endif
}
