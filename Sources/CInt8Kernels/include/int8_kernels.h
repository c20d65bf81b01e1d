/* Int8 GEMM kernels of dnabert (internal, not part of the public C ABI).
 *
 * y[r, n] = sx[r] * sw[n] * Σ_k (xq[r, k] − zp[r]) · wq[n, k]  (+ bias[n])
 * with weights symmetric int8 (one scale per output channel) and activations quantized per row at run time,
 * asymmetrically: u8 with the row's own scale and zero point, so that a row's whole range (not only its largest
 * magnitude, twice) spans the 256 steps, and so that VNNI's vpdpbusd (u8 × s8 → s32) applies; the kernel
 * subtracts zp[r] · Σ_k wq[n, k] (the sums precomputed per output channel) from the int32 accumulator. The int32
 * sums are exact for k up to 66,000 (|Σ (xq − zp) · wq| ≤ 255 · 127 · k).
 *
 * Packed weight layout (built once at quantize/load time): N padded to a multiple of 16, K to a multiple of 4;
 * for each block of 16 output channels, for each group of 4 k, 16 × 4 bytes (channel-major within the group):
 *   packed[((n / 16) * (Kp / 4) + k / 4) * 64 + (n % 16) * 4 + k % 4] = wq[n, k]
 * Padding bytes are 0.
 */
#ifndef DNABERT_INT8_KERNELS_H
#define DNABERT_INT8_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kernel families. */
enum { DNABERT_I8_GENERIC = 0, DNABERT_I8_AVX512VNNI = 1, DNABERT_I8_AVX2 = 2 };

/* The CPUID leaf-7 registers (ebx, ecx) when the OS saves every register state in `xcr0_mask` (XGETBV; needs
 * OSXSAVE): returns 1 and fills them, else 0 — a feature is usable only when both the CPU has it and the OS
 * preserves its registers. The one CPU check of dnabert's C kernels (the float32 ones call it too). */
int dnabert_cpu_leaf7_if_os_saves(unsigned xcr0_mask, unsigned *b7, unsigned *c7);

/* 1 if the CPU (and OS, for the zmm state) supports AVX-512 F/BW + VNNI. */
int dnabert_i8_cpu_has_avx512vnni(void);

/* 1 if the CPU (and OS, for the ymm state) supports AVX2. */
int dnabert_i8_cpu_has_avx2(void);

/* Quantizes `rows` rows of x (row stride ldx floats, k values each) to u8 with one scale and zero point per row
 * (asymmetric): lo = min(0, min x), hi = max(0, max x), inv = 255 / (hi − lo), scale = (hi − lo) / 255,
 * zp = clamp(rint(−lo · inv), 0, 255), q = clamp(rint(x · inv) + zp, 0, 255), all in float32, so that
 * x ≈ (q − zp) · scale. A row whose range is 0 or not finite (all zeros, or an Inf/NaN) gets scale 0, zp 0 and
 * q 0. Writes q (row stride ldq bytes; bytes k..<ldq set to zp), scales[r] and zps[r]. */
void dnabert_i8_quantize_rows_u8(const float *x, size_t ldx, size_t rows, size_t k, uint8_t *q, size_t ldq,
                                 float *scales, int32_t *zps, int kernel);

/* SmoothQuant-style smoothing: quantizes `rows` rows of x like dnabert_i8_quantize_rows_u8 after multiplying each
 * row by inv_s (k per-input-channel factors 1/s): tmp[i] = x[r, i] * inv_s[i] (one rounding per element), then
 * dnabert_i8_quantize_rows_u8(tmp, ...). `tmp` holds k floats (the caller's scratch; the AVX-512 path recomputes
 * the same products instead of storing them). Every kernel sees the same floats, so the paths stay bitwise equal. */
void dnabert_i8_quantize_rows_u8_smoothed(const float *x, size_t ldx, size_t rows, size_t k, const float *inv_s,
                                          float *tmp, uint8_t *q, size_t ldq, float *scales, int32_t *zps, int kernel);

/* Int8 inference's GEGLU (geglu_quantize.c): out[r, j] = GELU(h[r, j]) · h[r, inner + j] (· inv_s[j] when inv_s is
 * not NULL) for j < inner, rows of h with stride ldh floats, of out with stride ldo. GELU's erf is a rational
 * function of degree 5/5 (|error| ≤ 3.5e-7, no exp); every kernel family computes the same bits. */
void dnabert_i8_geglu_rows(const float *h, size_t ldh, size_t rows, size_t inner, const float *inv_s, float *out,
                           size_t ldo, int kernel);

/* dnabert_i8_geglu_rows into `tmp` (inner floats, the caller's scratch) one row at a time, each row then quantized
 * there by dnabert_i8_quantize_rows_u8 into q (row stride ldq), scales and zps: the [rows, inner] GEGLU output never
 * goes to memory. The same bits as the two calls one after the other. */
void dnabert_i8_geglu_quantize_rows(const float *h, size_t ldh, size_t rows, size_t inner, const float *inv_s,
                                    float *tmp, uint8_t *q, size_t ldq, float *scales, int32_t *zps, int kernel);

/* The same quantization written as signed int8 (row stride ldq, padding 0) — used for weights. */
void dnabert_i8_quantize_rows_s8(const float *x, size_t ldx, size_t rows, size_t k, int8_t *q, size_t ldq,
                                 float *scales);

/* Packs row-major wq [n, ldq] (k valid columns) into the layout above; `packed` holds npad * kpad bytes with
 * npad = round_up(n, 16), kpad = round_up(k, 4). Also writes colsum[n] = Σ_k wq[n, k] (npad entries, 0 padding). */
void dnabert_i8_pack_weights(const int8_t *wq, size_t ldq, size_t n, size_t k, int8_t *packed, int32_t *colsum);

/* y[r, c0..c1) for r in 0..<rows: xq is u8 [rows, kpad] (row stride kpad), sx and zp its scales and zero points
 * (y = (Σ_k xq·w − zp · colsum) · sx · sw (+ bias), the sums in int32); packed/colsum/sw as above (for all npad
 * channels); c0 must be a multiple of 16. bias may be NULL. y has row stride ldy. */
void dnabert_i8_gemm(const uint8_t *xq, const float *sx, const int32_t *zp, size_t rows, size_t kpad,
                     const int8_t *packed, const int32_t *colsum, const float *sw, const float *bias,
                     size_t c0, size_t c1, float *y, size_t ldy, int kernel);

#ifdef __cplusplus
}
#endif
#endif
