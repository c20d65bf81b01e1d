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
            let p = try Self.allocate(n, what)   // before freeing: a throw leaves the old slot valid
            free(slots[next].0)
            slots[next] = (p, n)
            return p
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
    /// Incremented on each call: fresh dropout masks per micro-batch. Save and restore it with a checkpoint
    /// for a resumed run to draw the same masks as an uninterrupted one.
    public var calls: UInt64 = 0
    /// Activations and gradients of the last step, kept for the next one (`releaseScratch()` frees them).
    let scratch = ScratchSlots()
    lazy var encoderPass: EncoderPass = {
        let p = EncoderPass(config: model.config, scratch: scratch)
        p.tick = { [unowned self] in self.tick($0) }
        return p
    }()

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

        let H = cfg.hiddenSize, V = cfg.vocabSize, eps = cfg.layerNormEps
        let T = pb.tokens
        let nt = Parallel.threads(threads)
        let ws = scratch
        ws.reset()
        func P(_ name: String) -> UnsafeMutablePointer<Float> { m.ptr(name) }
        func D(_ name: String) -> UnsafeMutablePointer<Float> { G + m.layout.offset(name) }
        let params = PassParameters.full(m, gradients: G)
        let pass = encoderPass
        tick(nil)
        // ---- forward, saving activations ----
        let final = try pass.forward(pb, params, mask: mask, loraMask: { _, _ in DropoutMask(p: 0, key: 0) }, save: true, threads: nt)
        let word = P("bert.embeddings.word_embeddings.weight")
        // ---- MLM head on the target rows only ----
        let xm = try ws.floats(M * H, "MLM input"), z = try ws.floats(M * H, "MLM transform"), u = try ws.floats(M * H, "GELU")
        let vh = try ws.floats(M * H, "MLM hidden"), hm = try ws.floats(2 * M, "stats")
        let logits = try ws.floats(M * V, "MLM logits")
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
        try pass.backward(pb, params, dx: dx, mask: mask, loraMask: { _, _ in DropoutMask(p: 0, key: 0) }, threads: nt)
        tick("bwd embeddings/other")
        return (loss, correct, M)
    }
}
