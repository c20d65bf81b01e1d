/// Small `SIMD8<Float>` helpers for the memory-bound loops (bias adds, LayerNorm). The transcendental
/// kernels live in SIMDKernels.swift (built for both the baseline and AVX-512).
enum VectorMath {
    typealias F8 = SIMD8<Float>

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
