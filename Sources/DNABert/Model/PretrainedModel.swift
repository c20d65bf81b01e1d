/// A model folder as users have them: `config.json` + weights (`model.safetensors` or the published
/// `pytorch_model.bin`) + `tokenizer.json`. The tokenizer is optional (raw-id inference needs none).
public final class PretrainedModel: @unchecked Sendable {
    public let model: Model
    public let tokenizer: Tokenizer?

    public init(model: Model, tokenizer: Tokenizer?) {
        self.model = model
        self.tokenizer = tokenizer
    }

    /// Loads a model folder, choosing the layout (MLM head, pooler, classifier) from the tensors present.
    public static func load(directory: String) throws -> PretrainedModel {
        var config = try ModelConfig.load(path: directory + "/config.json")
        // Lazy tensors: values are copied straight from the mapped file into the flat buffer.
        let allTensors = try Checkpoint.openWeights(directory: directory)
        // An int8 checkpoint (see Int8Checkpoint): the scale tensors are read apart from the layout's tensors.
        let int8 = Int8Checkpoint.isInt8(allTensors)
        let tensors = int8 ? allTensors.filter { !$0.name.hasSuffix(Int8Checkpoint.scaleSuffix) } : allTensors
        var parts = Checkpoint.detectParts(names: tensors.map(\.name))
        if parts.classifierLabels < 0 {
            guard let c = tensors.first(where: { Checkpoint.canonicalName($0.name) == "classifier.weight" }),
                  c.shape.count == 2, c.shape[0] > 0 else {
                throw DNABertError.format("'\(directory)': classifier.weight is not a 2-D tensor")
            }
            parts.classifierLabels = c.shape[0]
        }
        if parts.classifierLabels > 0 { config.numLabels = parts.classifierLabels }
        // Names and shapes against the config before any model memory is allocated (see Checkpoint.validate).
        try config.validate()
        try Checkpoint.validate(tensors: tensors, layout: ParameterLayout(config: config, mlmHead: parts.mlmHead, pooler: parts.pooler,
                                                                         classifier: parts.classifierLabels > 0))
        let model = try Model(config: config, mlmHead: parts.mlmHead, pooler: parts.pooler,
                              classifier: parts.classifierLabels > 0)
        if int8 {
            try Int8Checkpoint.load(tensors: allTensors, into: model, directory: directory)
        } else {
            try Checkpoint.load(tensors: tensors, layout: model.layout, into: model.parameters)
        }
        let tokPath = directory + "/tokenizer.json"
        let tokenizer = FileIO.exists(tokPath) ? try Tokenizer(contentsOfFile: tokPath) : nil
        if let tokenizer, tokenizer.vocabSize > config.vocabSize {
            throw DNABertError.format("'\(directory)': tokenizer.json has \(tokenizer.vocabSize) tokens but the model only \(config.vocabSize)")
        }
        return PretrainedModel(model: model, tokenizer: tokenizer)
    }

    /// A model with random weights (normal(0, initializer_range)), e.g. to pretrain from scratch or to benchmark.
    public static func random(config: ModelConfig, tokenizer: Tokenizer?, seed: UInt64) throws -> PretrainedModel {
        let model = try Model(config: config, mlmHead: true)
        model.initializeRandom(seed: seed)
        if let tokenizer, tokenizer.vocabSize > config.vocabSize {
            throw DNABertError.invalidArgument("the tokenizer has \(tokenizer.vocabSize) tokens but the config's vocab_size is \(config.vocabSize)")
        }
        return PretrainedModel(model: model, tokenizer: tokenizer)
    }

    /// Writes config.json + model.safetensors (+ tokenizer.json) into `directory`.
    /// The folder is replaced as a whole (`AtomicFolder`): a failed or interrupted save leaves the old one.
    public func save(directory: String) throws {
        let folder = try AtomicFolder(directory)
        try writeFiles(into: folder.staging)
        try folder.commit()
    }

    /// Writes the model's files into an existing (staging) folder.
    func writeFiles(into directory: String) throws {
        if model.precision == .int8 {
            try Int8Checkpoint.writeFiles(into: directory, model: model)
            if let tokenizer { try tokenizer.save(to: directory + "/tokenizer.json") }
            return
        }
        try Checkpoint.writeFiles(into: directory, config: model.config, layout: model.layout,
                                  parameters: UnsafeBufferPointer(model.parameters))
        if let tokenizer { try tokenizer.save(to: directory + "/tokenizer.json") }
    }
}
