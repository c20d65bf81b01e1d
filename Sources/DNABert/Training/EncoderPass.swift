#if canImport(Glibc)
import Glibc
#endif

/// Where a training pass reads weights and writes gradients. `grad` returns nil for a frozen tensor (its
/// weight gradient is then not computed); `lora` returns the adapter of a layer's linear, if any.
struct PassParameters {
    let weight: (String) -> UnsafeMutablePointer<Float>
    let grad: (String) -> UnsafeMutablePointer<Float>?
    let lora: (_ layer: Int, _ target: LoRATarget) -> LoRASlot?

    /// Every tensor of `model` trainable, gradients in `g` (laid out like `model.parameters`), no adapters.
    static func full(_ model: Model, gradients g: UnsafeMutablePointer<Float>?) -> PassParameters {
        PassParameters(weight: { model.ptr($0) },
                       grad: { name in g.map { $0 + model.layout.offset(name) } },
                       lora: { _, _ in nil })
    }
}

/// The DNABERT-2 encoder's forward in training mode, keeping what its backward needs (per layer: the layer
/// input, fused qkv, attention output and its log-sum-exp, the pre-LayerNorm sums with their mean/rstd, the
/// GEGLU pre-activations, and each LoRA adapter's rank-r projection), and that backward. Heads (MLM,
/// classification) are the callers' business: they take the final hidden states and hand back their gradient.
///
/// Dropout (hidden dropout after the embeddings, on the attention output projection and on the GEGLU output, as
/// DNABERT-2; LoRA dropout on each adapter's input) uses masks from `mask(layer, site)`, regenerated in the
/// backward rather than stored. Activations are O(T·(H + I)) per layer for T real tokens; no L × L buffer.
/// With `save: false` (inference) only one layer's activations exist at a time.
final class EncoderPass {
    let cfg: ModelConfig
    let scratch: ScratchSlots
    /// Phase timer of the owner (nil: none).
    var tick: ((String?) -> Void)?

    private(set) var T = 0
    private var saved = false
    private var embSum: UnsafeMutablePointer<Float>! = nil
    private var embMean: UnsafeMutablePointer<Float>! = nil
    private var embRstd: UnsafeMutablePointer<Float>! = nil
    private var xs: [UnsafeMutablePointer<Float>] = []
    private var qkv: [UnsafeMutablePointer<Float>] = [], ctx: [UnsafeMutablePointer<Float>] = [], lse: [UnsafeMutablePointer<Float>] = []
    private var s1: [UnsafeMutablePointer<Float>] = [], a: [UnsafeMutablePointer<Float>] = [], hh: [UnsafeMutablePointer<Float>] = []
    private var s2: [UnsafeMutablePointer<Float>] = [], st: [UnsafeMutablePointer<Float>] = []
    private var gBuf: UnsafeMutablePointer<Float>! = nil
    /// [layer][target] rank-r projections drop(x)·Aᵀ.
    private var loraU: [[UnsafeMutablePointer<Float>?]] = []
    private var loraTmp: UnsafeMutablePointer<Float>! = nil

    init(config: ModelConfig, scratch: ScratchSlots) {
        cfg = config
        self.scratch = scratch
    }

    @inline(__always) private func t(_ phase: String?) { tick?(phase) }

    /// Runs the encoder on a packed batch; returns the final hidden states [T, H] (valid until the next call).
    /// The scratch must have been `reset()` by the caller before this call.
    func forward(_ pb: PackedBatch, _ P: PassParameters, mask: (Int, Int) -> DropoutMask,
                 loraMask: (Int, LoRATarget) -> DropoutMask, save: Bool, threads nt: Int) throws -> UnsafeMutablePointer<Float> {
        let H = cfg.hiddenSize, I = cfg.intermediateSize, heads = cfg.numHeads, d = cfg.headDim
        let NL = cfg.numLayers, T = pb.tokens, eps = cfg.layerNormEps
        self.T = T
        saved = save
        let ws = scratch
        let rowParts = Parallel.ranges(T, parts: min(nt, max(1, T / 8)))
        let nAct = save ? NL : 1
        embSum = try ws.floats(T * H, "embedding sum")
        embMean = try ws.floats(T, "stats"); embRstd = try ws.floats(T, "stats")
        xs = []
        for _ in 0...(save ? NL : 1) { xs.append(try ws.floats(T * H, "layer inputs")) }
        qkv = []; ctx = []; lse = []; s1 = []; a = []; hh = []; s2 = []; st = []
        for _ in 0..<nAct {
            qkv.append(try ws.floats(T * 3 * H, "qkv")); ctx.append(try ws.floats(T * H, "attention output"))
            lse.append(try ws.floats(T * heads, "lse")); s1.append(try ws.floats(T * H, "attention sum"))
            a.append(try ws.floats(T * H, "attention block output")); hh.append(try ws.floats(T * 2 * I, "GEGLU input"))
            s2.append(try ws.floats(T * H, "MLP sum")); st.append(try ws.floats(4 * T, "LayerNorm stats"))
        }
        gBuf = try ws.floats(T * I, "GEGLU output")
        loraU = Array(repeating: Array(repeating: nil, count: 4), count: NL)
        var anyLoRA = false
        for l in 0..<NL {
            for tg in LoRATarget.allCases {
                if let slot = P.lora(l, tg) {
                    anyLoRA = true
                    if !save, l > 0, let shared = loraU[0][tg.index] { loraU[l][tg.index] = shared }
                    else { loraU[l][tg.index] = try ws.floats(T * slot.rank, "LoRA projection") }
                }
            }
        }
        loraTmp = anyLoRA ? try ws.floats(T * max(H, I), "LoRA input") : nil

        let word = P.weight("bert.embeddings.word_embeddings.weight"), type0 = P.weight("bert.embeddings.token_type_embeddings.weight")
        let embW = P.weight("bert.embeddings.LayerNorm.weight"), embB = P.weight("bert.embeddings.LayerNorm.bias")
        let dropE = mask(-1, 0)
        let x0 = xs[0], eSum = embSum!, eMean = embMean!, eRstd = embRstd!
        pb.ids.withUnsafeBufferPointer { idb in
            Parallel.forEach(rowParts.count, threads: nt) { p in
                let r = rowParts[p]
                for t in r {
                    let src = word + Int(idb[t]) * H, dst = eSum + t * H
                    for j in 0..<H { dst[j] = src[j] + type0[j] }
                }
                let o = r.lowerBound * H
                (x0 + o).update(from: eSum + o, count: r.count * H)
                LayerNorm.forward(x0 + o, ld: H, rows: r.count, cols: H, weight: embW, bias: embB, eps: eps,
                                  mean: eMean + r.lowerBound, rstd: eRstd + r.lowerBound)
                dropE.apply(x0 + o, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
            }
        }
        let slopes = ALiBi.slopes(heads: heads)
        let attnScale = 1 / Float(d).squareRoot()
        let gB = gBuf!
        for l in 0..<NL {
            let p = "bert.encoder.layer.\(l)."
            let li = save ? l : 0
            let x = xs[save ? l : l % 2], out = xs[save ? l + 1 : (l + 1) % 2]
            let qkvL = qkv[li], ctxL = ctx[li], s1L = s1[li], aL = a[li], hhL = hh[li], s2L = s2[li], sl = st[li]
            t("fwd other")
            Linear.forward(x: x, ldx: H, rows: T, inFeatures: H, weight: P.weight(p + "attention.self.Wqkv.weight"),
                           outFeatures: 3 * H, bias: P.weight(p + "attention.self.Wqkv.bias"), y: qkvL, ldy: 3 * H, threads: nt)
            if let slot = P.lora(l, .wqkv), let u = loraU[l][0] {
                LoRAKernels.forward(x: x, ldx: H, rows: T, inFeatures: H, outFeatures: 3 * H, slot: slot, mask: loraMask(l, .wqkv),
                                    tmp: loraTmp, u: u, y: qkvL, ldy: 3 * H, threads: nt)
            }
            t("fwd linear")
            pb.positions.withUnsafeBufferPointer { pos in
                FlashAttention.forward(q: qkvL, k: qkvL + H, v: qkvL + 2 * H, stride: 3 * H, out: ctxL, outStride: H,
                                       spans: pb.spans, positions: pb.contiguous ? nil : pos.baseAddress,
                                       heads: heads, headDim: d, slopes: slopes, scale: attnScale, lse: lse[li], threads: nt)
            }
            t("fwd attention")
            Linear.forward(x: ctxL, ldx: H, rows: T, inFeatures: H, weight: P.weight(p + "attention.output.dense.weight"),
                           outFeatures: H, bias: P.weight(p + "attention.output.dense.bias"), y: s1L, ldy: H, threads: nt)
            if let slot = P.lora(l, .attentionOutput), let u = loraU[l][1] {
                LoRAKernels.forward(x: ctxL, ldx: H, rows: T, inFeatures: H, outFeatures: H, slot: slot, mask: loraMask(l, .attentionOutput),
                                    tmp: loraTmp, u: u, y: s1L, ldy: H, threads: nt)
            }
            let drop1 = mask(l, 1), drop2 = mask(l, 2)
            let ln1W = P.weight(p + "attention.output.LayerNorm.weight"), ln1B = P.weight(p + "attention.output.LayerNorm.bias")
            t("fwd linear")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q], o = r.lowerBound * H
                drop1.apply(s1L + o, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
                for i in o..<(o + r.count * H) { s1L[i] += x[i] }
                (aL + o).update(from: s1L + o, count: r.count * H)
                LayerNorm.forward(aL + o, ld: H, rows: r.count, cols: H, weight: ln1W, bias: ln1B, eps: eps,
                                  mean: sl + r.lowerBound, rstd: sl + T + r.lowerBound)
            }
            t("fwd other")
            Linear.forward(x: aL, ldx: H, rows: T, inFeatures: H, weight: P.weight(p + "mlp.gated_layers.weight"),
                           outFeatures: 2 * I, bias: nil, y: hhL, ldy: 2 * I, threads: nt)
            if let slot = P.lora(l, .gatedLayers), let u = loraU[l][2] {
                LoRAKernels.forward(x: aL, ldx: H, rows: T, inFeatures: H, outFeatures: 2 * I, slot: slot, mask: loraMask(l, .gatedLayers),
                                    tmp: loraTmp, u: u, y: hhL, ldy: 2 * I, threads: nt)
            }
            t("fwd linear")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                SIMDPath.geglu(hhL + r.lowerBound * 2 * I, 2 * I, r.count, I, gB + r.lowerBound * I, I)
                drop2.apply(gB + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
            }
            t("fwd other")
            Linear.forward(x: gB, ldx: I, rows: T, inFeatures: I, weight: P.weight(p + "mlp.wo.weight"), outFeatures: H,
                           bias: P.weight(p + "mlp.wo.bias"), y: s2L, ldy: H, threads: nt)
            if let slot = P.lora(l, .wo), let u = loraU[l][3] {
                LoRAKernels.forward(x: gB, ldx: I, rows: T, inFeatures: I, outFeatures: H, slot: slot, mask: loraMask(l, .wo),
                                    tmp: loraTmp, u: u, y: s2L, ldy: H, threads: nt)
            }
            let ln2W = P.weight(p + "mlp.layernorm.weight"), ln2B = P.weight(p + "mlp.layernorm.bias")
            t("fwd linear")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q], o = r.lowerBound * H
                for i in o..<(o + r.count * H) { s2L[i] += aL[i] }
                (out + o).update(from: s2L + o, count: r.count * H)
                LayerNorm.forward(out + o, ld: H, rows: r.count, cols: H, weight: ln2W, bias: ln2B, eps: eps,
                                  mean: sl + 2 * T + r.lowerBound, rstd: sl + 3 * T + r.lowerBound)
            }
        }
        t("fwd other")
        return xs[save ? NL : NL % 2]
    }

    /// Backward of the last `forward` (which must have run with `save: true` on the same `pb`). `dx` holds
    /// ∂loss/∂(final hidden) [T, H] and is used as scratch. Gradients are *added* where `P.grad` / the LoRA
    /// slots point; frozen tensors get none, and nothing flows into frozen embeddings.
    func backward(_ pb: PackedBatch, _ P: PassParameters, dx: UnsafeMutablePointer<Float>, mask: (Int, Int) -> DropoutMask,
                  loraMask: (Int, LoRATarget) -> DropoutMask, threads nt: Int) throws {
        guard saved, pb.tokens == T else { throw DNABertError(.internal, "encoder backward without a saved forward") }
        let H = cfg.hiddenSize, I = cfg.intermediateSize, heads = cfg.numHeads, d = cfg.headDim
        let NL = cfg.numLayers, ws = scratch
        let rowParts = Parallel.ranges(T, parts: min(nt, max(1, T / 8)))
        let slopes = ALiBi.slopes(heads: heads)
        let attnScale = 1 / Float(d).squareRoot()
        let wordName = "bert.embeddings.word_embeddings.weight", typeName = "bert.embeddings.token_type_embeddings.weight"
        let embTrains = P.grad(wordName) != nil || P.grad("bert.embeddings.LayerNorm.weight") != nil || P.grad(typeName) != nil
        // Frozen LayerNorm parameters still get their (cheap) sums computed, into a sink.
        let sink = try ws.floats(2 * H, "frozen LayerNorm gradient sink")
        func lnGrads(_ prefix: String) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
            (P.grad(prefix + "weight") ?? sink, P.grad(prefix + "bias") ?? sink + H)
        }
        let da = try ws.floats(T * H, "attention block gradient")
        let dh = try ws.floats(T * 2 * I, "GEGLU input gradient")
        let dctx = try ws.floats(T * H, "attention output gradient")
        let dqkv = try ws.floats(T * 3 * H, "qkv gradient")
        var du: UnsafeMutablePointer<Float>? = nil
        var maxRank = 0
        for l in 0..<NL { for tg in LoRATarget.allCases { if let s = P.lora(l, tg) { maxRank = max(maxRank, s.rank) } } }
        if maxRank > 0 { du = try ws.floats(T * maxRank, "LoRA gradient") }
        let gB = gBuf!, tmp = loraTmp
        for l in stride(from: NL - 1, through: 0, by: -1) {
            let p = "bert.encoder.layer.\(l)."
            let sl = st[l], s2L = s2[l], hhL = hh[l], aL = a[l], ctxL = ctx[l], qkvL = qkv[l]
            let drop1 = mask(l, 1), drop2 = mask(l, 2)
            // x_{l+1} = LN2(s2), s2 = wo(g) + b + a  → da = ds2 (dx now holds ds2)
            t("bwd head/other")
            let (ln2dW, ln2dB) = lnGrads(p + "mlp.layernorm.")
            LayerNormBackward.backward(dy: dx, x: s2L, ld: H, rows: T, cols: H, mean: sl + 2 * T, rstd: sl + 3 * T,
                                       weight: P.weight(p + "mlp.layernorm.weight"), dx: dx, accumulate: false,
                                       dW: ln2dW, dB: ln2dB, threads: nt)
            da.update(from: dx, count: T * H)
            t("bwd layernorm")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                SIMDPath.geglu(hhL + r.lowerBound * 2 * I, 2 * I, r.count, I, gB + r.lowerBound * I, I)
                drop2.apply(gB + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
            }
            let woW = P.weight(p + "mlp.wo.weight")
            // dWo += ds2ᵀ·g, then gBuf := dg = ds2·Wo (+ the adapter's share)
            t("bwd other")
            LinearBackward.backward(dy: dx, ldy: H, rows: T, outFeatures: H, x: gB, ldx: I, inFeatures: I, weight: woW,
                                    dx: nil, lddx: I, accumulateDX: false, dW: P.grad(p + "mlp.wo.weight"),
                                    dB: P.grad(p + "mlp.wo.bias"), threads: nt)
            let woSlot = P.lora(l, .wo)
            if let slot = woSlot, let u = loraU[l][3], let du, let tmp {
                LoRAKernels.backwardWeights(dy: dx, ldy: H, x: gB, ldx: I, rows: T, inFeatures: I, outFeatures: H, slot: slot,
                                            mask: loraMask(l, .wo), tmp: tmp, u: u, du: du, threads: nt)
            }
            t("bwd linear")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: r.count, n: I, k: H, alpha: 1, a: dx + r.lowerBound * H, lda: H,
                           b: woW, ldb: I, beta: 0, c: gB + r.lowerBound * I, ldc: I)
                if woSlot == nil {
                    drop2.apply(gB + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
                    ActivationsBackward.geglu(h: hhL + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I,
                                              dOut: gB + r.lowerBound * I, ldo: I, dh: dh + r.lowerBound * 2 * I, lddh: 2 * I)
                }
            }
            if let slot = woSlot, let du, let tmp {
                LoRAKernels.backwardInput(du: du, rows: T, inFeatures: I, slot: slot, mask: loraMask(l, .wo), tmp: tmp,
                                          dx: gB, lddx: I, threads: nt)
                Parallel.forEach(rowParts.count, threads: nt) { q in
                    let r = rowParts[q]
                    drop2.apply(gB + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
                    ActivationsBackward.geglu(h: hhL + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I,
                                              dOut: gB + r.lowerBound * I, ldo: I, dh: dh + r.lowerBound * 2 * I, lddh: 2 * I)
                }
            }
            t("bwd geglu+dg")
            LinearBackward.backward(dy: dh, ldy: 2 * I, rows: T, outFeatures: 2 * I, x: aL, ldx: H, inFeatures: H,
                                    weight: P.weight(p + "mlp.gated_layers.weight"), dx: da, lddx: H, accumulateDX: true,
                                    dW: P.grad(p + "mlp.gated_layers.weight"), dB: nil, threads: nt)
            if let slot = P.lora(l, .gatedLayers), let u = loraU[l][2], let du, let tmp {
                let m = loraMask(l, .gatedLayers)
                LoRAKernels.backwardWeights(dy: dh, ldy: 2 * I, x: aL, ldx: H, rows: T, inFeatures: H, outFeatures: 2 * I, slot: slot,
                                            mask: m, tmp: tmp, u: u, du: du, threads: nt)
                LoRAKernels.backwardInput(du: du, rows: T, inFeatures: H, slot: slot, mask: m, tmp: tmp, dx: da, lddx: H, threads: nt)
            }
            // a = LN1(s1), s1 = drop(dense(ctx) + b) + x
            t("bwd linear")
            let (ln1dW, ln1dB) = lnGrads(p + "attention.output.LayerNorm.")
            LayerNormBackward.backward(dy: da, x: s1[l], ld: H, rows: T, cols: H, mean: sl, rstd: sl + T,
                                       weight: P.weight(p + "attention.output.LayerNorm.weight"), dx: da, accumulate: false,
                                       dW: ln1dW, dB: ln1dB, threads: nt)
            dx.update(from: da, count: T * H)   // residual
            t("bwd layernorm")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                drop1.apply(da + r.lowerBound * H, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
            }
            t("bwd other")
            LinearBackward.backward(dy: da, ldy: H, rows: T, outFeatures: H, x: ctxL, ldx: H, inFeatures: H,
                                    weight: P.weight(p + "attention.output.dense.weight"), dx: dctx, lddx: H, accumulateDX: false,
                                    dW: P.grad(p + "attention.output.dense.weight"), dB: P.grad(p + "attention.output.dense.bias"), threads: nt)
            if let slot = P.lora(l, .attentionOutput), let u = loraU[l][1], let du, let tmp {
                let m = loraMask(l, .attentionOutput)
                LoRAKernels.backwardWeights(dy: da, ldy: H, x: ctxL, ldx: H, rows: T, inFeatures: H, outFeatures: H, slot: slot,
                                            mask: m, tmp: tmp, u: u, du: du, threads: nt)
                LoRAKernels.backwardInput(du: du, rows: T, inFeatures: H, slot: slot, mask: m, tmp: tmp, dx: dctx, lddx: H, threads: nt)
            }
            t("bwd linear")
            pb.positions.withUnsafeBufferPointer { pos in
                FlashAttention.backward(q: qkvL, k: qkvL + H, v: qkvL + 2 * H, stride: 3 * H, out: ctxL, dOut: dctx,
                                        outStride: H, lse: lse[l], dq: dqkv, dk: dqkv + H, dv: dqkv + 2 * H, dStride: 3 * H,
                                        spans: pb.spans, positions: pb.contiguous ? nil : pos.baseAddress, heads: heads,
                                        headDim: d, slopes: slopes, scale: attnScale, threads: nt)
            }
            t("bwd attention")
            // Layer 0's input gradient is only needed when the embeddings train.
            let needDX = l > 0 || embTrains
            LinearBackward.backward(dy: dqkv, ldy: 3 * H, rows: T, outFeatures: 3 * H, x: xs[l], ldx: H, inFeatures: H,
                                    weight: P.weight(p + "attention.self.Wqkv.weight"), dx: needDX ? dx : nil, lddx: H, accumulateDX: true,
                                    dW: P.grad(p + "attention.self.Wqkv.weight"), dB: P.grad(p + "attention.self.Wqkv.bias"), threads: nt)
            if let slot = P.lora(l, .wqkv), let u = loraU[l][0], let du, let tmp {
                let m = loraMask(l, .wqkv)
                LoRAKernels.backwardWeights(dy: dqkv, ldy: 3 * H, x: xs[l], ldx: H, rows: T, inFeatures: H, outFeatures: 3 * H,
                                            slot: slot, mask: m, tmp: tmp, u: u, du: du, threads: nt)
                if needDX {
                    LoRAKernels.backwardInput(du: du, rows: T, inFeatures: H, slot: slot, mask: m, tmp: tmp, dx: dx, lddx: H, threads: nt)
                }
            }
        }
        t("bwd linear")
        guard embTrains else { return }
        // Embeddings: x0 = drop(LN(word[id] + type[0]))
        let dropE = mask(-1, 0)
        Parallel.forEach(rowParts.count, threads: nt) { q in
            let r = rowParts[q]
            dropE.apply(dx + r.lowerBound * H, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
        }
        let (eW, eB) = lnGrads("bert.embeddings.LayerNorm.")
        LayerNormBackward.backward(dy: dx, x: embSum, ld: H, rows: T, cols: H, mean: embMean, rstd: embRstd,
                                   weight: P.weight("bert.embeddings.LayerNorm.weight"), dx: dx, accumulate: false,
                                   dW: eW, dB: eB, threads: nt)
        if let dWord = P.grad(wordName) {
            for t in 0..<T {
                let g = dx + t * H, dst = dWord + Int(pb.ids[t]) * H
                for j in 0..<H { dst[j] += g[j] }
            }
        }
        if let dType = P.grad(typeName) {
            var tsum = [Double](repeating: 0, count: H)
            for t in 0..<T {
                let g = dx + t * H
                for j in 0..<H { tsum[j] += Double(g[j]) }
            }
            for j in 0..<H { dType[j] += Float(tsum[j]) }
        }
        t("bwd embeddings/other")
    }
}
