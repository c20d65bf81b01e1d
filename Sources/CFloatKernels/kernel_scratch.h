/* The float kernels' per-thread scratch (private to CFloatKernels): one 256 KiB, 64-byte-aligned buffer per thread,
 * allocated on first use and freed when the thread exits. The float32 GEMM packs a weight panel into it, the bf16
 * attention products their operands; each uses it only inside one call and neither calls the other, so they share
 * it. NULL when it cannot be allocated (the callers then report -1 and the library falls back to another path). */
#ifndef DNABERT_KERNEL_SCRATCH_H
#define DNABERT_KERNEL_SCRATCH_H

enum { DNABERT_KERNEL_SCRATCH_BYTES = 256 * 1024 };

void *dnabert_kernel_scratch(void);

#endif
