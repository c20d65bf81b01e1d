// Compiled three times like SIMDKernels.swift: into DNABert (baseline) and, through the symlinks
// Sources/DNABertAVX512/SIMDBackwardKernels.swift and Sources/DNABertAVX2/..., into DNABertAVX512 (AVX-512 + FMA)
// and DNABertAVX2 (AVX2 + FMA). `SIMDKernels` below is
// the same module's copy. Dispatched by `SIMDPath.current` (see Layers/Activations.swift).

/// Row kernels of the backward pass: derivatives of exact-erf GELU and of the GEGLU gate.
package enum SIMDBackwardKernels {
    typealias F16 = SIMD16<Float>

    @inline(__always)
    static func madd(_ a: F16, _ b: F16, _ c: F16) -> F16 {
        #if DNABERT_FMA
        return c.addingProduct(a, b)
        #else
        return a * b + c
        #endif
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> F16 { UnsafeRawPointer(p).loadUnaligned(as: F16.self) }
    @inline(__always)
    static func store(_ v: F16, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self) }

    /// (GELU(x), GELU'(x)) = (x·Φ(x), Φ(x) + x·φ(x)); erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7),
    /// whose exp(−x²/2) is also φ's.
    @inline(__always)
    static func geluAndDerivative(_ x: F16) -> (F16, F16) {
        let z = x * F16(repeating: 0.70710678118654752)
        let signMask = SIMD16<UInt32>(repeating: 0x8000_0000)
        let zb = unsafeBitCast(z, to: SIMD16<UInt32>.self)
        let sign = zb & signMask
        let az = unsafeBitCast(zb & ~signMask, to: F16.self)
        let t = F16(repeating: 1) / madd(F16(repeating: 0.3275911), az, F16(repeating: 1))
        var p = F16(repeating: 1.061405429)
        p = madd(p, t, F16(repeating: -1.453152027))
        p = madd(p, t, F16(repeating: 1.421413741))
        p = madd(p, t, F16(repeating: -0.284496736))
        p = madd(p, t, F16(repeating: 0.254829592))
        p = p * t
        let e = SIMDKernels.exp(-(az * az))
        let erfAbs = F16(repeating: 1) - p * e
        let erf = unsafeBitCast(unsafeBitCast(erfAbs, to: SIMD16<UInt32>.self) | sign, to: F16.self)
        let cdf = F16(repeating: 0.5) * (F16(repeating: 1) + erf)
        let pdf = F16(repeating: 0.3989422804014327) * e
        return (x * cdf, madd(x, pdf, cdf))
    }

    @inline(__always)
    static func loadN(_ p: UnsafePointer<Float>, _ n: Int) -> F16 {
        var v = F16()
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @inline(__always)
    static func storeN(_ v: F16, _ p: UnsafeMutablePointer<Float>, _ n: Int) { for i in 0..<n { p[i] = v[i] } }

    /// dh = [dOut·b·GELU'(a) | dOut·GELU(a)] for h = [a | b] per row.
    package static func gegluBackward(_ h: UnsafePointer<Float>, _ ld: Int, _ rows: Int, _ inner: Int,
                                      _ dOut: UnsafePointer<Float>, _ ldo: Int, _ dh: UnsafeMutablePointer<Float>, _ lddh: Int) {
        for r in 0..<rows {
            let a = h + r * ld, b = a + inner, g = dOut + r * ldo, da = dh + r * lddh, db = da + inner
            var j = 0
            while j + 16 <= inner {
                let (ge, gd) = geluAndDerivative(load(a + j))
                let gv = load(g + j)
                store(gv * load(b + j) * gd, da + j)
                store(gv * ge, db + j)
                j += 16
            }
            if j < inner {
                let n = inner - j
                let (ge, gd) = geluAndDerivative(loadN(a + j, n))
                let gv = loadN(g + j, n)
                storeN(gv * loadN(b + j, n) * gd, da + j, n)
                storeN(gv * ge, db + j, n)
            }
        }
    }

    /// d = d·GELU'(z).
    package static func geluBackward(_ d: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, _ count: Int) {
        var j = 0
        while j + 16 <= count {
            store(load(d + j) * geluAndDerivative(load(z + j)).1, d + j)
            j += 16
        }
        if j < count {
            let n = count - j
            storeN(loadN(d + j, n) * geluAndDerivative(loadN(z + j, n)).1, d + j, n)
        }
    }
}
