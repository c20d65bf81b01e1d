#if canImport(Glibc)
import Glibc
#endif

/// A DNABERT-2 encoder: config, parameter layout, and one flat Float32 parameter buffer (plus, for an int8
/// model, the `Int8Matrix` forms of its quantized linears, which have no float32 copy in the buffer).
///
/// Inference is thread-safe: `forward` and friends only read the parameters and allocate their scratch per
/// call, so several threads may run them on one Model at once (writing parameters meanwhile is not safe).
public final class Model: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    /// All float32 parameters, laid out by `layout` (64-byte aligned). An int8 model's quantized weights are not
    /// among them (see `ParameterLayout.quantized`; `copyFloat32(named:into:)` dequantizes one).
    public let parameters: UnsafeMutableBufferPointer<Float>
    /// The encoder's and heads' tensors in `parameters`, resolved once.
    /// (A `var` only so that `quantized(to:)` can attach the int8 forms of the linears to a fresh copy.)
    var weights: EncoderWeights
    /// Arithmetic of the encoder's four linears per layer (`quantized(to:)`, or an int8 checkpoint).
    public internal(set) var precision: Precision = .fp32
    let mlmHeadWeights: MLMHeadWeights?
    let classifierHeadWeights: ClassifierHeadWeights

    /// A model with all parameters zero. Throws `.invalidArgument` for an invalid config and
    /// `.outOfMemory` when the buffer cannot be allocated. `quantized` (internal: an int8 load or `quantized(to:)`)
    /// leaves those linears' weights out of the buffer; the caller attaches their `Int8Matrix` forms to
    /// `weights` before the model is used.
    init(config: ModelConfig, mlmHead: Bool = true, pooler: Bool = false, classifier: Bool = false,
         quantized: Set<LoRATarget>) throws {
        try config.validate()
        if classifier && config.numLabels <= 0 {
            throw DNABertError.invalidArgument("config: a classifier head needs num_labels > 0")
        }
        self.config = config
        self.layout = ParameterLayout(config: config, mlmHead: mlmHead, pooler: pooler, classifier: classifier, quantized: quantized)
        let n = max(layout.total, 1)
        var raw: UnsafeMutableRawPointer? = nil
        let (bytes, overflow) = n.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, posix_memalign(&raw, 64, bytes) == 0, let p = raw else {
            throw DNABertError(.outOfMemory, "cannot allocate \(n) parameters (\(n * 4 / 1_000_000) MB)")
        }
        memset(p, 0, bytes)
        let base = p.bindMemory(to: Float.self, capacity: n), lay = layout
        parameters = UnsafeMutableBufferPointer(start: base, count: layout.total)
        let tensor: (String) -> Buf = { base + lay.offset($0) }
        weights = EncoderWeights(config: config, tensor: tensor, linear: { lay[$0].map { base + $0.offset } })
        mlmHeadWeights = mlmHead ? MLMHeadWeights(tensor) : nil
        classifierHeadWeights = ClassifierHeadWeights { lay[$0].map { base + $0.offset } }
    }

    /// A float32 model with all parameters zero (see `init(config:mlmHead:pooler:classifier:quantized:)`).
    public convenience init(config: ModelConfig, mlmHead: Bool = true, pooler: Bool = false, classifier: Bool = false) throws {
        try self.init(config: config, mlmHead: mlmHead, pooler: pooler, classifier: classifier, quantized: [])
    }

    deinit { free(parameters.baseAddress) }

    /// The parameter count as users know it: an int8 model counts its quantized weights (`ParameterLayout.parameterCount`).
    public var parameterCount: Int { layout.parameterCount }

    /// Bytes of the weights held: the float32 buffer and, for an int8 model, the packed int8 matrices (with their
    /// scales, per-channel sums and smoothing factors). Activations and scratch are not included.
    public var weightBytes: (float32: Int, int8: Int) {
        (4 * layout.total, weights.layers.reduce(0) { $0 + $1.int8.reduce(0) { $0 + ($1?.byteCount ?? 0) } })
    }

    /// Writes the float32 value of tensor `name` into `dst` (`count` elements): its copy in the buffer, or for a
    /// quantized linear's weight (an int8 model) its dequantized form q · scale / s — what the int8 weight stands
    /// for, and what full fine-tuning and merging start from. False when the model has no such tensor of `count`
    /// elements.
    func copyFloat32(named name: String, into dst: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        if let src = parameter(named: name) {
            guard src.count == count, let s = src.baseAddress else { return false }
            dst.update(from: s, count: count)
            return true
        }
        for l in 0..<config.numLayers {
            for t in layout.quantized where Int8Checkpoint.weightName(layer: l, t) == name {
                guard let q = weights.layers[l].int8[t.index], q.outFeatures * q.inFeatures == count else { return false }
                q.dequantize(into: dst, threads: 0)
                return true
            }
        }
        return false
    }

    /// A checksum of every weight, float32 and int8: data-parallel runs compare it across ranks to make sure all
    /// of them start from the same model.
    public var checksum: UInt64 {
        var h = Communicator.checksum(UnsafeBufferPointer(parameters))
        // The same sums over 32-bit words (all 4-byte aligned: npad · kpad is a multiple of 64, the rest are floats).
        func mix(_ p: UnsafeRawPointer?, _ bytes: Int) {
            guard let p else { return }
            var a: UInt64 = 0x9E37_79B9, b: UInt64 = 0
            for i in stride(from: 0, to: bytes & ~3, by: 4) { a = a &+ UInt64(p.load(fromByteOffset: i, as: UInt32.self)); b = b &+ a }
            h = (h &* 0x100_0000_01B3) ^ (a ^ (b &* 0x100_0000_01B3))
        }
        for w in weights.layers {
            for case let q? in w.int8 {
                mix(q.packed, q.npad * q.kpad)
                mix(q.scales, 4 * q.npad)
                mix(q.smooth, 4 * q.inFeatures)
            }
        }
        return h
    }

    /// The view of a named parameter (Hugging Face state-dict name), nil if the model has no such tensor.
    /// `cls.predictions.decoder.weight` is tied and resolves to the word embeddings. Nil too for a quantized
    /// linear's weight in an int8 model (no float32 copy exists: `copyFloat32(named:into:count:)`).
    public func parameter(named name: String) -> UnsafeMutableBufferPointer<Float>? {
        let key = name == "cls.predictions.decoder.weight" && layout.hasMLMHead ? "bert.embeddings.word_embeddings.weight" : name
        guard let v = layout[key], let base = parameters.baseAddress else { return nil }
        return UnsafeMutableBufferPointer(start: base + v.offset, count: v.count)
    }

    /// Deterministic random initialisation as in BERT: weights (every 2-D tensor, embeddings included)
    /// ~ N(0, initializerRange), biases 0, LayerNorm weights 1. xoshiro256** seeded by splitmix64,
    /// normals by Box–Muller, so a seed gives the same model on every machine.
    public func initializeRandom(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        let std = Float(config.initializerRange)
        guard let base = parameters.baseAddress else { return }
        for v in layout.views {
            let p = base + v.offset
            if v.name.hasSuffix("LayerNorm.weight") || v.name.hasSuffix("layernorm.weight") {
                p.update(repeating: 1, count: v.count)
            } else if v.shape.count >= 2 {
                var i = 0
                while i < v.count {
                    let (a, b) = rng.nextNormalPair()
                    p[i] = Float(a) * std
                    if i + 1 < v.count { p[i + 1] = Float(b) * std }
                    i += 2
                }
            } else {
                p.update(repeating: 0, count: v.count)
            }
        }
    }

    @inline(__always)
    func ptr(_ name: String) -> UnsafeMutablePointer<Float> { parameters.baseAddress! + layout.offset(name) }
}
