import DNABertAVX512
#if canImport(Glibc)
import Glibc
#endif

/// Chooses between the baseline (SSE2) and AVX-512 builds of `SIMDKernels` once, from the CPU's features.
/// `DNABERT_SIMD=baseline` forces the portable path.
enum SIMDPath {
    enum Kind { case baseline, avx512 }

    static let detected: Kind = {
        if let e = getenv("DNABERT_SIMD"), String(cString: e) == "baseline" { return .baseline }
        guard let f = BLAS.cpuFlags() else { return .baseline }
        return ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"].allSatisfy(f.contains) ? .avx512 : .baseline
    }()

    /// The path in use (tests call both builds of SIMDKernels directly; DNABERT_SIMD=baseline runs the
    /// whole suite on the portable path).
    static var current: Kind { detected }

    @inline(__always)
    static func biasExpRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ posK: UnsafePointer<Float>,
                           _ pi: Float, _ slope: Float, _ mOld: Float) -> (Float, Double) {
        switch current {
        case .avx512: return DNABertAVX512.SIMDKernels.biasExpRow(row, n, posK, pi, slope, mOld)
        case .baseline: return SIMDKernels.biasExpRow(row, n, posK, pi, slope, mOld)
        }
    }

    @inline(__always)
    static func geglu(_ h: UnsafePointer<Float>, _ ld: Int, _ rows: Int, _ inner: Int, _ out: UnsafeMutablePointer<Float>, _ ldo: Int) {
        switch current {
        case .avx512: DNABertAVX512.SIMDKernels.geglu(h, ld, rows, inner, out, ldo)
        case .baseline: SIMDKernels.geglu(h, ld, rows, inner, out, ldo)
        }
    }

    @inline(__always)
    static func gelu(_ x: UnsafeMutablePointer<Float>, _ count: Int) {
        switch current {
        case .avx512: DNABertAVX512.SIMDKernels.gelu(x, count)
        case .baseline: SIMDKernels.gelu(x, count)
        }
    }
}
