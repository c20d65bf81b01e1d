/// Shape and hyper-parameters of a DNABERT-2 encoder, as in a Hugging Face `config.json`.
/// Defaults are DNABERT-2-117M's.
public struct ModelConfig: Equatable, Sendable {
    public var vocabSize = 4096
    public var hiddenSize = 768
    public var numLayers = 12
    public var numHeads = 12
    public var intermediateSize = 3072
    public var typeVocabSize = 2
    public var layerNormEps = 1e-12
    public var hiddenDropout = 0.1
    public var attentionDropout = 0.0
    public var initializerRange = 0.02
    /// Kept for round-tripping config.json; ALiBi has no length limit.
    public var alibiStartingSize = 512
    public var maxPositionEmbeddings = 512
    /// Number of labels of a sequence-classification head (0 = no classifier).
    public var numLabels = 0

    public init() {}

    public var headDim: Int { hiddenSize / numHeads }

    /// Throws `.invalidArgument` naming the first field that cannot describe a model.
    public func validate() throws {
        func positive(_ v: Int, _ name: String) throws {
            guard v > 0 else { throw DNABertError.invalidArgument("config: \(name) must be positive, got \(v)") }
        }
        try positive(vocabSize, "vocab_size")
        try positive(hiddenSize, "hidden_size")
        try positive(numLayers, "num_hidden_layers")
        try positive(numHeads, "num_attention_heads")
        try positive(intermediateSize, "intermediate_size")
        try positive(typeVocabSize, "type_vocab_size")
        guard hiddenSize % numHeads == 0 else {
            throw DNABertError.invalidArgument("config: hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numHeads)")
        }
        guard numLabels >= 0 else { throw DNABertError.invalidArgument("config: num_labels must be >= 0") }
        guard layerNormEps > 0, layerNormEps.isFinite else { throw DNABertError.invalidArgument("config: layer_norm_eps must be positive") }
        // Guard against sizes whose parameter count overflows or cannot be allocated.
        let limit = 1 << 36
        guard vocabSize < limit, hiddenSize < (1 << 20), intermediateSize < (1 << 22), numLayers < 4096, numHeads <= hiddenSize else {
            throw DNABertError.invalidArgument("config: sizes are implausibly large")
        }
    }
}

/// Where one named tensor lives inside the flat parameter buffer.
public struct ParameterView: Equatable, Sendable {
    public let name: String
    public let offset: Int
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
}

/// The table of named views over one flat Float buffer (after llm.c): parameters, gradients and the
/// optimizer moments share this layout, so zeroing, clipping, AdamW or an all-reduce is one loop.
/// Names are the Hugging Face state-dict names of DNABERT-2 (see shared/spec/dnabert2-model.md).
/// The MLM decoder weight is tied to the word embeddings and has no view of its own.
///
/// An int8 model's layout leaves out the weights of its quantized linears (`quantized`: those targets' `.weight`
/// in every layer): the model holds them only as `Int8Matrix` (`LayerWeights.int8`), never as float32 copies.
/// Their biases and the LayerNorms stay float32 views.
public struct ParameterLayout: Sendable {
    public let config: ModelConfig
    public let hasMLMHead: Bool
    public let hasPooler: Bool
    public let hasClassifier: Bool
    /// Linears whose weights are not in the buffer (every layer's; empty for float32).
    public let quantized: Set<LoRATarget>
    public private(set) var views: [ParameterView] = []
    public private(set) var total = 0
    /// Elements of the quantized weights left out of `views` (0 for float32).
    public private(set) var quantizedCount = 0
    private var index: [String: Int] = [:]

    public init(config: ModelConfig, mlmHead: Bool = true, pooler: Bool = false, classifier: Bool = false,
                quantized: Set<LoRATarget> = []) {
        self.config = config
        self.hasMLMHead = mlmHead
        self.hasPooler = pooler || classifier
        self.hasClassifier = classifier
        self.quantized = quantized
        let h = config.hiddenSize, v = config.vocabSize, i = config.intermediateSize
        add("bert.embeddings.word_embeddings.weight", [v, h])
        add("bert.embeddings.token_type_embeddings.weight", [config.typeVocabSize, h])
        add("bert.embeddings.LayerNorm.weight", [h])
        add("bert.embeddings.LayerNorm.bias", [h])
        for l in 0..<config.numLayers {
            let p = "bert.encoder.layer.\(l)."
            addWeight(.wqkv, p + "attention.self.Wqkv.weight", [3 * h, h])
            add(p + "attention.self.Wqkv.bias", [3 * h])
            addWeight(.attentionOutput, p + "attention.output.dense.weight", [h, h])
            add(p + "attention.output.dense.bias", [h])
            add(p + "attention.output.LayerNorm.weight", [h])
            add(p + "attention.output.LayerNorm.bias", [h])
            addWeight(.gatedLayers, p + "mlp.gated_layers.weight", [2 * i, h])
            addWeight(.wo, p + "mlp.wo.weight", [h, i])
            add(p + "mlp.wo.bias", [h])
            add(p + "mlp.layernorm.weight", [h])
            add(p + "mlp.layernorm.bias", [h])
        }
        if hasPooler {
            add("bert.pooler.dense.weight", [h, h])
            add("bert.pooler.dense.bias", [h])
        }
        if classifier {
            add("classifier.weight", [config.numLabels, h])
            add("classifier.bias", [config.numLabels])
        }
        if mlmHead {
            add("cls.predictions.transform.dense.weight", [h, h])
            add("cls.predictions.transform.dense.bias", [h])
            add("cls.predictions.transform.LayerNorm.weight", [h])
            add("cls.predictions.transform.LayerNorm.bias", [h])
            add("cls.predictions.decoder.bias", [v])
        }
    }

    /// A layout over arbitrary named tensors, in the order given (e.g. LoRA adapters plus a classifier head).
    /// Throws on a duplicate name or a negative dimension.
    public init(config: ModelConfig, tensors: [(name: String, shape: [Int])]) throws {
        self.config = config
        hasMLMHead = false
        hasPooler = false
        hasClassifier = false
        quantized = []
        for t in tensors {
            guard index[t.name] == nil else { throw DNABertError.invalidArgument("parameter layout: duplicate tensor \(t.name)") }
            guard t.shape.allSatisfy({ $0 >= 0 }) else { throw DNABertError.invalidArgument("parameter layout: negative dimension in \(t.name)") }
            add(t.name, t.shape)
        }
    }

    /// A linear's weight: a view, or (quantized) only counted.
    private mutating func addWeight(_ t: LoRATarget, _ name: String, _ shape: [Int]) {
        if quantized.contains(t) { quantizedCount += shape.reduce(1, *) } else { add(name, shape) }
    }

    /// The model's parameter count as users know it: the float32 views plus the quantized weights (an int8
    /// model has as many parameters as its float32 original, most of them stored in int8).
    public var parameterCount: Int { total + quantizedCount }

    private mutating func add(_ name: String, _ shape: [Int]) {
        index[name] = views.count
        views.append(ParameterView(name: name, offset: total, shape: shape))
        total += shape.reduce(1, *)
    }

    public subscript(name: String) -> ParameterView? { index[name].map { views[$0] } }

    /// Offset of a view that must exist (layout-internal names only; never user input).
    public func offset(_ name: String) -> Int { views[index[name]!].offset }
}
