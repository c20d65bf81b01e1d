/// BERT's masked-language-model corruption (as in Hugging Face `DataCollatorForLanguageModeling` and the
/// DNABERT-2 recipe): each non-special, non-padding token is chosen with probability `probability` (15%);
/// when a row has eligible tokens but none was drawn, one of them is chosen uniformly so every sequence
/// contributes to the loss. A chosen token becomes [MASK] with probability `maskFraction` (80%), a uniformly
/// random non-special token with probability `randomFraction` (10%), and stays as it is otherwise (10%).
/// Labels hold the original id at chosen positions and -100 elsewhere.
public struct MLMMasking: Sendable {
    public var probability: Double
    public var maskFraction: Double
    public var randomFraction: Double
    /// Guarantee at least one target per row that has an eligible token.
    public var atLeastOne: Bool
    public let maskId: Int32
    /// Ids never chosen (special tokens: [CLS], [SEP], [PAD], [MASK], [UNK], …).
    public let specialIds: Set<Int32>
    /// Replacement candidates of the 10% random branch: every non-special id of the vocabulary.
    public let randomCandidates: [Int32]

    /// Masking for a vocabulary of `vocabSize` ids of which `specialIds` are special.
    public init(vocabSize: Int, maskId: Int32, specialIds: Set<Int32>, probability: Double = 0.15,
                maskFraction: Double = 0.8, randomFraction: Double = 0.1, atLeastOne: Bool = true) throws {
        guard vocabSize > 0, maskId >= 0, Int(maskId) < vocabSize else {
            throw DNABertError.invalidArgument("MLM masking: mask id \(maskId) is outside the vocabulary (size \(vocabSize))")
        }
        guard probability > 0, probability <= 1 else {
            throw DNABertError.invalidArgument("MLM masking: mask probability must be in (0, 1], got \(probability)")
        }
        guard maskFraction >= 0, randomFraction >= 0, maskFraction + randomFraction <= 1 + 1e-12 else {
            throw DNABertError.invalidArgument("MLM masking: mask and random fractions must be >= 0 and sum to at most 1, got \(maskFraction) and \(randomFraction)")
        }
        var specials = specialIds
        specials.insert(maskId)
        let candidates = (0..<Int32(vocabSize)).filter { !specials.contains($0) }
        guard !candidates.isEmpty || randomFraction == 0 else {
            throw DNABertError.invalidArgument("MLM masking: the vocabulary has no non-special token to substitute")
        }
        self.probability = probability
        self.maskFraction = maskFraction
        self.randomFraction = randomFraction
        self.atLeastOne = atLeastOne
        self.maskId = maskId
        self.specialIds = specials
        self.randomCandidates = candidates
    }

    /// Masking for a tokenizer: its [MASK] id and its special added tokens (plus [PAD], [CLS], [SEP], [UNK]).
    public init(tokenizer: Tokenizer, probability: Double = 0.15, maskFraction: Double = 0.8,
                randomFraction: Double = 0.1, atLeastOne: Bool = true) throws {
        guard let mask = tokenizer.maskId else {
            throw DNABertError.invalidArgument("MLM masking: the tokenizer has no [MASK] token")
        }
        var specials = Set((0..<Int32(tokenizer.idLimit)).filter { tokenizer.isSpecial($0) })
        for id in [tokenizer.padId, tokenizer.clsId, tokenizer.sepId, tokenizer.unkId] { if let i = id { specials.insert(i) } }
        try self.init(vocabSize: tokenizer.idLimit, maskId: mask, specialIds: specials, probability: probability,
                      maskFraction: maskFraction, randomFraction: randomFraction, atLeastOne: atLeastOne)
    }

    /// Corrupts one row in place. `ids` and `labels` have the same length; `attention` (optional, same
    /// length) marks padding with 0 — padded positions are never chosen, nor are special ids.
    public func apply(ids: UnsafeMutableBufferPointer<Int32>, labels: UnsafeMutableBufferPointer<Int32>,
                      attention: UnsafeBufferPointer<Int32>?, rng: inout TrainingRNG) {
        let n = min(ids.count, labels.count)
        var eligible = 0, chosen = 0
        for i in 0..<n {
            labels[i] = MLMBatch.ignoreIndex
            if let a = attention, i < a.count, a[i] == 0 { continue }
            if specialIds.contains(ids[i]) { continue }
            eligible += 1
            if rng.nextDouble() < probability {
                labels[i] = ids[i]
                chosen += 1
            }
        }
        if chosen == 0 && eligible > 0 && atLeastOne {
            var k = rng.nextInt(below: eligible)
            for i in 0..<n {
                if let a = attention, i < a.count, a[i] == 0 { continue }
                if specialIds.contains(ids[i]) { continue }
                if k == 0 { labels[i] = ids[i]; break }
                k -= 1
            }
        }
        for i in 0..<n where labels[i] != MLMBatch.ignoreIndex {
            let u = rng.nextDouble()
            if u < maskFraction {
                ids[i] = maskId
            } else if u < maskFraction + randomFraction, !randomCandidates.isEmpty {
                ids[i] = randomCandidates[rng.nextInt(below: randomCandidates.count)]
            }
        }
    }

    /// Corrupts every row of `batch` (its `ids` hold the clean tokens on entry) and fills `labels`.
    public func apply(to batch: inout MLMBatch, rng: inout TrainingRNG) throws {
        if batch.labels.count != batch.ids.count {
            batch.labels = [Int32](repeating: MLMBatch.ignoreIndex, count: batch.ids.count)
        }
        try batch.validate()
        let len = batch.length
        batch.ids.withUnsafeMutableBufferPointer { ids in
            batch.labels.withUnsafeMutableBufferPointer { labels in
                batch.attentionMask.withUnsafeBufferPointer { att in
                    for r in 0..<batch.batch {
                        let range = (r * len)..<((r + 1) * len)
                        apply(ids: UnsafeMutableBufferPointer(rebasing: ids[range]),
                              labels: UnsafeMutableBufferPointer(rebasing: labels[range]),
                              attention: UnsafeBufferPointer(rebasing: att[range]), rng: &rng)
                    }
                }
            }
        }
    }
}
