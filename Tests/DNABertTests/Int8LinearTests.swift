import Testing
import CInt8Kernels
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// The int8 linear against a naive reference written here (weights per-row symmetric, activations per-row
/// asymmetric with a zero point, Int64 dot products),
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

    /// Activations as the library quantizes them: per row, lo = min(0, min x), hi = max(0, max x),
    /// inv = 255 / (hi − lo), zp = clamp(rint(−lo·inv), 0, 255), q = clamp(rint(x·inv) + zp, 0, 255) in Float;
    /// returns q − zp (so that x ≈ (q − zp)·scale) and scale = (hi − lo) / 255.
    static func naiveQuantizeActivations(_ a: [Float], rows: Int, cols: Int) -> ([Int], [Float]) {
        var q = [Int](repeating: 0, count: rows * cols), s = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var lo: Float = 0, hi: Float = 0
            for c in 0..<cols { lo = min(lo, a[r * cols + c]); hi = max(hi, a[r * cols + c]) }
            let range = hi - lo
            if !(range > 0) || !range.isFinite { continue }
            let inv: Float = 255 / range
            s[r] = range / 255
            let zp = max(0, min(255, (-lo * inv).rounded(.toNearestOrEven)))
            for c in 0..<cols {
                let v = max(0, min(255, (a[r * cols + c] * inv).rounded(.toNearestOrEven) + zp))
                q[r * cols + c] = Int(v) - Int(zp)
            }
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
        var zp = [Int32](repeating: 0, count: rows)
        dnabert_i8_quantize_rows_u8(x, k, rows, k, &xq, kp, &sx, &zp, kernel)
        y.withUnsafeMutableBufferPointer { yb in
            dnabert_i8_gemm(xq, sx, zp, rows, kp, q.packed, q.colsum, q.scales, b, 0, n, yb.baseAddress!, n, kernel)
        }
        // the Swift entry point (threads, row/column split) gives the same numbers with the current kernel
        if kernel == Int8Kernel.current.code {
            var y2 = [Float](repeating: .nan, count: rows * n)
            Linear.forward(x: x, ldx: k, rows: rows, inFeatures: k, weight: w, outFeatures: n, bias: b, y: &y2, ldy: n,
                           threads: threads, quantized: q)
            #expect(Self.differing(y2, y) == 0, "the Swift entry point differs from one kernel call")
        }
        return y
    }

    /// How many entries of two equally long arrays differ bit for bit (all of them when the lengths differ): a
    /// count for the failure message, since a failing `==` of large arrays is diffed for minutes.
    static func differing(_ a: [Float], _ b: [Float]) -> Int {
        a.count != b.count ? max(a.count, b.count) : zip(a, b).filter { $0.0.bitPattern != $0.1.bitPattern }.count
    }

    @Test(arguments: [(1, 768, 64), (5, 250, 45), (67, 96, 130), (200, 1024, 80)])
    func matchesNaiveReference(shape: (Int, Int, Int)) throws {
        let (rows, k, n) = shape
        let y = try run(rows: rows, k: k, n: n, kernel: Int32(DNABERT_I8_GENERIC), threads: 2)
        let x = Self.random(rows * k, seed: 1), w = Self.random(n * k, seed: 2, scale: 0.05), b = Self.random(n, seed: 3)
        let (qx, sx) = Self.naiveQuantizeActivations(x, rows: rows, cols: k), (qw, sw) = Self.naiveQuantize(w, rows: n, cols: k)
        for r in 0..<rows {
            for c in 0..<n {
                var acc = 0
                for i in 0..<k { acc += qx[r * k + i] * qw[c * k + i] }
                let ref = Float(acc) * (sx[r] * sw[c]) + b[c]
                #expect(abs(y[r * n + c] - ref) <= 1e-6 * max(1, abs(ref)), "row \(r) col \(c)")
            }
        }
    }

    /// Smoothing: the library's output equals the naive reference run on x·(1/s) and W·s (float32 products).
    @Test(arguments: [(3, 96, 40), (66, 250, 45)])
    func smoothedMatchesNaiveReference(shape: (Int, Int, Int)) throws {
        let (rows, k, n) = shape
        let x = Self.random(rows * k, seed: 11), w = Self.random(n * k, seed: 12, scale: 0.05)
        let s = Self.random(k, seed: 13).map { Float(exp(Double($0))) }
        let q = try Int8Matrix(quantizing: w, out: n, in: k, smooth: s)
        var y = [Float](repeating: .nan, count: rows * n)
        Linear.forward(x: x, ldx: k, rows: rows, inFeatures: k, weight: w, outFeatures: n, bias: nil, y: &y, ldy: n,
                       threads: 2, quantized: q)
        let xs = (0..<(rows * k)).map { x[$0] * (1 / s[$0 % k]) }, ws = (0..<(n * k)).map { w[$0] * s[$0 % k] }
        let (qx, sx) = Self.naiveQuantizeActivations(xs, rows: rows, cols: k), (qw, sw) = Self.naiveQuantize(ws, rows: n, cols: k)
        for r in 0..<rows {
            for c in 0..<n {
                var acc = 0
                for i in 0..<k { acc += qx[r * k + i] * qw[c * k + i] }
                let ref = Float(acc) * (sx[r] * sw[c])
                #expect(abs(y[r * n + c] - ref) <= 1e-6 * max(1, abs(ref)), "row \(r) col \(c)")
            }
        }
        // dequantized: q · scale / s
        var d = [Float](repeating: 0, count: n * k)
        q.dequantize(into: &d)
        for c in 0..<n { for i in 0..<k { #expect(d[c * k + i] == Float(qw[c * k + i]) * sw[c] / s[i]) } }
        #expect(throws: DNABertError.self) { try Int8Matrix(quantizing: w, out: n, in: k, smooth: [Float](repeating: 0, count: k)) }
    }

    /// A linear with more input (or output) features than the int32 sums can hold exactly (255 · 127 · k < 2³¹) is
    /// refused, not quantized into wrong numbers; the largest accepted size quantizes.
    @Test func refusesLinearsWhoseSumsCouldOverflow() throws {
        let k = Int8Matrix.maxFeatures
        #expect(throws: DNABertError.self) { try Int8Matrix(quantizing: [Float](repeating: 0.5, count: k + 1), out: 1, in: k + 1) }
        #expect(throws: DNABertError.self) { try Int8Matrix(quantizing: [Float](repeating: 0.5, count: k + 1), out: k + 1, in: 1) }
        let q = try Int8Matrix(quantizing: [Float](repeating: 0.5, count: k), out: 1, in: k)
        #expect(q.inFeatures == k)
        #expect(255 * 127 * Int64(k) < Int64(Int32.max))
    }

    /// The int8 input gradient dX = dY·W (QLoRA's backward): the library's output equals a naive reference that
    /// quantizes each row of dY·diag(scale) and multiplies by the int8 W and 1/s; it tracks the float product
    /// with the dequantized W; `accumulate` adds to what dX held.
    @Test(arguments: [(3, 96, 40), (66, 250, 45), (130, 64, 200)])
    func inputGradientMatchesNaiveReference(shape: (Int, Int, Int)) throws {
        let (rows, k, n) = shape
        let w = Self.random(n * k, seed: 21, scale: 0.05), dy = Self.random(rows * n, seed: 22)
        let s = Self.random(k, seed: 23).map { Float(exp(Double($0))) }
        let q = try Int8Matrix(quantizing: w, out: n, in: k, smooth: s)
        var dx = [Float](repeating: 1, count: rows * k)
        try dy.withUnsafeBufferPointer { d in
            try dx.withUnsafeMutableBufferPointer { x in
                try Linear.backwardInputInt8(dy: d.baseAddress!, ldy: n, rows: rows, weight: q, dx: x.baseAddress!, lddx: k,
                                             accumulate: true, threads: 2)
            }
        }
        let ws = (0..<(n * k)).map { w[$0] * s[$0 % k] }
        let (qw, sw) = Self.naiveQuantize(ws, rows: n, cols: k)
        let dys = (0..<(rows * n)).map { dy[$0] * sw[$0 % n] }
        let (qd, sd) = Self.naiveQuantizeActivations(dys, rows: rows, cols: n)
        var errSq = 0.0, refSq = 0.0
        for r in 0..<rows {
            for j in 0..<k {
                var acc = 0, exact = 0.0
                for o in 0..<n {
                    acc += qd[r * n + o] * qw[o * k + j]
                    exact += Double(dy[r * n + o]) * Double(Float(qw[o * k + j]) * sw[o] / s[j])
                }
                let ref = Float(acc) * (sd[r] * (1 / s[j]))
                #expect(abs(dx[r * k + j] - 1 - ref) <= 1e-5 * max(1, abs(ref)), "row \(r) col \(j)")
                errSq += (Double(ref) - exact) * (Double(ref) - exact); refSq += exact * exact
            }
        }
        // int8 rounding of dY only: a small relative error against the float product with the same int8 W
        #expect((errSq / refSq).squareRoot() < 0.02, "relative error \((errSq / refSq).squareRoot())")
        // without accumulate: overwritten
        var dx2 = [Float](repeating: .nan, count: rows * k)
        try dy.withUnsafeBufferPointer { d in
            try dx2.withUnsafeMutableBufferPointer { x in
                try Linear.backwardInputInt8(dy: d.baseAddress!, ldy: n, rows: rows, weight: q, dx: x.baseAddress!, lddx: k,
                                             accumulate: false, threads: 2)
            }
        }
        for i in dx2.indices { #expect(abs(dx2[i] + 1 - dx[i]) <= 1e-5 * max(1, abs(dx[i]))) }
    }

    /// The SIMD kernels this CPU runs (AVX2, AVX-512 VNNI), each checked against the portable path. The last shape
    /// has over 2²⁰ outputs in one call, which the VNNI kernel writes with non-temporal stores (the aligned whole
    /// vectors of it; its 2,100 = 32 · 64 + 52 channels also end in a partial 16-channel block, stored as usual).
    static let simdKernels = [Int8Kernel.avx2, .avx512vnni].filter(\.isSupported)

    @Test(.enabled(if: !simdKernels.isEmpty, Comment(rawValue: "this CPU has neither AVX2 nor AVX-512 VNNI (the portable kernel is checked by matchesNaiveReference)")),
          arguments: [(1, 768, 64), (5, 250, 45), (67, 96, 130), (200, 1024, 80), (7, 3, 9), (13, 3072, 17), (521, 64, 2100)])
    func simdKernelsEqualPortable(shape: (Int, Int, Int)) throws {
        let (rows, k, n) = shape
        let portable = try run(rows: rows, k: k, n: n, kernel: Int32(DNABERT_I8_GENERIC), threads: 2)
        for kernel in Self.simdKernels {
            let got = try run(rows: rows, k: k, n: n, kernel: kernel.code, threads: 2)
            #expect(Self.differing(got, portable) == 0, "\(kernel)")
        }
    }

    /// The smoothed quantization of activations (x·(1/s), then per-row int8): the SIMD kernels' rows and scales are
    /// bitwise those of the portable path (which writes the smoothed row out first), for rows of every length
    /// class, a row of zeros, a row with an infinity and a row that saturates nothing.
    @Test(.enabled(if: !simdKernels.isEmpty, Comment(rawValue: "this CPU has neither AVX2 nor AVX-512 VNNI")),
          arguments: [(1, 768), (6, 250), (3, 15), (4, 3072), (2, 1)])
    func smoothedQuantizationEqualsPortable(shape: (Int, Int)) {
        let (rows, k) = shape, kp = (k + 3) / 4 * 4 + 4
        var x = Self.random(rows * k, seed: UInt64(rows * 7 + k))
        let inv = Self.random(k, seed: 99).map { Float(exp(Double($0))) }
        if rows >= 3 {
            for i in 0..<k { x[k + i] = 0 }      // a zero row: scale 0, zero point 0, every value 0
            x[2 * k + k / 2] = .infinity         // a row with an infinity: the same refusal on every path
        }
        func quantize(_ kernel: Int32) -> ([UInt8], [Float], [Int32]) {
            var q = [UInt8](repeating: 7, count: rows * kp), sc = [Float](repeating: .nan, count: rows)
            var zp = [Int32](repeating: -1, count: rows)
            var tmp = [Float](repeating: 0, count: k)
            dnabert_i8_quantize_rows_u8_smoothed(x, k, rows, k, inv, &tmp, &q, kp, &sc, &zp, kernel)
            return (q, sc, zp)
        }
        let portable = quantize(Int32(DNABERT_I8_GENERIC))
        for kernel in Self.simdKernels {
            let got = quantize(kernel.code)
            #expect(got.0 == portable.0, "\(kernel): quantized rows")
            #expect(got.1.map(\.bitPattern) == portable.1.map(\.bitPattern), "\(kernel): scales")
            #expect(got.2 == portable.2, "\(kernel): zero points")
        }
        #expect(portable.1.allSatisfy { $0 >= 0 })
        #expect(portable.2.allSatisfy { (0...255).contains($0) })
        // against the naive asymmetric quantization of the smoothed rows (x · (1/s) in Float, as the library does)
        let xs = (0..<(rows * k)).map { x[$0] * inv[$0 % k] }
        let (nq, ns) = Self.naiveQuantizeActivations(xs, rows: rows, cols: k)
        for r in 0..<rows {
            #expect(portable.1[r].bitPattern == ns[r].bitPattern, "row \(r): scale")
            let got = (0..<k).map { Int(portable.0[r * kp + $0]) - Int(portable.2[r]) }
            #expect(got == Array(nq[(r * k)..<((r + 1) * k)]), "row \(r): values")
        }
    }

    /// Inference fuses GEGLU into the quantization of wo's input (`Linear.forwardInt8AfterGEGLU`): the hidden
    /// states must be bit for bit those of the unfused path (GEGLU written out, then `forwardInt8`), with padding,
    /// and at one and two threads.
    @Test func fusedGEGLUQuantizationEqualsTheUnfusedPath() throws {
        let m = try Model(config: EncoderTests.tinyConfig())
        m.initializeRandom(seed: 17)
        let q = try m.quantized(to: .int8)
        let ids: [Int32] = (0..<90).map { Int32(5 + ($0 * 7) % 40) }
        let mask: [Int32] = (0..<90).map { $0 % 30 < 23 ? 1 : 0 }
        func run(fused: Bool, threads: Int) throws -> [Float] {
            let saved = EncoderLayer.fuseInt8GEGLU
            EncoderLayer.fuseInt8GEGLU = fused
            defer { EncoderLayer.fuseInt8GEGLU = saved }
            var o = ForwardOptions()
            o.threads = threads
            return try ids.withUnsafeBufferPointer { i in try mask.withUnsafeBufferPointer { k in
                try q.forward(ids: i, batch: 3, length: 30, attentionMask: k, options: o)
            } }.lastHidden
        }
        for t in [1, 2] {
            let fused = try run(fused: true, threads: t), plain = try run(fused: false, threads: t)
            #expect(fused.count == plain.count && fused.contains { $0 != 0 })
            #expect(fused == plain, "threads \(t): the fused GEGLU quantization changed the int8 model's output")
        }
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
        // every linear is smoothed and held in int8 only: no float32 copy in the buffer, and what stands in for the
        // float32 weight (copyFloat32, the QLoRA backward's dequantization) is q · scale / s
        func checkDequantized(_ model: Model) {
            Self.checkNoFloatCopies(model, of: m)
            for l in 0..<c.numLayers {
                for t in LoRATarget.allCases {
                    guard let mat = model.weights.layers[l].int8[t.index] else { Issue.record("layer \(l) \(t) not int8"); continue }
                    #expect(mat.smooth != nil)
                    var f = [Float](repeating: .nan, count: mat.outFeatures * mat.inFeatures)
                    #expect(model.copyFloat32(named: Int8Checkpoint.weightName(layer: l, t), into: &f, count: f.count))
                    var ok = true
                    for r in 0..<mat.outFeatures {
                        for j in 0..<mat.inFeatures where f[r * mat.inFeatures + j] != Float(mat.value(r, j)) * mat.scale(r) / mat.smoothing(j) {
                            ok = false
                        }
                    }
                    #expect(ok, "layer \(l) \(t)")
                }
            }
        }
        checkDequantized(q)
        let dir = NSTemporaryDirectoryPath() + "/int8-\(getpid())"
        try PretrainedModel(model: q, tokenizer: nil).save(directory: dir)
        let back = try PretrainedModel.load(directory: dir).model
        #expect(back.precision == .int8)
        checkDequantized(back)
        #expect(back.parameters.elementsEqual(q.parameters))
        let c2 = try ids.withUnsafeBufferPointer { try back.forward(ids: $0, batch: 2, length: 20, attentionMask: nil) }.lastHidden
        #expect(c2 == b)
        // the explicit float32 conversion: the dequantized weights, every other tensor as it was
        let f = try back.dequantizedFloat32()
        #expect(f.precision == .fp32 && f.layout.views == m.layout.views && f.parameterCount == m.parameterCount)
        for v in m.layout.views {
            var want = [Float](repeating: .nan, count: v.count)
            #expect(back.copyFloat32(named: v.name, into: &want, count: v.count))
            #expect(Array(f.parameter(named: v.name)!) == want, "\(v.name)")
        }
    }

    /// An int8 model (of the float32 `original`) keeps its quantized linears only as Int8Matrix: its layout has no
    /// view for their weights, its float buffer is that much smaller, and it reports the same parameter count.
    static func checkNoFloatCopies(_ model: Model, of original: Model) {
        let c = model.config
        #expect(model.precision == .int8 && model.layout.quantized == Set(LoRATarget.allCases))
        var linears = 0, packedBytes = 0
        for l in 0..<c.numLayers {
            for t in LoRATarget.allCases {
                // int8 values padded to 16 channels × 4 inputs, int32 channel sums and float scales per padded
                // channel, smoothing factors and their reciprocals per input
                let (k, n) = t.dimensions(c), npad = (n + 15) / 16 * 16
                packedBytes += npad * ((k + 3) / 4 * 4) + 8 * npad + 8 * k
                let name = Int8Checkpoint.weightName(layer: l, t)
                #expect(model.layout[name] == nil && model.parameter(named: name) == nil, "\(name)")
                #expect(model.weights.layers[l].weight(t) == nil && model.weights.layers[l].int8[t.index] != nil)
                linears += original.layout[name]!.count
            }
        }
        #expect(model.layout.quantizedCount == linears)
        #expect(model.parameters.count == original.parameters.count - linears)
        #expect(model.parameterCount == original.parameterCount && original.parameterCount == original.layout.total)
        let bytes = model.weightBytes
        #expect(bytes.float32 == 4 * (original.layout.total - linears))
        // int8: one byte per weight (plus padding, scales, sums and smoothing factors), against four in float32
        #expect(bytes.int8 == packedBytes && bytes.int8 >= linears)
        #expect(original.weightBytes.float32 == 4 * original.layout.total && original.weightBytes.int8 == 0)
    }

    /// The fast row-by-row dequantization gives the bits of the element-wise one, with and without smoothing, on
    /// shapes that are not multiples of the packing blocks (16 channels × 4 inputs).
    @Test(arguments: [(45, 250, false), (45, 250, true), (130, 96, true), (16, 4, false), (3, 7, true)])
    func fastDequantizeIsBitwiseTheSame(shape: (Int, Int, Bool)) throws {
        let (n, k, smoothed) = shape
        let w = Self.random(n * k, seed: 4, scale: 0.05)
        let s = (0..<k).map { Float(0.25 + Double($0 % 7) * 0.3) }
        let q = smoothed ? try s.withUnsafeBufferPointer { try Int8Matrix(quantizing: w, out: n, in: k, smooth: $0.baseAddress!) }
                         : try Int8Matrix(quantizing: w, out: n, in: k)
        var a = [Float](repeating: .nan, count: n * k), b = a, c = a
        q.dequantize(into: &a)
        q.dequantize(into: &b, threads: 2)
        c.withUnsafeMutableBufferPointer { q.dequantizeRows(0..<n, into: $0.baseAddress!) }
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern) && a.map(\.bitPattern) == c.map(\.bitPattern))
    }

    /// What needs float32 weights of an int8 model gets them by dequantizing: full fine-tuning starts from the
    /// dequantized weights, a LoRA classifier on an int8 base merges into them (a float32 model), QLoRA trains;
    /// pretraining an int8 model and merging adapters into one are refused with a clear error.
    @Test func int8BaseFineTuningMergeAndRefusals() throws {
        let fp = try SequenceClassifierTests.base(seed: 11)
        let q = try fp.model.quantized(to: .int8)
        Self.checkNoFloatCopies(q, of: fp.model)
        let base = PretrainedModel(model: q, tokenizer: nil)
        let head = ClassifierHead(numLabels: 3)
        let b = SequenceClassifierTests.batch(head)
        func dequantized(_ l: Int, _ t: LoRATarget) -> [Float] {
            let (i, o) = t.dimensions(q.config)
            var f = [Float](repeating: .nan, count: i * o)
            #expect(q.copyFloat32(named: Int8Checkpoint.weightName(layer: l, t), into: &f, count: f.count))
            return f
        }
        // full fine-tuning: float32 trainable copies initialised from the dequantized weights; a step trains them
        let full = try SequenceClassifier(base: base, head: head, lora: nil, dropout: 0, seed: 3)
        for l in 0..<q.config.numLayers {
            for t in LoRATarget.allCases {
                #expect(Array(full.tensor(named: Int8Checkpoint.weightName(layer: l, t))!) == dequantized(l, t))
            }
        }
        var g = [Float](repeating: 0, count: full.layout.total)
        let lf = try g.withUnsafeMutableBufferPointer { try full.lossAndGradient(b, into: $0, threads: 2).loss }
        #expect(lf.isFinite)
        let wg = full.layout["bert.encoder.layer.0.mlp.wo.weight"]!
        #expect(g[wg.offset..<(wg.offset + wg.count)].contains { $0 != 0 })
        let merged = try full.mergedModel().model
        #expect(merged.precision == .fp32 && Array(merged.parameter(named: "bert.encoder.layer.1.mlp.wo.weight")!) == dequantized(1, .wo))
        // QLoRA: adapters on the frozen int8 base; with B = 0 the merged weights are the dequantized ones
        let lora = try SequenceClassifier(base: base, head: head, lora: LoRAConfig(r: 2, alpha: 4, dropout: 0), dropout: 0, seed: 3)
        #expect(lora.tensor(named: "bert.encoder.layer.0.attention.self.Wqkv.weight") == nil)
        let mergedLoRA = try lora.mergedModel().model
        for l in 0..<q.config.numLayers {
            for t in LoRATarget.allCases {
                #expect(Array(mergedLoRA.parameter(named: Int8Checkpoint.weightName(layer: l, t))!) == dequantized(l, t))
            }
        }
        var gl = [Float](repeating: 0, count: lora.layout.total)
        let ll = try gl.withUnsafeMutableBufferPointer { try lora.lossAndGradient(b, into: $0, threads: 2).loss }
        #expect(ll.isFinite && gl.contains { $0 != 0 })
        #expect(throws: DNABertError.self) { try lora.merge(into: q) }
        #expect(throws: DNABertError.self) { try Trainable(model: q, seed: 1) }
    }
}

private func NSTemporaryDirectoryPath() -> String { String(cString: getenv("TMPDIR") ?? strdup("/tmp")) }
