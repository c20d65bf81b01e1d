import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert
import DNABertAVX512
import DNABertAVX2

/// Backward kernels against Float64 finite differences and naive Float64 formulas (independent of the kernels).
@Suite struct BackwardTests {
    /// ‖a − b‖ / (‖b‖ + floor): norm-wise relative error, with an absolute floor for all-zero references.
    static func relErr(_ a: [Double], _ b: [Double], floor: Double = 1e-30) -> Double {
        var num = 0.0, den = 0.0
        for i in a.indices { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i] }
        return num.squareRoot() / (den.squareRoot() + floor)
    }

    // MARK: LayerNorm

    @Test func layerNormBackwardMatchesFiniteDifferences() {
        var rng = TestRandom(11)
        let rows = 5, cols = 13, eps = 1e-5
        let x = rng.floats(rows * cols, 2).enumerated().map { $0.element + Float($0.offset % 3) }
        let w = rng.floats(cols).map { 1 + $0 * 0.5 }, b = rng.floats(cols)
        let c = rng.floats(rows * cols)   // objective Σ c·y
        func obj(_ xd: [Double], _ wd: [Double], _ bd: [Double]) -> Double {
            var s = 0.0
            for r in 0..<rows {
                let row = xd[(r * cols)..<((r + 1) * cols)]
                let mu = row.reduce(0, +) / Double(cols)
                let v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(cols)
                for j in 0..<cols { s += Double(c[r * cols + j]) * ((xd[r * cols + j] - mu) / (v + eps).squareRoot() * wd[j] + bd[j]) }
            }
            return s
        }
        let xd = x.map(Double.init), wd = w.map(Double.init), bd = b.map(Double.init)
        let h = 1e-6
        var fdx = [Double](), fdw = [Double](), fdb = [Double]()
        for i in 0..<(rows * cols) { var p = xd, m = xd; p[i] += h; m[i] -= h; fdx.append((obj(p, wd, bd) - obj(m, wd, bd)) / (2 * h)) }
        for j in 0..<cols { var p = wd, m = wd; p[j] += h; m[j] -= h; fdw.append((obj(xd, p, bd) - obj(xd, m, bd)) / (2 * h)) }
        for j in 0..<cols { var p = bd, m = bd; p[j] += h; m[j] -= h; fdb.append((obj(xd, wd, p) - obj(xd, wd, m)) / (2 * h)) }
        // Kernel: forward saves stats, backward.
        var y = x, mean = [Float](repeating: 0, count: rows), rstd = [Float](repeating: 0, count: rows)
        var dx = [Float](repeating: 0, count: rows * cols), dW = [Float](repeating: 0.5, count: cols), dB = [Float](repeating: -0.25, count: cols)
        LayerNorm.forward(&y, ld: cols, rows: rows, cols: cols, weight: w, bias: b, eps: eps, mean: &mean, rstd: &rstd)
        LayerNorm.backward(dy: c, x: x, ld: cols, rows: rows, cols: cols, mean: mean, rstd: rstd, weight: w,
                                   dx: &dx, accumulate: false, dW: &dW, dB: &dB, threads: 2)
        #expect(Self.relErr(dx.map(Double.init), fdx) < 1e-4)
        // dW/dB accumulate onto the prior contents.
        #expect(Self.relErr(dW.map { Double($0) - 0.5 }, fdw) < 1e-4)
        #expect(Self.relErr(dB.map { Double($0) + 0.25 }, fdb) < 1e-4)
    }

    // MARK: Linear

    @Test func linearBackwardMatchesNaiveFormulas() {
        var rng = TestRandom(12)
        let rows = 37, inF = 19, outF = 23
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), dy = rng.floats(rows * outF)
        var dx = [Float](repeating: 1, count: rows * inF), dW = [Float](repeating: 0, count: outF * inF), dB = [Float](repeating: 0, count: outF)
        for accumulate in [false, true] {
            dx = [Float](repeating: 1, count: rows * inF)
            Linear.backward(dy: dy, ldy: outF, rows: rows, outFeatures: outF, x: x, ldx: inF, inFeatures: inF, weight: w,
                                    dx: &dx, lddx: inF, accumulateDX: accumulate, dW: &dW, dB: &dB, threads: 2)
            var refX = [Double](repeating: accumulate ? 1 : 0, count: rows * inF)
            for r in 0..<rows { for i in 0..<inF { for o in 0..<outF { refX[r * inF + i] += Double(dy[r * outF + o]) * Double(w[o * inF + i]) } } }
            #expect(Self.relErr(dx.map(Double.init), refX) < 1e-5)
        }
        // dW and dB were accumulated twice.
        var refW = [Double](repeating: 0, count: outF * inF), refB = [Double](repeating: 0, count: outF)
        for o in 0..<outF {
            for r in 0..<rows { refB[o] += 2 * Double(dy[r * outF + o]) }
            for i in 0..<inF { for r in 0..<rows { refW[o * inF + i] += 2 * Double(dy[r * outF + o]) * Double(x[r * inF + i]) } }
        }
        #expect(Self.relErr(dW.map(Double.init), refW) < 1e-5)
        #expect(Self.relErr(dB.map(Double.init), refB) < 1e-5)
    }

    // MARK: GELU / GEGLU

    static func geluD(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }

    typealias GegluB = (UnsafePointer<Float>, Int, Int, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Void
    typealias GeluB = (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void
    /// Every build of the backward SIMD kernels this CPU runs (baseline, and AVX2 / AVX-512 when it has them).
    static var builds: [(String, GegluB, GeluB)] {
        var b: [(String, GegluB, GeluB)] = [("baseline", { DNABert.SIMDBackwardKernels.gegluBackward($0, $1, $2, $3, $4, $5, $6, $7) },
                                             { DNABert.SIMDBackwardKernels.geluBackward($0, $1, $2) })]
        if SIMDPath.supported.contains(.avx2) {
            b.append(("avx2", { DNABertAVX2.SIMDBackwardKernels.gegluBackward($0, $1, $2, $3, $4, $5, $6, $7) },
                      { DNABertAVX2.SIMDBackwardKernels.geluBackward($0, $1, $2) }))
        }
        if SIMDPath.supported.contains(.avx512) {
            b.append(("avx512", { DNABertAVX512.SIMDBackwardKernels.gegluBackward($0, $1, $2, $3, $4, $5, $6, $7) },
                      { DNABertAVX512.SIMDBackwardKernels.geluBackward($0, $1, $2) }))
        }
        return b
    }

    @Test func geluAndGegluBackwardMatchFiniteDifferences() {
        var rng = TestRandom(13)
        let rows = 3, inner = 21
        var h = rng.floats(rows * 2 * inner, 4)
        h[0] = 0; h[1] = -9; h[2] = 9; h[3] = 1e-4
        let g = rng.floats(rows * inner)
        let e = 1e-6
        var fd = [Double]()
        for r in 0..<rows {
            for j in 0..<(2 * inner) {
                let a = Double(h[r * 2 * inner + (j % inner)]), b = Double(h[r * 2 * inner + inner + (j % inner)])
                let gg = Double(g[r * inner + (j % inner)])
                if j < inner { fd.append(gg * b * (Self.geluD(a + e) - Self.geluD(a - e)) / (2 * e)) } else { fd.append(gg * Self.geluD(a)) }
            }
        }
        let z0 = rng.floats(rows * inner, 5)
        for (name, geglu, gelu) in Self.builds {
            var dh = [Float](repeating: 0, count: rows * 2 * inner)
            geglu(h, 2 * inner, rows, inner, g, inner, &dh, 2 * inner)
            #expect(Self.relErr(dh.map(Double.init), fd) < 1e-6, "\(name)")
            var d = g, z = z0
            z[0] = 0; z[1] = -8; z[2] = 8
            gelu(&d, z, rows * inner)
            let fd2 = (0..<(rows * inner)).map { Double(g[$0]) * (Self.geluD(Double(z[$0]) + e) - Self.geluD(Double(z[$0]) - e)) / (2 * e) }
            #expect(Self.relErr(d.map(Double.init), fd2) < 1e-6, "\(name)")
            // Elementwise too: GELU'(x) is within 1e-6 of the exact value everywhere on a dense grid.
            var x: Float = -12, worst = 0.0
            while x < 12 {
                var one: [Float] = [1], zz: [Float] = [x]
                gelu(&one, zz, 1)
                worst = max(worst, abs(Double(one[0]) - Double(Activations.geluDerivative(x))))
                zz[0] = 0
                x += 0.0371
            }
            #expect(worst < 1e-6, "\(name): worst GELU' error \(worst)")
        }
    }

    // MARK: Flash attention backward vs naive Float64

    /// Naive Float64 attention on the padded layout of one sequence (−10000 on padded keys): forward O and
    /// the backward (dQ, dK, dV) of the objective Σ dO·O, with dS = P ⊙ (dP − rowsum(P ⊙ dP)).
    static func naiveAttention(q: [Double], k: [Double], v: [Double], dO: [Double], L: Int, heads: Int, d: Int,
                               mask: [Int32], slopes: [Float]) -> (o: [Double], dq: [Double], dk: [Double], dv: [Double]) {
        let H = heads * d, sc = 1 / Double(d).squareRoot()
        var o = [Double](repeating: 0, count: L * H), dq = o, dk = o, dv = o
        for h in 0..<heads {
            for i in 0..<L {
                var s = [Double](repeating: 0, count: L)
                for j in 0..<L {
                    var dot = 0.0
                    for t in 0..<d { dot += q[i * H + h * d + t] * k[j * H + h * d + t] }
                    s[j] = dot * sc - Double(slopes[h]) * Double(abs(i - j)) + (mask[j] == 1 ? 0 : -10000)
                }
                let mx = s.max()!
                let e = s.map { Glibc.exp($0 - mx) }
                let sum = e.reduce(0, +)
                let p = e.map { $0 / sum }
                var dp = [Double](repeating: 0, count: L)
                for j in 0..<L {
                    for t in 0..<d {
                        o[i * H + h * d + t] += p[j] * v[j * H + h * d + t]
                        dv[j * H + h * d + t] += p[j] * dO[i * H + h * d + t]
                        dp[j] += dO[i * H + h * d + t] * v[j * H + h * d + t]
                    }
                }
                var rs = 0.0
                for j in 0..<L { rs += p[j] * dp[j] }
                for j in 0..<L {
                    let ds = p[j] * (dp[j] - rs)
                    for t in 0..<d {
                        dq[i * H + h * d + t] += sc * ds * k[j * H + h * d + t]
                        dk[j * H + h * d + t] += sc * ds * q[i * H + h * d + t]
                    }
                }
            }
        }
        return (o, dq, dk, dv)
    }

    @Test func naiveAttentionBackwardMatchesFiniteDifferences() {
        var rng = TestRandom(14)
        let L = 5, heads = 2, d = 3, H = heads * d
        let mask: [Int32] = [1, 1, 0, 1, 1]
        let slopes = ALiBi.slopes(heads: heads)
        let q = rng.floats(L * H, 2).map(Double.init), k = rng.floats(L * H, 2).map(Double.init), v = rng.floats(L * H).map(Double.init)
        let dO = rng.floats(L * H).map(Double.init)
        let ref = Self.naiveAttention(q: q, k: k, v: v, dO: dO, L: L, heads: heads, d: d, mask: mask, slopes: slopes)
        func obj(_ q: [Double], _ k: [Double], _ v: [Double]) -> Double {
            let o = Self.naiveAttention(q: q, k: k, v: v, dO: dO, L: L, heads: heads, d: d, mask: mask, slopes: slopes).o
            var s = 0.0
            for i in 0..<(L * H) where mask[i / H] == 1 { s += o[i] * dO[i] }
            return s
        }
        let e = 1e-6
        var fq = [Double](), fk = [Double](), fv = [Double]()
        for i in 0..<(L * H) {
            var p = q, m = q; p[i] += e; m[i] -= e; fq.append((obj(p, k, v) - obj(m, k, v)) / (2 * e))
            var pk = k, mk = k; pk[i] += e; mk[i] -= e; fk.append((obj(q, pk, v) - obj(q, mk, v)) / (2 * e))
            var pv = v, mv = v; pv[i] += e; mv[i] -= e; fv.append((obj(q, k, pv) - obj(q, k, mv)) / (2 * e))
        }
        // Only real query rows count in the objective; compare gradients through the real rows' outputs.
        let realQ = (0..<(L * H)).filter { mask[$0 / H] == 1 }
        let refMasked = Self.naiveAttention(q: q, k: k, v: v, dO: dO.enumerated().map { mask[$0.offset / H] == 1 ? $0.element : 0 },
                                            L: L, heads: heads, d: d, mask: mask, slopes: slopes)
        #expect(Self.relErr(realQ.map { refMasked.dq[$0] }, realQ.map { fq[$0] }) < 1e-6)
        #expect(Self.relErr(realQ.map { refMasked.dk[$0] }, realQ.map { fk[$0] }) < 1e-6)
        #expect(Self.relErr(realQ.map { refMasked.dv[$0] }, realQ.map { fv[$0] }) < 1e-6)
        _ = ref
    }

    func checkFlash(L: Int, heads: Int, d: Int, mask: [Int32], seed: UInt64, tileQ: Int = 64, tileK: Int = 128,
                    slopes customSlopes: [Float]? = nil) {
        var rng = TestRandom(seed)
        let H = heads * d
        let q = rng.floats(L * H, 2), k = rng.floats(L * H, 2), v = rng.floats(L * H), dO = rng.floats(L * H)
        let slopes = customSlopes ?? ALiBi.slopes(heads: heads)
        let real = (0..<L).filter { mask[$0] == 1 }
        let T = real.count
        // Packed: a decoy sequence of 3 tokens first, then the real tokens.
        let decoy = 3, rows = decoy + T
        var qkv = rng.floats(rows * 3 * H), dout = rng.floats(rows * H)
        var pos = [Float](repeating: 0, count: rows)
        for t in 0..<decoy { pos[t] = Float(t) }
        for (a, i) in real.enumerated() {
            for j in 0..<H {
                qkv[(decoy + a) * 3 * H + j] = q[i * H + j]
                qkv[(decoy + a) * 3 * H + H + j] = k[i * H + j]
                qkv[(decoy + a) * 3 * H + 2 * H + j] = v[i * H + j]
                dout[(decoy + a) * H + j] = dO[i * H + j]
            }
            pos[decoy + a] = Float(i)
        }
        let spans = [FlashAttention.Span(start: 0, count: decoy), FlashAttention.Span(start: decoy, count: T)]
        var out = [Float](repeating: 0, count: rows * H), lse = [Float](repeating: 0, count: rows * heads)
        var dqkv = [Float](repeating: .nan, count: rows * 3 * H)
        let scale = 1 / Float(d).squareRoot()
        qkv.withUnsafeBufferPointer { p in
            let b = p.baseAddress!
            out.withUnsafeMutableBufferPointer { o in
                lse.withUnsafeMutableBufferPointer { ls in
                    FlashAttention.forward(q: b, k: b + H, v: b + 2 * H, stride: 3 * H, out: o.baseAddress!, outStride: H,
                                           spans: spans, positions: pos, heads: heads, headDim: d, slopes: slopes, scale: scale,
                                           lse: ls.baseAddress!, threads: 2)
                }
            }
            dqkv.withUnsafeMutableBufferPointer { g in
                let gb = g.baseAddress!
                FlashAttention.backward(q: b, k: b + H, v: b + 2 * H, stride: 3 * H, out: out, dOut: dout, outStride: H, lse: lse,
                                        dq: gb, dk: gb + H, dv: gb + 2 * H, dStride: 3 * H, spans: spans, positions: pos,
                                        heads: heads, headDim: d, slopes: slopes, scale: scale, threads: 2, tileQ: tileQ, tileK: tileK)
            }
        }
        let dOm = dO.enumerated().map { mask[$0.offset / H] == 1 ? Double($0.element) : 0 }
        let ref = Self.naiveAttention(q: q.map(Double.init), k: k.map(Double.init), v: v.map(Double.init), dO: dOm, L: L,
                                      heads: heads, d: d, mask: mask, slopes: slopes)
        var gq = [Double](), gk = [Double](), gv = [Double](), rq = [Double](), rk = [Double](), rv = [Double]()
        for (a, i) in real.enumerated() {
            for j in 0..<H {
                gq.append(Double(dqkv[(decoy + a) * 3 * H + j])); rq.append(ref.dq[i * H + j])
                gk.append(Double(dqkv[(decoy + a) * 3 * H + H + j])); rk.append(ref.dk[i * H + j])
                gv.append(Double(dqkv[(decoy + a) * 3 * H + 2 * H + j])); rv.append(ref.dv[i * H + j])
            }
        }
        #expect(Self.relErr(gq, rq, floor: 1e-2) < 2e-5, "dQ L=\(L)")
        #expect(Self.relErr(gk, rk, floor: 1e-2) < 2e-5, "dK L=\(L)")
        #expect(Self.relErr(gv, rv, floor: 1e-2) < 2e-5, "dV L=\(L)")
        #expect(dqkv.allSatisfy { $0.isFinite }, "every row of the decoy and the real span written, L=\(L)")
    }

    @Test(arguments: [1, 63, 64, 65, 200])
    func flashBackwardMatchesNaive(L: Int) {
        checkFlash(L: L, heads: 3, d: 8, mask: [Int32](repeating: 1, count: L), seed: UInt64(100 + L))
        // Padding inside and at the end (not at position 0 when L == 1).
        let mask = (0..<L).map { i -> Int32 in (i == 0 || (i % 7 != 3 && i < L - L / 5)) ? 1 : 0 }
        checkFlash(L: L, heads: 3, d: 8, mask: mask, seed: UInt64(200 + L), tileQ: 16, tileK: 32)
    }

    /// Steep ALiBi slopes make far (query tile, key tile) pairs negligible: the skipped tiles must not change
    /// the gradients (slope 0 never skips; 4 skips almost everything off the diagonal).
    @Test(arguments: [65, 200])
    func flashBackwardSkipsFarTilesExactly(L: Int) {
        let mask = (0..<L).map { i -> Int32 in i % 11 == 5 ? 0 : 1 }
        checkFlash(L: L, heads: 4, d: 8, mask: mask, seed: UInt64(300 + L), tileQ: 8, tileK: 16, slopes: [4, 1, 0.5, 0])
        checkFlash(L: L, heads: 4, d: 8, mask: [Int32](repeating: 1, count: L), seed: UInt64(400 + L), tileQ: 16, tileK: 8,
                   slopes: [2, 0.9, 0.3, 0.1])
    }
}
