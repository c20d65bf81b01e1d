import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

@Suite(.serialized) struct FlashAttentionTests {   // serialized: tests toggle FlashAttention.skipDistantTiles
    // MARK: ALiBi slopes vs the closed forms of the spec

    @Test func alibiSlopesClosedForm() {
        func p2(_ e: Double) -> Float { Float(pow(2.0, e)) }
        // 12 heads: 1/2 … 1/256, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
        #expect(ALiBi.slopes(heads: 12) == (1...8).map { p2(-Double($0)) } + [p2(-0.5), p2(-1.5), p2(-2.5), p2(-3.5)])
        // 8 heads (power of two): 2^-1 … 2^-8.
        #expect(ALiBi.slopes(heads: 8) == (1...8).map { p2(-Double($0)) })
        // 6 heads: the 4-head slopes 2^-2, 2^-4, 2^-6, 2^-8, then 8-head slopes at even indices: 2^-1, 2^-3.
        #expect(ALiBi.slopes(heads: 6) == [p2(-2), p2(-4), p2(-6), p2(-8), p2(-1), p2(-3)])
        // 3 heads: 2-head slopes 2^-4, 2^-8, then the first even-indexed 4-head slope 2^-2.
        #expect(ALiBi.slopes(heads: 3) == [p2(-4), p2(-8), p2(-2)])
        #expect(ALiBi.slopes(heads: 1) == [p2(-8)])
    }

    // MARK: Naive reference in Float64 on the padded layout, −10000 on padded keys

    /// q, k, v: [L, heads·d] per batch element (padded layout). Returns (out [L, heads·d], lse [L, heads]).
    static func naive(q: [Float], k: [Float], v: [Float], L: Int, heads: Int, d: Int, mask: [Int32], slopes: [Float]) -> ([Double], [Double]) {
        let H = heads * d
        var out = [Double](repeating: 0, count: L * H), lse = [Double](repeating: 0, count: L * heads)
        for h in 0..<heads {
            for i in 0..<L {
                var s = [Double](repeating: 0, count: L)
                for j in 0..<L {
                    var dot = 0.0
                    for t in 0..<d { dot += Double(q[i * H + h * d + t]) * Double(k[j * H + h * d + t]) }
                    s[j] = dot / Double(d).squareRoot() - Double(slopes[h]) * Double(abs(i - j)) + (mask[j] == 1 ? 0 : -10000)
                }
                let mx = s.max()!
                let e = s.map { Glibc.exp($0 - mx) }
                let sum = e.reduce(0, +)
                lse[i * heads + h] = mx + Glibc.log(sum)
                for t in 0..<d {
                    var acc = 0.0
                    for j in 0..<L { acc += e[j] * Double(v[j * H + h * d + t]) }
                    out[i * H + h * d + t] = acc / sum
                }
            }
        }
        return (out, lse)
    }

    /// Packs the real tokens of one sequence into a [T, 3H] qkv buffer and runs the kernel.
    /// bf16 tile products (`products: .bf16`) are held to looser tolerances; returns the output.
    @discardableResult
    func run(L: Int, heads: Int, d: Int, mask: [Int32], tileQ: Int, tileK: Int, seed: UInt64, threads: Int = 2,
             products: FlashAttention.TileProducts = .float32, tolerance: Double = 2e-5,
             lseTolerance: Double = 2e-4) -> [Float] {
        var rng = TestRandom(seed)
        let H = heads * d
        let q = rng.floats(L * H, 2), k = rng.floats(L * H, 2), v = rng.floats(L * H)
        let slopes = ALiBi.slopes(heads: heads)
        let (want, wantLSE) = Self.naive(q: q, k: k, v: v, L: L, heads: heads, d: d, mask: mask, slopes: slopes)
        let real = (0..<L).filter { mask[$0] == 1 }
        let T = real.count
        // Two spans: a decoy sequence first (must not leak into the second), then the real one.
        let decoy = 5
        var qkv = rng.floats((decoy + T) * 3 * H, 50)
        for (r, i) in real.enumerated() {
            for c in 0..<H {
                qkv[(decoy + r) * 3 * H + c] = q[i * H + c]
                qkv[(decoy + r) * 3 * H + H + c] = k[i * H + c]
                qkv[(decoy + r) * 3 * H + 2 * H + c] = v[i * H + c]
            }
        }
        let positions = (0..<decoy).map { Float($0) } + real.map { Float($0) }
        var out = [Float](repeating: .nan, count: (decoy + T) * H)
        var lse = [Float](repeating: .nan, count: (decoy + T) * heads)
        qkv.withUnsafeBufferPointer { qp in out.withUnsafeMutableBufferPointer { op in lse.withUnsafeMutableBufferPointer { lp in
            positions.withUnsafeBufferPointer { pp in
                let b = qp.baseAddress!
                FlashAttention.forward(q: b, k: b + H, v: b + 2 * H, stride: 3 * H, out: op.baseAddress!, outStride: H,
                                       spans: [.init(start: 0, count: decoy), .init(start: decoy, count: T)],
                                       positions: pp.baseAddress!, heads: heads, headDim: d, slopes: slopes,
                                       scale: 1 / Float(d).squareRoot(), lse: lp.baseAddress!, threads: threads,
                                       tileQ: tileQ, tileK: tileK, products: products)
            }
        } } }
        var worst = 0.0, worstLSE = 0.0
        for (r, i) in real.enumerated() {
            for c in 0..<H { worst = max(worst, abs(Double(out[(decoy + r) * H + c]) - want[i * H + c])) }
            for h in 0..<heads { worstLSE = max(worstLSE, abs(Double(lse[(decoy + r) * heads + h]) - wantLSE[i * heads + h])) }
        }
        #expect(worst < tolerance, "L=\(L) tile \(tileQ)x\(tileK) \(products): max |Δout| = \(worst)")
        #expect(worstLSE < lseTolerance, "L=\(L) \(products): max |Δlse| = \(worstLSE)")
        return out
    }

    @Test(arguments: [1, 63, 64, 65, 200])
    func matchesNaiveWithoutPadding(_ L: Int) {
        run(L: L, heads: 3, d: 16, mask: [Int32](repeating: 1, count: L), tileQ: 64, tileK: 64, seed: UInt64(L))
        run(L: L, heads: 2, d: 8, mask: [Int32](repeating: 1, count: L), tileQ: 16, tileK: 24, seed: UInt64(L) + 100, threads: 1)
    }

    @Test func matchesNaiveLong() {
        run(L: 1000, heads: 2, d: 64, mask: [Int32](repeating: 1, count: 1000), tileQ: 64, tileK: 256, seed: 9)
    }

    /// 12 heads (slopes up to 1/2) on 400 tokens with small tiles: distant key tiles are skipped by the
    /// ALiBi underflow bound, which must not change the result.
    @Test func distantTileSkippingIsExact() {
        run(L: 400, heads: 12, d: 8, mask: [Int32](repeating: 1, count: 400), tileQ: 16, tileK: 32, seed: 12)
        var rng = TestRandom(78)
        let scattered = (0..<400).map { _ in Int32(rng.int(4) == 0 ? 0 : 1) }
        run(L: 400, heads: 12, d: 8, mask: scattered, tileQ: 32, tileK: 16, seed: 13)
    }

    /// One forward + backward of a single 400-token sequence (12 heads, steepest ALiBi slope 1/2, 16 × 32 tiles,
    /// one thread so that the order of sums is fixed) with distant-tile skipping on or off.
    static func forwardBackward(skipping: Bool, q: [Float], k: [Float], v: [Float], dOut: [Float], L: Int, heads: Int,
                                d: Int, positions: [Float]? = nil) -> (out: [Float], lse: [Float], dq: [Float], dk: [Float], dv: [Float]) {
        let saved = FlashAttention.skipDistantTiles
        FlashAttention.skipDistantTiles = skipping
        defer { FlashAttention.skipDistantTiles = saved }
        let H = heads * d, slopes = ALiBi.slopes(heads: heads), scale = 1 / Float(d).squareRoot()
        var out = [Float](repeating: .nan, count: L * H), lse = [Float](repeating: .nan, count: L * heads)
        var dq = out, dk = out, dv = out
        let spans = [FlashAttention.Span(start: 0, count: L)]
        let pos = positions ?? (0..<L).map { Float($0) }   // nil positions mean 0, 1, 2, …: the same thing
        out.withUnsafeMutableBufferPointer { o in lse.withUnsafeMutableBufferPointer { l in
            FlashAttention.forward(q: q, k: k, v: v, stride: H, out: o.baseAddress!, outStride: H, spans: spans,
                                   positions: pos, heads: heads, headDim: d, slopes: slopes, scale: scale,
                                   lse: l.baseAddress!, threads: 1, tileQ: 16, tileK: 32)
        } }
        dq.withUnsafeMutableBufferPointer { gq in dk.withUnsafeMutableBufferPointer { gk in dv.withUnsafeMutableBufferPointer { gv in
            FlashAttention.backward(q: q, k: k, v: v, stride: H, out: out, dOut: dOut, outStride: H, lse: lse,
                                    dq: gq.baseAddress!, dk: gk.baseAddress!, dv: gv.baseAddress!, dStride: H, spans: spans,
                                    positions: pos, heads: heads, headDim: d, slopes: slopes, scale: scale, threads: 1,
                                    tileQ: 16, tileK: 32)
        } } }
        return (out, lse, dq, dk, dv)
    }

    /// Tile skipping against a dense run of the same kernels (FlashAttention.skipDistantTiles off), not only
    /// against the Float64 reference at 2e-5: the skipped tiles' probabilities are below 1e-38, so every output,
    /// log-sum-exp and gradient must agree to float32 resolution (at most 1 ulp). And the skipping must really
    /// happen: with NaN planted in the values (forward) or output gradients (backward) of a distant tile, the
    /// dense run turns the far rows into NaN (0 · NaN), the skipping run never reads them.
    @Test func tileSkippingEqualsDenseRun() {
        let L = 400, heads = 12, d = 8, H = heads * d
        var rng = TestRandom(21)
        let q = rng.floats(L * H, 2), k = rng.floats(L * H, 2), v = rng.floats(L * H), dOut = rng.floats(L * H)
        let skip = Self.forwardBackward(skipping: true, q: q, k: k, v: v, dOut: dOut, L: L, heads: heads, d: d)
        let dense = Self.forwardBackward(skipping: false, q: q, k: k, v: v, dOut: dOut, L: L, heads: heads, d: d)
        func within1ulp(_ a: [Float], _ b: [Float], _ what: String) {
            #expect(a.count == b.count)
            var bad = 0, differing = 0, worst: Float = 0
            for (x, y) in zip(a, b) {
                if x != y { differing += 1 }
                let tol = max(abs(x), abs(y)).ulp
                if !(abs(x - y) <= tol) { bad += 1; worst = max(worst, abs(x - y)) }
            }
            #expect(bad == 0, "\(what): \(bad) values differ by more than 1 ulp (worst \(worst)); \(differing) differ at all")
        }
        within1ulp(skip.out, dense.out, "output")
        within1ulp(skip.lse, dense.lse, "log-sum-exp")
        within1ulp(skip.dq, dense.dq, "dQ")
        within1ulp(skip.dk, dense.dk, "dK")
        within1ulp(skip.dv, dense.dv, "dV")

        // Head 0 has the steepest slope (1/2): between positions 0..<16 and 384..<400 every score is ~180 below.
        let h = 0, near = 0..<16, far = 384..<400
        func headRows(_ x: [Float], _ rows: Range<Int>) -> [Float] { rows.flatMap { t in (0..<d).map { x[t * H + h * d + $0] } } }
        var vPoisoned = v
        for t in far { for j in 0..<d { vPoisoned[t * H + h * d + j] = .nan } }
        let pSkip = Self.forwardBackward(skipping: true, q: q, k: k, v: vPoisoned, dOut: dOut, L: L, heads: heads, d: d)
        let pDense = Self.forwardBackward(skipping: false, q: q, k: k, v: vPoisoned, dOut: dOut, L: L, heads: heads, d: d)
        #expect(headRows(pSkip.out, near) == headRows(skip.out, near), "forward read a skipped tile's values")
        let denseForwardNaN = headRows(pDense.out, near).allSatisfy { $0.isNaN }
        #expect(denseForwardNaN, "the dense forward must read every tile")
        var dOutPoisoned = dOut
        for t in near { for j in 0..<d { dOutPoisoned[t * H + h * d + j] = .nan } }
        let gSkip = Self.forwardBackward(skipping: true, q: q, k: k, v: v, dOut: dOutPoisoned, L: L, heads: heads, d: d)
        let gDense = Self.forwardBackward(skipping: false, q: q, k: k, v: v, dOut: dOutPoisoned, L: L, heads: heads, d: d)
        #expect(headRows(gSkip.dk, far) == headRows(skip.dk, far) && headRows(gSkip.dv, far) == headRows(skip.dv, far),
                "backward read a skipped (query tile, key tile) pair")
        let denseBackwardNaN = headRows(gDense.dv, far).allSatisfy { $0.isNaN }
        #expect(denseBackwardNaN, "the dense backward must visit every pair")

        // Padding: the 400 rows are the real tokens of a 520-position sequence with scattered padding (ALiBi uses
        // the original positions, so the gaps widen the distances).
        var prng = TestRandom(22)
        var positions: [Float] = [], p = 0
        while positions.count < L { if prng.int(4) != 0 { positions.append(Float(p)) }; p += 1 }
        let pSkipPad = Self.forwardBackward(skipping: true, q: q, k: k, v: v, dOut: dOut, L: L, heads: heads, d: d, positions: positions)
        let pDensePad = Self.forwardBackward(skipping: false, q: q, k: k, v: v, dOut: dOut, L: L, heads: heads, d: d, positions: positions)
        within1ulp(pSkipPad.out, pDensePad.out, "output, padded")
        within1ulp(pSkipPad.lse, pDensePad.lse, "log-sum-exp, padded")
        within1ulp(pSkipPad.dq, pDensePad.dq, "dQ, padded")
        within1ulp(pSkipPad.dk, pDensePad.dk, "dK, padded")
        within1ulp(pSkipPad.dv, pDensePad.dv, "dV, padded")
        #expect(pSkipPad.out != skip.out, "the positions must matter")
    }

    @Test func keyPaddingRightAndScattered() {
        // Right padding (the usual batch case) and a scattered mask: ALiBi must use original positions.
        let L = 150
        let right = (0..<L).map { Int32($0 < 97 ? 1 : 0) }
        run(L: L, heads: 3, d: 16, mask: right, tileQ: 32, tileK: 40, seed: 5)
        var rng = TestRandom(77)
        let scattered = (0..<L).map { _ in Int32(rng.int(3) == 0 ? 0 : 1) }
        run(L: L, heads: 3, d: 16, mask: scattered, tileQ: 64, tileK: 64, seed: 6)
    }
}
