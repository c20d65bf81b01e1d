import Testing
import CInt8Kernels
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// Int8 inference's GEGLU (Sources/CInt8Kernels/geglu_quantize.c, rational erf): against GELU computed in Float64
/// with the C library's erf, every kernel family against the portable one bit for bit, and the fused
/// quantization against the naive asymmetric quantizer of `Int8LinearTests`.
@Suite struct Int8GEGLUTests {
    /// GEGLU in Float64: GELU(a)·b (· invS) with the exact erf.
    static func reference(_ a: Float, _ b: Float, _ inv: Float = 1) -> Double {
        let x = Double(a)
        return 0.5 * x * (1 + erf(x / 2.0.squareRoot())) * Double(b) * Double(inv)
    }

    /// Inputs over the whole range GELU bends in, its saturated tails, the clamp at z = ±3.9 and special values.
    static func inputs(_ n: Int, seed: UInt64, special: Bool = true) -> ([Float], [Float]) {
        var rng = Xoshiro256(seed: seed)
        var a = (0..<n).map { _ in Float(rng.nextNormalPair().0) * 3 }
        let values: [Float] = [0, -0.0, 1e-30, -1e-30, 5.5154, -5.5154, 5.52, -5.52, 12, -12, 80, -80, 1e6, -1e6]
        if special { for (i, v) in values.enumerated() where i < n { a[i] = v } }
        let b = (0..<n).map { _ in Float(rng.nextNormalPair().0) }
        return (a, b)
    }

    static func h(_ a: [Float], _ b: [Float]) -> [Float] { a + b }   // one row [a | b]

    @Test(arguments: [3072, 37, 16, 1])
    func matchesTheExactErf(inner: Int) {
        let (a, b) = Self.inputs(inner, seed: UInt64(inner))
        let inv = (0..<inner).map { Float(0.25 + Double($0 % 7) * 0.3) }
        for kernel in Int8Kernel.allCases where kernel.isSupported {
            for smooth in [false, true] {
                var out = [Float](repeating: .nan, count: inner)
                let row = Self.h(a, b)
                if smooth {
                    dnabert_i8_geglu_rows(row, 2 * inner, 1, inner, inv, &out, inner, kernel.code)
                } else {
                    dnabert_i8_geglu_rows(row, 2 * inner, 1, inner, nil, &out, inner, kernel.code)
                }
                var worst = 0.0
                for j in 0..<inner {
                    let s = smooth ? inv[j] : 1
                    let ref = Self.reference(a[j], b[j], s)
                    // |erf error| ≤ 3.5e-7 → |GELU error| ≤ ½|a|·3.5e-7, plus a few float32 roundings of the result
                    let bound = (0.5 * Double(abs(a[j])) * 3.6e-7) * Double(abs(b[j]) * s) + 4e-7 * abs(ref) + 1e-37
                    let err = abs(Double(out[j]) - ref)
                    worst = max(worst, err / bound)
                    #expect(err <= bound, "\(kernel) smooth \(smooth) j \(j): a \(a[j]) b \(b[j]) got \(out[j]) want \(ref)")
                }
                if inner >= 16 { #expect(worst > 0.001, "\(kernel): suspiciously exact (is the reference the code itself?)") }
            }
        }
        // NaN in, NaN out (either half); an infinite gate gives GELU(+Inf) = +Inf
        var out = [Float](repeating: 0, count: 4)
        dnabert_i8_geglu_rows([.nan, .infinity, 1, 2, 1, 2, .nan, 3], 4, 2, 2, nil, &out, 2, Int8Kernel.current.code)
        #expect(out[0].isNaN && out[1] == .infinity && out[2].isNaN && out[3].isFinite)
    }

    /// The AVX-512 and AVX2 paths give the portable path's bits (so an int8 model's outputs do not depend on which
    /// kernel family the CPU runs), also for rows that end in a partial vector and rows written in place.
    @Test(.enabled(if: !Int8LinearTests.simdKernels.isEmpty, Comment(rawValue: "this CPU has neither AVX2 nor AVX-512 VNNI")),
          arguments: [3072, 3077, 45, 7])
    func everyKernelGivesThePortableBits(inner: Int) {
        let rows = 3
        var hv = [Float]()
        for r in 0..<rows { let (a, b) = Self.inputs(inner, seed: UInt64(100 + r)); hv += a + b }
        let inv = (0..<inner).map { Float(0.5 + Double($0 % 5) * 0.2) }
        func run(_ k: Int8Kernel, smooth: Bool) -> [Float] {
            var out = [Float](repeating: .nan, count: rows * inner)
            if smooth { dnabert_i8_geglu_rows(hv, 2 * inner, rows, inner, inv, &out, inner, k.code) }
            else { dnabert_i8_geglu_rows(hv, 2 * inner, rows, inner, nil, &out, inner, k.code) }
            return out
        }
        for smooth in [false, true] {
            let portable = run(.generic, smooth: smooth)
            for k in Int8LinearTests.simdKernels {
                let got = run(k, smooth: smooth)
                let differing = zip(got, portable).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(k) smooth \(smooth): \(differing) of \(got.count) floats differ from the portable path")
            }
        }
        // in place (out = the gate half of h), as the float path allows
        var inPlace = hv
        inPlace.withUnsafeMutableBufferPointer { p in
            dnabert_i8_geglu_rows(p.baseAddress!, 2 * inner, rows, inner, nil, p.baseAddress!, 2 * inner, Int8Kernel.current.code)
        }
        let portable = run(.generic, smooth: false)
        for r in 0..<rows {
            #expect(Array(inPlace[(r * 2 * inner)..<(r * 2 * inner + inner)]) == Array(portable[(r * inner)..<((r + 1) * inner)]))
        }
    }

    /// The fused call equals GEGLU then `dnabert_i8_quantize_rows_u8` bit for bit, and its codes are those of the
    /// naive quantizer applied to the Float64 GEGLU but for rare ±1 steps where the two GELUs straddle a rounding
    /// boundary.
    @Test(arguments: [(5, 3072), (9, 250), (2, 13)])
    func fusedQuantizationMatchesTheNaiveQuantizer(rows: Int, inner: Int) {
        var hv = [Float](), refs = [Float]()
        let inv = (0..<inner).map { Float(0.3 + Double($0 % 11) * 0.15) }
        for r in 0..<rows {
            let (a, b) = Self.inputs(inner, seed: UInt64(700 + r), special: false)
            hv += a + b
            refs += (0..<inner).map { Float(Self.reference(a[$0], b[$0], inv[$0])) }
        }
        let kp = (inner + 3) / 4 * 4
        let (nq, ns) = Int8LinearTests.naiveQuantizeActivations(refs, rows: rows, cols: inner)
        for kernel in Int8Kernel.allCases where kernel.isSupported {
            var q = [UInt8](repeating: 0xAB, count: rows * kp), sc = [Float](repeating: 0, count: rows)
            var zp = [Int32](repeating: -1, count: rows), tmp = [Float](repeating: 0, count: inner)
            dnabert_i8_geglu_quantize_rows(hv, 2 * inner, rows, inner, inv, &tmp, &q, kp, &sc, &zp, kernel.code)
            // the two calls one after the other
            var g = [Float](repeating: 0, count: rows * inner)
            dnabert_i8_geglu_rows(hv, 2 * inner, rows, inner, inv, &g, inner, kernel.code)
            var q2 = [UInt8](repeating: 0, count: rows * kp), sc2 = [Float](repeating: 0, count: rows)
            var zp2 = [Int32](repeating: 0, count: rows)
            dnabert_i8_quantize_rows_u8(g, inner, rows, inner, &q2, kp, &sc2, &zp2, kernel.code)
            #expect(q == q2 && sc == sc2 && zp == zp2, "\(kernel): the fused call differs from its two steps")
            var offByOne = 0
            for r in 0..<rows {
                #expect(abs(sc[r] - ns[r]) <= 1e-6 * ns[r], "\(kernel) row \(r): scale \(sc[r]) against \(ns[r])")
                for c in 0..<inner {
                    let d = abs(Int(q[r * kp + c]) - Int(zp[r]) - nq[r * inner + c])
                    #expect(d <= 1, "\(kernel) row \(r) col \(c)")
                    if d == 1 { offByOne += 1 }
                }
                #expect(q[(r * kp + inner)..<((r + 1) * kp)].allSatisfy { Int32($0) == zp[r] }, "padding holds the zero point")
            }
            #expect(offByOne * 200 <= rows * inner, "\(kernel): \(offByOne) of \(rows * inner) codes off by one")
        }
    }
}
