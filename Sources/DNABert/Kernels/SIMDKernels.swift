// This file is compiled three times: into DNABert at the portable x86-64 baseline (SSE2), and — through the
// symlinks Sources/DNABertAVX512/SIMDKernels.swift and Sources/DNABertAVX2/SIMDKernels.swift — into DNABertAVX512
// with AVX-512/FMA enabled, where SIMD16<Float> maps onto one zmm register, and into DNABertAVX2 with AVX2/FMA
// (two ymm registers). `SIMDPath` picks the copy at run time from the CPU's features,
// so the library never executes an instruction the CPU lacks. Keep it self-contained (no other types).

/// Row kernels of attention's online softmax and of the GEGLU MLP.
package enum SIMDKernels {
    package typealias F16 = SIMD16<Float>

    @inline(__always)
    static func madd(_ a: F16, _ b: F16, _ c: F16) -> F16 {
        #if DNABERT_FMA
        return c.addingProduct(a, b)
        #else
        return a * b + c
        #endif
    }

    @inline(__always)
    static func bits(_ x: F16) -> SIMD16<UInt32> { unsafeBitCast(x, to: SIMD16<UInt32>.self) }
    @inline(__always)
    static func float(_ x: SIMD16<UInt32>) -> F16 { unsafeBitCast(x, to: F16.self) }
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> F16 { UnsafeRawPointer(p).loadUnaligned(as: F16.self) }
    @inline(__always)
    static func store(_ v: F16, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self) }

    /// exp(x): Cody–Waite reduction, Cephes expf polynomial, 2^n in the exponent bits; 0 below −87.33.
    @inline(__always)
    package static func exp(_ x: F16) -> F16 {
        let lo = F16(repeating: -87.33), hi = F16(repeating: 88.37)
        let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        let magic = F16(repeating: 12582912)
        let t = madd(xc, F16(repeating: 1.44269504088896341), magic)
        let n = t - magic
        let r = madd(n, F16(repeating: 2.12194440e-4), madd(n, F16(repeating: -0.693359375), xc))
        var p = F16(repeating: 1.9875691500e-4)
        p = madd(p, r, F16(repeating: 1.3981999507e-3))
        p = madd(p, r, F16(repeating: 8.3334519073e-3))
        p = madd(p, r, F16(repeating: 4.1665795894e-2))
        p = madd(p, r, F16(repeating: 1.6666665459e-1))
        p = madd(p, r, F16(repeating: 5.0000001201e-1))
        p = madd(p, r * r, r + F16(repeating: 1))
        let e = (bits(t) &- SIMD16<UInt32>(repeating: 0x4B40_0000) &+ SIMD16<UInt32>(repeating: 127)) &<< SIMD16<UInt32>(repeating: 23)
        return (p * float(e)).replacing(with: F16(repeating: 0), where: x .< lo)
    }

    /// Exact-erf GELU with erf from Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7).
    @inline(__always)
    package static func gelu(_ x: F16) -> F16 {
        let z = x * F16(repeating: 0.70710678118654752)
        let signMask = SIMD16<UInt32>(repeating: 0x8000_0000)
        let sign = bits(z) & signMask
        let az = float(bits(z) & ~signMask)
        let t = F16(repeating: 1) / madd(F16(repeating: 0.3275911), az, F16(repeating: 1))
        var p = F16(repeating: 1.061405429)
        p = madd(p, t, F16(repeating: -1.453152027))
        p = madd(p, t, F16(repeating: 1.421413741))
        p = madd(p, t, F16(repeating: -0.284496736))
        p = madd(p, t, F16(repeating: 0.254829592))
        p = p * t
        let erfAbs = F16(repeating: 1) - p * exp(-(az * az))
        let erf = float(bits(erfAbs) | sign)
        return F16(repeating: 0.5) * x * (F16(repeating: 1) + erf)
    }

    /// One query row of a score tile: row[j] += −slope·|pi − posK[j]| (scores already scaled), then
    /// row[j] = exp(row[j] − m_new) with m_new = max(mOld, max_j row[j]). Returns (m_new, Σ_j row[j]).
    /// `n` ≤ capacity of `row` rounded up to 16 is not required: tails are handled in scalar code.
    @inline(never)  // keep the AVX-512 body: cross-module inlining would recompile it at the caller's baseline
    package static func biasExpRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ posK: UnsafePointer<Float>,
                                   _ pi: Float, _ slope: Float, _ mOld: Float) -> (Float, Double) {
        let nv = n & ~15
        let piv = F16(repeating: pi), negSlope = F16(repeating: -slope)
        let absMask = SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
        var mx = F16(repeating: -Float.infinity)
        var j = 0
        while j < nv {
            let absd = float(bits(piv - load(posK + j)) & absMask)
            let x = madd(negSlope, absd, load(row + j))
            store(x, row + j)
            mx = mx.replacing(with: x, where: x .> mx)
            j += 16
        }
        var mt = mx.max()
        while j < n {
            let d = pi - posK[j]
            let x = row[j] - slope * (d < 0 ? -d : d)
            row[j] = x
            if x > mt { mt = x }
            j += 1
        }
        let mNew = mOld > mt ? mOld : mt
        return (mNew, expSum(row, n, mNew))
    }

    /// `biasExpRow` for a row whose bias is already added and whose maximum `rowMax` is known (the bf16 tiles'
    /// product adds ALiBi and keeps the maxima in its epilogue): the exponentials and their sum only.
    @inline(never)
    package static func expRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ rowMax: Float, _ mOld: Float) -> (Float, Double) {
        let mNew = mOld > rowMax ? mOld : rowMax
        return (mNew, expSum(row, n, mNew))
    }

    /// row[j] = exp(row[j] − m) for j < n; returns Σ_j row[j].
    @inline(__always)
    static func expSum(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ m: Float) -> Double {
        let nv = n & ~15
        let mv = F16(repeating: m)
        var acc = F16()
        var j = 0
        while j < nv {
            let e = exp(load(row + j) - mv)
            store(e, row + j)
            acc += e
            j += 16
        }
        var sum = Double(acc.sum())
        if j < n {
            var v = F16(repeating: -Float.infinity)
            for t in 0..<(n - j) { v[t] = row[j + t] }
            let e = exp(v - mv)
            for t in 0..<(n - j) { row[j + t] = e[t]; sum += Double(e[t]) }
        }
        return sum
    }

    /// out[r, j] = GELU(h[r, j])·h[r, inner + j]; `out` may alias `h`.
    @inline(never)
    package static func geglu(_ h: UnsafePointer<Float>, _ ld: Int, _ rows: Int, _ inner: Int,
                              _ out: UnsafeMutablePointer<Float>, _ ldo: Int) {
        let nv = inner & ~15
        for r in 0..<rows {
            let a = h + r * ld, b = a + inner, o = out + r * ldo
            var j = 0
            while j < nv {
                store(gelu(load(a + j)) * load(b + j), o + j)
                j += 16
            }
            if j < inner {
                var va = F16(), vb = F16()
                for t in 0..<(inner - j) { va[t] = a[j + t]; vb[t] = b[j + t] }
                let g = gelu(va) * vb
                for t in 0..<(inner - j) { o[j + t] = g[t] }
            }
        }
    }

    /// LayerNorm of one row in place, after adding `residual` when given: x = (x − mean)·rstd·w + b with mean and
    /// rstd = 1/sqrt(var + eps) from two Float64 passes in 8 lanes (exact enough for eps = 1e-12 even when
    /// |mean| ≫ std), then Float32 arithmetic (no fused multiply-add: every build gives the same floats).
    /// Returns (mean, rstd).
    @inline(never)
    package static func layerNormRow(_ x: UnsafeMutablePointer<Float>, _ residual: UnsafePointer<Float>?, _ n: Int,
                                     _ eps: Double, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> (Double, Double) {
        typealias D8 = SIMD8<Double>
        typealias F8 = SIMD8<Float>
        @inline(__always) func load8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
        let nv = n & ~15, n8 = n & ~7
        var s = D8(), j = 0
        if let r = residual {
            // x += residual and the sum, in one pass
            while j < n8 {
                let v = load8(x + j) + load8(r + j)
                UnsafeMutableRawPointer(x + j).storeBytes(of: v, as: F8.self)
                s += D8(v)
                j += 8
            }
            while j < n { x[j] += r[j]; j += 1 }
        } else {
            while j < n8 { s += D8(load8(x + j)); j += 8 }
        }
        var sum = s.sum()
        j = n8
        while j < n { sum += Double(x[j]); j += 1 }
        let mu = sum / Double(n)
        var q = D8()
        let m2 = D8(repeating: mu)
        j = 0
        while j < n8 { let d = D8(load8(x + j)) - m2; q += d * d; j += 8 }
        var sq = q.sum()
        while j < n { let d = Double(x[j]) - mu; sq += d * d; j += 1 }
        let rs = 1.0 / (sq / Double(n) + eps).squareRoot()
        let mf = Float(mu), sf = Float(rs)
        let m = F16(repeating: mf), sc = F16(repeating: sf)
        j = 0
        while j < nv { store((load(x + j) - m) * sc * load(w + j) + load(b + j), x + j); j += 16 }
        while j < n { x[j] = (x[j] - mf) * sf * w[j] + b[j]; j += 1 }
        return (mu, rs)
    }

    /// x = GELU(x) in place.
    @inline(never)
    package static func gelu(_ x: UnsafeMutablePointer<Float>, _ count: Int) {
        let nv = count & ~15
        var j = 0
        while j < nv { store(gelu(load(x + j)), x + j); j += 16 }
        if j < count {
            var v = F16()
            for t in 0..<(count - j) { v[t] = x[j + t] }
            let g = gelu(v)
            for t in 0..<(count - j) { x[j + t] = g[t] }
        }
    }
}
