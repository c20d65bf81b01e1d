/* Attention's two tile products with bfloat16 inputs and float32 sums (internal, not part of the public C ABI).
 *
 *   dnabert_bf16_qk:      s[r, j]  = alpha · Σ_c bf16(q[r, c]) · bf16(k[j, c])     r < rows, j < kn, c < d
 *   dnabert_bf16_pv_acc:  o[r, c] += Σ_j bf16(p[r, j]) · bf16(v[j, c])             r < rows, c < d,  j < kn
 *
 * bf16(x) rounds a float to the nearest bfloat16 (8 significant bits), ties to even. The products run on
 * AVX512_BF16's vdpbf16ps, which multiplies pairs of bfloat16 values and adds both products to a float32 lane; on
 * AMD Zen 4 it does twice the work of a float32 FMA per cycle. Both functions pack their operands into pairs in a
 * thread-local buffer (K transposed so that keys run along the vector; V interleaved two rows at a time), then run
 * a 6-row × 64-column micro-kernel. dnabert uses them for the flash-attention tiles of int8 models only (see
 * FlashAttention.swift); float32 models never round to bfloat16.
 */
#ifndef DNABERT_BF16_ATTENTION_H
#define DNABERT_BF16_ATTENTION_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the CPU (and OS, for the zmm state) supports AVX-512 F, BW, VL and AVX512_BF16. */
int dnabert_bf16_cpu_has_avx512bf16(void);

/* 1 if the CPU's vendor string is "AuthenticAMD" (whose AVX512_BF16 CPUs, Zen 4 on, run vdpbf16ps at twice the
 * float32 FMA rate; Intel's run it at half, see the README). */
int dnabert_cpu_is_amd(void);

/* s = alpha · bf16(q)·bf16(k)ᵀ (q: rows × d, row stride ldq; k: kn × d, row stride ldk; s row stride lds).
 * Returns 0, or -1 when the CPU lacks AVX512_BF16, d > 256, or the thread's buffer cannot be allocated
 * (nothing written; the caller uses float32). */
int dnabert_bf16_qk(const float *q, size_t ldq, size_t rows, const float *k, size_t ldk, size_t kn, size_t d,
                    float alpha, float *s, size_t lds);

/* o += bf16(p)·bf16(v) (p: rows × kn, row stride ldp; v: kn × d, row stride ldv; o row stride ldo).
 * Returns 0, or -1 as dnabert_bf16_qk (also when kn > 1024). */
int dnabert_bf16_pv_acc(const float *p, size_t ldp, size_t rows, size_t kn, const float *v, size_t ldv, size_t d,
                        float *o, size_t ldo);

/* The same products with K or V packed beforehand, once for all the query tiles that read them (a sequence longer
 * than one query tile packed its keys once per tile before). dnabert_bf16_pack_k writes the kn keys as panels of 64
 * (key j at panel j / 64), dnabert_bf16_packed_k_size(kn, d) dwords; dnabert_bf16_pack_v writes V as ⌈d/64⌉ column
 * panels of ⌈kn/2⌉ key pairs, dnabert_bf16_packed_v_size(kn, d) dwords; `out` must be 64-byte aligned. They
 * return -1 (nothing written) where dnabert_bf16_qk would, or for a misaligned `out`, kp or vp. A tile of keys j0 ..< j0 + kn reads K's panels from kp = out + (j0 / 64) · ⌈d/2⌉ · 64
 * (j0 a multiple of 64) and V's pairs from vp = out + (j0 / 2) · 64 (j0 even) with vstride = ⌈kn_all/2⌉ · 64, the
 * distance between V's column panels. Same results as dnabert_bf16_qk and dnabert_bf16_pv_acc, bit for bit. */
size_t dnabert_bf16_packed_k_size(size_t kn, size_t d);
size_t dnabert_bf16_packed_v_size(size_t kn, size_t d);
/* Where a tile of keys j0 ..< j0 + kn starts in packed K (j0 a multiple of 64) and in packed V (j0 even), and V's
 * vstride for a sequence of kn_all keys: the layout above in one place, for the callers of the _packed products. */
const uint32_t *dnabert_bf16_packed_k_tile(const uint32_t *kp, size_t j0, size_t d);
const uint32_t *dnabert_bf16_packed_v_tile(const uint32_t *vp, size_t j0);
size_t dnabert_bf16_packed_v_stride(size_t kn_all);
int dnabert_bf16_pack_k(const float *k, size_t ldk, size_t kn, size_t d, uint32_t *out);
int dnabert_bf16_pack_v(const float *v, size_t ldv, size_t kn, size_t d, uint32_t *out);
int dnabert_bf16_qk_packed(const float *q, size_t ldq, size_t rows, const uint32_t *kp, size_t kn, size_t d,
                           float alpha, float *s, size_t lds);
/* dnabert_bf16_qk and dnabert_bf16_qk_packed with ALiBi added in the product's epilogue:
 * s[r, j] = fma(−slope, |qpos[r] − kpos[j]|, alpha · bf16(q[r])·bf16(k[j])) and rmax[r] = max_j s[r, j] (the
 * online softmax's row maxima, so that it needs one pass over the tile instead of two). qpos: rows, kpos: kn
 * floats. Also -1 for d = 0. */
int dnabert_bf16_qk_alibi(const float *q, size_t ldq, size_t rows, const float *k, size_t ldk, size_t kn, size_t d,
                          float alpha, const float *qpos, const float *kpos, float slope, float *s, size_t lds,
                          float *rmax);
int dnabert_bf16_qk_alibi_packed(const float *q, size_t ldq, size_t rows, const uint32_t *kp, size_t kn, size_t d,
                                 float alpha, const float *qpos, const float *kpos, float slope, float *s, size_t lds,
                                 float *rmax);
/* (kn ≤ 2048) */
int dnabert_bf16_pv_acc_packed(const float *p, size_t ldp, size_t rows, size_t kn, const uint32_t *vp,
                               size_t vstride, size_t d, float *o, size_t ldo);

#ifdef __cplusplus
}
#endif
#endif
