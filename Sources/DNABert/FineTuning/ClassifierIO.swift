#if canImport(Glibc)
import Glibc
#endif

/// Merging adapters into weights, and saving/loading classifiers: LoRA classifiers as PEFT adapters
/// (`adapter_config.json` + `adapter_model.safetensors`, loadable by Hugging Face peft on DNABERT-2), fully
/// fine-tuned ones as a Hugging Face `BertForSequenceClassification` folder. Both get `dnabert_classifier.json`
/// with what PEFT has no field for (problem type, pooling, label names, token length).
extension SequenceClassifier {
    public static let extrasName = "dnabert_classifier.json"
    public static let adapterConfigName = "adapter_config.json"
    public static let adapterWeightsName = "adapter_model.safetensors"
    /// PEFT's prefix of every key (the PeftModel wraps the transformers model as `base_model.model`).
    public static let peftPrefix = "base_model.model."

    /// W += sign·scaling·B·A for every adapter, in `model` (same shape as the base, its adapted weights float32).
    private func applyAdapters(to model: Model, sign: Float) throws {
        guard let lora else { return }
        let c = config
        guard model.config.hiddenSize == c.hiddenSize, model.config.numLayers == c.numLayers,
              model.config.intermediateSize == c.intermediateSize else {
            throw DNABertError.invalidArgument("merge: the model's shape differs from the classifier's base")
        }
        if let t = lora.targets.first(where: { model.layout.quantized.contains($0) }) {
            throw DNABertError.invalidArgument("merge: the model holds \(t.rawValue) in int8, which adapters cannot be merged into (merge into a float32 model: mergedModel(), or dequantizedFloat32() of it)")
        }
        let s = sign * Float(lora.scaling)
        for l in 0..<c.numLayers {
            for t in lora.targets {
                let m = LoRAConfig.moduleName(layer: l, target: t)
                guard let w = model.parameter(named: m + ".weight")?.baseAddress, let a = ptr(m + ".lora_A.weight"),
                      let b = ptr(m + ".lora_B.weight") else { continue }
                let (i, o) = t.dimensions(c)
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: o, n: i, k: lora.r, alpha: s, a: b, lda: lora.r,
                           b: a, ldb: i, beta: 1, c: w, ldc: i)
            }
        }
    }

    /// Adds scaling·B·A into the adapted weights of `model` (e.g. a copy of the base); no-op without LoRA.
    public func merge(into model: Model) throws { try applyAdapters(to: model, sign: 1) }

    /// Subtracts what `merge` added (exact up to float rounding).
    public func unmerge(from model: Model) throws { try applyAdapters(to: model, sign: -1) }

    /// A standalone classification model (Hugging Face BertForSequenceClassification layout): the base encoder
    /// with the adapters merged (or the fully fine-tuned encoder), the pooler and the classifier. Always float32:
    /// on an int8 base the adapters are merged into the dequantized weights (q · scale / s).
    public func mergedModel() throws -> PretrainedModel {
        var c = config
        c.numLabels = head.numLabels
        let m = try Model(config: c, mlmHead: false, pooler: true, classifier: true)
        for v in m.layout.views {
            guard let dst = m.parameter(named: v.name)?.baseAddress else { continue }
            _ = copyFloat32(named: v.name, into: dst, count: v.count)   // a tensor the classifier lacks stays zero
        }
        try merge(into: m)
        // The folder must reload as this classifier: pooling, strand symmetry, labels, problem type and max
        // length travel with the model (dnabert_classifier.json, mode "full").
        return PretrainedModel(model: m, tokenizer: base.tokenizer, classifierMetadata: extrasJSON(mode: "full"))
    }

    var extrasJSON: JSONValue { extrasJSON(mode: lora == nil ? "full" : "lora") }

    func extrasJSON(mode: String) -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("format", .string("dnabert-classifier")),
            ("version", .int(1)),
            ("mode", .string(mode)),
            ("num_labels", .int(Int64(head.numLabels))),
            ("problem_type", .string(head.problemType.rawValue)),
            ("pooling", .string(head.pooling == .cls ? "cls" : "mean")),
            ("max_length", .int(Int64(maxLength))),
            ("reverse_complement", .bool(reverseComplement)),
        ]
        if let names = labelNames { m.append(("label_names", .array(names.map { .string($0) }))) }
        if let w = head.classWeights { m.append(("class_weights", .array(w.map { .double($0) }))) }
        if let d = head.dropout { m.append(("classifier_dropout", .double(d))) }
        return .object(m)
    }

    /// Saves the classifier into `directory` (created if needed). LoRA: a PEFT adapter (only the adapters and
    /// the head; load it onto the same base). Full: a complete model folder. Every file is written atomically.
    /// The folder is replaced as a whole (`AtomicFolder`): a failed or interrupted save leaves the old folder
    /// complete; files in it that a save does not write (loss curves, predictions) are kept.
    public func save(directory target: String, baseModelName: String? = nil) throws {
        let folder = try AtomicFolder(target)
        let directory = folder.staging
        if let lora {
            guard let b = parameters.baseAddress else { throw DNABertError(.internal, "empty classifier") }
            let tensors = layout.views.map { v in
                (name: Self.peftPrefix + v.name, shape: v.shape, data: UnsafeBufferPointer(start: b + v.offset, count: v.count))
            }
            try Safetensors.write(path: directory + "/" + Self.adapterWeightsName, tensors: tensors, metadata: ["format": "pt"])
            let ordered = LoRATarget.allCases.filter { lora.targets.contains($0) }
            var save: [JSONValue] = [.string("classifier")]
            if head.pooling == .cls { save.append(.string("pooler")) }
            let cfg: JSONValue = .object([
                ("alpha_pattern", .object([])),
                ("auto_mapping", .null),
                ("base_model_name_or_path", (baseModelName ?? base.sourceDirectory).map { .string($0) } ?? .null),
                ("bias", .string("none")),
                ("fan_in_fan_out", .bool(false)),
                ("inference_mode", .bool(true)),
                ("init_lora_weights", .bool(true)),
                ("layers_pattern", .null),
                ("layers_to_transform", .null),
                ("lora_alpha", lora.alpha == lora.alpha.rounded() && abs(lora.alpha) < 1e15 ? .int(Int64(lora.alpha)) : .double(lora.alpha)),
                ("lora_dropout", .double(lora.dropout)),
                ("modules_to_save", .array(save)),
                ("peft_type", .string("LORA")),
                ("r", .int(Int64(lora.r))),
                ("rank_pattern", .object([])),
                ("revision", .null),
                ("target_modules", .array(ordered.map { .string($0.rawValue) })),
                ("task_type", .string("SEQ_CLS")),
                ("use_dora", .bool(false)),
                ("use_rslora", .bool(false)),
            ])
            try FileIO.writeAtomically(directory + "/" + Self.adapterConfigName, string: JSON.serialize(cfg, indent: 2) + "\n")
        } else {
            try mergedModel().writeFiles(into: directory)
        }
        try FileIO.writeAtomically(directory + "/" + Self.extrasName, string: JSON.serialize(extrasJSON, indent: 2) + "\n")
        try folder.commit()
    }

    /// Loads a classifier saved by `save` — or a PEFT LoRA adapter written by Hugging Face peft for DNABERT-2
    /// (SEQ_CLS), or a fine-tuned Hugging Face DNABERT-2 classification folder. `base` is needed for an adapter
    /// (the model it was trained on) and ignored for a full model folder.
    public static func load(directory: String, base: PretrainedModel?) throws -> SequenceClassifier {
        var extras: JSONValue? = nil
        let extrasPath = directory + "/" + extrasName
        if FileIO.exists(extrasPath) {
            extras = try parseJSONFile(extrasPath)
            guard case .object = extras! else { throw DNABertError.format("'\(extrasPath)': not a JSON object") }
        }
        func field(_ k: String) -> JSONValue? { extras?[k] }
        func str(_ k: String) throws -> String? {
            guard let v = field(k) else { return nil }
            guard case .string(let s) = v else { throw DNABertError.format("'\(extrasPath)': \(k) must be a string") }
            return s
        }
        func int(_ k: String) throws -> Int? {
            guard let v = field(k) else { return nil }
            guard case .int(let i) = v, i >= 0, i < 1 << 31 else { throw DNABertError.format("'\(extrasPath)': \(k) must be a non-negative integer") }
            return Int(i)
        }
        let problem: ProblemType? = try str("problem_type").map {
            guard let p = ProblemType(rawValue: $0) else { throw DNABertError.format("'\(extrasPath)': unknown problem_type '\($0)'") }
            return p
        }
        let pooling: Pooling? = try str("pooling").map {
            switch $0 {
            case "cls": return .cls
            case "mean": return .mean
            default: throw DNABertError.format("'\(extrasPath)': unknown pooling '\($0)'")
            }
        }
        var names: [String]? = nil
        if let v = field("label_names") {
            guard case .array(let a) = v else { throw DNABertError.format("'\(extrasPath)': label_names must be an array of strings") }
            names = try a.map { e in
                guard case .string(let s) = e else { throw DNABertError.format("'\(extrasPath)': label_names must be an array of strings") }
                return s
            }
        }
        var weights: [Double]? = nil
        if let v = field("class_weights") {
            guard case .array(let a) = v else { throw DNABertError.format("'\(extrasPath)': class_weights must be an array of numbers") }
            weights = try a.map { e in
                switch e {
                case .int(let i): return Double(i)
                case .double(let d): return d
                default: throw DNABertError.format("'\(extrasPath)': class_weights must be an array of numbers")
                }
            }
        }
        let maxLength = try int("max_length") ?? 0
        var reverseComplement = false
        if let v = field("reverse_complement") {
            guard case .bool(let b) = v else { throw DNABertError.format("'\(extrasPath)': reverse_complement must be true or false") }
            reverseComplement = b
        }

        // dnabert_classifier.json's mode decides when present (a folder may hold both kinds after saving a
        // full classifier over a LoRA one, or the reverse); else the files do.
        let mode = try str("mode")
        if let mode, mode != "lora" && mode != "full" { throw DNABertError.format("'\(extrasPath)': unknown mode '\(mode)'") }
        let clf: SequenceClassifier
        if mode.map({ $0 == "lora" }) ?? FileIO.exists(directory + "/" + adapterConfigName) {
            guard let base else {
                throw DNABertError.invalidArgument("'\(directory)' is a LoRA adapter: give the base model it was trained on")
            }
            clf = try loadAdapter(directory: directory, base: base, problem: problem, pooling: pooling, classWeights: weights)
        } else if FileIO.exists(directory + "/config.json") {
            let full = try PretrainedModel.load(directory: directory)
            guard full.model.layout.hasClassifier else {
                throw DNABertError.format("'\(directory)': the model has no classifier head (no classifier.weight); it is not a fine-tuned classifier")
            }
            let n = full.model.config.numLabels
            let head = ClassifierHead(numLabels: n, problemType: problem ?? (n == 1 ? .regression : .singleLabel),
                                      pooling: pooling ?? .cls, classWeights: weights)
            clf = try SequenceClassifier(base: full, head: head, lora: nil)
        } else {
            throw DNABertError.notFound("'\(directory)' has neither \(adapterConfigName) (a LoRA adapter) nor config.json (a model)")
        }
        if let names {
            guard names.count == clf.head.numLabels else {
                throw DNABertError.format("'\(extrasPath)': \(names.count) label names for \(clf.head.numLabels) labels")
            }
            clf.labelNames = names
        }
        clf.maxLength = maxLength
        clf.reverseComplement = reverseComplement
        return clf
    }

    static func parseJSONFile(_ path: String) throws -> JSONValue {
        let bytes = try FileIO.read(path)
        do { return try JSON.parse(bytes: bytes) } catch let e as JSONError {
            throw DNABertError.format("'\(path)': \(e)")
        }
    }

    /// Canonical (our) name of a PEFT adapter key, or nil for a key that is not ours to read.
    static func adapterTensorName(_ key: String) -> String {
        var k = Substring(key)
        if k.hasPrefix(peftPrefix) { k.removeFirst(peftPrefix.count) }
        // In-memory PEFT names carry the adapter name: "….modules_to_save.default.…", "….lora_A.default.…".
        let parts = k.split(separator: ".", omittingEmptySubsequences: false)
        var out: [Substring] = []
        var i = 0
        while i < parts.count {
            let inner = i > 0 && i + 2 < parts.count && parts[i + 1] == "default"
            if inner && parts[i] == "modules_to_save" { i += 2; continue }
            out.append(parts[i])
            i += inner && (parts[i] == "lora_A" || parts[i] == "lora_B") ? 2 : 1
        }
        return out.joined(separator: ".")
    }

    private static func loadAdapter(directory: String, base: PretrainedModel, problem: ProblemType?, pooling: Pooling?,
                                    classWeights: [Double]?) throws -> SequenceClassifier {
        let cfgPath = directory + "/" + adapterConfigName
        let cfg = try parseJSONFile(cfgPath)
        guard case .object = cfg else { throw DNABertError.format("'\(cfgPath)': not a JSON object") }
        func bad(_ m: String) -> DNABertError { DNABertError.format("'\(cfgPath)': \(m)") }
        guard case .string(let peftType)? = cfg["peft_type"], peftType == "LORA" else { throw bad("peft_type must be \"LORA\"") }
        if case .string(let task)? = cfg["task_type"], task != "SEQ_CLS" {
            throw DNABertError.unsupported("'\(cfgPath)': task_type \(task) — only SEQ_CLS (sequence classification) adapters are supported")
        }
        func number(_ k: String) -> Double? {
            switch cfg[k] {
            case .int(let i)?: return Double(i)
            case .double(let d)?: return d
            default: return nil
            }
        }
        guard let r = number("r"), r >= 1, r == r.rounded(), r < 1_048_576 else { throw bad("r must be a positive integer") }
        guard let alpha = number("lora_alpha"), alpha > 0 else { throw bad("lora_alpha must be positive") }
        let dropout = number("lora_dropout") ?? 0
        if case .bool(true)? = cfg["use_rslora"] { throw DNABertError.unsupported("'\(cfgPath)': rsLoRA scaling is not supported") }
        if case .bool(true)? = cfg["use_dora"] { throw DNABertError.unsupported("'\(cfgPath)': DoRA adapters are not supported") }
        if case .bool(true)? = cfg["lora_bias"] { throw DNABertError.unsupported("'\(cfgPath)': lora_bias adapters are not supported") }
        if case .bool(true)? = cfg["fan_in_fan_out"] { throw DNABertError.unsupported("'\(cfgPath)': fan_in_fan_out is not supported") }
        if case .string(let b)? = cfg["bias"], b != "none" { throw DNABertError.unsupported("'\(cfgPath)': bias '\(b)' is not supported (only none)") }
        for k in ["rank_pattern", "alpha_pattern"] {
            if case .object(let o)? = cfg[k], !o.isEmpty { throw DNABertError.unsupported("'\(cfgPath)': per-module \(k) is not supported") }
        }
        if let v = cfg["layers_to_transform"], v != .null { throw DNABertError.unsupported("'\(cfgPath)': layers_to_transform is not supported") }

        let weightsPath = directory + "/" + adapterWeightsName
        guard FileIO.exists(weightsPath) else {
            if FileIO.exists(directory + "/adapter_model.bin") {
                throw DNABertError.unsupported("'\(directory)': adapter_model.bin — convert it to adapter_model.safetensors (peft ≥ 0.6 saves safetensors)")
            }
            throw DNABertError.notFound("'\(weightsPath)' is missing")
        }
        let tensors = try Safetensors.open(path: weightsPath)
        var byName: [String: LazyTensor] = [:]
        for t in tensors {
            let n = adapterTensorName(t.name)
            guard byName[n] == nil else { throw DNABertError.format("'\(weightsPath)': tensor \(n) appears twice") }
            byName[n] = t
        }
        let c = base.model.config
        var targets: [LoRATarget] = []
        for t in LoRATarget.allCases where byName[LoRAConfig.moduleName(layer: 0, target: t) + ".lora_A.weight"] != nil {
            targets.append(t)
        }
        guard !targets.isEmpty else { throw DNABertError.format("'\(weightsPath)': no LoRA tensor of a DNABERT-2 layer (expected e.g. \(peftPrefix)bert.encoder.layer.0.attention.self.Wqkv.lora_A.weight)") }
        guard let cls = byName["classifier.weight"], cls.shape.count == 2, cls.shape[1] == c.hiddenSize, cls.shape[0] > 0 else {
            throw DNABertError.format("'\(weightsPath)': no classifier.weight [num_labels, \(c.hiddenSize)] (modules_to_save must include the classifier)")
        }
        let n = cls.shape[0]
        let hasPooler = byName["bert.pooler.dense.weight"] != nil
        let pool = pooling ?? .cls
        if pool == .cls && !hasPooler && !base.model.layout.hasPooler {
            throw DNABertError.format("'\(weightsPath)': no pooler in the adapter and none in the base model")
        }
        let lora = LoRAConfig(r: Int(r), alpha: alpha, dropout: dropout, targets: targets)
        let head = ClassifierHead(numLabels: n, problemType: problem ?? (n == 1 ? .regression : .singleLabel), pooling: pool,
                                  classWeights: classWeights)
        let clf = try SequenceClassifier(base: base, head: head, lora: lora)
        var used = Set<String>()
        for v in clf.layout.views {
            guard let t = byName[v.name] else {
                if v.name.hasPrefix("bert.pooler.") { continue }   // from the base (modules_to_save without the pooler)
                throw DNABertError.format("'\(weightsPath)': missing tensor \(v.name)")
            }
            guard t.shape == v.shape else {
                throw DNABertError.format("'\(weightsPath)': \(v.name) has shape \(t.shape), expected \(v.shape) (r = \(Int(r)), base hidden size \(c.hiddenSize))")
            }
            try t.copy(into: clf.tensor(named: v.name)!)
            used.insert(v.name)
        }
        let unexpected = byName.keys.filter { !used.contains($0) }.sorted()
        if !unexpected.isEmpty {
            throw DNABertError.format("'\(weightsPath)': unexpected tensors \(unexpected.prefix(5).joined(separator: ", "))\(unexpected.count > 5 ? ", …" : "") (does the adapter belong to a model with \(c.numLayers) layers?)")
        }
        return clf
    }
}
