/* Float32 GEMM kernel of dnabert for the linear layers' forward (internal, not part of the public C ABI).
 *
 *   y[r, c] = Σ_k x[r, k] · w[c, k]  (+ bias[c])      for r < rows, c0 ≤ c < c1
 *
 * i.e. y = x·Wᵀ with W in its PyTorch layout [out, in] (row-major, ldw floats apart). OpenBLAS repacks the whole
 * weight matrix on every call, which costs 15–20 % of a 128-row product; this kernel packs one 64-channel panel of
 * W at a time into a thread-local buffer (a 16×16 register transpose) and runs every row through it with a 6-row ×
 * 64-channel AVX-512 micro-kernel (24 accumulators, one broadcast per row and k). The reduction over k runs in
 * blocks of at most 1,024 (the panel stays in L2); sums are float32, in k order within a block.
 */
#ifndef DNABERT_F32_GEMM_H
#define DNABERT_F32_GEMM_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the CPU (and OS, for the zmm state) supports AVX-512 F. */
int dnabert_f32_cpu_has_avx512(void);

/* y = alpha · x·Wᵀ (+ bias) for output channels c0 ..< c1 (any range; a multiple of 64 apart from the end is
 * fastest). Returns 0, or -1 when the CPU lacks AVX-512 or the thread's panel buffer cannot be allocated (nothing
 * written; the caller uses another GEMM). */
int dnabert_f32_gemm_nt(const float *x, size_t ldx, size_t rows, size_t k, const float *w, size_t ldw,
                        size_t c0, size_t c1, const float *bias, float alpha, float *y, size_t ldy);

/* y[r, c] += Σ_kk x[r, kk] · v[kk, c] for r < rows, c < n, with v row-major [k, n] (row stride ldv) read in place
 * (no packing: attention's P·V, where V's rows are short). Returns 0, or -1 without AVX-512 (nothing written). */
int dnabert_f32_gemm_nn_acc(const float *x, size_t ldx, size_t rows, size_t k, const float *v, size_t ldv, size_t n,
                            float *y, size_t ldy);

#ifdef __cplusplus
}
#endif
#endif
