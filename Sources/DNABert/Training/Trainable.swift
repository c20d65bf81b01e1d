#if canImport(Glibc)
import Glibc
#endif

/// Inverted dropout whose mask is a pure function of (key, element index), so the backward pass regenerates
/// it instead of storing it: keep element i iff hash(key, i) ≥ p·2^24; kept values are scaled by 1/(1 − p).
struct DropoutMask {
    let key: UInt64
    let threshold: UInt64
    let scale: Float
    let active: Bool

    init(p: Double, key: UInt64) {
        self.key = key
        active = p > 0
        threshold = UInt64((min(max(p, 0), 1) * Double(1 << 24)).rounded())
        scale = p < 1 ? Float(1 / (1 - p)) : 0
    }

    @inline(__always)
    func factor(_ i: Int) -> Float {
        var z = key &+ UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (z >> 40) >= threshold ? scale : 0
    }

    /// x[r·ld + j] *= factor(global index (row0 + r)·cols + j) for the given rows.
    func apply(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Range<Int>, cols: Int, rowBase: Int = 0) {
        if !active { return }
        for r in rows {
            let row = x + (r - rowBase) * ld
            let base = r * cols
            for j in 0..<cols { row[j] *= factor(base + j) }
        }
    }
}

/// Scratch reused across calls: the i-th request of a call gets the i-th slot (grown when too small), so
/// steady-state steps neither allocate nor page-fault.
final class ScratchSlots {
    private var slots: [(UnsafeMutablePointer<Float>, Int)] = []
    private var next = 0

    func reset() { next = 0 }

    func floats(_ count: Int, _ what: String) throws -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        defer { next += 1 }
        if next < slots.count {
            if slots[next].1 >= n { return slots[next].0 }
            free(slots[next].0)
            slots[next] = (try Self.allocate(n, what), n)
            return slots[next].0
        }
        let p = try Self.allocate(n, what)
        slots.append((p, n))
        return p
    }

    private static func allocate(_ n: Int, _ what: String) throws -> UnsafeMutablePointer<Float> {
        let (bytes, o) = n.multipliedReportingOverflow(by: 4)
        var raw: UnsafeMutableRawPointer? = nil
        guard !o, posix_memalign(&raw, 64, bytes) == 0, let p = raw else {
            throw DNABertError(.outOfMemory, "training step: cannot allocate \(what) (\(n) floats)")
        }
        return p.bindMemory(to: Float.self, capacity: n)
    }

    func release() {
        for (p, _) in slots { free(p) }
        slots = []
        next = 0
    }

    deinit { release() }
}

/// Training-mode forward and backward of the DNABERT-2 encoder with its MLM head.
///
/// `lossAndGradient` runs a forward that keeps what the backward needs (per layer: the layer input, fused
/// qkv, attention output and its log-sum-exp, the pre-LayerNorm sums with their mean/rstd, the GEGLU
/// pre-activations), then the backward, *adding* the gradient of the mean masked-LM cross-entropy to
/// `grad` (laid out like `model.parameters`). Gradient accumulation is calling it repeatedly.
/// Activations are O(T·(H + I)) per layer for T real tokens; no L × L buffer exists (flash attention).
/// Not safe to call concurrently on one instance (it reuses its scratch memory between calls).
/// Dropout (hidden dropout after the embeddings, on the attention output projection and on the GEGLU
/// output, as DNABERT-2) uses masks derived from (seed, call counter, layer, site).
public final class Trainable {
    public let model: Model
    public var dropout: Double
    public let seed: UInt64
    /// Incremented on each call: fresh dropout masks per micro-batch.
    public internal(set) var calls: UInt64 = 0
    /// Activations and gradients of the last step, kept for the next one (`releaseScratch()` frees them).
    let scratch = ScratchSlots()

    public init(model: Model, dropout: Double? = nil, seed: UInt64) throws {
        guard model.layout.hasMLMHead else { throw DNABertError.unsupported("Trainable: the model has no MLM head") }
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
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let t = Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        if let phase { profile![phase, default: 0] += t - lastTick }
        lastTick = t
    }

    /// Frees the activation memory kept between steps.
    public func releaseScratch() { scratch.release() }

    func mask(_ layer: Int, _ site: Int) -> DropoutMask {
        var rng = Xoshiro256(seed: seed ^ (calls &* 0xD6E8_FEB8_6659_FD93) ^ UInt64(truncatingIfNeeded: layer &* 4 &+ site &+ 8) &* 0x2545_F491_4F6C_DD1D)
        return DropoutMask(p: dropout, key: rng.next())
    }

    /// Adds ∂loss/∂θ (times `scale`) into `grad` and returns the mean cross-entropy over the target positions
    /// (labels ≠ −100), the number of targets predicted right (argmax) and the number of targets.
    /// With no target the result is (0, 0, 0) and `grad` is unchanged.
    public func lossAndGradient(_ b: MLMBatch, into grad: UnsafeMutableBufferPointer<Float>, threads: Int = 0,
                                scale: Double = 1) throws -> (loss: Double, correct: Int, counted: Int) {
        try b.validate()
        let m = model, cfg = m.config
        guard grad.count == m.layout.total, let G = grad.baseAddress else {
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

        let H = cfg.hiddenSize, I = cfg.intermediateSize, heads = cfg.numHeads, d = cfg.headDim, V = cfg.vocabSize
        let NL = cfg.numLayers, T = pb.tokens, eps = cfg.layerNormEps
        let nt = Parallel.threads(threads)
        let ws = scratch
        ws.reset()
        let rowParts = Parallel.ranges(T, parts: min(nt, max(1, T / 8)))
        func P(_ name: String) -> UnsafeMutablePointer<Float> { m.ptr(name) }
        func D(_ name: String) -> UnsafeMutablePointer<Float> { G + m.layout.offset(name) }

        tick(nil)
        // ---- forward, saving activations ----
        let embSum = try ws.floats(T * H, "embedding sum")
        let embMean = try ws.floats(T, "stats"), embRstd = try ws.floats(T, "stats")
        var xs: [UnsafeMutablePointer<Float>] = []
        for _ in 0...NL { xs.append(try ws.floats(T * H, "layer inputs")) }
        var qkv: [UnsafeMutablePointer<Float>] = [], ctx: [UnsafeMutablePointer<Float>] = [], lse: [UnsafeMutablePointer<Float>] = []
        var s1: [UnsafeMutablePointer<Float>] = [], a: [UnsafeMutablePointer<Float>] = [], hh: [UnsafeMutablePointer<Float>] = []
        var s2: [UnsafeMutablePointer<Float>] = [], st: [UnsafeMutablePointer<Float>] = []
        for _ in 0..<NL {
            qkv.append(try ws.floats(T * 3 * H, "qkv")); ctx.append(try ws.floats(T * H, "attention output"))
            lse.append(try ws.floats(T * heads, "lse")); s1.append(try ws.floats(T * H, "attention sum"))
            a.append(try ws.floats(T * H, "attention block output")); hh.append(try ws.floats(T * 2 * I, "GEGLU input"))
            s2.append(try ws.floats(T * H, "MLP sum")); st.append(try ws.floats(4 * T, "LayerNorm stats"))
        }
        let gBuf = try ws.floats(T * I, "GEGLU output")

        let word = P("bert.embeddings.word_embeddings.weight"), type0 = P("bert.embeddings.token_type_embeddings.weight")
        let embW = P("bert.embeddings.LayerNorm.weight"), embB = P("bert.embeddings.LayerNorm.bias")
        let dropE = mask(-1, 0)
        pb.ids.withUnsafeBufferPointer { idb in
            Parallel.forEach(rowParts.count, threads: nt) { p in
                let r = rowParts[p]
                for t in r {
                    let src = word + Int(idb[t]) * H, dst = embSum + t * H
                    for j in 0..<H { dst[j] = src[j] + type0[j] }
                }
                let o = r.lowerBound * H
                (xs[0] + o).update(from: embSum + o, count: r.count * H)
                LayerNorm.forward(xs[0] + o, ld: H, rows: r.count, cols: H, weight: embW, bias: embB, eps: eps,
                                  mean: embMean + r.lowerBound, rstd: embRstd + r.lowerBound)
                dropE.apply(xs[0] + o, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
            }
        }
        let slopes = ALiBi.slopes(heads: heads)
        let attnScale = 1 / Float(d).squareRoot()
        for l in 0..<NL {
            let p = "bert.encoder.layer.\(l)."
            let x = xs[l]
            tick("fwd other")
            Linear.forward(x: x, ldx: H, rows: T, inFeatures: H, weight: P(p + "attention.self.Wqkv.weight"),
                           outFeatures: 3 * H, bias: P(p + "attention.self.Wqkv.bias"), y: qkv[l], ldy: 3 * H, threads: nt)
            tick("fwd linear")
            pb.positions.withUnsafeBufferPointer { pos in
                FlashAttention.forward(q: qkv[l], k: qkv[l] + H, v: qkv[l] + 2 * H, stride: 3 * H, out: ctx[l], outStride: H,
                                       spans: pb.spans, positions: pb.contiguous ? nil : pos.baseAddress,
                                       heads: heads, headDim: d, slopes: slopes, scale: attnScale, lse: lse[l], threads: nt)
            }
            tick("fwd attention")
            Linear.forward(x: ctx[l], ldx: H, rows: T, inFeatures: H, weight: P(p + "attention.output.dense.weight"),
                           outFeatures: H, bias: P(p + "attention.output.dense.bias"), y: s1[l], ldy: H, threads: nt)
            let drop1 = mask(l, 1), drop2 = mask(l, 2)
            let ln1W = P(p + "attention.output.LayerNorm.weight"), ln1B = P(p + "attention.output.LayerNorm.bias")
            let sl = st[l]
            tick("fwd linear")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q], o = r.lowerBound * H
                drop1.apply(s1[l] + o, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
                for i in o..<(o + r.count * H) { s1[l][i] += x[i] }
                (a[l] + o).update(from: s1[l] + o, count: r.count * H)
                LayerNorm.forward(a[l] + o, ld: H, rows: r.count, cols: H, weight: ln1W, bias: ln1B, eps: eps,
                                  mean: sl + r.lowerBound, rstd: sl + T + r.lowerBound)
            }
            tick("fwd other")
            Linear.forward(x: a[l], ldx: H, rows: T, inFeatures: H, weight: P(p + "mlp.gated_layers.weight"),
                           outFeatures: 2 * I, bias: nil, y: hh[l], ldy: 2 * I, threads: nt)
            tick("fwd linear")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                SIMDPath.geglu(hh[l] + r.lowerBound * 2 * I, 2 * I, r.count, I, gBuf + r.lowerBound * I, I)
                drop2.apply(gBuf + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
            }
            tick("fwd other")
            Linear.forward(x: gBuf, ldx: I, rows: T, inFeatures: I, weight: P(p + "mlp.wo.weight"), outFeatures: H,
                           bias: P(p + "mlp.wo.bias"), y: s2[l], ldy: H, threads: nt)
            let ln2W = P(p + "mlp.layernorm.weight"), ln2B = P(p + "mlp.layernorm.bias")
            let out = xs[l + 1]
            tick("fwd linear")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q], o = r.lowerBound * H
                for i in o..<(o + r.count * H) { s2[l][i] += a[l][i] }
                (out + o).update(from: s2[l] + o, count: r.count * H)
                LayerNorm.forward(out + o, ld: H, rows: r.count, cols: H, weight: ln2W, bias: ln2B, eps: eps,
                                  mean: sl + 2 * T + r.lowerBound, rstd: sl + 3 * T + r.lowerBound)
            }
        }

        tick("fwd other")
        // ---- MLM head on the target rows only ----
        let xm = try ws.floats(M * H, "MLM input"), z = try ws.floats(M * H, "MLM transform"), u = try ws.floats(M * H, "GELU")
        let vh = try ws.floats(M * H, "MLM hidden"), hm = try ws.floats(2 * M, "stats")
        let logits = try ws.floats(M * V, "MLM logits")
        let final = xs[NL]
        for (i, r) in tRows.enumerated() { (xm + i * H).update(from: final + r * H, count: H) }
        let tdW = P("cls.predictions.transform.dense.weight"), tlnW = P("cls.predictions.transform.LayerNorm.weight")
        Linear.forward(x: xm, ldx: H, rows: M, inFeatures: H, weight: tdW, outFeatures: H,
                       bias: P("cls.predictions.transform.dense.bias"), y: z, ldy: H, threads: nt)
        u.update(from: z, count: M * H)
        Activations.gelu(u, count: M * H)
        vh.update(from: u, count: M * H)
        LayerNorm.forward(vh, ld: H, rows: M, cols: H, weight: tlnW, bias: P("cls.predictions.transform.LayerNorm.bias"),
                          eps: eps, mean: hm, rstd: hm + M)
        Linear.forward(x: vh, ldx: H, rows: M, inFeatures: H, weight: word, outFeatures: V,
                       bias: P("cls.predictions.decoder.bias"), y: logits, ldy: V, threads: nt)
        // Cross-entropy (Float64 log-sum-exp); logits become dLoss/dlogits·scale.
        let mParts = Parallel.ranges(M, parts: min(nt, M))
        var lossParts = [Double](repeating: 0, count: mParts.count), correctParts = [Int](repeating: 0, count: mParts.count)
        let gScale = scale / Double(M)
        lossParts.withUnsafeMutableBufferPointer { lp in
            correctParts.withUnsafeMutableBufferPointer { cp in
                Parallel.forEach(mParts.count, threads: nt) { p in
                    for i in mParts[p] {
                        let row = logits + i * V
                        var mx = row[0], am = 0
                        for j in 1..<V where row[j] > mx { mx = row[j]; am = j }
                        var s = 0.0
                        for j in 0..<V { s += Glibc.exp(Double(row[j] - mx)) }
                        let lseRow = Double(mx) + Glibc.log(s)
                        let lab = Int(tLabels[i])
                        lp[p] += lseRow - Double(row[lab])
                        if am == lab { cp[p] += 1 }
                        for j in 0..<V { row[j] = Float(Glibc.exp(Double(row[j]) - lseRow) * gScale) }
                        row[lab] -= Float(gScale)
                    }
                }
            }
        }
        let loss = lossParts.reduce(0, +) / Double(M)
        let correct = correctParts.reduce(0, +)

        tick("mlm head+loss")
        // ---- backward ----
        let dWord = D("bert.embeddings.word_embeddings.weight")
        let dvh = try ws.floats(M * H, "MLM hidden gradient")
        LinearBackward.backward(dy: logits, ldy: V, rows: M, outFeatures: V, x: vh, ldx: H, inFeatures: H, weight: word,
                                dx: dvh, lddx: H, accumulateDX: false, dW: dWord, dB: D("cls.predictions.decoder.bias"), threads: nt)
        LayerNormBackward.backward(dy: dvh, x: u, ld: H, rows: M, cols: H, mean: hm, rstd: hm + M, weight: tlnW, dx: dvh,
                                   accumulate: false, dW: D("cls.predictions.transform.LayerNorm.weight"),
                                   dB: D("cls.predictions.transform.LayerNorm.bias"), threads: nt)
        ActivationsBackward.gelu(dvh, z: z, count: M * H)
        let dxm = try ws.floats(M * H, "MLM input gradient")
        LinearBackward.backward(dy: dvh, ldy: H, rows: M, outFeatures: H, x: xm, ldx: H, inFeatures: H, weight: tdW,
                                dx: dxm, lddx: H, accumulateDX: false, dW: D("cls.predictions.transform.dense.weight"),
                                dB: D("cls.predictions.transform.dense.bias"), threads: nt)
        let dx = try ws.floats(T * H, "hidden gradient")
        dx.initialize(repeating: 0, count: T * H)
        for (i, r) in tRows.enumerated() {
            let dst = dx + r * H, src = dxm + i * H
            for j in 0..<H { dst[j] += src[j] }
        }
        let da = try ws.floats(T * H, "attention block gradient")
        let dh = try ws.floats(T * 2 * I, "GEGLU input gradient")
        let dctx = try ws.floats(T * H, "attention output gradient")
        let dqkv = try ws.floats(T * 3 * H, "qkv gradient")
        for l in stride(from: NL - 1, through: 0, by: -1) {
            let p = "bert.encoder.layer.\(l)."
            let sl = st[l]
            let drop1 = mask(l, 1), drop2 = mask(l, 2)
            // x_{l+1} = LN2(s2), s2 = wo(g) + b + a  → da = ds2 (dx now holds ds2)
            tick("bwd head/other")
            LayerNormBackward.backward(dy: dx, x: s2[l], ld: H, rows: T, cols: H, mean: sl + 2 * T, rstd: sl + 3 * T,
                                       weight: P(p + "mlp.layernorm.weight"), dx: dx, accumulate: false,
                                       dW: D(p + "mlp.layernorm.weight"), dB: D(p + "mlp.layernorm.bias"), threads: nt)
            da.update(from: dx, count: T * H)
            tick("bwd layernorm")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                SIMDPath.geglu(hh[l] + r.lowerBound * 2 * I, 2 * I, r.count, I, gBuf + r.lowerBound * I, I)
                drop2.apply(gBuf + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
            }
            let woW = P(p + "mlp.wo.weight")
            // dWo += ds2ᵀ·g, then gBuf := dg = ds2·Wo
            tick("bwd other")
            LinearBackward.backward(dy: dx, ldy: H, rows: T, outFeatures: H, x: gBuf, ldx: I, inFeatures: I, weight: woW,
                                    dx: nil, lddx: I, accumulateDX: false, dW: D(p + "mlp.wo.weight"), dB: D(p + "mlp.wo.bias"), threads: nt)
            tick("bwd linear")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: r.count, n: I, k: H, alpha: 1, a: dx + r.lowerBound * H, lda: H,
                           b: woW, ldb: I, beta: 0, c: gBuf + r.lowerBound * I, ldc: I)
                drop2.apply(gBuf + r.lowerBound * I, ld: I, rows: r, cols: I, rowBase: r.lowerBound)
                ActivationsBackward.geglu(h: hh[l] + r.lowerBound * 2 * I, ld: 2 * I, rows: r.count, inner: I,
                                          dOut: gBuf + r.lowerBound * I, ldo: I, dh: dh + r.lowerBound * 2 * I, lddh: 2 * I)
            }
            tick("bwd geglu+dg")
            LinearBackward.backward(dy: dh, ldy: 2 * I, rows: T, outFeatures: 2 * I, x: a[l], ldx: H, inFeatures: H,
                                    weight: P(p + "mlp.gated_layers.weight"), dx: da, lddx: H, accumulateDX: true,
                                    dW: D(p + "mlp.gated_layers.weight"), dB: nil, threads: nt)
            // a = LN1(s1), s1 = drop(dense(ctx) + b) + x
            tick("bwd linear")
            LayerNormBackward.backward(dy: da, x: s1[l], ld: H, rows: T, cols: H, mean: sl, rstd: sl + T,
                                       weight: P(p + "attention.output.LayerNorm.weight"), dx: da, accumulate: false,
                                       dW: D(p + "attention.output.LayerNorm.weight"), dB: D(p + "attention.output.LayerNorm.bias"), threads: nt)
            dx.update(from: da, count: T * H)   // residual
            tick("bwd layernorm")
            Parallel.forEach(rowParts.count, threads: nt) { q in
                let r = rowParts[q]
                drop1.apply(da + r.lowerBound * H, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
            }
            tick("bwd other")
            LinearBackward.backward(dy: da, ldy: H, rows: T, outFeatures: H, x: ctx[l], ldx: H, inFeatures: H,
                                    weight: P(p + "attention.output.dense.weight"), dx: dctx, lddx: H, accumulateDX: false,
                                    dW: D(p + "attention.output.dense.weight"), dB: D(p + "attention.output.dense.bias"), threads: nt)
            tick("bwd linear")
            pb.positions.withUnsafeBufferPointer { pos in
                FlashAttention.backward(q: qkv[l], k: qkv[l] + H, v: qkv[l] + 2 * H, stride: 3 * H, out: ctx[l], dOut: dctx,
                                        outStride: H, lse: lse[l], dq: dqkv, dk: dqkv + H, dv: dqkv + 2 * H, dStride: 3 * H,
                                        spans: pb.spans, positions: pb.contiguous ? nil : pos.baseAddress, heads: heads,
                                        headDim: d, slopes: slopes, scale: attnScale, threads: nt)
            }
            tick("bwd attention")
            LinearBackward.backward(dy: dqkv, ldy: 3 * H, rows: T, outFeatures: 3 * H, x: xs[l], ldx: H, inFeatures: H,
                                    weight: P(p + "attention.self.Wqkv.weight"), dx: dx, lddx: H, accumulateDX: true,
                                    dW: D(p + "attention.self.Wqkv.weight"), dB: D(p + "attention.self.Wqkv.bias"), threads: nt)
        }
        // Embeddings: x0 = drop(LN(word[id] + type[0]))
        tick("bwd linear")
        Parallel.forEach(rowParts.count, threads: nt) { q in
            let r = rowParts[q]
            dropE.apply(dx + r.lowerBound * H, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
        }
        LayerNormBackward.backward(dy: dx, x: embSum, ld: H, rows: T, cols: H, mean: embMean, rstd: embRstd, weight: embW,
                                   dx: dx, accumulate: false, dW: D("bert.embeddings.LayerNorm.weight"),
                                   dB: D("bert.embeddings.LayerNorm.bias"), threads: nt)
        let dType = D("bert.embeddings.token_type_embeddings.weight")
        var tsum = [Double](repeating: 0, count: H)
        for t in 0..<T {
            let g = dx + t * H, dst = dWord + Int(pb.ids[t]) * H
            for j in 0..<H { dst[j] += g[j]; tsum[j] += Double(g[j]) }
        }
        for j in 0..<H { dType[j] += Float(tsum[j]) }
        tick("bwd embeddings/other")
        return (loss, correct, M)
    }
}
