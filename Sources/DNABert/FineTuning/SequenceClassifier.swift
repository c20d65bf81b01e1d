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

    /// Set by a data-parallel fine-tuner (full fine-tuning) for the backward whose gradient buckets it all-reduces
    /// while the backward runs: the head's bucket once the head's gradients are written, then each layer's and the
    /// embeddings' as `EncoderStack.backward` completes them (Distributed/GradientReducer). Only for a layout with
    /// a bucket per layer: a single-bucket reducer (LoRA) must not be set here, since the encoder's backward
    /// still writes adapter gradients after the head's.
    public var reducer: GradientReducer?

    var config: ModelConfig { base.model.config }
    let scratch = ScratchSlots()
    private lazy var encoder: EncoderStack = {
        let e = EncoderStack(config: base.model.config, scratch: scratch)
        e.layerBackwardDone = { [unowned self] l in try self.reducer?.ready(l < 0 ? .embeddings : .layer(l)) }
        return e
    }()
    /// The encoder as this classifier sees it (trainable copies first, then the base; LoRA adapters) and the
    /// head, resolved once.
    private var weights: EncoderWeights! = nil
    private var headWeights: ClassifierHeadWeights! = nil

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
        resolveWeights()
        initialize()
    }

    deinit { free(parameters.baseAddress) }

    /// LoRA A/B offsets of `target` in `layer` within `layout`, if adapted.
    private func adapterOffsets(_ l: Int, _ t: LoRATarget) -> (a: Int, b: Int)? {
        guard lora != nil else { return nil }
        let m = LoRAConfig.moduleName(layer: l, target: t)
        guard let a = layout[m + ".lora_A.weight"], let b = layout[m + ".lora_B.weight"] else { return nil }
        return (a.offset, b.offset)
    }

    private func resolveWeights() {
        let model = base.model, lay = layout, pb = parameters.baseAddress!
        let scale = Float(lora?.scaling ?? 1), r = lora?.r ?? 0
        let baseLayout = model.layout, mb = model.parameters.baseAddress!
        weights = EncoderWeights(config: config, tensor: { name in lay[name].map { pb + $0.offset } ?? model.ptr(name) },
                                 linear: { name in lay[name].map { pb + $0.offset } ?? baseLayout[name].map { mb + $0.offset } },
                                 adapter: { l, t in
                                     self.adapterOffsets(l, t).map { LoRAAdapter(a: pb + $0.a, b: pb + $0.b, rank: r, scale: scale) }
                                 })
        // QLoRA: linears of an int8 base that stay frozen run through their int8 forms (the base has no float32
        // copy of them; the input-gradient backward dequantizes each into a scratch buffer when it needs it).
        // Full fine-tuning trains float32 copies of every weight (in `layout`), so no int8 form is attached.
        for l in 0..<config.numLayers {
            for t in LoRATarget.allCases where lay[Int8Checkpoint.weightName(layer: l, t)] == nil {
                weights.layers[l].int8[t.index] = model.weights.layers[l].int8[t.index]
            }
        }
        headWeights = ClassifierHeadWeights { lay[$0].map { pb + $0.offset } }
    }

    /// Gradient destinations in `g` (laid out by `layout`); tensors outside the layout are frozen.
    private func grads(_ g: Buf) -> (EncoderGrads, ClassifierHeadGrads) {
        let lay = layout
        let enc = EncoderGrads(config: config, grad: { name in lay[name].map { g + $0.offset } },
                               adapter: { l, t in self.adapterOffsets(l, t).map { LoRAAdapterGrads(da: g + $0.a, db: g + $0.b) } })
        return (enc, ClassifierHeadGrads { lay[$0].map { g + $0.offset } })
    }

    /// Number of trainable parameters.
    public var trainableCount: Int { layout.total }

    func ptr(_ name: String) -> UnsafeMutablePointer<Float>? {
        guard let v = layout[name], let b = parameters.baseAddress else { return nil }
        return b + v.offset
    }

    /// The value of a tensor as the classifier sees it: trainable copy first, then the base. Nil for a frozen
    /// quantized weight of an int8 base, which has no float32 copy (`copyFloat32(named:into:count:)`).
    public func tensor(named name: String) -> UnsafeMutableBufferPointer<Float>? {
        if let v = layout[name], let b = parameters.baseAddress { return UnsafeMutableBufferPointer(start: b + v.offset, count: v.count) }
        return base.model.parameter(named: name)
    }

    /// Writes the float32 value of tensor `name` as the classifier sees it into `dst` (`count` elements): the
    /// trainable copy, else the base's (a quantized weight of an int8 base dequantized). False when there is no
    /// such tensor of `count` elements.
    func copyFloat32(named name: String, into dst: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        if let v = layout[name], let b = parameters.baseAddress {
            guard v.count == count else { return false }
            dst.update(from: b + v.offset, count: count)
            return true
        }
        return base.model.copyFloat32(named: name, into: dst, count: count)
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
            } else if base.model.copyFloat32(named: v.name, into: p, count: v.count) {
                // the base's tensor (full fine-tuning of an int8 base: its dequantized weights, as float32 copies)
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

    func mask(_ layer: Int, _ site: Int) -> DropoutMask {
        let p = layer == config.numLayers ? (head.dropout ?? dropout) : dropout
        return DropoutMask(p: p, key: DropoutKeys.hidden(seed: seed, call: calls, layer: layer, site: site))
    }

    func loraMask(_ layer: Int, _ target: LoRATarget) -> DropoutMask {
        DropoutMask(p: lora?.dropout ?? 0, key: DropoutKeys.lora(seed: seed, call: calls, layer: layer, target: target.index))
    }

    /// Logits [batch, numLabels] without dropout (inference), for right-padded ids.
    public func logits(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int, attentionMask: UnsafeBufferPointer<Int32>?,
                       threads: Int = 0) throws -> [Float] {
        let pb = try base.model.pack(ids: ids, batch: batch, length: length, attentionMask: attentionMask)
        let ws = ScratchSlots()
        defer { withExtendedLifetime(ws) {} }   // the activations live in ws
        let nt = Parallel.threads(threads)
        let x = try EncoderStack(config: config, scratch: ws).forward(pb, weights, mode: .inference, threads: nt)
        let store = try headForward(x, pb, drop: EncoderStack.noDropout, ws: ws, threads: nt)
        return Array(UnsafeBufferPointer(start: store.logits!, count: batch * head.numLabels))
    }

    /// Pooling, pooler, dropout and classifier on the final hidden states.
    private func headForward(_ x: UnsafePointer<Float>, _ pb: PackedBatch, drop: DropoutMask, ws: ScratchSlots,
                             threads nt: Int) throws -> ClassifierHeadLayer.Store {
        let H = config.hiddenSize, B = pb.batch, C = head.numLabels
        let store = ClassifierHeadLayer.Store(pooled: try ws.floats(B * H, "pooler input"),
                                              tanh: head.pooling == .cls ? try ws.floats(B * H, "pooler output") : nil,
                                              dropped: try ws.floats(B * H, "classifier input"), logits: try ws.floats(B * C, "logits"))
        try ClassifierHeadLayer.pool(x, pb, pooling: head.pooling, hidden: H, requireFirst: true, into: store.pooled)
        ClassifierHeadLayer.forward(store, batch: B, headWeights, hidden: H, classes: C, drop: drop, threads: nt)
        return store
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
        switch head.problemType {
        case .singleLabel:
            let ce = Loss.crossEntropy(rows: B, classes: C, row: { lg + $0 * C }, label: { Int(b.labels[$0]) },
                                       weights: head.classWeights, scale: scale, gradient: gradient)
            return ce.sum / (ce.weightSum > 0 ? ce.weightSum : 1)
        case .multiLabel:
            return b.labels.withUnsafeBufferPointer { Loss.binaryCrossEntropy(lg, targets: $0.baseAddress!, count: B * C, scale: scale, gradient: gradient) }
        case .regression:
            return b.labels.withUnsafeBufferPointer { Loss.meanSquaredError(lg, targets: $0.baseAddress!, count: B * C, scale: scale, gradient: gradient) }
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
        let (encGrads, headGrads) = grads(G)
        let x = try encoder.forward(pb, weights, mode: .training, mask: mask, loraMask: loraMask, threads: nt)
        let drop = mask(config.numLayers, 1)
        let store = try headForward(x, pb, drop: drop, ws: scratch, threads: nt)
        let lg = store.logits!
        let logits = Array(UnsafeBufferPointer(start: lg, count: B * C))
        let l = loss(lg, b, scale: scale, gradient: true)
        let dx = try scratch.floats(T * H, "hidden gradient")
        dx.initialize(repeating: 0, count: T * H)
        ClassifierHeadLayer.backward(store, pb, pooling: head.pooling, headWeights, headGrads, hidden: H, classes: C, drop: drop,
                                     dDropped: try scratch.floats(B * H, "classifier input gradient"),
                                     dPooled: try scratch.floats(B * H, "pooled gradient"), dx: dx, threads: 1)
        // The head's gradients (pooler, classifier) are complete: a data-parallel run starts their allreduce.
        try reducer?.ready(.head)
        try encoder.backward(pb, weights, encGrads, dx: dx, mask: mask, loraMask: loraMask, threads: nt)
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
