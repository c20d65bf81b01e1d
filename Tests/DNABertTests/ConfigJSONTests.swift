import Testing
@testable import DNABert

@Suite struct ConfigJSONTests {
    /// The published DNABERT-2-117M config.json (the repository's copy in examples/data/dnabert2).
    static let published = TestData.dnabert2Config

    /// The real DNABERT-2-117M config.json, against the numbers in the model spec (117,074,176 parameters).
    @Test func readsPublishedConfig() throws {
        let c = try ModelConfig.load(path: Self.published)
        #expect(c.vocabSize == 4096 && c.hiddenSize == 768 && c.numLayers == 12 && c.numHeads == 12)
        #expect(c.intermediateSize == 3072 && c.typeVocabSize == 2 && c.headDim == 64)
        #expect(c.layerNormEps == 1e-12 && c.hiddenDropout == 0.1 && c.attentionDropout == 0.0)
        #expect(c.initializerRange == 0.02 && c.alibiStartingSize == 512 && c.maxPositionEmbeddings == 512)
        #expect(c.numLabels == 0)
        // The spec's 117,074,176 parameters with the MLM head (tied decoder counted once).
        #expect(ParameterLayout(config: c, mlmHead: true).total == 117_074_176)
    }

    @Test func readsFixtureConfigWrittenByPython() throws {
        let c = try ModelConfig.load(path: modelFixture("config.json"))
        #expect(c.hiddenSize == 48 && c.numHeads == 6 && c.numLayers == 2 && c.intermediateSize == 64 && c.vocabSize == 4096)
        #expect(c.numLabels == 3)
    }

    @Test func roundTripsThroughJSON() throws {
        var c = ModelConfig()
        c.hiddenSize = 96; c.numHeads = 3; c.numLayers = 5; c.intermediateSize = 200; c.vocabSize = 777
        c.layerNormEps = 1e-5; c.hiddenDropout = 0.25; c.numLabels = 4; c.initializerRange = 0.05
        let text = JSON.serialize(c.jsonValue(), indent: 2)
        #expect(try ModelConfig(json: JSON.parse(text)) == c)
        var d = ModelConfig()
        d.numLabels = 0
        #expect(try ModelConfig(json: JSON.parse(JSON.serialize(d.jsonValue()))) == d)
    }

    @Test func writesHuggingFaceKeys() throws {
        var c = ModelConfig()
        c.numLabels = 2
        let j = c.jsonValue()
        #expect(j["model_type"]?.stringValue == "bert")
        #expect(j["architectures"]?.arrayValue?.first?.stringValue == "BertForSequenceClassification")
        #expect(j["auto_map"]?["AutoModel"]?.stringValue == "zhihan1996/DNABERT-2-117M--bert_layers.BertModel")
        #expect(j["auto_map"]?["AutoModelForMaskedLM"] != nil && j["auto_map"]?["AutoConfig"] != nil)
        #expect(j["id2label"]?["1"]?.stringValue == "LABEL_1" && j["label2id"]?["LABEL_0"]?.intValue == 0)
        #expect(j["hidden_act"]?.stringValue == "gelu" && j["layer_norm_eps"]?.doubleValue == 1e-12)
        c.numLabels = 0
        #expect(c.jsonValue()["architectures"]?.arrayValue?.first?.stringValue == "BertForMaskedLM")
        #expect(c.jsonValue()["id2label"] == nil)
        // The same keys and values as the published file, apart from bookkeeping ones.
        if FileIO.exists(Self.published) {
            let pub = try JSON.parse(bytes: FileIO.read(Self.published))
            for key in ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                        "type_vocab_size", "layer_norm_eps", "hidden_dropout_prob", "attention_probs_dropout_prob",
                        "initializer_range", "alibi_starting_size", "max_position_embeddings", "hidden_act",
                        "position_embedding_type", "torch_dtype", "classifier_dropout"] {
                #expect(c.jsonValue()[key] == pub[key], "\(key)")
            }
        }
    }

    static let base = #""vocab_size":4096,"hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072"#

    @Test(arguments: [
        #"[1]"#,
        #"{"hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072}"#,   // no vocab_size
        #"{"vocab_size":"4096","hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072}"#,
        #"{"vocab_size":4096.5,"hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072}"#,
        "{" + base + #","num_labels":3,"id2label":{"0":"a"}}"#,
        "{" + base + #","id2label":[1]}"#,
        "{" + base + #","layer_norm_eps":"x"}"#,
        "{" + base + #","hidden_dropout_prob":1.5}"#,
        "{" + base + #","vocab_size":99999999999}"#,
    ])
    func rejectsMalformed(_ text: String) throws {
        let kind = dnabertErrorKind { _ = try ModelConfig(json: JSON.parse(text)) }
        #expect(kind == .format || kind == .invalidArgument, "\(text)")
    }

    @Test(arguments: [#""hidden_act":"relu""#, #""model_type":"gpt2""#, #""position_embedding_type":"rotary""#])
    func rejectsOtherModels(_ extra: String) throws {
        #expect(dnabertErrorKind { _ = try ModelConfig(json: JSON.parse("{" + Self.base + "," + extra + "}")) } == .unsupported)
    }

    @Test func rejectsImpossibleSizes() throws {
        let bad = #"{"vocab_size":4096,"hidden_size":100,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072}"#
        #expect(dnabertErrorKind { _ = try ModelConfig(json: JSON.parse(bad)) } == .invalidArgument)
        let zero = #"{"vocab_size":4096,"hidden_size":768,"num_hidden_layers":0,"num_attention_heads":12,"intermediate_size":3072}"#
        #expect(dnabertErrorKind { _ = try ModelConfig(json: JSON.parse(zero)) } == .invalidArgument)
    }

    @Test func loadReportsFileProblems() {
        #expect(dnabertErrorKind { _ = try ModelConfig.load(path: "/nonexistent/config.json") } == .io)
        let dir = ioTempDirectory()
        try? FileIO.writeAtomically(dir + "/config.json", string: "{not json")
        #expect(dnabertErrorMessage { _ = try ModelConfig.load(path: dir + "/config.json") }?.contains(dir) == true)
    }
}
