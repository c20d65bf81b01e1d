import Testing
@testable import DNABert

@Suite struct LayerNormTests {
    static func reference(_ x: [Float], _ w: [Float], _ b: [Float], eps: Double) -> [Double] {
        let n = Double(x.count)
        let mean = x.reduce(0.0) { $0 + Double($1) } / n
        let v = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        return x.indices.map { (Double(x[$0]) - mean) / (v + eps).squareRoot() * Double(w[$0]) + Double(b[$0]) }
    }

    @Test(arguments: [1, 7, 24, 768, 1001])
    func matchesNaiveReference(_ cols: Int) {
        var rng = TestRandom(UInt64(cols))
        let rows = 4
        var x = rng.floats(rows * cols, 3)
        for j in 0..<cols { x[2 * cols + j] += 1000 }  // large mean: needs exact statistics
        let w = rng.floats(cols), b = rng.floats(cols)
        var y = x
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        y.withUnsafeMutableBufferPointer { yp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            mean.withUnsafeMutableBufferPointer { mp in rstd.withUnsafeMutableBufferPointer { rp in
                LayerNorm.forward(yp.baseAddress!, ld: cols, rows: rows, cols: cols, weight: wp.baseAddress!, bias: bp.baseAddress!,
                                  eps: 1e-12, mean: mp.baseAddress!, rstd: rp.baseAddress!)
            } }
        } } }
        for r in 0..<rows {
            let want = Self.reference(Array(x[(r * cols)..<((r + 1) * cols)]), w, b, eps: 1e-12)
            for j in 0..<cols { #expect(abs(Double(y[r * cols + j]) - want[j]) < 2e-5 * max(1, abs(want[j])), "row \(r) col \(j)") }
            let m = x[(r * cols)..<((r + 1) * cols)].reduce(0.0) { $0 + Double($1) } / Double(cols)
            #expect(abs(Double(mean[r]) - m) < 1e-4 * max(1, abs(m)))
        }
    }

    @Test func fusedResidualForm() {
        var rng = TestRandom(11)
        let rows = 3, cols = 37
        let x = rng.floats(rows * cols), res = rng.floats(rows * cols), add = rng.floats(cols), w = rng.floats(cols), b = rng.floats(cols)
        var y = x
        y.withUnsafeMutableBufferPointer { yp in res.withUnsafeBufferPointer { rp in add.withUnsafeBufferPointer { ap in
            w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
                LayerNorm.addForward(yp.baseAddress!, ld: cols, rows: rows, cols: cols, addBias: ap.baseAddress!, residual: rp.baseAddress!,
                                     ldr: cols, weight: wp.baseAddress!, bias: bp.baseAddress!, eps: 1e-12)
            } }
        } } }
        for r in 0..<rows {
            let sum = (0..<cols).map { x[r * cols + $0] + add[$0] + res[r * cols + $0] }
            let want = Self.reference(sum, w, b, eps: 1e-12)
            for j in 0..<cols { #expect(abs(Double(y[r * cols + j]) - want[j]) < 1e-5 * max(1, abs(want[j]))) }
        }
    }

    @Test func constantRowGivesBias() {
        // Variance 0: with eps 1e-12 the normalised value is 0, so the output is the bias.
        var y = [Float](repeating: 5, count: 16)
        let w = [Float](repeating: 2, count: 16), b = (0..<16).map { Float($0) }
        y.withUnsafeMutableBufferPointer { yp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            LayerNorm.forward(yp.baseAddress!, ld: 16, rows: 1, cols: 16, weight: wp.baseAddress!, bias: bp.baseAddress!, eps: 1e-12)
        } } }
        #expect(y == b)
    }
}
