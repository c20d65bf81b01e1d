import CFloatKernels
#if canImport(Glibc)
import Glibc
#endif
/// y = x·Wᵀ (+ bias) for PyTorch-layout weights W [out, in], split across threads.
///
/// On a CPU with AVX-512 the product runs on dnabert's own kernel (Sources/CFloatKernels/f32_gemm.c): it packs one
/// 64-channel panel of W at a time and adds the bias in its epilogue, where OpenBLAS repacks all of W on every call
/// and a second pass adds the bias (1.09–1.25× faster on the 117M shapes, one thread; bench/c/f32_gemm_bench.c).
/// The workers then split the output channels in whole panels, so no panel is packed twice. Elsewhere (and for
/// fewer than `kernelMinRows` rows, or with DNABERT_F32_GEMM=blas) each worker calls sgemm single-threaded on its
/// share (see `BLAS`): rows of x when there are enough of them (each worker then streams the whole weight once,
/// amortised over many rows), otherwise output columns (each worker reads only its slice of W).
public enum Linear {
    /// Whether the linear layers use dnabert's float32 kernel: on CPUs with AVX-512 unless DNABERT_F32_GEMM=blas
    /// (a diagnostic, for measuring the kernel against OpenBLAS in the same build).
    static let useKernel: Bool = {
        if let e = getenv("DNABERT_F32_GEMM"), String(cString: e) == "blas" { return false }
        return dnabert_f32_cpu_has_avx512() != 0
    }()

    /// The float32 linear kernel in use, for `dnabert --version`: "avx512" or "openblas".
    public static var kernelName: String { useKernel ? "avx512" : "openblas" }

    /// Below this many rows the product is a few matrix–vector products, bound by reading W; OpenBLAS reads it
    /// once without the panel copy.
    static let kernelMinRows = 8

    public static func forward(x: UnsafePointer<Float>, ldx: Int, rows: Int, inFeatures: Int,
                               weight: UnsafePointer<Float>, outFeatures: Int, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, ldy: Int, threads: Int, quantized: Int8Matrix? = nil) {
        if rows <= 0 || outFeatures <= 0 { return }
        // The int8 variant of this layer (a quantized model): same contract, weight read from `quantized`.
        if let q = quantized {
            forwardInt8(x: x, ldx: ldx, rows: rows, inFeatures: inFeatures, weight: q, bias: bias, y: y, ldy: ldy, threads: threads)
            return
        }
        let t = Parallel.threads(threads)
        if useKernel && rows >= kernelMinRows {
            // Whole 64-channel panels per worker (fewer workers than threads when there are fewer panels: a layer
            // narrower than 64 · threads channels is cheap, and handing part of it to sgemm would make its result
            // depend on the thread count, since OpenBLAS's kernels may sum in another order than this one); a
            // worker that cannot get its panel buffer (out of memory) falls back to sgemm for its share.
            let panels = (outFeatures + 63) / 64, w = min(t, panels)
            Parallel.forEach(w, threads: w) { p in
                let c0 = min(outFeatures, panels * p / w * 64), c1 = min(outFeatures, panels * (p + 1) / w * 64)
                if c1 > c0, dnabert_f32_gemm_nt(x, ldx, rows, inFeatures, weight, inFeatures, c0, c1, bias, 1, y, ldy) != 0 {
                    run(x, ldx, rows, inFeatures, weight, c0, c1, bias, y, ldy)
                }
            }
            return
        }
        let byRows = rows >= 192 * t || outFeatures < 64 * t
        let parts = byRows ? min(t, max(1, rows / 16)) : min(t, max(1, outFeatures / 16))
        Parallel.forEach(parts, threads: parts) { p in
            if byRows {
                let r0 = rows * p / parts, r1 = rows * (p + 1) / parts
                run(x + r0 * ldx, ldx, r1 - r0, inFeatures, weight, 0, outFeatures, bias, y + r0 * ldy, ldy)
            } else {
                // Column ranges aligned to 16 outputs.
                let blocks = (outFeatures + 15) / 16
                let c0 = min(outFeatures, blocks * p / parts * 16), c1 = min(outFeatures, blocks * (p + 1) / parts * 16)
                run(x, ldx, rows, inFeatures, weight, c0, c1, bias, y, ldy)
            }
        }
    }

    @inline(__always)
    static func run(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Int, _ inF: Int, _ w: UnsafePointer<Float>,
                    _ c0: Int, _ c1: Int, _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
        let n = c1 - c0
        if n <= 0 || rows <= 0 { return }
        BLAS.sgemm(transA: .noTrans, transB: .trans, m: rows, n: n, k: inF, alpha: 1, a: x, lda: ldx,
                   b: w + c0 * inF, ldb: inF, beta: 0, c: y + c0, ldc: ldy)
        if let b = bias {
            for r in 0..<rows {
                let row = y + r * ldy + c0
                var j = 0
                while j + 8 <= n {
                    VectorMath.store(VectorMath.load(row + j) + VectorMath.load(b + c0 + j), row + j)
                    j += 8
                }
                while j < n { row[j] += b[c0 + j]; j += 1 }
            }
        }
    }

    /// Backward of `forward`: every parameter gradient is *accumulated* (+=) so that micro-batches add up.
    /// dX (= or += when `accumulateDX`) = dY·W;  dW += dYᵀ·X;  dB += Σ_rows dY.
    /// Parallel over rows for dX and over output features for dW/dB (no reductions across threads).
    /// A nil `dx`, `dW` or `dB` is not computed (frozen weights, or an input that needs no gradient). `weight` is
    /// read for dX only: it may be nil when `dx` is (a frozen int8 linear that needs no input gradient has no
    /// float32 weight); dX is computed when both are given.
    public static func backward(dy: UnsafePointer<Float>, ldy: Int, rows: Int, outFeatures: Int,
                                x: UnsafePointer<Float>, ldx: Int, inFeatures: Int,
                                weight: UnsafePointer<Float>?,
                                dx: UnsafeMutablePointer<Float>?, lddx: Int, accumulateDX: Bool,
                                dW: UnsafeMutablePointer<Float>?, dB: UnsafeMutablePointer<Float>?, threads: Int) {
        if rows <= 0 || outFeatures <= 0 || inFeatures <= 0 { return }
        let nt = Parallel.threads(threads)
        if let dx = dx, let weight {
            let parts = min(nt, max(1, rows / 16))
            Parallel.forEach(parts, threads: parts) { p in
                let r0 = rows * p / parts, r1 = rows * (p + 1) / parts
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: r1 - r0, n: inFeatures, k: outFeatures, alpha: 1,
                           a: dy + r0 * ldy, lda: ldy, b: weight, ldb: inFeatures,
                           beta: accumulateDX ? 1 : 0, c: dx + r0 * lddx, ldc: lddx)
            }
        }
        if dW == nil && dB == nil { return }
        let parts = min(nt, max(1, outFeatures / 16))
        Parallel.forEach(parts, threads: parts) { p in
            let c0 = outFeatures * p / parts, c1 = outFeatures * (p + 1) / parts
            if c1 <= c0 { return }
            if let dW = dW {
                BLAS.sgemm(transA: .trans, transB: .noTrans, m: c1 - c0, n: inFeatures, k: rows, alpha: 1,
                           a: dy + c0, lda: ldy, b: x, ldb: ldx, beta: 1, c: dW + c0 * inFeatures, ldc: inFeatures)
            }
            if let dB = dB {
                let n = c1 - c0
                let acc = UnsafeMutablePointer<Double>.allocate(capacity: n)
                defer { acc.deallocate() }
                acc.initialize(repeating: 0, count: n)
                for r in 0..<rows {
                    let row = dy + r * ldy + c0
                    for j in 0..<n { acc[j] += Double(row[j]) }
                }
                for j in 0..<n { dB[c0 + j] += Float(acc[j]) }
            }
        }
    }
}
