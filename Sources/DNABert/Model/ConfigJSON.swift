/// Hugging Face `config.json` for DNABERT-2 (BertConfig keys, as in the published checkpoint).
extension ModelConfig {
    /// Reads a config object. The five size keys are required (a config without them describes
    /// some other model); the others default to DNABERT-2's values. The classifier size comes from
    /// `num_labels` or the length of `id2label`; HF omits both for its default of two labels, so a
    /// classification checkpoint's label count should be taken from its `classifier.weight`.
    public init(json: JSONValue) throws {
        self.init()
        guard let members = json.objectValue else { throw DNABertError.format("config.json: top level is not an object") }
        var keys = Set<String>()
        for (k, _) in members where !keys.insert(k).inserted {
            throw DNABertError.format("config.json: key '\(k)' appears more than once")
        }
        func required(_ key: String) throws -> Int {
            guard let v = try int(key, required: true) else { throw DNABertError.format("config.json: missing '\(key)'") }
            return v
        }
        func int(_ key: String, required: Bool) throws -> Int? {
            guard let v = json[key], !v.isNull else {
                if required { throw DNABertError.format("config.json: missing '\(key)'") }
                return nil
            }
            guard let i = v.intValue, i >= Int64(Int32.min), i <= Int64(Int32.max) else {
                throw DNABertError.format("config.json: '\(key)' must be an integer")
            }
            return Int(i)
        }
        func double(_ key: String) throws -> Double? {
            guard let v = json[key], !v.isNull else { return nil }
            guard let d = v.doubleValue, d.isFinite else { throw DNABertError.format("config.json: '\(key)' must be a number") }
            return d
        }
        if let t = json["model_type"], !t.isNull {
            guard let s = t.stringValue, s == "bert" else {
                throw DNABertError.unsupported("config.json: model_type '\(t.stringValue ?? "?")' is not a DNABERT-2 (bert) model")
            }
        }
        if let a = json["hidden_act"], !a.isNull {
            guard let s = a.stringValue, s == "gelu" else {
                throw DNABertError.unsupported("config.json: hidden_act '\(a.stringValue ?? "?")' is not supported (only exact 'gelu')")
            }
        }
        if let p = json["position_embedding_type"]?.stringValue, p != "absolute", p != "alibi" {
            throw DNABertError.unsupported("config.json: position_embedding_type '\(p)' is not supported")
        }
        vocabSize = try required("vocab_size")
        hiddenSize = try required("hidden_size")
        numLayers = try required("num_hidden_layers")
        numHeads = try required("num_attention_heads")
        intermediateSize = try required("intermediate_size")
        if let v = try int("type_vocab_size", required: false) { typeVocabSize = v }
        if let v = try int("alibi_starting_size", required: false) { alibiStartingSize = v }
        if let v = try int("max_position_embeddings", required: false) { maxPositionEmbeddings = v }
        if let v = try double("layer_norm_eps") { layerNormEps = v }
        if let v = try double("hidden_dropout_prob") { hiddenDropout = v }
        if let v = try double("attention_probs_dropout_prob") { attentionDropout = v }
        if let v = try double("initializer_range") { initializerRange = v }
        var labels: Int? = try int("num_labels", required: false)
        if let id2label = json["id2label"], !id2label.isNull {
            guard let m = id2label.objectValue else { throw DNABertError.format("config.json: 'id2label' must be an object") }
            if let n = labels, n != m.count {
                throw DNABertError.format("config.json: num_labels \(n) disagrees with id2label's \(m.count) entries")
            }
            labels = m.count
        }
        numLabels = labels ?? 0
        for (name, p) in [("hidden_dropout_prob", hiddenDropout), ("attention_probs_dropout_prob", attentionDropout)] {
            guard p >= 0, p < 1 else { throw DNABertError.format("config.json: '\(name)' must be in [0, 1)") }
        }
        try validate()
    }

    public static func load(path: String) throws -> ModelConfig {
        let bytes = try FileIO.read(path)
        let json: JSONValue
        do { json = try JSON.parse(bytes: bytes) } catch let e as JSONError {
            throw DNABertError.format("'\(path)': \(e.description)")
        }
        do { return try ModelConfig(json: json) } catch let e as DNABertError {
            throw DNABertError(e.kind, "'\(path)': \(e.message)")
        }
    }

    /// The Hugging Face repository whose code `auto_map` points at, so that
    /// `AutoModel.from_pretrained(dir, trust_remote_code=True)` loads our checkpoints.
    public static let remoteCodeRepository = "zhihan1996/DNABERT-2-117M"

    /// HF-style config.json. `architectures` is BertForSequenceClassification when `numLabels > 0`,
    /// else BertForMaskedLM; `auto_map` refers to DNABERT-2's code on the Hub (`repo--module.Class`).
    public func jsonValue() -> JSONValue {
        let repo = ModelConfig.remoteCodeRepository
        var m: [(String, JSONValue)] = [
            ("alibi_starting_size", .int(Int64(alibiStartingSize))),
            ("architectures", .array([.string(numLabels > 0 ? "BertForSequenceClassification" : "BertForMaskedLM")])),
            ("attention_probs_dropout_prob", .double(attentionDropout)),
            ("auto_map", .object([
                ("AutoConfig", .string("\(repo)--configuration_bert.BertConfig")),
                ("AutoModel", .string("\(repo)--bert_layers.BertModel")),
                ("AutoModelForMaskedLM", .string("\(repo)--bert_layers.BertForMaskedLM")),
                ("AutoModelForSequenceClassification", .string("\(repo)--bert_layers.BertForSequenceClassification")),
            ])),
            ("classifier_dropout", .null),
            ("hidden_act", .string("gelu")),
            ("hidden_dropout_prob", .double(hiddenDropout)),
            ("hidden_size", .int(Int64(hiddenSize))),
        ]
        if numLabels > 0 {
            m.append(("id2label", .object((0..<numLabels).map { ("\($0)", .string("LABEL_\($0)")) })))
        }
        m += [
            ("initializer_range", .double(initializerRange)),
            ("intermediate_size", .int(Int64(intermediateSize))),
        ]
        if numLabels > 0 {
            m.append(("label2id", .object((0..<numLabels).map { ("LABEL_\($0)", .int(Int64($0))) })))
        }
        m += [
            ("layer_norm_eps", .double(layerNormEps)),
            ("max_position_embeddings", .int(Int64(maxPositionEmbeddings))),
            ("model_type", .string("bert")),
            ("num_attention_heads", .int(Int64(numHeads))),
            ("num_hidden_layers", .int(Int64(numLayers))),
        ]
        m += [
            ("position_embedding_type", .string("absolute")),
            ("torch_dtype", .string("float32")),
            ("type_vocab_size", .int(Int64(typeVocabSize))),
            ("vocab_size", .int(Int64(vocabSize))),
        ]
        return .object(m)
    }
}
