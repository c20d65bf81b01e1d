/// A layer's activations. Training keeps one set per layer for the backward; inference shares one set between
/// all layers and aliases what it never needs twice (`s1` = `a`, `s2` = the output, the GEGLU output inside
/// its input, rows of the MLP in chunks), so its memory does not grow with depth.
struct LayerActivations {
    /// [T, 3H] fused q, k, v.
    var qkv: Buf
    /// [T, H] attention output (before the output projection).
    var ctx: Buf
    /// [T, heads] log-sum-exp of each attention row (training), or nil.
    var lse: Buf?
    /// [T, H] drop(dense(ctx) + b) + x, the attention block's pre-LayerNorm sum.
    var s1: Buf
    /// [T, H] LayerNorm(s1), the attention block's output.
    var a: Buf
    /// [mlpRows, 2I] GEGLU input a·Wgatedᵀ.
    var hh: Buf
    /// GEGLU output [mlpRows, I] with row stride `ldg` (inference: inside `hh`, ldg = 2I).
    var g: Buf
    var ldg: Int
    /// [T, H] drop(wo(g) + b) + a, the MLP's pre-LayerNorm sum.
    var s2: Buf
    /// [4T]: mean and rstd of the attention LayerNorm, then of the MLP LayerNorm (training), or nil.
    var stats: Buf?
    /// Rows per MLP chunk (T when training: the backward needs every row).
    var mlpRows: Int
    /// [3, heads, T, d] head-major copy of qkv for attention (fewer TLB misses at long L), or nil.
    var headMajor: Buf?
    /// Per LoRA target: the adapter's rank-r projection drop(x)·Aᵀ [T, r].
    var loraU: [Buf?]

    /// An inference set (no LayerNorm statistics or log-sum-exps kept for a backward).
    var isInference: Bool { stats == nil && lse == nil }
}

/// Shapes and attention constants of a pass.
struct LayerShape {
    let H, I, heads, d: Int
    let eps: Double
    let slopes: [Float]
    let scale: Float

    init(_ c: ModelConfig) {
        H = c.hiddenSize; I = c.intermediateSize; heads = c.numHeads; d = c.headDim
        eps = c.layerNormEps
        slopes = ALiBi.slopes(heads: c.numHeads)
        scale = 1 / Float(c.headDim).squareRoot()
    }
}

/// Dropout masks of one layer: after the attention output projection (`attention`), on the GEGLU output
/// (`mlp`), and on each LoRA adapter's input.
struct LayerDropout {
    let attention: DropoutMask
    let mlp: DropoutMask
    let lora: (LoRATarget) -> DropoutMask
}

/// One DNABERT-2 encoder layer (post-LayerNorm, ALiBi flash attention, GEGLU MLP), forward beside backward:
///   a   = LN1(drop(ctx·Woᵀ + b) + x),  ctx = attention(x·Wqkvᵀ + b)
///   out = LN2(drop(GEGLU(a·Wgᵀ)·Wwoᵀ + b) + a)
/// each linear optionally adapted by LoRA.
enum EncoderLayer {
    /// Sees the input of each of the four linears just before its product: (target, x, row stride, rows); the
    /// MLP's inputs come in row chunks. Int8 calibration records per-channel ranges with it (nil otherwise).
    typealias LinearInputObserver = (LoRATarget, UnsafePointer<Float>, _ ld: Int, _ rows: Int) -> Void

    /// Whether an int8 model's inference fuses GEGLU into the quantization of wo's input
    /// (`Linear.forwardInt8AfterGEGLU`; the same numbers). Internal and mutable only so that the tests can compare
    /// a fused run with an unfused one; nothing else writes it.
    nonisolated(unsafe) static var fuseInt8GEGLU = true

    /// Forward of one layer from `x` into `out` (`out` may be `x` when `act` is an inference set).
    static func forward(x: Buf, out: Buf, _ w: LayerWeights, _ act: LayerActivations, _ s: LayerShape, _ pb: PackedBatch,
                        drop: LayerDropout, loraTmp: Buf?, threads nt: Int, tick: (String) -> Void,
                        observe: LinearInputObserver? = nil) {
        let H = s.H, I = s.I, T = pb.tokens
        let rowParts = Parallel.ranges(T, parts: min(nt, max(1, T / 8)))
        func adapt(_ t: LoRATarget, _ input: UnsafePointer<Float>, _ ldx: Int, rows: Int, _ y: Buf, _ ldy: Int) {
            guard let ad = w.adapters[t.index], let u = act.loraU[t.index] else { return }
            let (inF, outF) = (t == .wo ? I : H, t == .wqkv ? 3 * H : t == .gatedLayers ? 2 * I : H)
            LoRAKernels.forward(x: input, ldx: ldx, rows: rows, inFeatures: inF, outFeatures: outF, slot: LoRASlot(ad, nil),
                                mask: drop.lora(t), tmp: loraTmp, u: u, y: y, ldy: ldy, threads: nt)
        }
        tick("fwd other")
        observe?(.wqkv, x, H, T)
        linear(w, .wqkv, x: x, ldx: H, rows: T, inFeatures: H, outFeatures: 3 * H, bias: w.bqkv, y: act.qkv, ldy: 3 * H,
               threads: nt)
        adapt(.wqkv, x, H, rows: T, act.qkv, 3 * H)
        tick("fwd linear")
        // An int8 model's inference runs the attention tiles at `int8TileProducts` (training stays float32: its
        // backward recomputes the probabilities from the saved log-sum-exp in float32).
        let products = w.int8[LoRATarget.wqkv.index] != nil && act.isInference ? FlashAttention.int8TileProducts : .float32
        attention(act, s, pb, products: products, threads: nt)
        tick("fwd attention")
        observe?(.attentionOutput, act.ctx, H, T)
        linear(w, .attentionOutput, x: act.ctx, ldx: H, rows: T, inFeatures: H, outFeatures: H, bias: w.attnOutB, y: act.s1,
               ldy: H, threads: nt)
        adapt(.attentionOutput, act.ctx, H, rows: T, act.s1, H)
        tick("fwd linear")
        Parallel.forEach(rowParts.count, threads: nt) { q in
            let r = rowParts[q], o = r.lowerBound * H
            residualLayerNorm(act.s1 + o, residual: x + o, out: act.a + o, rows: r, cols: H, drop: drop.attention,
                              weight: w.ln1W, bias: w.ln1B, eps: s.eps, stats: act.stats.map { ($0, $0 + T) })
        }
        tick("fwd other")
        // The MLP, in row chunks at inference to bound the [rows, 2I] buffer (one chunk when training).
        var r0 = 0
        while r0 < T {
            let rn = min(act.mlpRows, T - r0)
            observe?(.gatedLayers, act.a + r0 * H, H, rn)
            linear(w, .gatedLayers, x: act.a + r0 * H, ldx: H, rows: rn, inFeatures: H, outFeatures: 2 * I, bias: nil,
                   y: act.hh, ldy: 2 * I, threads: nt)
            adapt(.gatedLayers, act.a + r0 * H, H, rows: rn, act.hh, 2 * I)
            tick("fwd linear")
            let parts = Parallel.ranges(rn, parts: min(nt, max(1, rn / 8)))
            // An int8 model's inference: GEGLU, smoothing and quantization row by row into the int8 product of wo.
            if fuseInt8GEGLU, act.isInference, observe == nil, !drop.mlp.active, w.adapters[LoRATarget.wo.index] == nil,
               let q = w.int8[LoRATarget.wo.index] {
                Linear.forwardInt8AfterGEGLU(h: act.hh, ldh: 2 * I, rows: rn, inner: I, weight: q, bias: w.woB,
                                             y: act.s2 + r0 * H, ldy: H, threads: nt)
                tick("fwd linear")
            } else {
                // An int8 model's inference GEGLU (also with an adapter on wo) is int8 inference's own
                // (`Activations.int8GEGLU`, as in the fused path); training keeps the float32 GELU its backward uses.
                let int8GELU = act.isInference && w.int8[LoRATarget.wo.index] != nil
                Parallel.forEach(parts.count, threads: nt) { q in
                    let r = parts[q]
                    if int8GELU {
                        Activations.int8GEGLU(act.hh + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I,
                                              out: act.g + r.lowerBound * act.ldg, ldo: act.ldg)
                    } else {
                        Activations.geglu(act.hh + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I,
                                          out: act.g + r.lowerBound * act.ldg, ldo: act.ldg)
                    }
                    drop.mlp.apply(act.g + r.lowerBound * act.ldg, ld: act.ldg, rows: (r0 + r.lowerBound)..<(r0 + r.upperBound),
                                   cols: I, rowBase: r0 + r.lowerBound)
                }
                tick("fwd other")
                observe?(.wo, act.g, act.ldg, rn)
                linear(w, .wo, x: act.g, ldx: act.ldg, rows: rn, inFeatures: I, outFeatures: H, bias: w.woB, y: act.s2 + r0 * H,
                       ldy: H, threads: nt)
                adapt(.wo, act.g, act.ldg, rows: rn, act.s2 + r0 * H, H)
                tick("fwd linear")
            }
            Parallel.forEach(parts.count, threads: nt) { q in
                let r = parts[q], o = (r0 + r.lowerBound) * H
                residualLayerNorm(act.s2 + o, residual: act.a + o, out: out + o, rows: (r0 + r.lowerBound)..<(r0 + r.upperBound),
                                  cols: H, drop: EncoderStack.noDropout, weight: w.ln2W, bias: w.ln2B, eps: s.eps,
                                  stats: act.stats.map { ($0 + 2 * T, $0 + 3 * T) })
            }
            r0 += rn
        }
        tick("fwd other")
    }

    /// y = x·Wᵀ (+ bias) through linear `t`'s int8 form when it has one (an int8 model), else its float32 weight
    /// (`EncoderWeights.checkLinears` has made sure one of them exists).
    @inline(__always)
    static func linear(_ w: LayerWeights, _ t: LoRATarget, x: UnsafePointer<Float>, ldx: Int, rows: Int, inFeatures: Int,
                       outFeatures: Int, bias: UnsafePointer<Float>?, y: Buf, ldy: Int, threads nt: Int) {
        if let q = w.int8[t.index] {
            Linear.forwardInt8(x: x, ldx: ldx, rows: rows, inFeatures: inFeatures, weight: q, bias: bias, y: y, ldy: ldy, threads: nt)
        } else if let f = w.weight(t) {
            Linear.forward(x: x, ldx: ldx, rows: rows, inFeatures: inFeatures, weight: f, outFeatures: outFeatures, bias: bias,
                           y: y, ldy: ldy, threads: nt)
        }
    }

    /// out = LayerNorm(drop(sum) + residual) for the given global rows (pointers at the first of them). Training
    /// keeps the pre-LayerNorm sum in `sum` and saves mean/rstd in `stats` (indexed by global row); inference
    /// (out == sum, no stats) fuses the residual add into the LayerNorm.
    static func residualLayerNorm(_ sum: Buf, residual: UnsafePointer<Float>, out: Buf, rows: Range<Int>, cols H: Int,
                                  drop: DropoutMask, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Double,
                                  stats: (mean: Buf, rstd: Buf)?) {
        if out == sum, stats == nil, !drop.active {
            LayerNorm.addForward(out, ld: H, rows: rows.count, cols: H, addBias: nil, residual: residual, ldr: H,
                                 weight: weight, bias: bias, eps: eps)
            return
        }
        let n = rows.count * H
        drop.apply(sum, ld: H, rows: rows, cols: H, rowBase: rows.lowerBound)
        for i in 0..<n { sum[i] += residual[i] }
        if out != sum { out.update(from: sum, count: n) }
        LayerNorm.forward(out, ld: H, rows: rows.count, cols: H, weight: weight, bias: bias, eps: eps,
                          mean: stats.map { $0.mean + rows.lowerBound }, rstd: stats.map { $0.rstd + rows.lowerBound })
    }

    /// ctx = softmax(q·kᵀ·scale − ALiBi)·v per sequence and head, never materialising the L × L matrix.
    static func attention(_ act: LayerActivations, _ s: LayerShape, _ pb: PackedBatch, products: FlashAttention.TileProducts,
                          threads nt: Int) {
        let H = s.H, d = s.d, T = pb.tokens
        pb.positions.withUnsafeBufferPointer { pos in
            let positions = pb.contiguous ? nil : pos.baseAddress
            if let hm = act.headMajor {
                Parallel.forEach(3 * s.heads, threads: nt) { bh in
                    let src = act.qkv + bh * d, dst = hm + bh * T * d
                    for t in 0..<T { (dst + t * d).update(from: src + t * 3 * H, count: d) }
                }
                FlashAttention.forward(q: hm, k: hm + T * H, v: hm + 2 * T * H, stride: d, out: act.ctx, outStride: H,
                                       spans: pb.spans, positions: positions, heads: s.heads, headDim: d,
                                       slopes: s.slopes, scale: s.scale, lse: act.lse, headStride: T * d, threads: nt,
                                       products: products)
            } else {
                FlashAttention.forward(q: act.qkv, k: act.qkv + H, v: act.qkv + 2 * H, stride: 3 * H, out: act.ctx,
                                       outStride: H, spans: pb.spans, positions: positions, heads: s.heads, headDim: d,
                                       slopes: s.slopes, scale: s.scale, lse: act.lse, threads: nt, products: products)
            }
        }
    }

    /// `Linear.backward` of linear `t`, with its input gradient through the int8 weight when the layer has one
    /// (a frozen linear of an int8 base: QLoRA-style fine-tuning; see `Linear.backwardInputInt8`). Weight and bias
    /// gradients, where asked for, stay float32. `scratch` ([rows, in] floats, free at this point) serves the int8
    /// accumulation. `weight()` gives the float32 weight for a float32 input gradient (the layer's own, or an int8
    /// linear's dequantized form under `DNABERT_INT8_BACKWARD=fp32`); it is called only when that product runs, so
    /// an int8 linear is not dequantized for nothing.
    static func linearBackward(_ t: LoRATarget, _ w: LayerWeights, dy: UnsafePointer<Float>, ldy: Int, rows: Int,
                               outFeatures: Int, x: UnsafePointer<Float>, ldx: Int, inFeatures: Int,
                               weight: () -> UnsafePointer<Float>, dx: Buf?, lddx: Int, accumulateDX: Bool, dW: Buf?, dB: Buf?,
                               scratch: Buf?, threads nt: Int) throws {
        guard let q = w.int8[t.index], Linear.int8InputGradient else {
            Linear.backward(dy: dy, ldy: ldy, rows: rows, outFeatures: outFeatures, x: x, ldx: ldx, inFeatures: inFeatures,
                            weight: dx == nil ? w.weight(t).map { UnsafePointer($0) } : weight(), dx: dx, lddx: lddx,
                            accumulateDX: accumulateDX, dW: dW, dB: dB, threads: nt)
            return
        }
        if let dx {
            try Linear.backwardInputInt8(dy: dy, ldy: ldy, rows: rows, weight: q, dx: dx, lddx: lddx, accumulate: accumulateDX,
                                         scratch: scratch, threads: nt)
        }
        // (an int8 linear has no float32 weight and none is read: dx is not asked of Linear.backward here)
        Linear.backward(dy: dy, ldy: ldy, rows: rows, outFeatures: outFeatures, x: x, ldx: ldx, inFeatures: inFeatures,
                        weight: w.weight(t).map { UnsafePointer($0) }, dx: nil, lddx: lddx, accumulateDX: false, dW: dW, dB: dB,
                        threads: nt)
    }

    /// Scratch of the backward, shared by every layer.
    struct BackwardScratch {
        /// [T, H], [T, 2I], [T, H], [T, 3H]; `du` [T, max rank] when there are adapters; `loraTmp` [T, max(H, I)]
        /// when there are adapters; `gBuf` [T, I] (the GEGLU output, recomputed); `sink` [2H] for frozen
        /// LayerNorm parameters; `dequantized` [the largest linear's out × in] when a linear is held in int8.
        let da, dh, dctx, dqkv, gBuf, sink: Buf
        let du, loraTmp, dequantized: Buf?
    }

    /// Backward of `forward` (run with a training set `act`): `dx` holds ∂loss/∂out on entry and ∂loss/∂x on
    /// exit (unless `needInputGradient` is false: then its content is undefined). Gradients are *added* where
    /// `g` points; frozen tensors get none.
    static func backward(dx: Buf, x: UnsafePointer<Float>, _ w: LayerWeights, _ g: LayerGrads, _ act: LayerActivations,
                         _ s: LayerShape, _ pb: PackedBatch, drop: LayerDropout, scratch b: BackwardScratch,
                         needInputGradient: Bool, threads nt: Int, tick: (String) -> Void) throws {
        let H = s.H, I = s.I, T = pb.tokens
        let rowParts = Parallel.ranges(T, parts: min(nt, max(1, T / 8)))
        guard let st = act.stats, let lse = act.lse else { return }
        let gB = b.gBuf
        func slot(_ t: LoRATarget) -> LoRASlot? { w.adapters[t.index].map { LoRASlot($0, g.adapters[t.index]) } }
        // The float32 weight of linear t for a float32 input-gradient product: the layer's own, or for a linear held
        // in int8 (QLoRA with DNABERT_INT8_BACKWARD=fp32; by default its input gradient runs in int8 and this is not
        // called) its dequantized form (q · scale / s, the weight the int8 forward stands for), written into the
        // shared scratch, which the next linear's overwrites: one linear's worth of float32 at a time.
        // (EncoderStack.backward has checked that one of the two exists and that the scratch does.)
        func inputWeight(_ t: LoRATarget) -> UnsafePointer<Float> {
            if let f = w.weight(t) { return UnsafePointer(f) }
            let d = b.dequantized!
            w.int8[t.index]!.dequantize(into: d, threads: nt)
            return UnsafePointer(d)
        }
        // out = LN2(s2), s2 = drop(wo(g) + b) + a  → da = ds2 (dx now holds ds2)
        tick("bwd head/other")
        LayerNorm.backward(dy: dx, x: act.s2, ld: H, rows: T, cols: H, mean: st + 2 * T, rstd: st + 3 * T, weight: w.ln2W,
                           dx: dx, accumulate: false, dW: g.ln2W ?? b.sink, dB: g.ln2B ?? b.sink + H, threads: nt)
        b.da.update(from: dx, count: T * H)
        tick("bwd layernorm")
        Parallel.forEach(rowParts.count, threads: nt) { q in
            let r = rowParts[q]
            Activations.geglu(act.hh + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I, out: gB + r.lowerBound * I, ldo: I)
            drop.mlp.apply(gB + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
        }
        // dWo += ds2ᵀ·g, then gBuf := dg = ds2·Wo (+ the adapter's share)
        tick("bwd other")
        // dg = ds2·Wo below: through the int8 Wo of a frozen int8 base (QLoRA), else float32 row by row
        let woInt8 = Linear.int8InputGradient ? w.int8[LoRATarget.wo.index] : nil
        let woW: UnsafePointer<Float>? = woInt8 == nil ? inputWeight(.wo) : nil
        Linear.backward(dy: dx, ldy: H, rows: T, outFeatures: H, x: gB, ldx: I, inFeatures: I, weight: woW,
                        dx: nil, lddx: I, accumulateDX: false, dW: g.wo, dB: g.woB, threads: nt)
        let woSlot = slot(.wo)
        if let sl = woSlot, let u = act.loraU[LoRATarget.wo.index], let du = b.du, let tmp = b.loraTmp {
            LoRAKernels.backwardWeights(dy: dx, ldy: H, x: gB, ldx: I, rows: T, inFeatures: I, outFeatures: H, slot: sl,
                                        mask: drop.lora(.wo), tmp: tmp, u: u, du: du, threads: nt)
        }
        tick("bwd linear")
        if let q = woInt8 {
            try Linear.backwardInputInt8(dy: dx, ldy: H, rows: T, weight: q, dx: gB, lddx: I, accumulate: false, threads: nt)
        }
        Parallel.forEach(rowParts.count, threads: nt) { q in
            let r = rowParts[q]
            if let woW {
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: r.count, n: I, k: H, alpha: 1, a: dx + r.lowerBound * H, lda: H,
                           b: woW, ldb: I, beta: 0, c: gB + r.lowerBound * I, ldc: I)
            }
            if woSlot == nil {
                drop.mlp.apply(gB + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
                Activations.gegluBackward(h: act.hh + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I,
                                          dOut: gB + r.lowerBound * I, ldo: I, dh: b.dh + r.lowerBound * 2 * I, lddh: 2 * I)
            }
        }
        if let sl = woSlot, let du = b.du, let tmp = b.loraTmp {
            LoRAKernels.backwardInput(du: du, rows: T, inFeatures: I, slot: sl, mask: drop.lora(.wo), tmp: tmp,
                                      dx: gB, lddx: I, threads: nt)
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                drop.mlp.apply(gB + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
                Activations.gegluBackward(h: act.hh + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I,
                                          dOut: gB + r.lowerBound * I, ldo: I, dh: b.dh + r.lowerBound * 2 * I, lddh: 2 * I)
            }
        }
        tick("bwd geglu+dg")
        try linearBackward(.gatedLayers, w, dy: b.dh, ldy: 2 * I, rows: T, outFeatures: 2 * I, x: act.a, ldx: H, inFeatures: H,
                           weight: { inputWeight(.gatedLayers) }, dx: b.da, lddx: H, accumulateDX: true, dW: g.gated, dB: nil,
                           scratch: b.dctx, threads: nt)
        if let sl = slot(.gatedLayers), let u = act.loraU[LoRATarget.gatedLayers.index], let du = b.du, let tmp = b.loraTmp {
            let m = drop.lora(.gatedLayers)
            LoRAKernels.backwardWeights(dy: b.dh, ldy: 2 * I, x: act.a, ldx: H, rows: T, inFeatures: H, outFeatures: 2 * I,
                                        slot: sl, mask: m, tmp: tmp, u: u, du: du, threads: nt)
            LoRAKernels.backwardInput(du: du, rows: T, inFeatures: H, slot: sl, mask: m, tmp: tmp, dx: b.da, lddx: H, threads: nt)
        }
        // a = LN1(s1), s1 = drop(dense(ctx) + b) + x
        tick("bwd linear")
        LayerNorm.backward(dy: b.da, x: act.s1, ld: H, rows: T, cols: H, mean: st, rstd: st + T, weight: w.ln1W, dx: b.da,
                           accumulate: false, dW: g.ln1W ?? b.sink, dB: g.ln1B ?? b.sink + H, threads: nt)
        dx.update(from: b.da, count: T * H)   // residual
        tick("bwd layernorm")
        Parallel.forEach(rowParts.count, threads: nt) { q in
            let r = rowParts[q]
            drop.attention.apply(b.da + r.lowerBound * H, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
        }
        tick("bwd other")
        try linearBackward(.attentionOutput, w, dy: b.da, ldy: H, rows: T, outFeatures: H, x: act.ctx, ldx: H, inFeatures: H,
                           weight: { inputWeight(.attentionOutput) }, dx: b.dctx, lddx: H, accumulateDX: false, dW: g.attnOut,
                           dB: g.attnOutB, scratch: nil, threads: nt)
        if let sl = slot(.attentionOutput), let u = act.loraU[LoRATarget.attentionOutput.index], let du = b.du, let tmp = b.loraTmp {
            let m = drop.lora(.attentionOutput)
            LoRAKernels.backwardWeights(dy: b.da, ldy: H, x: act.ctx, ldx: H, rows: T, inFeatures: H, outFeatures: H, slot: sl,
                                        mask: m, tmp: tmp, u: u, du: du, threads: nt)
            LoRAKernels.backwardInput(du: du, rows: T, inFeatures: H, slot: sl, mask: m, tmp: tmp, dx: b.dctx, lddx: H, threads: nt)
        }
        tick("bwd linear")
        pb.positions.withUnsafeBufferPointer { pos in
            FlashAttention.backward(q: act.qkv, k: act.qkv + H, v: act.qkv + 2 * H, stride: 3 * H, out: act.ctx, dOut: b.dctx,
                                    outStride: H, lse: lse, dq: b.dqkv, dk: b.dqkv + H, dv: b.dqkv + 2 * H, dStride: 3 * H,
                                    spans: pb.spans, positions: pb.contiguous ? nil : pos.baseAddress, heads: s.heads,
                                    headDim: s.d, slopes: s.slopes, scale: s.scale, threads: nt)
        }
        tick("bwd attention")
        // (dctx, read by the attention backward above, is free again: the scratch of the accumulation). Layer 0
        // without trainable embeddings needs no input gradient: an int8 Wqkv is then neither used nor dequantized.
        try linearBackward(.wqkv, w, dy: b.dqkv, ldy: 3 * H, rows: T, outFeatures: 3 * H, x: x, ldx: H, inFeatures: H,
                           weight: { inputWeight(.wqkv) }, dx: needInputGradient ? dx : nil, lddx: H, accumulateDX: true,
                           dW: g.wqkv, dB: g.bqkv, scratch: b.dctx, threads: nt)
        if let sl = slot(.wqkv), let u = act.loraU[LoRATarget.wqkv.index], let du = b.du, let tmp = b.loraTmp {
            let m = drop.lora(.wqkv)
            LoRAKernels.backwardWeights(dy: b.dqkv, ldy: 3 * H, x: x, ldx: H, rows: T, inFeatures: H, outFeatures: 3 * H,
                                        slot: sl, mask: m, tmp: tmp, u: u, du: du, threads: nt)
            if needInputGradient {
                LoRAKernels.backwardInput(du: du, rows: T, inFeatures: H, slot: sl, mask: m, tmp: tmp, dx: dx, lddx: H, threads: nt)
            }
        }
        tick("bwd linear")
    }
}
