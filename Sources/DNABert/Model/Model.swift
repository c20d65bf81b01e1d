#if canImport(Glibc)
import Glibc
#endif

/// A DNABERT-2 encoder: config, parameter layout, and one flat Float32 parameter buffer.
///
/// Inference is thread-safe: `forward` and friends only read the parameters and allocate their scratch per
/// call, so several threads may run them on one Model at once (writing parameters meanwhile is not safe).
public final class Model: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    /// All parameters, laid out by `layout` (64-byte aligned).
    public let parameters: UnsafeMutableBufferPointer<Float>
    /// The encoder's and heads' tensors in `parameters`, resolved once.
    /// (A `var` only so that `quantized(to:)` can attach the int8 forms of the linears to a fresh copy.)
    var weights: EncoderWeights
    /// Arithmetic of the encoder's four linears per layer (`quantized(to:)`, or an int8 checkpoint).
    public internal(set) var precision: Precision = .fp32
    let mlmHeadWeights: MLMHeadWeights?
    let classifierHeadWeights: ClassifierHeadWeights

    /// A model with all parameters zero. Throws `.invalidArgument` for an invalid config and
    /// `.outOfMemory` when the buffer cannot be allocated.
    public init(config: ModelConfig, mlmHead: Bool = true, pooler: Bool = false, classifier: Bool = false) throws {
        try config.validate()
        if classifier && config.numLabels <= 0 {
            throw DNABertError.invalidArgument("config: a classifier head needs num_labels > 0")
        }
        self.config = config
        self.layout = ParameterLayout(config: config, mlmHead: mlmHead, pooler: pooler, classifier: classifier)
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
        weights = EncoderWeights(config: config, tensor: tensor)
        mlmHeadWeights = mlmHead ? MLMHeadWeights(tensor) : nil
        classifierHeadWeights = ClassifierHeadWeights { lay[$0].map { base + $0.offset } }
    }

    deinit { free(parameters.baseAddress) }

    /// The view of a named parameter (Hugging Face state-dict name), nil if the model has no such tensor.
    /// `cls.predictions.decoder.weight` is tied and resolves to the word embeddings.
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
