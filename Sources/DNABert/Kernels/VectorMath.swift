/// Vectorised exp/erf on `SIMD8<Float>` used by softmax and GELU.
///
/// Why hand-written: Glibc's scalar `expf`/`erff` cost ~5–15 ns each and the attention softmax of a
/// 8k-token sequence needs ~10^10 exponentials. These polynomial versions compile to plain SSE2 (the
/// portable baseline) and are branch-free.
enum VectorMath {
    typealias F8 = SIMD8<Float>

    /// exp(x) with relative error ≲ 2e-7 on [-87.3, 88.7]; 0 below -87.3, clamps above (Cephes expf's
    /// polynomial after Cody–Waite range reduction, 2^n assembled in the exponent bits).
    @inline(__always)
    static func exp(_ x: F8) -> F8 {
        let lo = F8(repeating: -87.33), hi = F8(repeating: 88.37)
        let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        let magic = F8(repeating: 12582912)  // 1.5·2^23: adding it rounds to an integer in the low mantissa bits
        let t = xc * F8(repeating: 1.44269504088896341) + magic
        let n = t - magic
        var r = xc - n * F8(repeating: 0.693359375)
        r = r - n * F8(repeating: -2.12194440e-4)
        let r2 = r * r
        var p = F8(repeating: 1.9875691500e-4)
        p = p * r + F8(repeating: 1.3981999507e-3)
        p = p * r + F8(repeating: 8.3334519073e-3)
        p = p * r + F8(repeating: 4.1665795894e-2)
        p = p * r + F8(repeating: 1.6666665459e-1)
        p = p * r + F8(repeating: 5.0000001201e-1)
        p = p * r2 + r + F8(repeating: 1)
        let e = (bits(t) &- SIMD8<UInt32>(repeating: 0x4B40_0000) &+ SIMD8<UInt32>(repeating: 127)) &<< SIMD8<UInt32>(repeating: 23)
        let y = p * float(e)
        return y.replacing(with: F8(repeating: 0), where: x .< lo)
    }

    /// erf(x), absolute error ≤ 1.5e-7 (Abramowitz & Stegun 7.1.26, the form PyTorch's vectorised GELU uses).
    @inline(__always)
    static func erf(_ x: F8) -> F8 {
        let signMask = SIMD8<UInt32>(repeating: 0x8000_0000)
        let sign = bits(x) & signMask
        let ax = float(bits(x) & ~signMask)
        let t = F8(repeating: 1) / (F8(repeating: 1) + F8(repeating: 0.3275911) * ax)
        var p = F8(repeating: 1.061405429)
        p = p * t + F8(repeating: -1.453152027)
        p = p * t + F8(repeating: 1.421413741)
        p = p * t + F8(repeating: -0.284496736)
        p = p * t + F8(repeating: 0.254829592)
        p = p * t
        let y = F8(repeating: 1) - p * exp(-(ax * ax))
        return float(bits(y) | sign)
    }

    /// Exact-erf GELU: 0.5·x·(1 + erf(x/√2)).
    @inline(__always)
    static func gelu(_ x: F8) -> F8 {
        F8(repeating: 0.5) * x * (F8(repeating: 1) + erf(x * F8(repeating: 0.70710678118654752)))
    }

    @inline(__always) static func bits(_ x: F8) -> SIMD8<UInt32> { unsafeBitCast(x, to: SIMD8<UInt32>.self) }
    @inline(__always) static func float(_ x: SIMD8<UInt32>) -> F8 { unsafeBitCast(x, to: F8.self) }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> F8 {
        UnsafeRawPointer(p).loadUnaligned(as: F8.self)
    }

    @inline(__always)
    static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
    }

    /// Loads `n < 8` floats, filling the rest with `fill`.
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float = 0) -> F8 {
        var v = F8(repeating: fill)
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @inline(__always)
    static func storePartial(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { p[i] = v[i] }
    }
}
