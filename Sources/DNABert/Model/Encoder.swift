#if canImport(Glibc)
import Glibc
#endif

public struct ForwardOptions: Sendable {
    /// Worker threads (0 = all cores).
    public var threads = 0
    /// Also return the embedding output and every layer's output (`allHidden`, numLayers + 1 entries).
    public var outputAllHiddenStates = false
    /// Return the attention probabilities [B, heads, L, L] of this layer (0-based). Quadratic in L:
    /// refused above `maxAttentionMapFloats` floats.
    public var attentionMapLayer: Int? = nil
    public init() {}
}

public struct ForwardOutput {
    /// [B, L, H] row-major; padded positions are zero.
    public var lastHidden: [Float]
    /// Embedding output followed by each layer's output, each [B, L, H] with zeros at padding.
    public var allHidden: [[Float]]?
    /// [B, heads, L, L]; rows of padded queries and columns of padded keys are zero.
    public var attentionMap: [Float]?
}

/// Largest attention map `forward` will materialise (1 GiB of floats).
public let maxAttentionMapFloats = 1 << 28

/// The real tokens of a padded batch, packed row after row (MosaicBERT's "unpadded" layout).
struct PackedBatch {
    var batch: Int
    var length: Int
    /// Packed token count.
    var tokens: Int
    var ids: [Int32]
    var spans: [FlashAttention.Span]
    /// Original position of each packed token (for ALiBi).
    var positions: [Float]
    /// rows[b·L + i] = packed row of token (b, i), or −1 when padded.
    var rows: [Int]
    var contiguous: Bool
}

/// Scratch owned by one forward call; freed on every exit path.
final class Workspace {
    private var blocks: [UnsafeMutableRawPointer] = []

    func floats(_ count: Int, _ what: String) throws -> UnsafeMutablePointer<Float> {
        let (bytes, o) = max(count, 1).multipliedReportingOverflow(by: 4)
        var raw: UnsafeMutableRawPointer? = nil
        guard !o, posix_memalign(&raw, 64, bytes) == 0, let p = raw else {
            throw DNABertError(.outOfMemory, "forward: cannot allocate \(what) (\(count) floats)")
        }
        blocks.append(p)
        return p.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { for b in blocks { free(b) } }
}

extension Model {
    /// Validates the inputs and packs the real tokens. `mask` nil = every token is real.
    func pack(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int, attentionMask: UnsafeBufferPointer<Int32>?) throws -> PackedBatch {
        guard batch > 0 else { throw DNABertError.invalidArgument("forward: batch must be positive, got \(batch)") }
        guard length > 0 else { throw DNABertError.invalidArgument("forward: length must be positive, got \(length)") }
        // ALiBi distances are carried as Float: exact below 2^24.
        guard length <= (1 << 24) else { throw DNABertError.invalidArgument("forward: length \(length) exceeds the supported 16,777,216 tokens per sequence") }
        let (n, o) = batch.multipliedReportingOverflow(by: length)
        guard !o, n <= (1 << 26) else {
            throw DNABertError.invalidArgument("forward: batch × length = \(batch) × \(length) is too large")
        }
        guard ids.count == n else {
            throw DNABertError.invalidArgument("forward: ids has \(ids.count) entries, expected batch × length = \(n)")
        }
        if let m = attentionMask, m.count != n {
            throw DNABertError.invalidArgument("forward: attention_mask has \(m.count) entries, expected batch × length = \(n)")
        }
        let vocab = config.vocabSize
        var packed = PackedBatch(batch: batch, length: length, tokens: 0, ids: [], spans: [], positions: [],
                                 rows: [Int](repeating: -1, count: n), contiguous: true)
        packed.ids.reserveCapacity(n)
        packed.positions.reserveCapacity(n)
        for b in 0..<batch {
            let start = packed.ids.count
            var seenPad = false
            for i in 0..<length {
                let at = b * length + i
                let id = ids[at]
                guard id >= 0, Int(id) < vocab else {
                    throw DNABertError.invalidArgument("forward: token id \(id) at batch \(b), position \(i) is outside the vocabulary [0, \(vocab))")
                }
                var real = true
                if let m = attentionMask {
                    let v = m[at]
                    guard v == 0 || v == 1 else {
                        throw DNABertError.invalidArgument("forward: attention_mask value \(v) at batch \(b), position \(i) must be 0 or 1")
                    }
                    real = v == 1
                }
                if real {
                    if seenPad || i != packed.ids.count - start { packed.contiguous = false }
                    packed.rows[at] = packed.ids.count
                    packed.ids.append(id)
                    packed.positions.append(Float(i))
                } else {
                    seenPad = true
                }
            }
            packed.spans.append(FlashAttention.Span(start: start, count: packed.ids.count - start))
        }
        packed.tokens = packed.ids.count
        return packed
    }

    /// Runs the encoder on the packed tokens; returns the final hidden states [T, H] (owned by `ws`).
    /// `emit(stage, x)` sees the output of the embeddings (stage 0) and of each layer (stage l + 1).
    func encode(_ pb: PackedBatch, ws: Workspace, threads: Int, attentionMapLayer: Int?,
                attentionMap: inout [Float]?, emit: ((Int, UnsafePointer<Float>) -> Void)?) throws -> UnsafeMutablePointer<Float> {
        let H = config.hiddenSize, I = config.intermediateSize, heads = config.numHeads, d = config.headDim
        let T = pb.tokens
        let eps = config.layerNormEps
        let nt = Parallel.threads(threads)
        let x = try ws.floats(T * H, "hidden states")
        if T == 0 { return x }
        let qkv = try ws.floats(T * 3 * H, "qkv")
        let ctx = try ws.floats(T * H, "attention output")
        let a = try ws.floats(T * H, "attention block output")
        let chunk = min(T, 4096)
        let gated = try ws.floats(chunk * 2 * I, "MLP activations")
        // Head-major copy of q, k, v ([3, heads, T, d]) for attention: a head's keys then sit on few pages
        // instead of one page per token (fewer TLB misses; ~10 % faster attention measured). The MLP
        // buffer is free during attention and is reused when large enough.
        let qkvHeads = T * 3 * H <= chunk * 2 * I ? gated : try ws.floats(T * 3 * H, "head-major qkv")
        let rowParts = Parallel.ranges(T, parts: min(nt, max(1, T / 8)))

        // Embeddings: LayerNorm(word[id] + type[0]).
        let word = ptr("bert.embeddings.word_embeddings.weight")
        let type0 = ptr("bert.embeddings.token_type_embeddings.weight")
        let embW = ptr("bert.embeddings.LayerNorm.weight"), embB = ptr("bert.embeddings.LayerNorm.bias")
        pb.ids.withUnsafeBufferPointer { idb in
            Parallel.forEach(rowParts.count, threads: nt) { p in
                let r = rowParts[p]
                for t in r {
                    let src = word + Int(idb[t]) * H
                    let dst = x + t * H
                    for j in 0..<H { dst[j] = src[j] + type0[j] }
                }
                LayerNorm.forward(x + r.lowerBound * H, ld: H, rows: r.count, cols: H, weight: embW, bias: embB, eps: eps)
            }
        }
        emit?(0, x)

        let slopes = ALiBi.slopes(heads: heads)
        let scale = 1 / Float(d).squareRoot()
        for l in 0..<config.numLayers {
            let p = "bert.encoder.layer.\(l)."
            Linear.forward(x: x, ldx: H, rows: T, inFeatures: H, weight: ptr(p + "attention.self.Wqkv.weight"),
                           outFeatures: 3 * H, bias: ptr(p + "attention.self.Wqkv.bias"), y: qkv, ldy: 3 * H, threads: nt)
            if attentionMapLayer == l {
                attentionMap = FlashAttention.probabilities(qkv: qkv, hidden: H, heads: heads, batch: pb.batch,
                                                            length: pb.length, rows: pb.rows, slopes: slopes, threads: nt)
            }
            Parallel.forEach(3 * heads, threads: nt) { bh in
                let src = qkv + bh * d, dst = qkvHeads + bh * T * d
                for t in 0..<T { (dst + t * d).update(from: src + t * 3 * H, count: d) }
            }
            pb.positions.withUnsafeBufferPointer { pos in
                FlashAttention.forward(q: qkvHeads, k: qkvHeads + T * H, v: qkvHeads + 2 * T * H, stride: d,
                                       out: ctx, outStride: H, spans: pb.spans,
                                       positions: pb.contiguous ? nil : pos.baseAddress, heads: heads, headDim: d,
                                       slopes: slopes, scale: scale, headStride: T * d, threads: nt)
            }
            // a = LayerNorm(dense(ctx) + b + x)
            Linear.forward(x: ctx, ldx: H, rows: T, inFeatures: H, weight: ptr(p + "attention.output.dense.weight"),
                           outFeatures: H, bias: nil, y: a, ldy: H, threads: nt)
            let dB = ptr(p + "attention.output.dense.bias")
            let ln1W = ptr(p + "attention.output.LayerNorm.weight"), ln1B = ptr(p + "attention.output.LayerNorm.bias")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                LayerNorm.addForward(a + r.lowerBound * H, ld: H, rows: r.count, cols: H, addBias: dB,
                                     residual: x + r.lowerBound * H, ldr: H, weight: ln1W, bias: ln1B, eps: eps)
            }
            // x = LayerNorm(wo(GEGLU(a·gatedᵀ)) + b + a), in row chunks to bound the [rows, 2I] buffer.
            let gW = ptr(p + "mlp.gated_layers.weight"), woW = ptr(p + "mlp.wo.weight"), woB = ptr(p + "mlp.wo.bias")
            let ln2W = ptr(p + "mlp.layernorm.weight"), ln2B = ptr(p + "mlp.layernorm.bias")
            var r0 = 0
            while r0 < T {
                let rn = min(chunk, T - r0)
                Linear.forward(x: a + r0 * H, ldx: H, rows: rn, inFeatures: H, weight: gW, outFeatures: 2 * I,
                               bias: nil, y: gated, ldy: 2 * I, threads: nt)
                let parts = Parallel.ranges(rn, parts: min(nt, max(1, rn / 8)))
                Parallel.forEach(parts.count, threads: nt) { q in
                    let r = parts[q]
                    Activations.geglu(gated + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I,
                                      out: gated + r.lowerBound * 2 * I, ldo: 2 * I)
                }
                Linear.forward(x: gated, ldx: 2 * I, rows: rn, inFeatures: I, weight: woW, outFeatures: H,
                               bias: nil, y: x + r0 * H, ldy: H, threads: nt)
                Parallel.forEach(parts.count, threads: nt) { q in
                    let r = parts[q]
                    let off = (r0 + r.lowerBound) * H
                    LayerNorm.addForward(x + off, ld: H, rows: r.count, cols: H, addBias: woB, residual: a + off,
                                         ldr: H, weight: ln2W, bias: ln2B, eps: eps)
                }
                r0 += rn
            }
            emit?(l + 1, x)
        }
        return x
    }

    /// Copies packed rows [T, width] into the padded layout [B, L, width] (zeros at padding).
    static func unpack(_ src: UnsafePointer<Float>, width: Int, _ pb: PackedBatch) -> [Float] {
        var out = [Float](repeating: 0, count: pb.batch * pb.length * width)
        out.withUnsafeMutableBufferPointer { o in
            for (at, r) in pb.rows.enumerated() where r >= 0 {
                (o.baseAddress! + at * width).update(from: src + r * width, count: width)
            }
        }
        return out
    }

    /// Hidden states of the encoder. `ids` and `attentionMask` are [batch, length] row-major; mask 1 = real
    /// token, 0 = padding (nil = all real). Throws `.invalidArgument` naming the offending position.
    public func forward(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int,
                        attentionMask: UnsafeBufferPointer<Int32>?, options: ForwardOptions = .init()) throws -> ForwardOutput {
        let pb = try pack(ids: ids, batch: batch, length: length, attentionMask: attentionMask)
        if let l = options.attentionMapLayer {
            guard l >= 0, l < config.numLayers else {
                throw DNABertError.invalidArgument("forward: attention map layer \(l) is outside 0..<\(config.numLayers)")
            }
            let (n, o) = (batch * config.numHeads).multipliedReportingOverflow(by: length * length)
            guard !o, n <= maxAttentionMapFloats else {
                throw DNABertError.invalidArgument("forward: an attention map of \(batch) × \(config.numHeads) × \(length) × \(length) floats is too large; request it for shorter inputs")
            }
        }
        // The outputs are Swift arrays (which abort when malloc fails): check their size first.
        try Memory.reserve(bytes: try Memory.byteCount(Float.self, batch * length * config.hiddenSize,
                                                       what: "forward output"), what: "forward: the hidden states of \(batch) × \(length) tokens")
        let ws = Workspace()
        var all: [[Float]]? = options.outputAllHiddenStates ? [] : nil
        var map: [Float]? = nil
        let H = config.hiddenSize
        let x = try encode(pb, ws: ws, threads: options.threads, attentionMapLayer: options.attentionMapLayer,
                           attentionMap: &map,
                           emit: options.outputAllHiddenStates ? { _, h in all?.append(Model.unpack(h, width: H, pb)) } : nil)
        if pb.tokens == 0 {
            // Every position is padding: all states are zero (nothing ran).
            let zeros = [Float](repeating: 0, count: batch * length * H)
            if options.outputAllHiddenStates { all = Array(repeating: zeros, count: config.numLayers + 1) }
            if options.attentionMapLayer != nil { map = [Float](repeating: 0, count: batch * config.numHeads * length * length) }
        }
        let last = all?.last ?? Model.unpack(x, width: H, pb)
        return ForwardOutput(lastHidden: last, allHidden: all, attentionMap: map)
    }

    /// MLM logits [batch, length, vocab]: decoder(LayerNorm(GELU(dense(x)))) with the decoder tied to the
    /// word embeddings. Padded positions get the logits of a zero hidden state, as the reference does.
    public func mlmLogits(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int,
                          attentionMask: UnsafeBufferPointer<Int32>?, options: ForwardOptions = .init()) throws -> [Float] {
        guard layout.hasMLMHead else { throw DNABertError.unsupported("mlmLogits: this model has no MLM head") }
        let pb = try pack(ids: ids, batch: batch, length: length, attentionMask: attentionMask)
        guard batch * length <= (1 << 32) / config.vocabSize else {
            throw DNABertError.invalidArgument("mlmLogits: \(batch) × \(length) × vocab \(config.vocabSize) logits are too many; run shorter batches")
        }
        let ws = Workspace()
        var map: [Float]? = nil
        let x = try encode(pb, ws: ws, threads: options.threads, attentionMapLayer: nil, attentionMap: &map, emit: nil)
        let H = config.hiddenSize, V = config.vocabSize, T = pb.tokens, nt = Parallel.threads(options.threads)
        let hasPad = T < batch * length
        let rowsAll = T + (hasPad ? 1 : 0)
        let t = try ws.floats(rowsAll * H, "MLM transform")
        if T > 0 { (t).update(from: x, count: T * H) }
        if hasPad { (t + T * H).update(repeating: 0, count: H) }
        let tr = try ws.floats(rowsAll * H, "MLM transform output")
        Linear.forward(x: t, ldx: H, rows: rowsAll, inFeatures: H, weight: ptr("cls.predictions.transform.dense.weight"),
                       outFeatures: H, bias: ptr("cls.predictions.transform.dense.bias"), y: tr, ldy: H, threads: nt)
        let lnW = ptr("cls.predictions.transform.LayerNorm.weight"), lnB = ptr("cls.predictions.transform.LayerNorm.bias")
        let parts = Parallel.ranges(rowsAll, parts: min(nt, max(1, rowsAll / 8)))
        Parallel.forEach(parts.count, threads: nt) { q in
            let r = parts[q]
            Activations.gelu(tr + r.lowerBound * H, count: r.count * H)
            LayerNorm.forward(tr + r.lowerBound * H, ld: H, rows: r.count, cols: H, weight: lnW, bias: lnB, eps: config.layerNormEps)
        }
        var out = try Memory.array(repeating: Float(0), count: batch * length * V, what: "mlmLogits: \(batch) × \(length) × \(V) logits")
        let word = ptr("bert.embeddings.word_embeddings.weight"), decB = ptr("cls.predictions.decoder.bias")
        // Logits of the packed rows in chunks, scattered into the padded layout.
        let chunk = min(rowsAll, 2048)
        let logits = try ws.floats(chunk * V, "MLM logits")
        out.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            var r0 = 0
            while r0 < rowsAll {
                let rn = min(chunk, rowsAll - r0)
                Linear.forward(x: tr + r0 * H, ldx: H, rows: rn, inFeatures: H, weight: word, outFeatures: V,
                               bias: decB, y: logits, ldy: V, threads: nt)
                r0 += rn
                // Scatter this chunk.
                let lo = r0 - rn
                for (at, pr) in pb.rows.enumerated() {
                    if pr >= lo && pr < r0 {
                        (o + at * V).update(from: logits + (pr - lo) * V, count: V)
                    } else if pr < 0 && hasPad && T >= lo && T < r0 {
                        (o + at * V).update(from: logits + (T - lo) * V, count: V)
                    }
                }
            }
        }
        return out
    }

    /// Pooled output [batch, H] = tanh(dense(hidden state at position 0)); needs a pooler.
    public func pooledOutput(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int,
                             attentionMask: UnsafeBufferPointer<Int32>?, options: ForwardOptions = .init()) throws -> [Float] {
        guard layout.hasPooler else { throw DNABertError.unsupported("pooledOutput: this model has no pooler") }
        let pb = try pack(ids: ids, batch: batch, length: length, attentionMask: attentionMask)
        let ws = Workspace()
        var map: [Float]? = nil
        let x = try encode(pb, ws: ws, threads: options.threads, attentionMapLayer: nil, attentionMap: &map, emit: nil)
        return try pool(x, pb, ws)
    }

    func pool(_ x: UnsafePointer<Float>, _ pb: PackedBatch, _ ws: Workspace) throws -> [Float] {
        let H = config.hiddenSize, B = pb.batch
        let cls = try ws.floats(B * H, "pooler input")
        for b in 0..<B {
            let r = pb.rows[b * pb.length]
            if r >= 0 { (cls + b * H).update(from: x + r * H, count: H) } else { (cls + b * H).update(repeating: 0, count: H) }
        }
        var out = [Float](repeating: 0, count: B * H)
        out.withUnsafeMutableBufferPointer { o in
            Linear.forward(x: cls, ldx: H, rows: B, inFeatures: H, weight: ptr("bert.pooler.dense.weight"), outFeatures: H,
                           bias: ptr("bert.pooler.dense.bias"), y: o.baseAddress!, ldy: H, threads: 1)
            for i in 0..<(B * H) { o[i] = tanhf(o[i]) }
        }
        return out
    }

    /// Classifier logits [batch, numLabels] = Linear(pooled output) (no dropout at inference).
    public func classifierLogits(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int,
                                 attentionMask: UnsafeBufferPointer<Int32>?, options: ForwardOptions = .init()) throws -> [Float] {
        guard layout.hasClassifier else { throw DNABertError.unsupported("classifierLogits: this model has no classifier head") }
        let pooled = try pooledOutput(ids: ids, batch: batch, length: length, attentionMask: attentionMask, options: options)
        let H = config.hiddenSize, C = config.numLabels
        var out = [Float](repeating: 0, count: batch * C)
        pooled.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                Linear.forward(x: p.baseAddress!, ldx: H, rows: batch, inFeatures: H, weight: ptr("classifier.weight"),
                               outFeatures: C, bias: ptr("classifier.bias"), y: o.baseAddress!, ldy: C, threads: 1)
            }
        }
        return out
    }
}
