import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

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

    @Test func vectorExpMatchesGlibc() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            var v = VectorMath.F8()
            for i in 0..<8 { v[i] = x + Float(i) * 0.0123 }
            let e = VectorMath.exp(v)
            for i in 0..<8 {
                let r = Glibc.exp(Double(v[i]))
                worst = max(worst, abs(Double(e[i]) - r) / r)
            }
            x += 0.37
        }
        #expect(worst < 3e-7, "max relative error \(worst)")
        let tiny = VectorMath.exp(VectorMath.F8(repeating: -1000))
        #expect(tiny[0] == 0)
        #expect(VectorMath.exp(VectorMath.F8(repeating: 0))[3] == 1)
    }
}
