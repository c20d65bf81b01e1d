#if canImport(Glibc)
import Glibc
#endif

/// SmoothQuant-style smoothing of the int8 linears (Xiao et al., "SmoothQuant", ICML 2023), computed once when a
/// float32 model is quantized.
///
/// Why: the activations are quantized per row (token), so a row's largest channel sets the scale of all of its
/// channels. DNABERT-2's LayerNorm outputs carry a few outlier channels (on the shipped model a row's max is about
/// 5.5 × its rms), which coarsens every other channel; that, not the weights, dominated the int8 error. Per input
/// channel j of each linear, s_j = max|X_j|^α / max_n|W[n, j]|^(1−α): activations are multiplied by 1/s_j before
/// their row quantization and the weight W[n, j]·s_j is quantized per output channel as before (`Int8Matrix`), so
/// the product is unchanged in exact arithmetic while the outliers move into the weight columns.
///
/// max|X_j| comes from a float32 forward on a fixed calibration batch that needs no user data: `sequences` rows of
/// `length` ids, [CLS], ids uniform over the non-special vocabulary, [SEP], from a fixed seed — so every entry point
/// (quantize, load with a precision) computes the same factors on a given machine, and a saved int8 checkpoint
/// carries them. Random tokens are enough because the outlier channels are a property of the weights (LayerNorm
/// gains), not of the input: in a PyTorch emulation, calibrating on real DNA windows instead gave the same
/// agreement within noise (README "Reduced precision").
enum Int8Calibration {
    /// Migration strength α, chosen by measurement (README "Reduced precision": 0.5 and 0.6 tie on the MLM gate, 0.5
    /// is ahead on other masked sets and has the lower logit error).
    static let defaultAlpha = 0.5
    static let sequences = 32, length = 128
    static let seed: UInt64 = 0x534D_4F4F_5448   // "SMOOTH"
    /// DNABERT-2's special ids: [UNK] 0, [CLS] 1, [SEP] 2, [PAD] 3, [MASK] 4 (this library's tokenizer trainer
    /// assigns the same). Model has no tokenizer; these are the ids every DNABERT-2 vocabulary uses.
    static let clsId: Int32 = 1, sepId: Int32 = 2, firstOrdinaryId = 5
    /// Factors are clamped to [1/limit, limit]; a channel without information (never active in calibration, or an
    /// all-zero weight column) keeps s = 1.
    static let limit = 1024.0

    /// α from `DNABERT_INT8_SMOOTH_ALPHA` (a number in [0, 1], or "none" for no smoothing — a diagnostic for
    /// measuring, not a supported option), else `defaultAlpha`; nil = no smoothing.
    static func alphaFromEnvironment() throws -> Double? {
        guard let e = getenv("DNABERT_INT8_SMOOTH_ALPHA") else { return defaultAlpha }
        let v = String(cString: e)
        if v == "none" { return nil }
        guard let a = Double(v), a >= 0, a <= 1 else {
            throw DNABertError.invalidArgument("DNABERT_INT8_SMOOTH_ALPHA must be a number in [0, 1] or 'none', got '\(v)'")
        }
        return a
    }

    /// The calibration ids [sequences, length] for a vocabulary of `vocab` ids.
    static func batch(vocab: Int) -> [Int32] {
        var rng = TrainingRNG(seed: seed)
        let lo = vocab > firstOrdinaryId ? firstOrdinaryId : 0
        var ids = [Int32](repeating: 0, count: sequences * length)
        for r in 0..<sequences {
            for t in 0..<length { ids[r * length + t] = Int32(lo + rng.nextInt(below: vocab - lo)) }
            if vocab > Int(sepId) {
                ids[r * length] = clsId
                ids[r * length + length - 1] = sepId
            }
        }
        return ids
    }

    /// max|x_j| of each linear's input over the calibration batch, through `model`'s float32 weights:
    /// [layer][target.index] → [inFeatures].
    static func activationRanges(of model: Model, threads: Int) throws -> [[[Float]]] {
        let c = model.config, H = c.hiddenSize, I = c.intermediateSize
        var ranges: [[[Float]]] = (0..<c.numLayers).map { _ in
            LoRATarget.allCases.map { [Float](repeating: 0, count: $0 == .wo ? I : H) }
        }
        let ids = batch(vocab: c.vocabSize)
        let pb = try ids.withUnsafeBufferPointer {
            try PackedBatch(ids: $0, batch: sequences, length: length, attentionMask: nil, vocab: c.vocabSize)
        }
        let ws = ScratchSlots()
        try withExtendedLifetime(ws) {
            _ = try EncoderStack(config: c, scratch: ws).forward(
                pb, model.weights, mode: .inference, threads: Parallel.threads(threads),
                observeLinearInputs: { l, t, x, ld, rows in
                    ranges[l][t.index].withUnsafeMutableBufferPointer { m in
                        for r in 0..<rows {
                            let row = x + r * ld
                            for j in 0..<m.count { m[j] = max(m[j], abs(row[j])) }
                        }
                    }
                })
        }
        return ranges
    }

    /// Factors s [k] of a weight W [n, k] whose input has per-channel ranges `a` [k]:
    /// s_j = a_j^α / max_n|W[n, j]|^(1−α), clamped to [1/limit, limit]; 1 where a_j or the column is 0 (or not finite).
    static func factors(activationRange a: [Float], weight w: UnsafePointer<Float>, out n: Int, in k: Int, alpha: Double) -> [Float] {
        var wmax = [Float](repeating: 0, count: k)
        for r in 0..<n { for j in 0..<k { wmax[j] = max(wmax[j], abs(w[r * k + j])) } }
        return (0..<k).map { j in
            let x = Double(a[j]), m = Double(wmax[j])
            guard x > 0, m > 0, x.isFinite, m.isFinite else { return 1 }
            let s = pow(x, alpha) / pow(m, 1 - alpha)
            guard s.isFinite, s > 0 else { return 1 }
            return Float(min(max(s, 1 / limit), limit))
        }
    }
}
