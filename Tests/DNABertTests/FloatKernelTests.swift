import Testing
import CFloatKernels
@testable import DNABert

/// The float32 linear-layer kernel (Sources/CFloatKernels/f32_gemm.c) against a float64 reference: row tails (the
/// 6-row micro-kernel and single rows), channel tails and ranges that start inside a 64-channel panel, k tails and
/// k longer than one 1,024 block (the accumulating pass), padded row strides, with and without bias — and through
/// `Linear.forward`, which splits channels across threads in whole panels.
@Suite struct FloatKernelTests {
    static let hasKernel = dnabert_f32_cpu_has_avx512() != 0

    /// y[r, c] for c in c0..<c1 against Σ x·w in Float64, within 1e-6 of Σ|x·w| (float32 rounding over k terms);
    /// columns outside the range must be untouched.
    static func check(rows: Int, n: Int, k: Int, c0: Int, c1: Int, bias withBias: Bool, alpha: Float = 1, seed: UInt64) {
        let ldx = k + 3, ldw = k + 5, ldy = n + 7
        var rng = TestRandom(seed)
        let x = rng.floats(rows * ldx), w = rng.floats(n * ldw), b = rng.floats(n)
        var y = [Float](repeating: 12345, count: rows * ldy)
        let rc = x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            y.withUnsafeMutableBufferPointer { yp in
                dnabert_f32_gemm_nt(xp.baseAddress!, ldx, rows, k, wp.baseAddress!, ldw, c0, c1,
                                    withBias ? bp.baseAddress! : nil, alpha, yp.baseAddress!, ldy)
            }
        } } }
        #expect(rc == 0)
        var bad = 0
        for r in 0..<rows {
            for c in 0..<n {
                let got = y[r * ldy + c]
                if c < c0 || c >= c1 { if got != 12345 { bad += 1 }; continue }
                var ref = 0.0, mag = 0.0
                for i in 0..<k {
                    let p = Double(x[r * ldx + i]) * Double(w[c * ldw + i])
                    ref += p; mag += abs(p)
                }
                ref = ref * Double(alpha) + (withBias ? Double(b[c]) : 0)
                mag = mag * Double(abs(alpha)) + 1
                if !(abs(Double(got) - ref) <= 1e-6 * mag) { bad += 1 }
            }
        }
        #expect(bad == 0, "rows \(rows) n \(n) k \(k) columns \(c0)..<\(c1) bias \(withBias): \(bad) wrong")
    }

    @Test(.enabled(if: hasKernel, "this CPU has no AVX-512: the linear layers use OpenBLAS (tested in BLASTests)"),
          arguments: [(1, 1, 1), (5, 16, 15), (6, 17, 16), (7, 63, 17), (13, 64, 100), (12, 65, 1025), (6, 130, 2100),
                      (64, 200, 768)])
    func matchesFloat64Reference(_ shape: (Int, Int, Int)) {
        let (rows, n, k) = shape
        Self.check(rows: rows, n: n, k: k, c0: 0, c1: n, bias: true, seed: UInt64(rows * 1000 + n))
        Self.check(rows: rows, n: n, k: k, c0: 0, c1: n, bias: false, seed: UInt64(rows * 1000 + n + 1))
        if n > 20 { Self.check(rows: rows, n: n, k: k, c0: 3, c1: n - 2, bias: true, alpha: 0.125, seed: UInt64(rows + n + k)) }
    }

    /// y += x·V with V read in place (attention's P·V): against float64, with padded strides and channel tails.
    @Test(.enabled(if: hasKernel, "this CPU has no AVX-512: attention uses OpenBLAS (tested in FlashAttentionTests)"),
          arguments: [(1, 1, 1), (7, 13, 48), (6, 256, 64), (13, 100, 70), (128, 256, 64), (3, 5, 130)])
    func accumulatingProductReadsVInPlace(_ shape: (Int, Int, Int)) {
        let (rows, k, n) = shape
        let ldx = k + 3, ldv = n + 5, ldy = n + 2
        var rng = TestRandom(UInt64(rows * 7 + k * 3 + n))
        let x = rng.floats(rows * ldx), v = rng.floats(k * ldv), y0 = rng.floats(rows * ldy)
        var y = y0
        let rc = x.withUnsafeBufferPointer { xp in v.withUnsafeBufferPointer { vp in y.withUnsafeMutableBufferPointer { yp in
            dnabert_f32_gemm_nn_acc(xp.baseAddress!, ldx, rows, k, vp.baseAddress!, ldv, n, yp.baseAddress!, ldy)
        } } }
        #expect(rc == 0)
        var bad = 0
        for r in 0..<rows {
            for c in 0..<ldy {
                let got = y[r * ldy + c]
                if c >= n { if got != y0[r * ldy + c] { bad += 1 }; continue }
                var ref = Double(y0[r * ldy + c]), mag = abs(ref)
                for i in 0..<k { let p = Double(x[r * ldx + i]) * Double(v[i * ldv + c]); ref += p; mag += abs(p) }
                if !(abs(Double(got) - ref) <= 1e-6 * (mag + 1)) { bad += 1 }
            }
        }
        #expect(bad == 0, "rows \(rows) k \(k) n \(n): \(bad) wrong")
    }

    /// Linear.forward on shapes where the kernel runs (≥ 8 rows, a panel per thread) gives the reference's numbers.
    @Test(.enabled(if: hasKernel && Linear.useKernel, "the float32 kernel is not in use on this CPU"),
          arguments: [(8, 128, 768), (129, 300, 1030), (37, 2304, 64)])
    func linearForwardThroughTheKernel(_ shape: (Int, Int, Int)) {
        let (rows, outF, inF) = shape
        var rng = TestRandom(11)
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF)
        var y = [Float](repeating: .nan, count: rows * outF)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            y.withUnsafeMutableBufferPointer { yp in
                Linear.forward(x: xp.baseAddress!, ldx: inF, rows: rows, inFeatures: inF, weight: wp.baseAddress!,
                               outFeatures: outF, bias: bp.baseAddress!, y: yp.baseAddress!, ldy: outF, threads: 2)
            }
        } } }
        var bad = 0
        for r in 0..<rows {
            for c in 0..<outF {
                var ref = Double(b[c]), mag = 0.0
                for i in 0..<inF { let p = Double(x[r * inF + i]) * Double(w[c * inF + i]); ref += p; mag += abs(p) }
                if !(abs(Double(y[r * outF + c]) - ref) <= 1e-6 * (mag + 1)) { bad += 1 }
            }
        }
        #expect(bad == 0, "\(bad) of \(rows * outF) outputs wrong")
    }
}
