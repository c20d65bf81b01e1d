import Testing
@testable import DNABert

@Suite struct BLASTests {
    /// Naive Float64 reference of row-major C = alpha·op(A)·op(B) + beta·C.
    static func reference(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: [Float], _ lda: Int,
                          _ b: [Float], _ ldb: Int, _ beta: Float, _ c: [Float], _ ldc: Int) -> [Double] {
        var out = c.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = ta ? a[p * lda + i] : a[i * lda + p]
                    let bv = tb ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                out[i * ldc + j] = Double(alpha) * s + Double(beta) * Double(c[i * ldc + j])
            }
        }
        return out
    }

    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (7, 13, 5), (65, 129, 33), (3, 1, 17)]

    func check(fallback: Bool) throws {
        var rng = TestRandom(42)
        for (m, n, k) in Self.shapes {
            for ta in [false, true] {
                for tb in [false, true] {
                    for pad in [0, 3] {
                        let lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad
                        let a = rng.floats((ta ? k : m) * lda), b = rng.floats((tb ? n : k) * ldb)
                        var c = rng.floats(m * ldc)
                        let alpha: Float = 0.75, beta: Float = pad == 0 ? 0 : -0.5
                        let want = Self.reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
                        a.withUnsafeBufferPointer { ap in
                            b.withUnsafeBufferPointer { bp in
                                c.withUnsafeMutableBufferPointer { cp in
                                    let args = (ta ? BLAS.Transpose.trans : .noTrans, tb ? BLAS.Transpose.trans : .noTrans)
                                    if fallback {
                                        BLAS.fallbackSgemm(transA: args.0, transB: args.1, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: lda,
                                                           b: bp.baseAddress!, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc)
                                    } else {
                                        BLAS.sgemm(transA: args.0, transB: args.1, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: lda,
                                                   b: bp.baseAddress!, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc)
                                    }
                                }
                            }
                        }
                        var worst = 0.0
                        for i in 0..<m { for j in 0..<n { worst = max(worst, abs(Double(c[i * ldc + j]) - want[i * ldc + j])) } }
                        #expect(worst < 1e-5 * Double(max(k, 1)), "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) pad=\(pad) err=\(worst)")
                        // Padding columns of C must be untouched.
                        if pad > 0 { #expect(c[ldc - 1] == Float(want[ldc - 1])) }
                    }
                }
            }
        }
    }

    @Test func openBLASSgemmMatchesFloat64Reference() throws {
        try BLAS.ensureLoaded()
        #expect(!BLAS.info.isFallback)
        try check(fallback: false)
    }

    @Test func fallbackSgemmMatchesFloat64Reference() throws {
        try check(fallback: true)
    }

    @Test func infoNamesTheLibrary() throws {
        try BLAS.ensureLoaded()
        let info = BLAS.info
        #expect(info.config.contains("OpenBLAS"))
        #expect(!info.corename.isEmpty)
        #expect(info.threads >= 1)
    }

    /// The threaded x·Wᵀ + b wrapper, both splits (rows and output columns).
    @Test(arguments: [(1, 5, 3), (17, 100, 9), (400, 70, 12), (1000, 33, 64)])
    func linearMatchesReference(_ shape: (Int, Int, Int)) {
        let (rows, outF, inF) = shape
        var rng = TestRandom(7)
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF)
        var y = [Float](repeating: .nan, count: rows * outF)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in
            Linear.forward(x: xp.baseAddress!, ldx: inF, rows: rows, inFeatures: inF, weight: wp.baseAddress!, outFeatures: outF,
                           bias: bp.baseAddress!, y: yp.baseAddress!, ldy: outF, threads: 2)
        } } } }
        var worst = 0.0
        for r in 0..<rows {
            for o in 0..<outF {
                var s = Double(b[o])
                for i in 0..<inF { s += Double(x[r * inF + i]) * Double(w[o * inF + i]) }
                worst = max(worst, abs(s - Double(y[r * outF + o])))
            }
        }
        #expect(worst < 1e-4)
    }
}
