// The encoder's tensors resolved once into typed per-layer structs: the layer functions take these, never
// a tensor name. The Hugging Face names live here and in `ParameterLayout`.

/// A float buffer (a parameter, a gradient or an activation).
typealias Buf = UnsafeMutablePointer<Float>

/// Word and token-type embeddings and their LayerNorm.
struct EmbeddingWeights {
    let word, type0, lnW, lnB: Buf

    init(_ t: (String) -> Buf) {
        word = t("bert.embeddings.word_embeddings.weight")
        type0 = t("bert.embeddings.token_type_embeddings.weight")
        lnW = t("bert.embeddings.LayerNorm.weight")
        lnB = t("bert.embeddings.LayerNorm.bias")
    }
}

/// Gradient destinations of the embeddings; nil = frozen.
struct EmbeddingGrads {
    let word, type0, lnW, lnB: Buf?

    init(_ g: (String) -> Buf?) {
        word = g("bert.embeddings.word_embeddings.weight")
        type0 = g("bert.embeddings.token_type_embeddings.weight")
        lnW = g("bert.embeddings.LayerNorm.weight")
        lnB = g("bert.embeddings.LayerNorm.bias")
    }

    var any: Bool { word != nil || type0 != nil || lnW != nil || lnB != nil }
}

/// One encoder layer: fused Wqkv, attention output projection + LayerNorm, GEGLU MLP + LayerNorm, and the
/// LoRA adapters of its linears (indexed by `LoRATarget.index`).
///
/// Each of the four linears has either a float32 weight (`wqkv`, `attnOut`, `gated`, `wo`) or an int8 form
/// (`int8`), never both: an int8 model holds no float32 copy of a quantized weight. The forward runs whichever
/// it has; the input-gradient backward of an int8 linear (QLoRA) runs in int8 (`Linear.backwardInputInt8`), or
/// under `DNABERT_INT8_BACKWARD=fp32` through its dequantized form in a scratch buffer; a weight gradient needs
/// the float32 weight (`EncoderStack` checks both before a pass).
struct LayerWeights {
    /// The float32 weights of the four linears, nil for a linear held in int8.
    let wqkv, attnOut, gated, wo: Buf?
    let bqkv, attnOutB, ln1W, ln1B, woB, ln2W, ln2B: Buf
    var adapters: [LoRAAdapter?] = [nil, nil, nil, nil]
    /// Int8 forms of the four linears (indexed by `LoRATarget.index`) in an int8 model, nil at float32.
    var int8: [Int8Matrix?] = [nil, nil, nil, nil]

    /// `t(name)` resolves the biases and LayerNorms; `linear(name)` the four weights (nil: held in int8, attached
    /// to `int8` by the caller).
    init(layer l: Int, _ t: (String) -> Buf, linear: (String) -> Buf?) {
        let p = "bert.encoder.layer.\(l)."
        wqkv = linear(p + "attention.self.Wqkv.weight"); bqkv = t(p + "attention.self.Wqkv.bias")
        attnOut = linear(p + "attention.output.dense.weight"); attnOutB = t(p + "attention.output.dense.bias")
        ln1W = t(p + "attention.output.LayerNorm.weight"); ln1B = t(p + "attention.output.LayerNorm.bias")
        gated = linear(p + "mlp.gated_layers.weight")
        wo = linear(p + "mlp.wo.weight"); woB = t(p + "mlp.wo.bias")
        ln2W = t(p + "mlp.layernorm.weight"); ln2B = t(p + "mlp.layernorm.bias")
    }

    /// The float32 weight of linear `t`, nil when it is held in int8.
    func weight(_ t: LoRATarget) -> Buf? {
        switch t {
        case .wqkv: return wqkv
        case .attentionOutput: return attnOut
        case .gatedLayers: return gated
        case .wo: return wo
        }
    }

    /// Whether any of the four linears is held in int8 (its float32 backward then needs a dequantization scratch).
    var hasInt8: Bool { int8.contains { $0 != nil } }
}

/// Gradient destinations of one layer; nil = frozen (that weight gradient is not computed).
struct LayerGrads {
    let wqkv, bqkv, attnOut, attnOutB, ln1W, ln1B, gated, wo, woB, ln2W, ln2B: Buf?
    var adapters: [LoRAAdapterGrads?] = [nil, nil, nil, nil]

    init(layer l: Int, _ g: (String) -> Buf?) {
        let p = "bert.encoder.layer.\(l)."
        wqkv = g(p + "attention.self.Wqkv.weight"); bqkv = g(p + "attention.self.Wqkv.bias")
        attnOut = g(p + "attention.output.dense.weight"); attnOutB = g(p + "attention.output.dense.bias")
        ln1W = g(p + "attention.output.LayerNorm.weight"); ln1B = g(p + "attention.output.LayerNorm.bias")
        gated = g(p + "mlp.gated_layers.weight")
        wo = g(p + "mlp.wo.weight"); woB = g(p + "mlp.wo.bias")
        ln2W = g(p + "mlp.layernorm.weight"); ln2B = g(p + "mlp.layernorm.bias")
    }

    /// The weight gradient of linear `t`, nil when that weight is frozen.
    func weight(_ t: LoRATarget) -> Buf? {
        switch t {
        case .wqkv: return wqkv
        case .attentionOutput: return attnOut
        case .gatedLayers: return gated
        case .wo: return wo
        }
    }
}

/// The whole encoder (embeddings and layers).
struct EncoderWeights {
    let embeddings: EmbeddingWeights
    var layers: [LayerWeights]

    /// `tensor(name)` must resolve every encoder tensor but the four linears' weights, which `linear(name)`
    /// resolves (nil: held in int8, attached afterwards); `adapter(layer, target)` gives the LoRA adapters.
    init(config c: ModelConfig, tensor: (String) -> Buf, linear: (String) -> Buf?,
         adapter: (Int, LoRATarget) -> LoRAAdapter? = { _, _ in nil }) {
        embeddings = EmbeddingWeights(tensor)
        layers = (0..<c.numLayers).map { l in
            var w = LayerWeights(layer: l, tensor, linear: linear)
            for t in LoRATarget.allCases { w.adapters[t.index] = adapter(l, t) }
            return w
        }
    }

    var hasAdapters: Bool { layers.contains { $0.adapters.contains { $0 != nil } } }

    /// Throws unless every linear of every layer has a weight to run (float32 or int8): a model under
    /// construction (an int8 load or quantization that has not attached its `Int8Matrix` forms yet) is never run.
    func checkLinears() throws {
        for (l, w) in layers.enumerated() {
            for t in LoRATarget.allCases where w.weight(t) == nil && w.int8[t.index] == nil {
                throw DNABertError(.internal, "encoder: layer \(l) \(t.modulePath) has neither a float32 nor an int8 weight")
            }
        }
    }
}

struct EncoderGrads {
    let embeddings: EmbeddingGrads
    var layers: [LayerGrads]

    init(config c: ModelConfig, grad: (String) -> Buf?, adapter: (Int, LoRATarget) -> LoRAAdapterGrads? = { _, _ in nil }) {
        embeddings = EmbeddingGrads(grad)
        layers = (0..<c.numLayers).map { l in
            var g = LayerGrads(layer: l, grad)
            for t in LoRATarget.allCases { g.adapters[t.index] = adapter(l, t) }
            return g
        }
    }
}

/// The MLM head: transform (dense, GELU, LayerNorm) and the decoder tied to the word embeddings.
struct MLMHeadWeights {
    let dense, denseB, lnW, lnB, decoder, decoderB: Buf

    init(_ t: (String) -> Buf) {
        dense = t("cls.predictions.transform.dense.weight"); denseB = t("cls.predictions.transform.dense.bias")
        lnW = t("cls.predictions.transform.LayerNorm.weight"); lnB = t("cls.predictions.transform.LayerNorm.bias")
        decoder = t("bert.embeddings.word_embeddings.weight"); decoderB = t("cls.predictions.decoder.bias")
    }
}

struct MLMHeadGrads {
    let dense, denseB, lnW, lnB, decoder, decoderB: Buf?

    init(_ g: (String) -> Buf?) {
        dense = g("cls.predictions.transform.dense.weight"); denseB = g("cls.predictions.transform.dense.bias")
        lnW = g("cls.predictions.transform.LayerNorm.weight"); lnB = g("cls.predictions.transform.LayerNorm.bias")
        decoder = g("bert.embeddings.word_embeddings.weight"); decoderB = g("cls.predictions.decoder.bias")
    }
}

/// The sequence-classification head: the pooler (nil without one) and the classifier linear (nil for the
/// pooled output alone).
struct ClassifierHeadWeights {
    let poolerW, poolerB, classifierW, classifierB: Buf?

    init(_ t: (String) -> Buf?) {
        poolerW = t("bert.pooler.dense.weight"); poolerB = t("bert.pooler.dense.bias")
        classifierW = t("classifier.weight"); classifierB = t("classifier.bias")
    }
}

typealias ClassifierHeadGrads = ClassifierHeadWeights
