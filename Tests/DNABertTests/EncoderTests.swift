import Testing
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// The whole encoder on a tiny config against a deliberately naive reference written here: padded layout,
/// full L × L attention with the −10000 key-padding bias, Float64 everywhere, Glibc erf.
@Suite struct EncoderTests {
    static func tinyConfig() -> ModelConfig {
        var c = ModelConfig()
        c.hiddenSize = 24
        c.numHeads = 3          // not a power of two: exercises the interleaved ALiBi slopes
        c.numLayers = 2
        c.intermediateSize = 40
        c.vocabSize = 50
        c.numLabels = 3
        return c
    }

    static func makeModel() throws -> Model {
        let m = try Model(config: tinyConfig(), mlmHead: true, pooler: true, classifier: true)
        var rng = TestRandom(2024)
        for v in m.layout.views {
            let p = m.parameter(named: v.name)!
            let isLNWeight = v.name.hasSuffix("LayerNorm.weight") || v.name.hasSuffix("layernorm.weight")
            for i in 0..<v.count {
                p[i] = isLNWeight ? 1 + rng.float(0.2) : (v.shape.count == 2 ? rng.float(0.4) : rng.float(0.2))
            }
        }
        return m
    }

    // MARK: Naive reference

    struct Reference {
        let m: Model
        let c: ModelConfig
        init(_ m: Model) { self.m = m; c = m.config }

        func w(_ name: String) -> [Double] { m.parameter(named: name)!.map(Double.init) }

        func layerNorm(_ x: [Double], _ g: [Double], _ b: [Double]) -> [Double] {
            let n = Double(x.count)
            let mean = x.reduce(0, +) / n
            let v = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n
            let rstd: Double = 1 / (v + c.layerNormEps).squareRoot()
            var out = [Double](repeating: 0, count: x.count)
            for k in x.indices { out[k] = (x[k] - mean) * rstd * g[k] + b[k] }
            return out
        }

        /// y = W x + b for W [out, in].
        func linear(_ x: [Double], _ W: [Double], _ b: [Double]?, out: Int) -> [Double] {
            let inF = x.count
            var y = [Double](repeating: 0, count: out)
            for o in 0..<out {
                var s: Double = b?[o] ?? 0
                for i in 0..<inF { s += W[o * inF + i] * x[i] }
                y[o] = s
            }
            return y
        }

        func gelu(_ x: Double) -> Double { 0.5 * x * (1 + Glibc.erf(x / 2.0.squareRoot())) }

        func slopes() -> [Double] {
            // Written from the spec's rule again, in Double, independently of ALiBi.slopes.
            let n = c.numHeads
            func pw(_ n: Int) -> [Double] { (0..<n).map { pow(pow(2.0, -8.0 / Double(n)), Double($0 + 1)) } }
            if n & (n - 1) == 0 { return pw(n) }
            var p = 1
            while 2 * p < n { p *= 2 }
            return pw(p) + Array(stride(from: 0, to: 2 * p, by: 2).map { pw(2 * p)[$0] }.prefix(n - p))
        }

        /// Returns every hidden state (embeddings + layers) as [b][i][h] with padded rows zeroed, and the
        /// attention probabilities of each layer [layer][b][h][i][j].
        func forward(ids: [Int32], B: Int, L: Int, mask: [Int32]) -> ([[[[Double]]]], [[[[[Double]]]]]) {
            let H = c.hiddenSize, I = c.intermediateSize, nh = c.numHeads, d = H / nh
            let word = w("bert.embeddings.word_embeddings.weight"), type = w("bert.embeddings.token_type_embeddings.weight")
            var x: [[[Double]]] = (0..<B).map { b in (0..<L).map { i in
                let id = Int(ids[b * L + i])
                return layerNorm((0..<H).map { word[id * H + $0] + type[$0] }, w("bert.embeddings.LayerNorm.weight"), w("bert.embeddings.LayerNorm.bias"))
            } }
            func zeroPad(_ x: [[[Double]]]) -> [[[Double]]] {
                (0..<B).map { b in (0..<L).map { i in mask[b * L + i] == 1 ? x[b][i] : [Double](repeating: 0, count: H) } }
            }
            var states = [zeroPad(x)]
            var probs: [[[[[Double]]]]] = []
            let sl = slopes()
            for l in 0..<c.numLayers {
                let p = "bert.encoder.layer.\(l)."
                let Wqkv = w(p + "attention.self.Wqkv.weight"), bqkv = w(p + "attention.self.Wqkv.bias")
                var layerProbs: [[[[Double]]]] = []
                var next = x
                for b in 0..<B {
                    let qkv = (0..<L).map { linear(x[b][$0], Wqkv, bqkv, out: 3 * H) }
                    var ctx = [[Double]](repeating: [Double](repeating: 0, count: H), count: L)
                    var bp: [[[Double]]] = []
                    for h in 0..<nh {
                        var hp: [[Double]] = []
                        for i in 0..<L {
                            var s = (0..<L).map { j -> Double in
                                var dot = 0.0
                                for t in 0..<d { dot += qkv[i][h * d + t] * qkv[j][H + h * d + t] }
                                return dot / Double(d).squareRoot() - sl[h] * Double(abs(i - j)) + (mask[b * L + j] == 1 ? 0 : -10000)
                            }
                            let mx = s.max()!
                            s = s.map { Glibc.exp($0 - mx) }
                            let sum = s.reduce(0, +)
                            s = s.map { $0 / sum }
                            hp.append(s)
                            for t in 0..<d { ctx[i][h * d + t] = (0..<L).reduce(0.0) { $0 + s[$1] * qkv[$1][2 * H + h * d + t] } }
                        }
                        bp.append(hp)
                    }
                    layerProbs.append(bp)
                    for i in 0..<L {
                        let dense = linear(ctx[i], w(p + "attention.output.dense.weight"), w(p + "attention.output.dense.bias"), out: H)
                        let a = layerNorm((0..<H).map { dense[$0] + x[b][i][$0] }, w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias"))
                        let hh = linear(a, w(p + "mlp.gated_layers.weight"), nil, out: 2 * I)
                        let g = (0..<I).map { gelu(hh[$0]) * hh[I + $0] }
                        let o = linear(g, w(p + "mlp.wo.weight"), w(p + "mlp.wo.bias"), out: H)
                        next[b][i] = layerNorm((0..<H).map { o[$0] + a[$0] }, w(p + "mlp.layernorm.weight"), w(p + "mlp.layernorm.bias"))
                    }
                }
                x = next
                states.append(zeroPad(x))
                probs.append(layerProbs)
            }
            return (states, probs)
        }

        func mlm(_ h: [Double]) -> [Double] {
            let t = linear(h, w("cls.predictions.transform.dense.weight"), w("cls.predictions.transform.dense.bias"), out: c.hiddenSize).map(gelu)
            let n = layerNorm(t, w("cls.predictions.transform.LayerNorm.weight"), w("cls.predictions.transform.LayerNorm.bias"))
            return linear(n, w("bert.embeddings.word_embeddings.weight"), w("cls.predictions.decoder.bias"), out: c.vocabSize)
        }

        func pooled(_ h: [Double]) -> [Double] {
            linear(h, w("bert.pooler.dense.weight"), w("bert.pooler.dense.bias"), out: c.hiddenSize).map { Glibc.tanh($0) }
        }
    }

    // A batch with: no padding, right padding, a scattered mask, and a sequence with no real token.
    static let B = 4, L = 11
    static let mask: [Int32] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
                                1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0,
                                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    static func ids() -> [Int32] {
        var rng = TestRandom(99)
        return (0..<(B * L)).map { _ in Int32(rng.int(50)) }
    }

    static func maxDiff(_ a: [Float], _ b: [Double]) -> Double {
        zip(a, b).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }
    }

    @Test func hiddenStatesAttentionMapAndHeadsMatchNaiveReference() throws {
        let model = try Self.makeModel()
        let ids = Self.ids(), mask = Self.mask, B = Self.B, L = Self.L, H = model.config.hiddenSize
        let ref = Reference(model)
        let (states, probs) = ref.forward(ids: ids, B: B, L: L, mask: mask)
        var opts = ForwardOptions()
        opts.outputAllHiddenStates = true
        opts.attentionMapLayer = 1
        opts.threads = 2
        let out = try ids.withUnsafeBufferPointer { i in try mask.withUnsafeBufferPointer { m in
            try model.forward(ids: i, batch: B, length: L, attentionMask: m, options: opts)
        } }
        let flat = { (s: [[[Double]]]) in s.flatMap { $0.flatMap { $0 } } }
        #expect(out.lastHidden.count == B * L * H)
        #expect(Self.maxDiff(out.lastHidden, flat(states.last!)) < 1e-4)
        #expect(out.allHidden?.count == model.config.numLayers + 1)
        for (k, s) in (out.allHidden ?? []).enumerated() { #expect(Self.maxDiff(s, flat(states[k])) < 1e-4, "hidden state \(k)") }
        // Padded positions are exactly zero.
        for at in 0..<(B * L) where mask[at] == 0 { #expect(out.lastHidden[(at * H)..<((at + 1) * H)].allSatisfy { $0 == 0 }) }
        // Attention map of layer 1: padded query rows are zero in ours; compare the real rows.
        let map = try #require(out.attentionMap)
        #expect(map.count == B * model.config.numHeads * L * L)
        var worst = 0.0
        for b in 0..<B { for h in 0..<model.config.numHeads { for i in 0..<L where mask[b * L + i] == 1 { for j in 0..<L {
            worst = max(worst, abs(Double(map[((b * model.config.numHeads + h) * L + i) * L + j]) - probs[1][b][h][i][j]))
        } } } }
        #expect(worst < 1e-5)

        // MLM logits (padded positions: logits of a zero hidden state, as in the reference model).
        let logits = try ids.withUnsafeBufferPointer { i in try mask.withUnsafeBufferPointer { m in
            try model.mlmLogits(ids: i, batch: B, length: L, attentionMask: m, options: opts)
        } }
        let last = states.last!
        let wantLogits = (0..<B).flatMap { b in (0..<L).flatMap { i in ref.mlm(last[b][i]) } }
        #expect(logits.count == wantLogits.count)
        #expect(Self.maxDiff(logits, wantLogits) < 2e-4)

        // Pooler and classifier on the hidden state at position 0.
        let pooled = try ids.withUnsafeBufferPointer { i in try mask.withUnsafeBufferPointer { m in
            try model.pooledOutput(ids: i, batch: B, length: L, attentionMask: m, options: opts)
        } }
        let wantPooled = (0..<B).map { ref.pooled(last[$0][0]) }
        #expect(Self.maxDiff(pooled, wantPooled.flatMap { $0 }) < 1e-4)
        let cls = try ids.withUnsafeBufferPointer { i in try mask.withUnsafeBufferPointer { m in
            try model.classifierLogits(ids: i, batch: B, length: L, attentionMask: m, options: opts)
        } }
        let wantCls = wantPooled.flatMap { ref.linear($0, ref.w("classifier.weight"), ref.w("classifier.bias"), out: 3) }
        #expect(Self.maxDiff(cls, wantCls) < 1e-4)
    }

    /// Inference copies q, k, v head-major for attention when a sequence has `EncoderStack.headMajorFrom` tokens or
    /// more (shorter ones attend in place, as in the test above): the same kernels on other strides, so with the
    /// threshold lowered to 1 the hidden states must be bit for bit those of the in-place run.
    @Test func headMajorAttentionEqualsInPlace() throws {
        let model = try Self.makeModel()
        let ids = Self.ids(), mask = Self.mask
        func run(from: Int) throws -> [Float] {
            let saved = EncoderStack.headMajorFrom
            EncoderStack.headMajorFrom = from
            defer { EncoderStack.headMajorFrom = saved }
            var opts = ForwardOptions()
            opts.threads = 2
            return try ids.withUnsafeBufferPointer { i in try mask.withUnsafeBufferPointer { m in
                try model.forward(ids: i, batch: Self.B, length: Self.L, attentionMask: m, options: opts)
            } }.lastHidden
        }
        #expect(Self.L < EncoderStack.headMajorFrom)
        let inPlace = try run(from: EncoderStack.headMajorFrom), headMajor = try run(from: 1)
        #expect(inPlace.contains { $0 != 0 } && inPlace == headMajor)
    }

    @Test func noMaskEqualsAllOnesAndThreadsAgree() throws {
        let model = try Self.makeModel()
        let ids = Self.ids()
        let ones = [Int32](repeating: 1, count: ids.count)
        var one = ForwardOptions(); one.threads = 1
        let a = try ids.withUnsafeBufferPointer { try model.forward(ids: $0, batch: Self.B, length: Self.L, attentionMask: nil, options: one) }
        let b = try ids.withUnsafeBufferPointer { i in try ones.withUnsafeBufferPointer { m in
            try model.forward(ids: i, batch: Self.B, length: Self.L, attentionMask: m)
        } }
        #expect(Self.maxDiff(a.lastHidden, b.lastHidden.map(Double.init)) < 1e-5)
        // Concurrent forwards on one model give the serial result.
        let results = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: 4)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { k in
            results[k] = (try? ids.withUnsafeBufferPointer { try model.forward(ids: $0, batch: Self.B, length: Self.L, attentionMask: nil, options: one) })?.lastHidden ?? []
        }
        for k in 0..<4 { #expect(results[k] == a.lastHidden) }
    }

    @Test func allPaddingGivesZeros() throws {
        let model = try Self.makeModel()
        let ids: [Int32] = [1, 2, 3, 4, 5, 6], mask: [Int32] = [0, 0, 0, 0, 0, 0]
        var o = ForwardOptions(); o.outputAllHiddenStates = true; o.attentionMapLayer = 0
        let out = try ids.withUnsafeBufferPointer { i in try mask.withUnsafeBufferPointer { m in
            try model.forward(ids: i, batch: 2, length: 3, attentionMask: m, options: o)
        } }
        #expect(out.lastHidden.count == 6 * 24 && out.lastHidden.allSatisfy { $0 == 0 })
        #expect(out.allHidden?.count == 3)
        let mapCount: Int? = out.attentionMap?.count   // batch × heads × L × L
        #expect(mapCount == 54)
    }

    @Test func rejectsBadInputs() throws {
        let model = try Self.makeModel()
        func expectInvalid(_ ids: [Int32], _ B: Int, _ L: Int, _ mask: [Int32]?, _ needle: String, _ opts: ForwardOptions = .init()) {
            do {
                _ = try ids.withUnsafeBufferPointer { i in
                    if let mask = mask {
                        return try mask.withUnsafeBufferPointer { try model.forward(ids: i, batch: B, length: L, attentionMask: $0, options: opts) }
                    }
                    return try model.forward(ids: i, batch: B, length: L, attentionMask: nil, options: opts)
                }
                Issue.record("expected an error mentioning \(needle)")
            } catch let e as DNABertError {
                #expect(e.kind == .invalidArgument)
                #expect(e.message.contains(needle), "\(e.message)")
            } catch { Issue.record("unexpected \(error)") }
        }
        expectInvalid([1, 2, 50, 3], 2, 2, nil, "position 0")       // id == vocab at batch 1, position 0
        expectInvalid([1, -1, 2, 3], 2, 2, nil, "-1")
        expectInvalid([1, 2, 3], 2, 2, nil, "entries")
        expectInvalid([1, 2, 3, 4], 2, 2, [1, 1, 2, 1], "attention_mask value 2")
        expectInvalid([1, 2, 3, 4], 2, 2, [1, 1, 1], "attention_mask has 3")
        expectInvalid([], 0, 2, nil, "batch")
        expectInvalid([], 1, 0, nil, "length")
        var o = ForwardOptions(); o.attentionMapLayer = 2
        expectInvalid([1, 2, 3, 4], 2, 2, nil, "attention map layer", o)
        #expect(throws: DNABertError.self) { _ = try Model(config: { var c = Self.tinyConfig(); c.numHeads = 5; return c }()) }
    }

    @Test func randomInitializationIsSeededAndShaped() throws {
        var c = ModelConfig()
        c.numLayers = 1
        c.hiddenSize = 128
        c.numHeads = 2
        c.intermediateSize = 512
        c.vocabSize = 300
        let a = try Model(config: c), b = try Model(config: c), d = try Model(config: c)
        a.initializeRandom(seed: 5); b.initializeRandom(seed: 5); d.initializeRandom(seed: 6)
        #expect(Array(a.parameters) == Array(b.parameters))
        #expect(Array(a.parameters) != Array(d.parameters))
        #expect(a.parameter(named: "bert.encoder.layer.0.mlp.layernorm.weight")!.allSatisfy { $0 == 1 })
        #expect(a.parameter(named: "bert.encoder.layer.0.attention.self.Wqkv.bias")!.allSatisfy { $0 == 0 })
        let w = a.parameter(named: "bert.encoder.layer.0.mlp.gated_layers.weight")!
        let mean = w.reduce(0.0) { $0 + Double($1) } / Double(w.count)
        let std = (w.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(w.count) - mean * mean).squareRoot()
        #expect(abs(mean) < 1e-4)
        #expect(abs(std - 0.02) < 0.0005)
        #expect(a.parameter(named: "cls.predictions.decoder.weight")?.baseAddress == a.parameter(named: "bert.embeddings.word_embeddings.weight")?.baseAddress)
        #expect(a.parameter(named: "no.such.tensor") == nil)
    }
}
