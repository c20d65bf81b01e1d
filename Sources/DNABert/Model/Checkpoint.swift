#if canImport(Glibc)
import Glibc
#endif

/// Moving named checkpoint tensors into and out of the flat parameter buffer.
public enum Checkpoint {
    public static let tiedDecoderName = "cls.predictions.decoder.weight"
    static let wordEmbeddingsName = "bert.embeddings.word_embeddings.weight"

    /// Relaxations for loading a checkpoint into a model with different heads, e.g. starting a
    /// classifier from the pretrained MLM checkpoint. The defaults are strict.
    public struct LoadOptions: Sendable {
        /// Views whose name starts with one of these may be absent (left untouched in the buffer).
        public var allowMissingPrefixes: [String] = []
        /// Tensors the layout does not know are skipped instead of being an error.
        public var ignoreUnexpected = false
        public init(allowMissingPrefixes: [String] = [], ignoreUnexpected: Bool = false) {
            self.allowMissingPrefixes = allowMissingPrefixes
            self.ignoreUnexpected = ignoreUnexpected
        }
    }

    public struct LoadReport: Sendable {
        /// Views not found in the checkpoint (only when allowed by the options).
        public var missing: [String] = []
        /// Checkpoint tensors not loaded: harmless buffers, the tied decoder weight, and (when
        /// allowed) unexpected names.
        public var ignored: [String] = []
    }

    /// State-dict names of a bare `BertModel` lack the `bert.` prefix; map them onto ours.
    public static func canonicalName(_ name: String) -> String {
        for p in ["embeddings.", "encoder.", "pooler."] where name.hasPrefix(p) { return "bert." + name }
        return name
    }

    /// Buffers that carry no learned state (absolute position ids of HF BERT, MosaicBERT's ALiBi cache).
    static func isHarmlessBuffer(_ name: String) -> Bool {
        name.hasSuffix(".position_ids") || name.hasSuffix("encoder.alibi") || name.hasSuffix(".num_batches_tracked")
    }

    /// Copies named tensors into `into` laid out by `layout`. Every view must be provided exactly once
    /// with exactly its shape. The tied `cls.predictions.decoder.weight` is accepted only when it
    /// equals the word embeddings (the model cannot represent an untied decoder); known buffers
    /// (`*.position_ids`, ALiBi caches) are skipped; any other unknown tensor, or a missing view, is an
    /// error naming it.
    @discardableResult
    public static func load(tensors: [(name: String, tensor: Tensor)], layout: ParameterLayout,
                            into: UnsafeMutableBufferPointer<Float>, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        try load(tensors: tensors.map { LazyTensor(name: $0.name, tensor: $0.tensor) }, layout: layout, into: into, options: options)
    }

    /// Like `load(tensors:…)` for tensors of an open file (`Safetensors.open`, `PyTorchCheckpoint.open`,
    /// `openWeights`): each is converted straight from the file into its view, so loading needs no
    /// memory beyond the parameter buffer. All names and shapes are checked before anything is copied;
    /// a data error found while copying (a CRC mismatch) leaves the buffer partly overwritten.
    @discardableResult
    public static func load(tensors: [LazyTensor], layout: ParameterLayout,
                            into: UnsafeMutableBufferPointer<Float>, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        try layout.config.validate()
        guard into.count >= layout.total else {
            throw DNABertError.invalidArgument("checkpoint load: parameter buffer holds \(into.count) floats, layout needs \(layout.total)")
        }
        let (plan, decoder, loaded, report) = try makePlan(tensors: tensors, layout: layout, options: options)
        var decoderData: [Float] = []
        if let d = decoder, layout[wordEmbeddingsName] != nil {
            decoderData = try d.load().data
        }
        for (t, view) in plan {
            try t.copy(into: UnsafeMutableBufferPointer(rebasing: into[view.offset..<(view.offset + view.count)]))
        }
        if !decoderData.isEmpty, let we = layout[wordEmbeddingsName], loaded.contains(wordEmbeddingsName) {
            let base = into.baseAddress! + we.offset
            for i in 0..<we.count where decoderData[i] != base[i] && !(decoderData[i].isNaN && base[i].isNaN) {
                throw DNABertError.unsupported("checkpoint: '\(tiedDecoderName)' differs from the word embeddings at element \(i); untied decoder weights are not supported")
            }
        }
        return report
    }

    /// Checks every name and shape of `tensors` against `layout` without touching any parameter memory.
    ///
    /// Why separate: a model's memory is allocated (and zero-filled) from its config; a 1 KB config claiming a
    /// 3,000,000-token vocabulary beside 21 MB of weights cost 2.97 GB and 11 s before the shape error. Loaders
    /// call this with the layout first, and allocate only for a checkpoint that matches.
    public static func validate(tensors: [LazyTensor], layout: ParameterLayout, options: LoadOptions = LoadOptions()) throws {
        _ = try makePlan(tensors: tensors, layout: layout, options: options)
    }

    static func makePlan(tensors: [LazyTensor], layout: ParameterLayout, options: LoadOptions)
        throws -> (plan: [(LazyTensor, ParameterView)], decoder: LazyTensor?, loaded: Set<String>, report: LoadReport) {
        var report = LoadReport()
        var loaded = Set<String>()
        var unexpected: [String] = []
        var decoder: LazyTensor?
        var plan: [(LazyTensor, ParameterView)] = []
        for t in tensors {
            let name = canonicalName(t.name)
            if let view = layout[name] {
                guard loaded.insert(name).inserted else {
                    throw DNABertError.format("checkpoint: tensor '\(name)' is given more than once")
                }
                guard t.shape == view.shape, t.count == view.count else {
                    throw DNABertError.format("checkpoint: tensor '\(name)' has shape \(ShapeMath.describe(t.shape)), the model expects \(ShapeMath.describe(view.shape))")
                }
                plan.append((t, view))
            } else if name == tiedDecoderName && layout.hasMLMHead {
                guard decoder == nil else { throw DNABertError.format("checkpoint: tensor '\(name)' is given more than once") }
                decoder = t
                report.ignored.append(t.name)
            } else if isHarmlessBuffer(name) {
                report.ignored.append(t.name)
            } else {
                unexpected.append(t.name)
            }
        }
        if !unexpected.isEmpty {
            if options.ignoreUnexpected {
                report.ignored += unexpected
            } else {
                throw DNABertError.format("checkpoint: \(unexpected.count) tensor(s) the model does not have: \(list(unexpected))")
            }
        }
        var missing: [String] = []
        for v in layout.views where !loaded.contains(v.name) {
            if options.allowMissingPrefixes.contains(where: { v.name.hasPrefix($0) }) {
                report.missing.append(v.name)
            } else {
                missing.append(v.name)
            }
        }
        if !missing.isEmpty {
            var hint = ""
            if missing.contains(where: { $0.hasPrefix("cls.") }) { hint += " (the checkpoint has no MLM head)" }
            if missing.contains(where: { $0.hasPrefix("bert.pooler.") }) { hint += " (the checkpoint has no pooler)" }
            if missing.contains(where: { $0.hasPrefix("classifier.") }) { hint += " (the checkpoint has no classifier)" }
            throw DNABertError.format("checkpoint: missing \(missing.count) tensor(s)\(hint): \(list(missing))")
        }
        if let d = decoder, let we = layout[wordEmbeddingsName] {
            guard d.shape == we.shape, d.count == we.count else {
                throw DNABertError.format("checkpoint: '\(tiedDecoderName)' has shape \(ShapeMath.describe(d.shape)), the word embeddings \(ShapeMath.describe(we.shape))")
            }
        }
        return (plan, decoder, loaded, report)
    }

    private static func list(_ names: [String]) -> String {
        names.count <= 8 ? names.joined(separator: ", ") : names.prefix(8).joined(separator: ", ") + ", … (\(names.count - 8) more)"
    }

    /// Which optional parts a set of names holds. `classifierLabels` is -1 when `classifier.weight`
    /// is present (its row count is the label count: use the `tensors:` overload), 0 when absent.
    public static func detectParts(names: [String]) -> (mlmHead: Bool, pooler: Bool, classifierLabels: Int) {
        let set = Set(names.map(canonicalName))
        return (set.contains("cls.predictions.transform.dense.weight"),
                set.contains("bert.pooler.dense.weight"),
                set.contains("classifier.weight") ? -1 : 0)
    }

    /// Like `detectParts(names:)`, with the label count read from `classifier.weight`'s shape.
    public static func detectParts(tensors: [(name: String, tensor: Tensor)]) -> (mlmHead: Bool, pooler: Bool, classifierLabels: Int) {
        detectParts(shapes: tensors.map { ($0.name, $0.tensor.shape) })
    }

    public static func detectParts(tensors: [LazyTensor]) -> (mlmHead: Bool, pooler: Bool, classifierLabels: Int) {
        detectParts(shapes: tensors.map { ($0.name, $0.shape) })
    }

    static func detectParts(shapes: [(String, [Int])]) -> (mlmHead: Bool, pooler: Bool, classifierLabels: Int) {
        var parts = detectParts(names: shapes.map(\.0))
        if let c = shapes.first(where: { canonicalName($0.0) == "classifier.weight" }) {
            parts.classifierLabels = c.1.count == 2 ? c.1[0] : -1
        }
        return parts
    }

    /// Writes `config.json` and `model.safetensors` (F32, metadata `format: pt` as transformers
    /// requires) into `directory`, creating it if needed. The tied decoder weight is written too, as a
    /// copy of the word embeddings, like the published `pytorch_model.bin`: DNABERT-2's HF code ties the
    /// two on load either way, and loaders that do not tie still find every tensor.
    ///
    /// The folder is replaced as a whole (`AtomicFolder`): a failed or interrupted save leaves the old folder.
    public static func save(directory: String, config: ModelConfig, layout: ParameterLayout,
                            parameters: UnsafeBufferPointer<Float>) throws {
        try checkSave(config: config, layout: layout, parameters: parameters)
        let folder = try AtomicFolder(directory)
        try writeFiles(into: folder.staging, config: config, layout: layout, parameters: parameters)
        try folder.commit()
    }

    static func checkSave(config: ModelConfig, layout: ParameterLayout, parameters: UnsafeBufferPointer<Float>) throws {
        try config.validate()
        guard parameters.count >= layout.total, parameters.baseAddress != nil else {
            throw DNABertError.invalidArgument("checkpoint save: parameter buffer holds \(parameters.count) floats, layout needs \(layout.total)")
        }
        guard layout.config == config else {
            throw DNABertError.invalidArgument("checkpoint save: the layout was built for a different config")
        }
    }

    /// Writes config.json and model.safetensors into an existing (staging) folder.
    static func writeFiles(into directory: String, config: ModelConfig, layout: ParameterLayout,
                           parameters: UnsafeBufferPointer<Float>) throws {
        try checkSave(config: config, layout: layout, parameters: parameters)
        let base = parameters.baseAddress!
        var cfg = config
        if !layout.hasClassifier { cfg.numLabels = 0 }
        var tensors: [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)] = []
        for v in layout.views {
            tensors.append((v.name, v.shape, UnsafeBufferPointer(start: base + v.offset, count: v.count)))
            if v.name == wordEmbeddingsName && layout.hasMLMHead {
                tensors.append((tiedDecoderName, v.shape, UnsafeBufferPointer(start: base + v.offset, count: v.count)))
            }
        }
        try Safetensors.write(path: directory + "/model.safetensors", tensors: tensors, metadata: ["format": "pt"])
        try FileIO.writeAtomically(directory + "/config.json", string: JSON.serialize(cfg.jsonValue(), indent: 2) + "\n")
    }

    /// The weights of a Hugging Face model directory: `model.safetensors`, else `pytorch_model.bin`.
    public static func readWeights(directory: String) throws -> [(name: String, tensor: Tensor)] {
        try openWeights(directory: directory).map { ($0.name, try $0.load()) }
    }

    /// Like `readWeights`, without converting anything yet (for `load(tensors: [LazyTensor] …)`).
    public static func openWeights(directory: String) throws -> [LazyTensor] {
        let st = directory + "/model.safetensors", bin = directory + "/pytorch_model.bin"
        if FileIO.exists(st) { return try Safetensors.open(path: st) }
        if FileIO.exists(bin) { return try PyTorchCheckpoint.open(path: bin) }
        if FileIO.exists(directory + "/model.safetensors.index.json") || FileIO.exists(directory + "/pytorch_model.bin.index.json") {
            throw DNABertError.unsupported("'\(directory)': sharded checkpoints (*.index.json) are not supported")
        }
        throw DNABertError.notFound("'\(directory)' has neither model.safetensors nor pytorch_model.bin")
    }
}
