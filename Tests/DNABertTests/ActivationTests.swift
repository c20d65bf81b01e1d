import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert
import DNABertAVX512
import DNABertAVX2

@Suite struct ActivationTests {
    static func geluRef(_ x: Double) -> Double { 0.5 * x * (1 + Glibc.erf(x / 2.0.squareRoot())) }

    @Test func geluMatchesGlibcErf() {
        var xs: [Float] = stride(from: -12.0, through: 12.0, by: 0.001).map { Float($0) }
        xs += [0, -0.0, 1e-30, -1e-30, 30, -30, 100, -100]
        var y = xs
        y.withUnsafeMutableBufferPointer { Activations.gelu($0.baseAddress!, count: $0.count) }
        var worst = 0.0
        for (x, v) in zip(xs, y) {
            let r = Self.geluRef(Double(x))
            worst = max(worst, abs(Double(v) - r) / max(1, abs(r)))
        }
        #expect(worst < 5e-7, "max error \(worst)")
    }

    @Test func gegluGatesWithGELUOfFirstHalf() {
        var rng = TestRandom(3)
        let rows = 5, inner = 13
        let h = rng.floats(rows * 2 * inner, 4)
        var out = [Float](repeating: 0, count: rows * inner)
        h.withUnsafeBufferPointer { hp in out.withUnsafeMutableBufferPointer { op in
            Activations.geglu(hp.baseAddress!, ld: 2 * inner, rows: rows, inner: inner, out: op.baseAddress!, ldo: inner)
        } }
        for r in 0..<rows {
            for j in 0..<inner {
                let want = Self.geluRef(Double(h[r * 2 * inner + j])) * Double(h[r * 2 * inner + inner + j])
                #expect(abs(Double(out[r * inner + j]) - want) < 2e-6 * max(1, abs(want)))
            }
        }
    }

    /// Every build of the SIMD kernels this CPU runs: the baseline one, and the AVX2 and AVX-512 ones when it has them.
    static var builds: [(String, (SIMD16<Float>) -> SIMD16<Float>, (SIMD16<Float>) -> SIMD16<Float>)] {
        var b: [(String, (SIMD16<Float>) -> SIMD16<Float>, (SIMD16<Float>) -> SIMD16<Float>)] =
            [("baseline", { DNABert.SIMDKernels.exp($0) }, { DNABert.SIMDKernels.gelu($0) })]
        if SIMDPath.supported.contains(.avx2) {
            b.append(("avx2", { DNABertAVX2.SIMDKernels.exp($0) }, { DNABertAVX2.SIMDKernels.gelu($0) }))
        }
        if SIMDPath.supported.contains(.avx512) {
            b.append(("avx512", { DNABertAVX512.SIMDKernels.exp($0) }, { DNABertAVX512.SIMDKernels.gelu($0) }))
        }
        return b
    }

    @Test func vectorExpAndGELUMatchGlibcInEveryBuild() {
        for (name, expf, geluf) in Self.builds {
            var worst = 0.0, worstGelu = 0.0
            var x: Float = -87
            while x < 88 {
                var v = SIMD16<Float>()
                for i in 0..<16 { v[i] = x + Float(i) * 0.0123 }
                let e = expf(v)
                for i in 0..<16 {
                    let r = Glibc.exp(Double(v[i]))
                    worst = max(worst, abs(Double(e[i]) - r) / r)
                }
                let g = geluf(v * 0.1)
                for i in 0..<16 {
                    let r = Self.geluRef(Double(v[i] * 0.1))
                    worstGelu = max(worstGelu, abs(Double(g[i]) - r) / max(1, abs(r)))
                }
                x += 0.37
            }
            #expect(worst < 3e-7, "\(name): max relative exp error \(worst)")
            #expect(worstGelu < 5e-7, "\(name): max GELU error \(worstGelu)")
            #expect(expf(SIMD16(repeating: -1000))[0] == 0, "\(name)")
            #expect(expf(SIMD16(repeating: 0))[3] == 1, "\(name)")
        }
    }

    /// The attention row kernel of both builds vs a Float64 computation of the same quantities.
    @Test func biasExpRowInEveryBuild() {
        var rng = TestRandom(21)
        for n in [1, 15, 16, 17, 100, 256] {
            let scores = rng.floats(n, 6)
            let pos = (0..<n).map { Float($0 * 2 + 3) }
            let pi: Float = 40, slope: Float = 0.125, mOld: Float = 2.5
            var biased = [Double](repeating: 0, count: n)
            for j in 0..<n { biased[j] = Double(scores[j]) - Double(slope) * abs(Double(pi) - Double(pos[j])) }
            let wantM = max(Double(mOld), biased.max()!)
            let wantP = biased.map { Glibc.exp($0 - wantM) }
            var fns: [(String, (UnsafeMutablePointer<Float>, Int, UnsafePointer<Float>, Float, Float, Float) -> (Float, Double))] =
                [("baseline", { DNABert.SIMDKernels.biasExpRow($0, $1, $2, $3, $4, $5) })]
            if SIMDPath.supported.contains(.avx2) { fns.append(("avx2", { DNABertAVX2.SIMDKernels.biasExpRow($0, $1, $2, $3, $4, $5) })) }
            if SIMDPath.supported.contains(.avx512) { fns.append(("avx512", { DNABertAVX512.SIMDKernels.biasExpRow($0, $1, $2, $3, $4, $5) })) }
            for (name, f) in fns {
                var row = scores
                let (m, sum) = row.withUnsafeMutableBufferPointer { r in pos.withUnsafeBufferPointer { p in
                    f(r.baseAddress!, n, p.baseAddress!, pi, slope, mOld)
                } }
                #expect(abs(Double(m) - wantM) < 1e-5, "\(name) n=\(n)")
                #expect(abs(sum - wantP.reduce(0, +)) < 1e-5 * Double(n), "\(name) n=\(n)")
                for j in 0..<n { #expect(abs(Double(row[j]) - wantP[j]) < 1e-6, "\(name) n=\(n) j=\(j)") }
            }
        }
    }
}
