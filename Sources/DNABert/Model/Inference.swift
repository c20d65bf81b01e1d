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

extension Model {
    /// Validates and packs a batch against this model's vocabulary.
    func pack(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int, attentionMask: UnsafeBufferPointer<Int32>?) throws -> PackedBatch {
        try PackedBatch(ids: ids, batch: batch, length: length, attentionMask: attentionMask, vocab: config.vocabSize)
    }

    /// Runs the one encoder in inference mode (no dropout, one layer's activations at a time).
    func encode(_ pb: PackedBatch, scratch: ScratchSlots, threads: Int, emit: ((Int, UnsafePointer<Float>) -> Void)? = nil,
                inspectQKV: ((Int, UnsafePointer<Float>) -> Void)? = nil) throws -> Buf {
        try EncoderStack(config: config, scratch: scratch).forward(pb, weights, mode: .inference, threads: Parallel.threads(threads),
                                                                  emit: emit, inspectQKV: inspectQKV)
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
        var all: [[Float]]? = options.outputAllHiddenStates ? [] : nil
        var map: [Float]? = nil
        let H = config.hiddenSize, heads = config.numHeads, nt = Parallel.threads(options.threads)
        let slopes = ALiBi.slopes(heads: heads)
        let ws = ScratchSlots()
        defer { withExtendedLifetime(ws) {} }   // x lives in ws
        let x = try encode(pb, scratch: ws, threads: nt,
                           emit: options.outputAllHiddenStates ? { _, h in all?.append(pb.unpack(h, width: H)) } : nil,
                           inspectQKV: options.attentionMapLayer.map { want in { l, qkv in
                               if l == want {
                                   map = FlashAttention.probabilities(qkv: qkv, hidden: H, heads: heads, batch: pb.batch,
                                                                      length: pb.length, rows: pb.rows, slopes: slopes, threads: nt)
                               }
                           } })
        if pb.tokens == 0 {
            // Every position is padding: all states are zero (nothing ran).
            let zeros = [Float](repeating: 0, count: batch * length * H)
            if options.outputAllHiddenStates { all = Array(repeating: zeros, count: config.numLayers + 1) }
            if options.attentionMapLayer != nil { map = [Float](repeating: 0, count: batch * config.numHeads * length * length) }
        }
        let last = all?.last ?? pb.unpack(x, width: H)
        return ForwardOutput(lastHidden: last, allHidden: all, attentionMap: map)
    }

    /// MLM logits [batch, length, vocab]: decoder(LayerNorm(GELU(dense(x)))) with the decoder tied to the
    /// word embeddings. Padded positions get the logits of a zero hidden state, as the reference does.
    public func mlmLogits(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int,
                          attentionMask: UnsafeBufferPointer<Int32>?, options: ForwardOptions = .init()) throws -> [Float] {
        guard let head = mlmHeadWeights else { throw DNABertError.unsupported("mlmLogits: this model has no MLM head") }
        let pb = try pack(ids: ids, batch: batch, length: length, attentionMask: attentionMask)
        guard batch * length <= (1 << 32) / config.vocabSize else {
            throw DNABertError.invalidArgument("mlmLogits: \(batch) × \(length) × vocab \(config.vocabSize) logits are too many; run shorter batches")
        }
        let ws = ScratchSlots()
        defer { withExtendedLifetime(ws) {} }   // every buffer below lives in ws
        let nt = Parallel.threads(options.threads)
        let x = try encode(pb, scratch: ws, threads: nt)
        let H = config.hiddenSize, V = config.vocabSize, T = pb.tokens
        let hasPad = T < batch * length
        let rowsAll = T + (hasPad ? 1 : 0)
        // The head sees the packed rows plus one zero row standing for every padded position; its transform
        // runs in place after the dense layer.
        let t = try ws.floats(rowsAll * H, "MLM transform")
        if T > 0 { t.update(from: x, count: T * H) }
        if hasPad { (t + T * H).update(repeating: 0, count: H) }
        let tr = try ws.floats(rowsAll * H, "MLM transform output")
        MLMHead.transform(x: t, rows: rowsAll, head, hidden: H, eps: config.layerNormEps, z: tr, u: tr, v: tr, stats: nil, threads: nt)
        var out = try Memory.array(repeating: Float(0), count: batch * length * V, what: "mlmLogits: \(batch) × \(length) × \(V) logits")
        // Logits of the packed rows in chunks, scattered into the padded layout.
        let chunk = min(rowsAll, 2048)
        let logits = try ws.floats(chunk * V, "MLM logits")
        out.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            var r0 = 0
            while r0 < rowsAll {
                let rn = min(chunk, rowsAll - r0)
                MLMHead.decode(v: tr + r0 * H, rows: rn, head, hidden: H, vocab: V, logits: logits, threads: nt)
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
        return try head(pb, threads: options.threads, logits: false)
    }

    /// The pooled output [B, H] (`logits` false) or the classifier logits [B, numLabels] of a packed batch.
    func head(_ pb: PackedBatch, threads: Int, logits: Bool) throws -> [Float] {
        let ws = ScratchSlots()
        defer { withExtendedLifetime(ws) {} }
        let nt = Parallel.threads(threads)
        let x = try encode(pb, scratch: ws, threads: nt)
        let H = config.hiddenSize, B = pb.batch, C = config.numLabels
        let pooled = try ws.floats(B * H, "pooler input"), th = try ws.floats(B * H, "pooler output")
        try ClassifierHeadLayer.pool(x, pb, pooling: .cls, hidden: H, requireFirst: false, into: pooled)
        let store = ClassifierHeadLayer.Store(pooled: pooled, tanh: th, dropped: th, logits: logits ? try ws.floats(B * C, "logits") : nil)
        ClassifierHeadLayer.forward(store, batch: B, classifierHeadWeights, hidden: H, classes: C, drop: EncoderStack.noDropout, threads: nt)
        let out = store.logits ?? th
        return Array(UnsafeBufferPointer(start: out, count: B * (logits ? C : H)))
    }

    /// Classifier logits [batch, numLabels] = Linear(pooled output) (no dropout at inference).
    public func classifierLogits(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int,
                                 attentionMask: UnsafeBufferPointer<Int32>?, options: ForwardOptions = .init()) throws -> [Float] {
        guard layout.hasClassifier else { throw DNABertError.unsupported("classifierLogits: this model has no classifier head") }
        let pb = try pack(ids: ids, batch: batch, length: length, attentionMask: attentionMask)
        return try head(pb, threads: options.threads, logits: true)
    }
}
