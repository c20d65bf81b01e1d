import DNABertAVX512
import DNABertAVX2
#if canImport(Glibc)
import Glibc
#endif

/// Chooses between the baseline (SSE2), AVX2 + FMA and AVX-512 builds of `SIMDKernels` once, from the CPU's
/// features. `DNABERT_SIMD=baseline` (or `=avx2`) forces a slower path than the CPU's best.
enum SIMDPath {
    enum Kind: String { case baseline, avx2, avx512 }

    /// The builds this CPU can run, slowest first.
    static let supported: [Kind] = {
        guard let f = BLAS.cpuFlags() else { return [.baseline] }
        var k: [Kind] = [.baseline]
        if ["avx2", "fma"].allSatisfy(f.contains) { k.append(.avx2) }
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"].allSatisfy(f.contains) { k.append(.avx512) }
        return k
    }()

    static let detected: Kind = {
        if let e = getenv("DNABERT_SIMD"), let k = Kind(rawValue: String(cString: e)), supported.contains(k) { return k }
        return supported.last!
    }()

    /// The path in use (tests call both builds of SIMDKernels directly; DNABERT_SIMD=baseline runs the
    /// whole suite on the portable path).
    static var current: Kind { detected }

    @inline(__always)
    static func biasExpRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ posK: UnsafePointer<Float>,
                           _ pi: Float, _ slope: Float, _ mOld: Float) -> (Float, Double) {
        switch current {
        case .avx512: return DNABertAVX512.SIMDKernels.biasExpRow(row, n, posK, pi, slope, mOld)
        case .avx2: return DNABertAVX2.SIMDKernels.biasExpRow(row, n, posK, pi, slope, mOld)
        case .baseline: return SIMDKernels.biasExpRow(row, n, posK, pi, slope, mOld)
        }
    }

    @inline(__always)
    static func expRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ rowMax: Float, _ mOld: Float) -> (Float, Double) {
        switch current {
        case .avx512: return DNABertAVX512.SIMDKernels.expRow(row, n, rowMax, mOld)
        case .avx2: return DNABertAVX2.SIMDKernels.expRow(row, n, rowMax, mOld)
        case .baseline: return SIMDKernels.expRow(row, n, rowMax, mOld)
        }
    }

    @inline(__always)
    static func geglu(_ h: UnsafePointer<Float>, _ ld: Int, _ rows: Int, _ inner: Int, _ out: UnsafeMutablePointer<Float>, _ ldo: Int) {
        switch current {
        case .avx512: DNABertAVX512.SIMDKernels.geglu(h, ld, rows, inner, out, ldo)
        case .avx2: DNABertAVX2.SIMDKernels.geglu(h, ld, rows, inner, out, ldo)
        case .baseline: SIMDKernels.geglu(h, ld, rows, inner, out, ldo)
        }
    }

    @inline(__always)
    static func layerNormRow(_ x: UnsafeMutablePointer<Float>, _ residual: UnsafePointer<Float>?, _ n: Int, _ eps: Double,
                             _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> (Double, Double) {
        switch current {
        case .avx512: return DNABertAVX512.SIMDKernels.layerNormRow(x, residual, n, eps, w, b)
        case .avx2: return DNABertAVX2.SIMDKernels.layerNormRow(x, residual, n, eps, w, b)
        case .baseline: return SIMDKernels.layerNormRow(x, residual, n, eps, w, b)
        }
    }

    @inline(__always)
    static func gelu(_ x: UnsafeMutablePointer<Float>, _ count: Int) {
        switch current {
        case .avx512: DNABertAVX512.SIMDKernels.gelu(x, count)
        case .avx2: DNABertAVX2.SIMDKernels.gelu(x, count)
        case .baseline: SIMDKernels.gelu(x, count)
        }
    }
}
