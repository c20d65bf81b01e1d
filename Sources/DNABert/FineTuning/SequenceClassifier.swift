#if canImport(Glibc)
import Glibc
#endif

/// The classification head: pooling → dropout → `classifier` linear, and its loss.
public struct ClassifierHead: Equatable, Sendable {
    public var numLabels: Int
    public var problemType: ProblemType
    /// `.cls`: tanh(pooler.dense(hidden state of [CLS])) as DNABERT-2; `.mean`: mean of the last hidden states
    /// over the real tokens ([CLS] and [SEP] included), no pooler.
    public var pooling: Pooling
    /// Dropout before the classifier (nil: the model config's hidden dropout, as Hugging Face).
    public var dropout: Double?
    /// Cross-entropy class weights (single-label only), PyTorch's weighted mean: Σ w_y·nll / Σ w_y.
    public var classWeights: [Double]?

    public init(numLabels: Int, problemType: ProblemType = .singleLabel, pooling: Pooling = .cls,
                dropout: Double? = nil, classWeights: [Double]? = nil) {
        self.numLabels = numLabels
        self.problemType = problemType
        self.pooling = pooling
        self.dropout = dropout
        self.classWeights = classWeights
    }

    public func validate() throws {
        guard numLabels > 0, numLabels <= 1 << 20 else {
            throw DNABertError.invalidArgument("classifier: num_labels must be in 1...\(1 << 20), got \(numLabels)")
        }
        if problemType == .singleLabel && numLabels < 2 {
            throw DNABertError.invalidArgument("classifier: single-label classification needs at least 2 labels, got \(numLabels)")
        }
        if let p = dropout, !(p >= 0 && p < 1) {
            throw DNABertError.invalidArgument("classifier: dropout must be in [0, 1), got \(p)")
        }
        if let w = classWeights {
            guard problemType == .singleLabel else {
                throw DNABertError.invalidArgument("classifier: class weights apply to single-label classification only")
            }
            guard w.count == numLabels else {
                throw DNABertError.invalidArgument("classifier: \(w.count) class weights for \(numLabels) labels")
            }
            guard w.allSatisfy({ $0.isFinite && $0 >= 0 }), w.contains(where: { $0 > 0 }) else {
                throw DNABertError.invalidArgument("classifier: class weights must be finite, non-negative and not all zero")
            }
        }
    }

    /// Trainable tensors of the head (Hugging Face names).
    func tensors(hidden h: Int) -> [(name: String, shape: [Int])] {
        var t: [(String, [Int])] = []
        if pooling == .cls { t += [("bert.pooler.dense.weight", [h, h]), ("bert.pooler.dense.bias", [h])] }
        t += [("classifier.weight", [numLabels, h]), ("classifier.bias", [numLabels])]
        return t
    }
}

/// A batch for the classifier: token ids [batch, length] (right-padded), the attention mask, and labels —
/// one class index per sequence (single-label), or `batch × numLabels` values (0/1 targets for multi-label,
/// real targets for regression).
public struct ClassificationBatch: Sendable {
    public var ids: [Int32]
    public var attentionMask: [Int32]
    public var batch: Int
    public var length: Int
    public var labels: [Float]

    public init(ids: [Int32], attentionMask: [Int32], batch: Int, length: Int, labels: [Float]) {
        self.ids = ids
        self.attentionMask = attentionMask
        self.batch = batch
        self.length = length
        self.labels = labels
    }
}

/// A DNABERT-2 encoder with a sequence-classification head, fine-tuned either with LoRA adapters (the
/// encoder frozen; only the adapters and the head train) or fully (every encoder tensor trains).
///
/// The trainable tensors live in one flat buffer (`parameters`, laid out by `layout`): LoRA A/B matrices and
/// the head in LoRA mode; all encoder tensors (no MLM head) and the head in full mode. The base model is never
/// written; any tensor not in `layout` is read from it. Gradients, AdamW moments and checkpoints use the same
/// layout, so an optimizer step is one loop over one buffer.
///
/// Not safe for concurrent training calls; inference (`logits`) may run concurrently with other inference.
public final class SequenceClassifier: @unchecked Sendable {
    public let base: PretrainedModel
    public let head: ClassifierHead
    /// nil: full fine-tuning.
    public let lora: LoRAConfig?
    public let layout: ParameterLayout
    public let parameters: UnsafeMutableBufferPointer<Float>
    /// Hidden dropout of the encoder during training (nil: the config's).
    public var dropout: Double
    public let seed: UInt64
    /// Training calls so far: fresh dropout masks each call (saved with a checkpoint).
    public var calls: UInt64 = 0
    /// Class names for predictions (index → name), when the training labels were names.
    public var labelNames: [String]?
    /// Token length the classifier was trained with (used by `predict` on raw sequences); 0 = none recorded.
    public var maxLength = 0
    /// Strand-symmetric: scores are the mean of the sequence's and its reverse complement's (probabilities,
    /// or outputs for regression), so both strands get the same answer. Set for tasks whose sequences come
    /// from either strand; training then draws each example's strand at random.
    public var reverseComplement = false

    var config: ModelConfig { base.model.config }
    let scratch = ScratchSlots()
    private lazy var pass = EncoderPass(config: base.model.config, scratch: scratch)
    private var slotCache: [[LoRASlotOffsets?]] = []

    struct LoRASlotOffsets { let a: Int, b: Int }

    /// A classifier on `base` with a freshly initialised head (the base's pooler when it has one, else
    /// normal(0, initializer_range) like the classifier) and LoRA adapters (A Kaiming-uniform as nn.Linear,
    /// B zero) — or, with `lora` nil, a trainable copy of every encoder tensor.
    public init(base: PretrainedModel, head: ClassifierHead, lora: LoRAConfig?, dropout: Double? = nil, seed: UInt64 = 0) throws {
        let c = base.model.config
        try head.validate()
        if let lora { try lora.validate(c) }
        let p = dropout ?? c.hiddenDropout
        guard p >= 0, p < 1 else { throw DNABertError.invalidArgument("fine-tuning: dropout must be in [0, 1), got \(p)") }
        self.base = base
        self.head = head
        self.lora = lora
        self.dropout = p
        self.seed = seed
        var tensors: [(name: String, shape: [Int])] = []
        if let lora {
            tensors = lora.tensors(c)
        } else {
            let encoderOnly = ParameterLayout(config: c, mlmHead: false, pooler: false, classifier: false)
            tensors = encoderOnly.views.map { ($0.name, $0.shape) }
        }
        tensors += head.tensors(hidden: c.hiddenSize)
        layout = try ParameterLayout(config: c, tensors: tensors)
        let n = max(layout.total, 1)
        var raw: UnsafeMutableRawPointer? = nil
        let (bytes, o) = n.multipliedReportingOverflow(by: 4)
        guard !o, posix_memalign(&raw, 64, bytes) == 0, let ptr = raw else {
            throw DNABertError(.outOfMemory, "fine-tuning: cannot allocate \(n) trainable parameters")
        }
        memset(ptr, 0, bytes)
        parameters = UnsafeMutableBufferPointer(start: ptr.bindMemory(to: Float.self, capacity: n), count: layout.total)
        buildSlotCache()
        initialize()
    }

    deinit { free(parameters.baseAddress) }

    private func buildSlotCache() {
        slotCache = Array(repeating: Array(repeating: nil, count: 4), count: config.numLayers)
        guard let lora else { return }
        for l in 0..<config.numLayers {
            for t in lora.targets {
                let m = LoRAConfig.moduleName(layer: l, target: t)
                if let a = layout[m + ".lora_A.weight"], let b = layout[m + ".lora_B.weight"] {
                    slotCache[l][t.index] = LoRASlotOffsets(a: a.offset, b: b.offset)
                }
            }
        }
    }

    /// Number of trainable parameters.
    public var trainableCount: Int { layout.total }

    func ptr(_ name: String) -> UnsafeMutablePointer<Float>? {
        guard let v = layout[name], let b = parameters.baseAddress else { return nil }
        return b + v.offset
    }

    /// The value of a tensor as the classifier sees it: trainable copy first, then the base.
    public func tensor(named name: String) -> UnsafeMutableBufferPointer<Float>? {
        if let v = layout[name], let b = parameters.baseAddress { return UnsafeMutableBufferPointer(start: b + v.offset, count: v.count) }
        return base.model.parameter(named: name)
    }

    private func initialize() {
        let c = config
        var rng = Xoshiro256(seed: seed ^ 0x10_2A)
        guard let b = parameters.baseAddress else { return }
        let std = Float(c.initializerRange)
        for v in layout.views {
            let p = b + v.offset
            if v.name.hasSuffix(".lora_A.weight") {
                // nn.Linear's default (kaiming_uniform with a = √5): U(−1/√fan_in, 1/√fan_in).
                let bound = 1 / Double(v.shape[1]).squareRoot()
                for i in 0..<v.count { p[i] = Float((2 * rng.nextUniform() - 1) * bound) }
            } else if v.name.hasSuffix(".lora_B.weight") {
                p.update(repeating: 0, count: v.count)
            } else if let src = base.model.parameter(named: v.name), src.count == v.count, let s = src.baseAddress {
                p.update(from: s, count: v.count)
            } else if v.shape.count >= 2 {
                var i = 0
                while i < v.count {
                    let (x, y) = rng.nextNormalPair()
                    p[i] = Float(x) * std
                    if i + 1 < v.count { p[i + 1] = Float(y) * std }
                    i += 2
                }
            } else if v.name.contains("LayerNorm.weight") || v.name.contains("layernorm.weight") {
                p.update(repeating: 1, count: v.count)
            } else {
                p.update(repeating: 0, count: v.count)
            }
        }
    }

    func passParameters(gradients g: UnsafeMutablePointer<Float>?) -> PassParameters {
        let model = base.model, lay = layout, pb = parameters.baseAddress!
        let scale = Float(lora?.scaling ?? 1), r = lora?.r ?? 0
        let cache = slotCache
        return PassParameters(
            weight: { name in
                if let v = lay[name] { return pb + v.offset }
                return model.ptr(name)
            },
            grad: { name in
                guard let g, let v = lay[name] else { return nil }
                return g + v.offset
            },
            lora: { l, t in
                guard l < cache.count, let o = cache[l][t.index] else { return nil }
                return LoRASlot(a: pb + o.a, b: pb + o.b, da: g.map { $0 + o.a }, db: g.map { $0 + o.b }, rank: r, scale: scale)
            })
    }

    func mask(_ layer: Int, _ site: Int) -> DropoutMask {
        let p = layer == config.numLayers ? (head.dropout ?? dropout) : dropout
        var rng = Xoshiro256(seed: seed ^ (calls &* 0xD6E8_FEB8_6659_FD93) ^ UInt64(truncatingIfNeeded: layer &* 4 &+ site &+ 8) &* 0x2545_F491_4F6C_DD1D)
        return DropoutMask(p: p, key: rng.next())
    }

    func loraMask(_ layer: Int, _ target: LoRATarget) -> DropoutMask {
        var rng = Xoshiro256(seed: seed ^ 0x5EED_10AA ^ (calls &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: layer &* 8 &+ target.index &+ 1) &* 0xBF58_476D_1CE4_E5B9)
        return DropoutMask(p: lora?.dropout ?? 0, key: rng.next())
    }

    static let noDropout = DropoutMask(p: 0, key: 0)

    /// Pooled [B, H] input of the classifier, before dropout (the CLS row or the mean over real tokens).
    private func poolInput(_ x: UnsafePointer<Float>, _ pb: PackedBatch, into pin: UnsafeMutablePointer<Float>) throws {
        let H = config.hiddenSize
        for b in 0..<pb.batch {
            let dst = pin + b * H
            switch head.pooling {
            case .cls:
                let r = pb.rows[b * pb.length]
                guard r >= 0 else {
                    throw DNABertError.invalidArgument("classifier: sequence \(b) has a padded first position; [CLS] pooling needs right padding")
                }
                dst.update(from: x + r * H, count: H)
            case .mean:
                var acc = [Double](repeating: 0, count: H)
                var n = 0
                for i in 0..<pb.length {
                    let r = pb.rows[b * pb.length + i]
                    if r < 0 { continue }
                    n += 1
                    let src = x + r * H
                    for j in 0..<H { acc[j] += Double(src[j]) }
                }
                guard n > 0 else { throw DNABertError.invalidArgument("classifier: sequence \(b) has no real token") }
                for j in 0..<H { dst[j] = Float(acc[j] / Double(n)) }
            }
        }
    }

    /// Logits [batch, numLabels] without dropout (inference), for right-padded ids.
    public func logits(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int, attentionMask: UnsafeBufferPointer<Int32>?,
                       threads: Int = 0) throws -> [Float] {
        let pb = try base.model.pack(ids: ids, batch: batch, length: length, attentionMask: attentionMask)
        let ws = ScratchSlots()
        let encoder = EncoderPass(config: config, scratch: ws)
        let nt = Parallel.threads(threads)
        let P = passParameters(gradients: nil)
        let x = try encoder.forward(pb, P, mask: { _, _ in Self.noDropout }, loraMask: { _, _ in Self.noDropout }, save: false, threads: nt)
        let (_, _, _, lg) = try headForward(x, pb, P, drop: Self.noDropout, ws: ws, threads: nt)
        return Array(UnsafeBufferPointer(start: lg, count: batch * head.numLabels))
    }

    /// Head forward: returns (pooled input, tanh output (cls) or nil, dropped classifier input, logits).
    private func headForward(_ x: UnsafePointer<Float>, _ pb: PackedBatch, _ P: PassParameters, drop: DropoutMask,
                             ws: ScratchSlots, threads nt: Int) throws
        -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let H = config.hiddenSize, B = pb.batch, C = head.numLabels
        let pin = try ws.floats(B * H, "pooler input")
        try poolInput(x, pb, into: pin)
        var th: UnsafeMutablePointer<Float>? = nil
        let pd = try ws.floats(B * H, "classifier input")
        if head.pooling == .cls {
            let t = try ws.floats(B * H, "pooler output")
            Linear.forward(x: pin, ldx: H, rows: B, inFeatures: H, weight: P.weight("bert.pooler.dense.weight"), outFeatures: H,
                           bias: P.weight("bert.pooler.dense.bias"), y: t, ldy: H, threads: nt)
            for i in 0..<(B * H) { t[i] = tanhf(t[i]) }
            th = t
            pd.update(from: t, count: B * H)
        } else {
            pd.update(from: pin, count: B * H)
        }
        drop.apply(pd, ld: H, rows: 0..<B, cols: H)
        let lg = try ws.floats(B * C, "logits")
        Linear.forward(x: pd, ldx: H, rows: B, inFeatures: H, weight: P.weight("classifier.weight"), outFeatures: C,
                       bias: P.weight("classifier.bias"), y: lg, ldy: C, threads: nt)
        return (pin, th, pd, lg)
    }

    /// Checks labels against the head; single-label labels must be class indices.
    func validateLabels(_ b: ClassificationBatch) throws {
        let C = head.numLabels
        switch head.problemType {
        case .singleLabel:
            guard b.labels.count == b.batch else {
                throw DNABertError.invalidArgument("classifier: \(b.labels.count) labels for \(b.batch) sequences (single-label: one class index each)")
            }
            for (i, y) in b.labels.enumerated() {
                guard y.isFinite, y >= 0, y < Float(C), y == y.rounded() else {
                    throw DNABertError.invalidArgument("classifier: label \(y) of sequence \(i) is not a class index in 0..<\(C)")
                }
            }
        case .multiLabel:
            guard b.labels.count == b.batch * C else {
                throw DNABertError.invalidArgument("classifier: \(b.labels.count) labels for \(b.batch) sequences × \(C) labels (multi-label: 0/1 per label)")
            }
            for (i, y) in b.labels.enumerated() where !(y >= 0 && y <= 1) {
                throw DNABertError.invalidArgument("classifier: multi-label target \(y) at sequence \(i / C), label \(i % C) is not in [0, 1]")
            }
        case .regression:
            guard b.labels.count == b.batch * C else {
                throw DNABertError.invalidArgument("classifier: \(b.labels.count) targets for \(b.batch) sequences × \(C) outputs (regression)")
            }
            for (i, y) in b.labels.enumerated() where !y.isFinite {
                throw DNABertError.invalidArgument("classifier: regression target \(y) of sequence \(i / C) is not finite")
            }
        }
    }

    /// Loss of logits [B, C] against labels; overwrites `lg` with ∂(loss·scale)/∂logits when `gradient`.
    func loss(_ lg: UnsafeMutablePointer<Float>, _ b: ClassificationBatch, scale: Double, gradient: Bool) -> Double {
        let B = b.batch, C = head.numLabels
        var total = 0.0
        switch head.problemType {
        case .singleLabel:
            var wsum = 0.0
            for i in 0..<B { wsum += head.classWeights?[Int(b.labels[i])] ?? 1 }
            if wsum <= 0 { wsum = 1 }
            for i in 0..<B {
                let row = lg + i * C, y = Int(b.labels[i])
                let w = head.classWeights?[y] ?? 1
                var mx = row[0]
                for j in 1..<C where row[j] > mx { mx = row[j] }
                var s = 0.0
                for j in 0..<C { s += Glibc.exp(Double(row[j] - mx)) }
                let lse = Double(mx) + Glibc.log(s)
                total += w * (lse - Double(row[y]))
                if gradient {
                    let f = w * scale / wsum
                    for j in 0..<C { row[j] = Float(Glibc.exp(Double(row[j]) - lse) * f) }
                    row[y] -= Float(f)
                }
            }
            return total / wsum
        case .multiLabel:
            let n = Double(B * C)
            for i in 0..<(B * C) {
                let z = Double(lg[i]), y = Double(b.labels[i])
                total += max(z, 0) - z * y + Glibc.log1p(Glibc.exp(-abs(z)))
                if gradient { lg[i] = Float((1 / (1 + Glibc.exp(-z)) - y) * scale / n) }
            }
            return total / n
        case .regression:
            let n = Double(B * C)
            for i in 0..<(B * C) {
                let e = Double(lg[i]) - Double(b.labels[i])
                total += e * e
                if gradient { lg[i] = Float(2 * e * scale / n) }
            }
            return total / n
        }
    }

    /// Adds ∂loss/∂θ·scale for the trainable tensors into `grad` (laid out by `layout`) and returns the mean
    /// loss and the logits [batch, numLabels] (before the gradient overwrote them).
    public func lossAndGradient(_ b: ClassificationBatch, into grad: UnsafeMutableBufferPointer<Float>, threads: Int = 0,
                                scale: Double = 1) throws -> (loss: Double, logits: [Float]) {
        guard grad.count == layout.total, let G = grad.baseAddress else {
            throw DNABertError.invalidArgument("fine-tuning: gradient buffer has \(grad.count) floats, expected \(layout.total)")
        }
        try validateLabels(b)
        let pb = try b.ids.withUnsafeBufferPointer { ids in
            try b.attentionMask.withUnsafeBufferPointer { am in
                try base.model.pack(ids: ids, batch: b.batch, length: b.length, attentionMask: b.attentionMask.isEmpty ? nil : am)
            }
        }
        calls &+= 1
        let nt = Parallel.threads(threads)
        let H = config.hiddenSize, B = b.batch, C = head.numLabels, T = pb.tokens
        scratch.reset()
        let P = passParameters(gradients: G)
        let x = try pass.forward(pb, P, mask: mask, loraMask: loraMask, save: true, threads: nt)
        let drop = mask(config.numLayers, 1)
        let (pin, th, pd, lg) = try headForward(x, pb, P, drop: drop, ws: scratch, threads: nt)
        let logits = Array(UnsafeBufferPointer(start: lg, count: B * C))
        let l = loss(lg, b, scale: scale, gradient: true)
        // Head backward.
        let dpd = try scratch.floats(B * H, "classifier input gradient")
        LinearBackward.backward(dy: lg, ldy: C, rows: B, outFeatures: C, x: pd, ldx: H, inFeatures: H,
                                weight: P.weight("classifier.weight"), dx: dpd, lddx: H, accumulateDX: false,
                                dW: P.grad("classifier.weight"), dB: P.grad("classifier.bias"), threads: 1)
        drop.apply(dpd, ld: H, rows: 0..<B, cols: H)
        let dpin = try scratch.floats(B * H, "pooled gradient")
        if let th {
            for i in 0..<(B * H) { dpd[i] *= 1 - th[i] * th[i] }
            LinearBackward.backward(dy: dpd, ldy: H, rows: B, outFeatures: H, x: pin, ldx: H, inFeatures: H,
                                    weight: P.weight("bert.pooler.dense.weight"), dx: dpin, lddx: H, accumulateDX: false,
                                    dW: P.grad("bert.pooler.dense.weight"), dB: P.grad("bert.pooler.dense.bias"), threads: 1)
        } else {
            dpin.update(from: dpd, count: B * H)
        }
        let dx = try scratch.floats(T * H, "hidden gradient")
        dx.initialize(repeating: 0, count: T * H)
        for s in 0..<B {
            let g = dpin + s * H
            switch head.pooling {
            case .cls:
                let r = pb.rows[s * pb.length]
                let d = dx + r * H
                for j in 0..<H { d[j] += g[j] }
            case .mean:
                var rows: [Int] = []
                for i in 0..<pb.length where pb.rows[s * pb.length + i] >= 0 { rows.append(pb.rows[s * pb.length + i]) }
                let f = 1 / Float(rows.count)
                for r in rows {
                    let d = dx + r * H
                    for j in 0..<H { d[j] += g[j] * f }
                }
            }
        }
        try pass.backward(pb, P, dx: dx, mask: mask, loraMask: loraMask, threads: nt)
        return (l, logits)
    }

    /// Mean loss and logits of a batch without dropout and without gradients.
    public func evaluate(_ b: ClassificationBatch, threads: Int = 0) throws -> (loss: Double, logits: [Float]) {
        try validateLabels(b)
        var lg = try b.ids.withUnsafeBufferPointer { ids in
            try b.attentionMask.withUnsafeBufferPointer { am in
                try logits(ids: ids, batch: b.batch, length: b.length, attentionMask: b.attentionMask.isEmpty ? nil : am, threads: threads)
            }
        }
        let copy = lg
        let l = lg.withUnsafeMutableBufferPointer { loss($0.baseAddress!, b, scale: 1, gradient: false) }
        return (l, copy)
    }

    /// Frees the activation memory kept between training steps.
    public func releaseScratch() { scratch.release() }
}
