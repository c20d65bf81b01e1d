/// The DNABERT-2 encoder — embeddings and the stack of `EncoderLayer`s — used by inference, MLM pretraining
/// and fine-tuning (LoRA and full) alike. Heads (MLM, classification) are the callers' business: they take
/// the final hidden states and hand back their gradient.
///
/// `.training` keeps what the backward needs (per layer: the layer input, fused qkv, attention output and its
/// log-sum-exp, the pre-LayerNorm sums with their mean/rstd, the GEGLU pre-activations, each LoRA adapter's
/// rank-r projection): O(T·(H + I)) per layer for T real tokens. `.inference` keeps one layer's activations,
/// overwritten layer after layer, with the MLP run in row chunks: memory stays linear in length and does not
/// grow with depth. Neither has an L × L buffer (flash attention).
///
/// Dropout (hidden dropout after the embeddings, on the attention output projection and on the GEGLU output,
/// as DNABERT-2; LoRA dropout on each adapter's input) uses masks from `mask(layer, site)` (layer −1 = the
/// embeddings; site 1 = attention, 2 = MLP) and `loraMask(layer, target)`, regenerated in the backward
/// rather than stored. Not safe for concurrent calls on one instance (the scratch is reused).
final class EncoderStack {
    enum Mode { case inference, training }

    let cfg: ModelConfig
    let shape: LayerShape
    let scratch: ScratchSlots
    /// Phase timer of the owner (nil: none).
    var tick: ((String?) -> Void)?
    /// Called by `backward` when layer l's gradients are complete (l = -1: the embeddings'): a data-parallel
    /// run starts that bucket's allreduce (Distributed/GradientReducer).
    var layerBackwardDone: ((Int) throws -> Void)?

    private var T = 0
    private var saved = false
    private var embSum: Buf? = nil, embMean: Buf? = nil, embRstd: Buf? = nil
    /// Training: the input of each layer, then the final output.
    private var xs: [Buf] = []
    private var acts: [LayerActivations] = []
    private var loraTmp: Buf? = nil

    /// No dropout anywhere (inference).
    static let noDropout = DropoutMask(p: 0, key: 0)
    /// Sequence length from which inference copies q, k, v head-major for attention (see `forward`). Internal and
    /// mutable only so that the tests can compare both layouts on short inputs; nothing else writes it.
    nonisolated(unsafe) static var headMajorFrom = 1024

    init(config: ModelConfig, scratch: ScratchSlots) {
        cfg = config
        shape = LayerShape(config)
        self.scratch = scratch
    }

    @inline(__always) private func t(_ phase: String) { tick?(phase) }

    /// Runs the encoder on a packed batch; returns the final hidden states [T, H] (valid until the next call).
    /// `emit(stage, x)` sees the output of the embeddings (stage 0) and of each layer (stage l + 1);
    /// `inspectQKV(layer, qkv)` each layer's fused qkv [T, 3H] (inference only); `observeLinearInputs(layer, …)`
    /// the input of each linear (see `EncoderLayer.LinearInputObserver`; int8 calibration).
    /// The scratch must have been `reset()` by the caller before this call.
    func forward(_ pb: PackedBatch, _ w: EncoderWeights, mode: Mode,
                 mask: (Int, Int) -> DropoutMask = { _, _ in EncoderStack.noDropout },
                 loraMask: @escaping (Int, LoRATarget) -> DropoutMask = { _, _ in EncoderStack.noDropout },
                 threads nt: Int, emit: ((Int, UnsafePointer<Float>) -> Void)? = nil,
                 inspectQKV: ((Int, UnsafePointer<Float>) -> Void)? = nil,
                 observeLinearInputs: ((Int, LoRATarget, UnsafePointer<Float>, Int, Int) -> Void)? = nil) throws -> Buf {
        let H = shape.H, I = shape.I, heads = shape.heads, NL = cfg.numLayers, T = pb.tokens
        let ws = scratch
        try w.checkLinears()
        self.T = T
        saved = mode == .training
        acts = []
        xs = []
        loraTmp = nil
        var ranks = [Int](repeating: 0, count: 4)
        for l in w.layers { for (i, a) in l.adapters.enumerated() { if let a { ranks[i] = max(ranks[i], a.rank) } } }
        switch mode {
        case .inference:
            // One x, normalised and overwritten in place by every layer.
            let x = try ws.floats(T * H, "hidden states")
            xs = [x]
            if T == 0 { return x }
            let qkv = try ws.floats(T * 3 * H, "qkv")
            let ctx = try ws.floats(T * H, "attention output")
            let a = try ws.floats(T * H, "attention block output")
            let chunk = min(T, 4096)
            let hh = try ws.floats(chunk * 2 * I, "MLP activations")
            // Head-major copy of q, k, v for attention when a sequence has 1,024 tokens or more: a head's keys then
            // sit on few pages instead of one page per token (117M, one thread: 2–4 % less CPU time for the whole
            // forward at 2,048 and 8,192 tokens); shorter sequences run faster without the copy (2–3 % at 512,
            // 1–3 % at 8 × 128; no clear difference at 1,024). The MLP buffer is free during attention and is
            // reused when large enough.
            let longest = pb.spans.map(\.count).max() ?? 0
            let headMajor = longest < EncoderStack.headMajorFrom ? nil
                : T * 3 * H <= chunk * 2 * I ? hh : try ws.floats(T * 3 * H, "head-major qkv")
            var loraU: [Buf?] = [nil, nil, nil, nil]
            for i in 0..<4 where ranks[i] > 0 { loraU[i] = try ws.floats(T * ranks[i], "LoRA projection") }
            acts = [LayerActivations(qkv: qkv, ctx: ctx, lse: nil, s1: a, a: a, hh: hh, g: hh, ldg: 2 * I, s2: x, stats: nil,
                                     mlpRows: chunk, headMajor: headMajor, loraU: loraU)]
            Embeddings.forward(ids: pb.ids, w.embeddings, hidden: H, eps: shape.eps, sum: x, x: x, mean: nil, rstd: nil,
                               drop: mask(-1, 0), threads: nt)
        case .training:
            let sum = try ws.floats(T * H, "embedding sum")
            let mean = try ws.floats(T, "stats"), rstd = try ws.floats(T, "stats")
            embSum = sum; embMean = mean; embRstd = rstd
            for _ in 0...NL { xs.append(try ws.floats(T * H, "layer inputs")) }
            let gBuf = try ws.floats(T * I, "GEGLU output")
            for l in 0..<NL {
                var loraU: [Buf?] = [nil, nil, nil, nil]
                for (i, ad) in w.layers[l].adapters.enumerated() {
                    if let ad { loraU[i] = try ws.floats(T * ad.rank, "LoRA projection") }
                }
                acts.append(LayerActivations(
                    qkv: try ws.floats(T * 3 * H, "qkv"), ctx: try ws.floats(T * H, "attention output"),
                    lse: try ws.floats(T * heads, "lse"), s1: try ws.floats(T * H, "attention sum"),
                    a: try ws.floats(T * H, "attention block output"), hh: try ws.floats(T * 2 * I, "GEGLU input"),
                    g: gBuf, ldg: I, s2: try ws.floats(T * H, "MLP sum"), stats: try ws.floats(4 * T, "LayerNorm stats"),
                    mlpRows: max(T, 1), headMajor: nil, loraU: loraU))
            }
            if ranks.contains(where: { $0 > 0 }) { loraTmp = try ws.floats(T * max(H, I), "LoRA input") }
            Embeddings.forward(ids: pb.ids, w.embeddings, hidden: H, eps: shape.eps, sum: sum, x: xs[0], mean: mean, rstd: rstd,
                               drop: mask(-1, 0), threads: nt)
        }
        emit?(0, xs[0])
        let tk: (String) -> Void = { [tick] in tick?($0) }
        for l in 0..<NL {
            let training = mode == .training
            let x = xs[training ? l : 0], out = xs[training ? l + 1 : 0]
            let act = acts[training ? l : 0]
            let drop = LayerDropout(attention: mask(l, 1), mlp: mask(l, 2), lora: { loraMask(l, $0) })
            EncoderLayer.forward(x: x, out: out, w.layers[l], act, shape, pb, drop: drop, loraTmp: loraTmp, threads: nt, tick: tk,
                                 observe: observeLinearInputs.map { o -> EncoderLayer.LinearInputObserver in { o(l, $0, $1, $2, $3) } })
            inspectQKV?(l, act.qkv)
            emit?(l + 1, out)
        }
        t("fwd other")
        return xs[mode == .training ? NL : 0]
    }

    /// Backward of the last `forward` (which must have run in `.training` mode on the same `pb`). `dx` holds
    /// ∂loss/∂(final hidden) [T, H] and is used as scratch. Gradients are *added* where `g` points; frozen
    /// tensors get none, and nothing flows into frozen embeddings.
    func backward(_ pb: PackedBatch, _ w: EncoderWeights, _ g: EncoderGrads, dx: Buf,
                  mask: (Int, Int) -> DropoutMask, loraMask: @escaping (Int, LoRATarget) -> DropoutMask, threads nt: Int) throws {
        guard saved, pb.tokens == T, let embSum, let embMean, let embRstd else {
            throw DNABertError(.internal, "encoder backward without a saved forward")
        }
        let H = shape.H, I = shape.I, NL = cfg.numLayers, ws = scratch
        let embTrains = g.embeddings.any
        var maxRank = 0
        for l in w.layers { for a in l.adapters { if let a { maxRank = max(maxRank, a.rank) } } }
        // A weight held in int8 (QLoRA's frozen base) has no float32 copy to train: full fine-tuning of an int8
        // model trains float32 copies (SequenceClassifier), pretraining refuses one (Trainable).
        for l in 0..<NL {
            for t in LoRATarget.allCases where g.layers[l].weight(t) != nil && w.layers[l].weight(t) == nil {
                throw DNABertError.invalidArgument("training: layer \(l) \(t.modulePath) is held in int8 and cannot train (train a float32 model)")
            }
        }
        try w.checkLinears()
        // Frozen LayerNorm parameters still get their (cheap) sums computed, into a sink.
        let sink = try ws.floats(2 * H, "frozen LayerNorm gradient sink")
        // One dequantization buffer for the int8 linears' float32 input-gradient products (DNABERT_INT8_BACKWARD=fp32;
        // by default they run in int8), sized to the largest linear.
        let dequantized = !Linear.int8InputGradient && w.layers.contains { $0.hasInt8 }
            ? try ws.floats(max(3 * H * H, 2 * I * H), "dequantized int8 weight") : nil
        let b = EncoderLayer.BackwardScratch(
            da: try ws.floats(T * H, "attention block gradient"), dh: try ws.floats(T * 2 * I, "GEGLU input gradient"),
            dctx: try ws.floats(T * H, "attention output gradient"), dqkv: try ws.floats(T * 3 * H, "qkv gradient"),
            gBuf: acts.first?.g ?? sink, sink: sink,
            du: maxRank > 0 ? try ws.floats(T * maxRank, "LoRA gradient") : nil, loraTmp: loraTmp, dequantized: dequantized)
        let tk: (String) -> Void = { [tick] in tick?($0) }
        for l in stride(from: NL - 1, through: 0, by: -1) {
            let drop = LayerDropout(attention: mask(l, 1), mlp: mask(l, 2), lora: { loraMask(l, $0) })
            // Layer 0's input gradient is only needed when the embeddings train.
            try EncoderLayer.backward(dx: dx, x: xs[l], w.layers[l], g.layers[l], acts[l], shape, pb, drop: drop, scratch: b,
                                  needInputGradient: l > 0 || embTrains, threads: nt, tick: tk)
            try layerBackwardDone?(l)
        }
        guard embTrains else { return }
        Embeddings.backward(dx: dx, ids: pb.ids, w.embeddings, g.embeddings, hidden: H, sum: embSum, mean: embMean,
                            rstd: embRstd, drop: mask(-1, 0), sink: sink, threads: nt)
        try layerBackwardDone?(-1)
        t("bwd embeddings/other")
    }
}
