import Testing
import CFloatKernels
@testable import DNABert

/// Attention's bfloat16 tile products (Sources/CFloatKernels/bf16_attention.c), which int8 models' inference uses on
/// CPUs where vdpbf16ps outruns float32 FMA: the two kernels against a float64 reference computed from inputs rounded
/// to bfloat16 here (bit arithmetic, independent of the kernel's vcvtne2ps2bf16), then whole flash attention on bf16
/// products against the naive float64 attention of FlashAttentionTests.
@Suite struct BF16AttentionTests {
    static let supported = FlashAttention.TileProducts.bf16.isSupported
    static let why = "this CPU has no AVX512_BF16: int8 models' attention runs float32 tile products"

    /// Nearest bfloat16, ties to even (finite inputs).
    static func bf16(_ x: Float) -> Double {
        let u = x.bitPattern
        return Double(Float(bitPattern: (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000))
    }

    @Test(.enabled(if: supported, Comment(rawValue: why)),
          arguments: [(1, 1, 1), (5, 3, 7), (6, 17, 32), (7, 64, 33), (13, 65, 64), (128, 256, 64), (2, 1024, 65), (6, 255, 256)])
    func kernelsMatchFloat64OnRoundedInputs(_ shape: (Int, Int, Int)) {
        let (rows, kn, d) = shape
        let ldq = d + 3, ldk = d + 5, lds = kn + 7, ldp = kn + 1, ldv = d + 2, ldo = d + 9
        var rng = TestRandom(UInt64(rows * 10_007 + kn * 31 + d))
        let q = rng.floats(rows * ldq), k = rng.floats(kn * ldk), v = rng.floats(kn * ldv)
        let p = rng.floats(rows * ldp).map { abs($0) }, o0 = rng.floats(rows * ldo)
        var s = [Float](repeating: 12345, count: rows * lds), o = o0
        let alpha: Float = 0.125
        let rc = q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in s.withUnsafeMutableBufferPointer { sp in
            dnabert_bf16_qk(qp.baseAddress!, ldq, rows, kp.baseAddress!, ldk, kn, d, alpha, sp.baseAddress!, lds)
        } } }
        let rc2 = p.withUnsafeBufferPointer { pp in v.withUnsafeBufferPointer { vp in o.withUnsafeMutableBufferPointer { op in
            dnabert_bf16_pv_acc(pp.baseAddress!, ldp, rows, kn, vp.baseAddress!, ldv, d, op.baseAddress!, ldo)
        } } }
        #expect(rc == 0 && rc2 == 0)
        var badS = 0, badO = 0
        for r in 0..<rows {
            for j in 0..<lds {
                let got = s[r * lds + j]
                if j >= kn { if got != 12345 { badS += 1 }; continue }
                var ref = 0.0, mag = 0.0
                for c in 0..<d { let t = Self.bf16(q[r * ldq + c]) * Self.bf16(k[j * ldk + c]); ref += t; mag += abs(t) }
                if !(abs(Double(got) - ref * Double(alpha)) <= 1e-6 * mag * Double(alpha) + 1e-30) { badS += 1 }
            }
            for c in 0..<ldo {
                let got = o[r * ldo + c]
                if c >= d { if got != o0[r * ldo + c] { badO += 1 }; continue }
                var ref = Double(o0[r * ldo + c]), mag = abs(ref)
                for j in 0..<kn { let t = Self.bf16(p[r * ldp + j]) * Self.bf16(v[j * ldv + c]); ref += t; mag += abs(t) }
                if !(abs(Double(got) - ref) <= 1e-6 * mag) { badO += 1 }
            }
        }
        #expect(badS == 0, "S, rows \(rows) keys \(kn) d \(d): \(badS) wrong (or written past the keys)")
        #expect(badO == 0, "O, rows \(rows) keys \(kn) d \(d): \(badO) wrong (or written past d)")
    }

    /// K and V packed once for a whole sequence (the query tiles of a long sequence share them) give the per-tile
    /// products' bits — which `kernelsMatchFloat64OnRoundedInputs` checks against float64 — for every key tile,
    /// including a last tile that ends mid-panel and an odd key count (V's last pair half zero).
    @Test(.enabled(if: supported, Comment(rawValue: why)),
          arguments: [(333, 64, 128, 7), (200, 24, 64, 13), (129, 130, 256, 6), (64, 64, 64, 1), (1, 8, 64, 2)])
    func prepackedOperandsGiveThePerTileBits(_ c: (Int, Int, Int, Int)) {
        let (n, d, bk, rows) = c
        let ld = d + 3, ldp = bk + 5
        var rng = TestRandom(UInt64(n * 31 + d))
        let q = rng.floats(rows * ld), k = rng.floats(n * ld), v = rng.floats(n * ld)
        let p = rng.floats(rows * ldp).map { abs($0) }
        let kCount = dnabert_bf16_packed_k_size(n, d), vCount = dnabert_bf16_packed_v_size(n, d)
        let kp = UnsafeMutableRawPointer.allocate(byteCount: 4 * kCount + 64, alignment: 64).bindMemory(to: UInt32.self, capacity: kCount + 16)
        let vp = UnsafeMutableRawPointer.allocate(byteCount: 4 * vCount + 64, alignment: 64).bindMemory(to: UInt32.self, capacity: vCount + 16)
        defer { kp.deallocate(); vp.deallocate() }
        kp.initialize(repeating: 0xDEAD, count: kCount + 16)
        vp.initialize(repeating: 0xBEEF, count: vCount + 16)
        #expect(dnabert_bf16_pack_k(k, ld, n, d, kp) == 0 && dnabert_bf16_pack_v(v, ld, n, d, vp) == 0)
        #expect(dnabert_bf16_pack_k(k, ld, n, d, kp + 1) == -1, "a misaligned buffer is refused, not written")
        #expect((kCount..<(kCount + 16)).allSatisfy { kp[$0] == 0xDEAD } && (vCount..<(vCount + 16)).allSatisfy { vp[$0] == 0xBEEF },
                "the packers wrote past their sizes")
        let d2 = (d + 1) / 2, vStride = (n + 1) / 2 * 64
        var k0 = 0
        while k0 < n {
            let kn = min(bk, n - k0)
            var s1 = [Float](repeating: 7, count: rows * bk), s2 = s1
            var o1 = rng.floats(rows * d), o2 = o1
            let a = dnabert_bf16_qk(q, ld, rows, Array(k[(k0 * ld)...]), ld, kn, d, 0.3, &s1, bk)
            let b = dnabert_bf16_qk_packed(q, ld, rows, kp + (k0 / 64) * d2 * 64, kn, d, 0.3, &s2, bk)
            let e = dnabert_bf16_pv_acc(p, ldp, rows, kn, Array(v[(k0 * ld)...]), ld, d, &o1, d)
            let f = dnabert_bf16_pv_acc_packed(p, ldp, rows, kn, vp + (k0 / 2) * 64, vStride, d, &o2, d)
            #expect(a == 0 && b == 0 && e == 0 && f == 0)
            // the layout helpers FlashAttention uses give the offsets of the documented layout written out above
            #expect(dnabert_bf16_packed_k_tile(kp, k0, d) == UnsafePointer(kp + (k0 / 64) * d2 * 64)
                    && dnabert_bf16_packed_v_tile(vp, k0) == UnsafePointer(vp + (k0 / 2) * 64)
                    && dnabert_bf16_packed_v_stride(n) == vStride)
            #expect(s1.map(\.bitPattern) == s2.map(\.bitPattern), "S: keys \(k0) ..< \(k0 + kn), d \(d)")
            #expect(o1.map(\.bitPattern) == o2.map(\.bitPattern), "O: keys \(k0) ..< \(k0 + kn), d \(d)")
            k0 += bk
        }
    }

    /// The score product with ALiBi in its epilogue (`dnabert_bf16_qk_alibi`, and its packed-K form bit for bit):
    /// the plain product (checked against float64 above) minus slope·|qpos − kpos| computed here in Float64, and
    /// each row's maximum over exactly the tile's keys (not the zero padding of a partial panel).
    @Test(.enabled(if: supported, Comment(rawValue: why)),
          arguments: [(7, 64, 64), (13, 200, 24), (1, 3, 130), (6, 65, 64)])
    func aLiBiEpilogueAddsTheBiasAndKeepsRowMaxima(_ shape: (Int, Int, Int)) {
        let (rows, kn, d) = shape
        let ld = d + 1, lds = kn + 9
        var rng = TestRandom(UInt64(rows * 7 + kn + d))
        let q = rng.floats(rows * ld), k = rng.floats(kn * ld)
        // queries at 0..<rows, keys far to the right: every real score is below −60, so a padding lane of a partial
        // panel (score 0, position 0) counted in a maximum would show
        let qpos = (0..<rows).map { Float($0) }, kpos = (0..<(kn + 1)).map { Float(1000 + $0) }
        let slope: Float = 0.0625, alpha: Float = 0.125
        var plain = [Float](repeating: 0, count: rows * lds), s1 = plain, s2 = plain
        var m1 = [Float](repeating: 0, count: rows), m2 = m1
        #expect(dnabert_bf16_qk(q, ld, rows, k, ld, kn, d, alpha, &plain, lds) == 0)
        #expect(dnabert_bf16_qk_alibi(q, ld, rows, k, ld, kn, d, alpha, qpos, kpos, slope, &s1, lds, &m1) == 0)
        let count = dnabert_bf16_packed_k_size(kn, d)
        let kp = UnsafeMutableRawPointer.allocate(byteCount: 4 * count, alignment: 64).bindMemory(to: UInt32.self, capacity: count)
        defer { kp.deallocate() }
        #expect(dnabert_bf16_pack_k(k, ld, kn, d, kp) == 0)
        #expect(dnabert_bf16_qk_alibi_packed(q, ld, rows, kp, kn, d, alpha, qpos, kpos, slope, &s2, lds, &m2) == 0)
        #expect(s1.map(\.bitPattern) == s2.map(\.bitPattern) && m1 == m2, "packed K changed the scores")
        var bad = 0
        for r in 0..<rows {
            var mx = -Float.infinity
            for j in 0..<kn {
                let bias = Double(slope) * abs(Double(qpos[r]) - Double(kpos[j]))
                let want = Double(plain[r * lds + j]) - bias
                if !(abs(Double(s1[r * lds + j]) - want) <= 1e-6 * (abs(want) + bias)) { bad += 1 }
                mx = max(mx, s1[r * lds + j])
            }
            #expect(m1[r] == mx, "row \(r): maximum \(m1[r]) against \(mx)")
            #expect(s1[(r * lds + kn)..<((r + 1) * lds)].allSatisfy { $0 == 0 }, "written past the keys")
        }
        #expect(bad == 0, "\(bad) biased scores wrong")
    }

    /// Whole attention on bf16 products stays within 1e-2 of the float64 attention (float32 products: 2e-5; measured
    /// worst 0.003 here, log-sum-exp 0.005), on
    /// ALiBi with padding, several tiles and both threads — and really ran on bf16: its output differs from the
    /// float32 run's by more than float32 rounding would.
    @Test(.enabled(if: supported, Comment(rawValue: why)), arguments: [(200, 3, 16, 64, 64), (600, 2, 64, 128, 256), (65, 4, 8, 16, 24)])
    func attentionMatchesNaive(_ c: (Int, Int, Int, Int, Int)) {
        let (L, heads, d, tq, tk) = c
        var rng = TestRandom(UInt64(L + 7))
        let mask = (0..<L).map { _ in Int32(rng.int(5) == 0 ? 0 : 1) }
        let t = FlashAttentionTests()
        let b = t.run(L: L, heads: heads, d: d, mask: mask, tileQ: tq, tileK: tk, seed: UInt64(L), products: .bf16, tolerance: 1e-2,
                      lseTolerance: 1.5e-2)
        let f = t.run(L: L, heads: heads, d: d, mask: mask, tileQ: tq, tileK: tk, seed: UInt64(L))
        let diff = zip(b, f).map { abs(Double($0) - Double($1)) }.filter { !$0.isNaN }.max() ?? 0
        #expect(diff > 1e-4, "bf16 products gave the float32 result (max difference \(diff)): did they run?")
    }
}

extension FlashAttentionTests {   // in that serialized suite: it toggles FlashAttention.skipDistantTiles
    /// Tile skipping stays exact with bf16 products (its score bound allows for the rounding of q and k).
    @Test(.enabled(if: BF16AttentionTests.supported, Comment(rawValue: BF16AttentionTests.why)))
    func tileSkippingEqualsDenseRunWithBF16Products() {
        let L = 400, heads = 12, d = 8, H = heads * d
        var rng = TestRandom(23)
        let q = rng.floats(L * H, 2), k = rng.floats(L * H, 2), v = rng.floats(L * H)
        func forward(_ skipping: Bool) -> [Float] {
            let saved = FlashAttention.skipDistantTiles
            FlashAttention.skipDistantTiles = skipping
            defer { FlashAttention.skipDistantTiles = saved }
            var out = [Float](repeating: .nan, count: L * H)
            out.withUnsafeMutableBufferPointer { o in
                FlashAttention.forward(q: q, k: k, v: v, stride: H, out: o.baseAddress!, outStride: H,
                                       spans: [.init(start: 0, count: L)], positions: nil, heads: heads, headDim: d,
                                       slopes: ALiBi.slopes(heads: heads), scale: 1 / Float(d).squareRoot(), threads: 1,
                                       tileQ: 16, tileK: 32, products: .bf16)
            }
            return out
        }
        let skip = forward(true), dense = forward(false)
        let bad = zip(skip, dense).filter { !(abs($0 - $1) <= max(abs($0), abs($1)).ulp) }.count
        #expect(bad == 0, "\(bad) outputs differ by more than 1 ulp between the skipping and the dense run")
    }
}
