#if canImport(Glibc)
import Glibc
#endif

/// MLM pretraining's loss and gradient: the one encoder (`EncoderStack`, training mode) with the MLM head
/// (`MLMHead`) and cross-entropy (`Loss`).
///
/// `lossAndGradient` runs a forward that keeps what the backward needs, then the backward, *adding* the
/// gradient of the mean masked-LM cross-entropy to `grad` (laid out like `model.parameters`). Gradient
/// accumulation is calling it repeatedly. Activations are O(T·(H + I)) per layer for T real tokens; no L × L
/// buffer exists (flash attention). Not safe to call concurrently on one instance (it reuses its scratch
/// memory between calls). Dropout (hidden dropout after the embeddings, on the attention output projection
/// and on the GEGLU output, as DNABERT-2) uses masks derived from (seed, call counter, layer, site).
public final class Trainable {
    public let model: Model
    public var dropout: Double
    public let seed: UInt64
    /// Incremented on each call: fresh dropout masks per micro-batch. Save and restore it with a checkpoint
    /// for a resumed run to draw the same masks as an uninterrupted one.
    public var calls: UInt64 = 0
    /// Set by a data-parallel trainer for the backward whose buckets it all-reduces while the backward runs.
    public var reducer: GradientReducer?
    /// Activations and gradients of the last step, kept for the next one (`releaseScratch()` frees them).
    let scratch = ScratchSlots()
    lazy var encoder: EncoderStack = {
        let p = EncoderStack(config: model.config, scratch: scratch)
        p.tick = { [unowned self] in self.tick($0) }
        p.layerBackwardDone = { [unowned self] l in try self.reducer?.ready(l < 0 ? .embeddings : .layer(l)) }
        return p
    }()

    public init(model: Model, dropout: Double? = nil, seed: UInt64) throws {
        guard model.layout.hasMLMHead else { throw DNABertError.unsupported("Trainable: the model has no MLM head") }
        // An int8 model holds its linears only in int8, which cannot train (and its gradient layout would not
        // cover them): pretraining needs float32 weights.
        guard model.layout.quantized.isEmpty else {
            throw DNABertError.invalidArgument("pretraining needs a float32 model; this model is int8 (load its float32 checkpoint)")
        }
        let p = dropout ?? model.config.hiddenDropout
        guard p >= 0, p < 1 else { throw DNABertError.invalidArgument("Trainable: dropout must be in [0, 1), got \(p)") }
        self.model = model
        self.dropout = p
        self.seed = seed
    }

    /// Seconds per phase, accumulated over calls when the environment has DNABERT_TRAIN_PROFILE (for the probe).
    public internal(set) var profile: [String: Double]? = getenv("DNABERT_TRAIN_PROFILE") != nil ? [:] : nil
    private var lastTick = 0.0

    @inline(__always)
    func tick(_ phase: String?) {
        guard profile != nil else { return }
        let t = Clock.now()
        if let phase { profile![phase, default: 0] += t - lastTick }
        lastTick = t
    }

    /// Frees the activation memory kept between steps.
    public func releaseScratch() { scratch.release() }

    func mask(_ layer: Int, _ site: Int) -> DropoutMask {
        DropoutMask(p: dropout, key: DropoutKeys.hidden(seed: seed, call: calls, layer: layer, site: site))
    }

    /// Adds ∂loss/∂θ (times `scale`) into `grad` and returns the mean cross-entropy over the target positions
    /// (labels ≠ −100), the number of targets predicted right (argmax) and the number of targets.
    /// With no target the result is (0, 0, 0) and `grad` is unchanged.
    public func lossAndGradient(_ b: MLMBatch, into grad: UnsafeMutableBufferPointer<Float>, threads: Int = 0,
                                scale: Double = 1) throws -> (loss: Double, correct: Int, counted: Int) {
        try b.validate()
        let m = model, cfg = m.config
        guard grad.count == m.layout.total, grad.baseAddress != nil else {
            throw DNABertError.invalidArgument("lossAndGradient: gradient buffer has \(grad.count) floats, the model has \(m.layout.total) parameters")
        }
        calls &+= 1
        let pb = try b.ids.withUnsafeBufferPointer { ids in
            try b.attentionMask.withUnsafeBufferPointer { am in
                try m.pack(ids: ids, batch: b.batch, length: b.length, attentionMask: am)
            }
        }
        // Targets: packed row and label.
        var tRows: [Int] = [], tLabels: [Int32] = []
        for (at, lab) in b.labels.enumerated() where lab != MLMBatch.ignoreIndex {
            guard lab >= 0, Int(lab) < cfg.vocabSize else {
                throw DNABertError.invalidArgument("lossAndGradient: label \(lab) at batch \(at / b.length), position \(at % b.length) is outside the vocabulary (use -100 to ignore)")
            }
            let r = pb.rows[at]
            guard r >= 0 else {
                throw DNABertError.invalidArgument("lossAndGradient: label at batch \(at / b.length), position \(at % b.length) is on a padded position")
            }
            tRows.append(r); tLabels.append(lab)
        }
        let M = tRows.count
        if M == 0 { return (0, 0, 0) }

        let H = cfg.hiddenSize, V = cfg.vocabSize
        let T = pb.tokens
        let nt = Parallel.threads(threads)
        let ws = scratch
        ws.reset()
        guard let head = m.mlmHeadWeights else { throw DNABertError.unsupported("Trainable: the model has no MLM head") }
        let G = grad.baseAddress!, layout = m.layout
        let gradOf: (String) -> Buf? = { G + layout.offset($0) }
        let grads = EncoderGrads(config: cfg, grad: gradOf), headGrads = MLMHeadGrads(gradOf)
        tick(nil)
        // ---- forward, saving activations ----
        let final = try encoder.forward(pb, m.weights, mode: .training, mask: mask, threads: nt)
        // ---- MLM head on the target rows only ----
        let xm = try ws.floats(M * H, "MLM input"), z = try ws.floats(M * H, "MLM transform"), u = try ws.floats(M * H, "GELU")
        let v = try ws.floats(M * H, "MLM hidden"), stats = try ws.floats(2 * M, "stats")
        let logits = try ws.floats(M * V, "MLM logits")
        for (i, r) in tRows.enumerated() { (xm + i * H).update(from: final + r * H, count: H) }
        MLMHead.transform(x: xm, rows: M, head, hidden: H, eps: cfg.layerNormEps, z: z, u: u, v: v, stats: stats, threads: nt)
        MLMHead.decode(v: v, rows: M, head, hidden: H, vocab: V, logits: logits, threads: nt)
        // Cross-entropy; logits become ∂(loss·scale)/∂logits.
        let ce = Loss.crossEntropy(rows: M, classes: V, row: { logits + $0 * V }, label: { Int(tLabels[$0]) },
                                   scale: scale, gradient: true, threads: nt)
        tick("mlm head+loss")
        // ---- backward ----
        let dv = try ws.floats(M * H, "MLM hidden gradient"), dxm = try ws.floats(M * H, "MLM input gradient")
        MLMHead.backward(dLogits: logits, rows: M, x: xm, z: z, u: u, v: v, stats: stats, head, headGrads, hidden: H, vocab: V,
                         dv: dv, dx: dxm, threads: nt)
        // The head's own gradients are complete (its tied decoder adds into the embeddings, reduced last).
        try reducer?.ready(.head)
        let dx = try ws.floats(T * H, "hidden gradient")
        dx.initialize(repeating: 0, count: T * H)
        for (i, r) in tRows.enumerated() {
            let dst = dx + r * H, src = dxm + i * H
            for j in 0..<H { dst[j] += src[j] }
        }
        try encoder.backward(pb, m.weights, grads, dx: dx, mask: mask, loraMask: { _, _ in EncoderStack.noDropout }, threads: nt)
        tick("bwd embeddings/other")
        return (ce.sum / Double(M), ce.correct, M)
    }
}
