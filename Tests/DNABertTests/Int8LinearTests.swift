import Testing
import CInt8Kernels
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// The int8 linear against a naive reference written here (per-row symmetric quantization, Int64 dot products),
/// the VNNI kernel against the portable one (bitwise: same int32 sums, same epilogue), and an int8 model
/// against its float32 original and through save/load.
@Suite struct Int8LinearTests {
    static func naiveQuantize(_ a: [Float], rows: Int, cols: Int) -> ([Int], [Float]) {
        var q = [Int](repeating: 0, count: rows * cols), s = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var m: Float = 0
            for c in 0..<cols { m = max(m, abs(a[r * cols + c])) }
            if m == 0 { continue }
            let inv: Float = 127 / m
            s[r] = m / 127
            for c in 0..<cols { q[r * cols + c] = Int(max(-127, min(127, (a[r * cols + c] * inv).rounded(.toNearestOrEven)))) }
        }
        return (q, s)
    }

    static func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = Xoshiro256(seed: seed)
        return (0..<n).map { _ in Float(rng.nextNormalPair().0) * scale }
    }

    func run(rows: Int, k: Int, n: Int, kernel: Int32, threads: Int) throws -> [Float] {
        let x = Self.random(rows * k, seed: 1), w = Self.random(n * k, seed: 2, scale: 0.05), b = Self.random(n, seed: 3)
        let q = try Int8Matrix(quantizing: w, out: n, in: k)
        var y = [Float](repeating: .nan, count: rows * n)
        let kp = (k + 3) / 4 * 4
        var xq = [UInt8](repeating: 0, count: rows * kp), sx = [Float](repeating: 0, count: rows)
        dnabert_i8_quantize_rows_u8(x, k, rows, k, &xq, kp, &sx, kernel)
        y.withUnsafeMutableBufferPointer { yb in
            dnabert_i8_gemm(xq, sx, rows, kp, q.packed, q.colsum, q.scales, b, 0, n, yb.baseAddress!, n, kernel)
        }
        // the Swift entry point (threads, row/column split) gives the same numbers with the current kernel
        if kernel == Int8Kernel.current.code {
            var y2 = [Float](repeating: .nan, count: rows * n)
            Linear.forward(x: x, ldx: k, rows: rows, inFeatures: k, weight: w, outFeatures: n, bias: b, y: &y2, ldy: n,
                           threads: threads, quantized: q)
            #expect(y2 == y)
        }
        return y
    }

    @Test(arguments: [(1, 768, 64), (5, 250, 45), (67, 96, 130), (200, 1024, 80)])
    func matchesNaiveReference(shape: (Int, Int, Int)) throws {
        let (rows, k, n) = shape
        let y = try run(rows: rows, k: k, n: n, kernel: Int32(DNABERT_I8_GENERIC), threads: 2)
        let x = Self.random(rows * k, seed: 1), w = Self.random(n * k, seed: 2, scale: 0.05), b = Self.random(n, seed: 3)
        let (qx, sx) = Self.naiveQuantize(x, rows: rows, cols: k), (qw, sw) = Self.naiveQuantize(w, rows: n, cols: k)
        for r in 0..<rows {
            for c in 0..<n {
                var acc = 0
                for i in 0..<k { acc += qx[r * k + i] * qw[c * k + i] }
                let ref = Float(acc) * (sx[r] * sw[c]) + b[c]
                #expect(abs(y[r * n + c] - ref) <= 1e-6 * max(1, abs(ref)), "row \(r) col \(c)")
            }
        }
    }

    static let hasVNNI = dnabert_i8_cpu_has_avx512vnni() != 0

    @Test(.enabled(if: hasVNNI, Comment(rawValue: "this CPU has no AVX-512 VNNI (the portable kernel is checked by matchesNaiveReference)")),
          arguments: [(1, 768, 64), (5, 250, 45), (67, 96, 130), (200, 1024, 80)])
    func vnniEqualsPortable(shape: (Int, Int, Int)) throws {
        let (rows, k, n) = shape
        #expect(try run(rows: rows, k: k, n: n, kernel: Int32(DNABERT_I8_AVX512VNNI), threads: 2)
                == run(rows: rows, k: k, n: n, kernel: Int32(DNABERT_I8_GENERIC), threads: 2))
    }

    @Test func quantizedModelTracksFloatAndSurvivesSaveLoad() throws {
        let c = EncoderTests.tinyConfig()
        let m = try Model(config: c)
        m.initializeRandom(seed: 7)
        let q = try m.quantized(to: .int8)
        #expect(q.precision == .int8 && m.precision == .fp32)
        #expect(throws: DNABertError.self) { try q.quantized(to: .int8) }
        #expect(throws: DNABertError.self) { try Precision(name: "int4") }
        let ids: [Int32] = (0..<40).map { Int32(5 + $0 % 40) }
        let a = try ids.withUnsafeBufferPointer { try m.forward(ids: $0, batch: 2, length: 20, attentionMask: nil) }.lastHidden
        let b = try ids.withUnsafeBufferPointer { try q.forward(ids: $0, batch: 2, length: 20, attentionMask: nil) }.lastHidden
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in a.indices { dot += Double(a[i] * b[i]); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i]) }
        #expect(dot / (na * nb).squareRoot() > 0.99)
        #expect(a != b)
        let dir = NSTemporaryDirectoryPath() + "/int8-\(getpid())"
        try PretrainedModel(model: q, tokenizer: nil).save(directory: dir)
        let back = try PretrainedModel.load(directory: dir).model
        #expect(back.precision == .int8)
        let c2 = try ids.withUnsafeBufferPointer { try back.forward(ids: $0, batch: 2, length: 20, attentionMask: nil) }.lastHidden
        #expect(c2 == b)
    }
}

private func NSTemporaryDirectoryPath() -> String { String(cString: getenv("TMPDIR") ?? strdup("/tmp")) }
