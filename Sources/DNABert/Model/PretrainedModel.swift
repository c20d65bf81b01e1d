#if canImport(Glibc)
import Glibc
#endif

/// A model folder as users have them: `config.json` + weights (`model.safetensors` or the published
/// `pytorch_model.bin`) + `tokenizer.json`. The tokenizer is optional (raw-id inference needs none).
public final class PretrainedModel: @unchecked Sendable {
    public let model: Model
    public let tokenizer: Tokenizer?
    /// For a classification model (a merged or fully fine-tuned classifier): its `dnabert_classifier.json`
    /// (pooling, strand symmetry, label names, problem type, max length), which config.json has no field for.
    /// Saved and loaded with the folder, so the folder reloads as the same classifier (same probabilities).
    public let classifierMetadata: JSONValue?
    /// The folder this model was loaded from (absolute), if any: a LoRA classifier saved on it records it as the
    /// adapter's `base_model_name_or_path`, so the adapter can find its base again.
    public internal(set) var sourceDirectory: String? = nil

    public init(model: Model, tokenizer: Tokenizer?, classifierMetadata: JSONValue? = nil) {
        self.model = model
        self.tokenizer = tokenizer
        self.classifierMetadata = model.layout.hasClassifier ? classifierMetadata : nil
    }

    /// Loads a model folder, choosing the layout (MLM head, pooler, classifier) from the tensors present.
    public static func load(directory: String) throws -> PretrainedModel {
        var config = try ModelConfig.load(path: directory + "/config.json")
        // Lazy tensors: values are copied straight from the mapped file into the flat buffer.
        let allTensors = try Checkpoint.openWeights(directory: directory)
        // An int8 checkpoint (see Int8Checkpoint): the scale and smoothing tensors are read apart from the layout's.
        let int8 = Int8Checkpoint.isInt8(allTensors)
        let tensors = int8 ? allTensors.filter { !Int8Checkpoint.isSideTensor($0.name) } : allTensors
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
        // An int8 checkpoint's model has no float32 views for the quantized weights (Int8Checkpoint.load).
        let model = try Model(config: config, mlmHead: parts.mlmHead, pooler: parts.pooler,
                              classifier: parts.classifierLabels > 0, quantized: int8 ? Set(LoRATarget.allCases) : [])
        if int8 {
            try Int8Checkpoint.load(tensors: allTensors, into: model, directory: directory)
        } else {
            try Checkpoint.load(tensors: tensors, layout: model.layout, into: model.parameters)
        }
        let tokPath = directory + "/tokenizer.json"
        let tokenizer = FileIO.exists(tokPath) ? try Tokenizer(contentsOfFile: tokPath) : nil
        if let tokenizer, tokenizer.idLimit > config.vocabSize {
            throw DNABertError.format("'\(directory)': tokenizer.json has ids up to \(tokenizer.idLimit - 1) but the model only \(config.vocabSize) embeddings")
        }
        var metadata: JSONValue? = nil
        let extrasPath = directory + "/" + SequenceClassifier.extrasName
        if model.layout.hasClassifier && FileIO.exists(extrasPath) {
            metadata = try SequenceClassifier.parseJSONFile(extrasPath)
            guard case .object = metadata! else { throw DNABertError.format("'\(extrasPath)': not a JSON object") }
        }
        let loaded = PretrainedModel(model: model, tokenizer: tokenizer, classifierMetadata: metadata)
        if let r = realpath(directory, nil) {
            loaded.sourceDirectory = String(cString: r)
            free(r)
        }
        return loaded
    }

    /// A model with random weights (normal(0, initializer_range)), e.g. to pretrain from scratch or to benchmark.
    public static func random(config: ModelConfig, tokenizer: Tokenizer?, seed: UInt64) throws -> PretrainedModel {
        let model = try Model(config: config, mlmHead: true)
        model.initializeRandom(seed: seed)
        if let tokenizer, tokenizer.idLimit > config.vocabSize {
            throw DNABertError.invalidArgument("the tokenizer has ids up to \(tokenizer.idLimit - 1) but the config's vocab_size is \(config.vocabSize)")
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
        if let classifierMetadata {
            try FileIO.writeAtomically(directory + "/" + SequenceClassifier.extrasName,
                                       string: JSON.serialize(classifierMetadata, indent: 2) + "\n")
            // What Hugging Face reads from config.json too: label names (id2label/label2id) and problem_type.
            if case .object(var entries) = model.config.jsonValue() {
                let n = model.config.numLabels
                if case .array(let names)? = classifierMetadata["label_names"], names.count == n {
                    let strs = names.compactMap { v -> String? in if case .string(let s) = v { return s }; return nil }
                    if strs.count == n && Set(strs).count == n {
                        for (i, e) in entries.enumerated() {
                            if e.0 == "id2label" { entries[i].1 = .object(strs.enumerated().map { ("\($0.offset)", .string($0.element)) }) }
                            if e.0 == "label2id" { entries[i].1 = .object(strs.enumerated().map { ($0.element, .int(Int64($0.offset))) }) }
                        }
                    }
                }
                if case .string(let p)? = classifierMetadata["problem_type"] {
                    entries.append(("problem_type", .string(p)))
                    entries.sort { $0.0 < $1.0 }
                }
                try FileIO.writeAtomically(directory + "/config.json", string: JSON.serialize(.object(entries), indent: 2) + "\n")
            }
        }
    }
}
