import Testing
@testable import DNABert

@Suite struct MLMMaskingTests {
    static let tokenizerPath = TestData.dnabert2Tokenizer

    /// Rows of random non-special ids framed by [CLS] … [SEP] and right padding, as the data loader makes.
    static func makeBatch(rows: Int, length: Int, seed: UInt64) -> MLMBatch {
        var r = TestRandom(seed)
        var ids: [Int32] = [], att: [Int32] = []
        for _ in 0..<rows {
            let real = length / 2 + r.int(length / 2 + 1)   // tokens incl. CLS/SEP
            for j in 0..<length {
                if j >= real { ids.append(3); att.append(0) }
                else if j == 0 { ids.append(1); att.append(1) }
                else if j == real - 1 { ids.append(2); att.append(1) }
                else { ids.append(Int32(5 + r.int(4091))); att.append(1) }
            }
        }
        return MLMBatch(ids: ids, attentionMask: att, labels: [], batch: rows, length: length)
    }

    static let specials: Set<Int32> = [0, 1, 2, 3, 4]

    @Test func proportionsMatchTheRecipe() throws {
        let m = try MLMMasking(vocabSize: 4096, maskId: 4, specialIds: Self.specials)
        let clean = Self.makeBatch(rows: 2000, length: 128, seed: 7)
        var b = clean
        var rng = TrainingRNG(seed: 42)
        try m.apply(to: &b, rng: &rng)
        var eligible = 0, chosen = 0, masked = 0, kept = 0, replaced = 0
        for i in 0..<clean.ids.count {
            let special = Self.specials.contains(clean.ids[i]) || clean.attentionMask[i] == 0
            if special {
                #expect(b.labels[i] == -100)
                #expect(b.ids[i] == clean.ids[i])
                continue
            }
            eligible += 1
            if b.labels[i] == -100 {
                #expect(b.ids[i] == clean.ids[i])
                continue
            }
            #expect(b.labels[i] == clean.ids[i])
            chosen += 1
            if b.ids[i] == 4 { masked += 1 }
            else if b.ids[i] == clean.ids[i] { kept += 1 }
            else {
                replaced += 1
                #expect(!Self.specials.contains(b.ids[i]) && b.ids[i] >= 0 && b.ids[i] < 4096)
            }
        }
        // Binomial expectations with 5-sigma tolerances.
        func check(_ count: Int, _ n: Int, _ p: Double, _ what: String) {
            let mean = Double(n) * p, sd = (Double(n) * p * (1 - p)).squareRoot()
            #expect(abs(Double(count) - mean) < 5 * sd, "\(what): \(count) of \(n), expected \(mean) ± \(5 * sd)")
        }
        check(chosen, eligible, 0.15, "chosen")
        check(masked, chosen, 0.8, "masked")
        // The random branch may draw the original token (1 in 4091).
        check(kept, chosen, 0.1 + 0.1 / 4091, "kept")
        check(replaced, chosen, 0.1 * (1 - 1.0 / 4091), "replaced")
        #expect(b.targetCount == chosen)
    }

    @Test func randomReplacementsCoverTheNonSpecialVocabularyUniformly() throws {
        // Tiny vocabulary so a chi-square test has enough counts per cell: ids 0-2 special, 3-9 candidates.
        let m = try MLMMasking(vocabSize: 10, maskId: 2, specialIds: [0, 1], probability: 1, maskFraction: 0, randomFraction: 1)
        var ids = [Int32](repeating: 5, count: 70_000), labels = [Int32](repeating: 0, count: 70_000)
        var rng = TrainingRNG(seed: 3)
        ids.withUnsafeMutableBufferPointer { i in labels.withUnsafeMutableBufferPointer { l in m.apply(ids: i, labels: l, attention: nil, rng: &rng) } }
        var counts = [Int](repeating: 0, count: 10)
        for x in ids { counts[Int(x)] += 1 }
        #expect(counts[0] == 0 && counts[1] == 0 && counts[2] == 0)
        let e = 70_000.0 / 7
        let chi2 = (3..<10).reduce(0.0) { $0 + (Double(counts[$1]) - e) * (Double(counts[$1]) - e) / e }
        #expect(chi2 < 22.5, "chi-square \(chi2) with 6 degrees of freedom (p < 0.001 threshold 22.46)")
        #expect(labels.allSatisfy { $0 == 5 })
    }

    @Test func everyRowWithEligibleTokensGetsATarget() throws {
        let m = try MLMMasking(vocabSize: 4096, maskId: 4, specialIds: Self.specials)
        // Rows of [CLS] x y [SEP] [PAD]…: P(no target by chance) = 0.85² = 72%.
        var ids: [Int32] = [], att: [Int32] = []
        for r in 0..<500 {
            ids += [1, Int32(100 + r % 50), Int32(200 + r % 70), 2, 3, 3]
            att += [1, 1, 1, 1, 0, 0]
        }
        ids += [1, 2, 3, 3, 3, 3]; att += [1, 1, 0, 0, 0, 0]   // nothing eligible
        var b = MLMBatch(ids: ids, attentionMask: att, labels: [], batch: 501, length: 6)
        var rng = TrainingRNG(seed: 9)
        try m.apply(to: &b, rng: &rng)
        var firstCount = 0
        for r in 0..<500 {
            let l = Array(b.labels[(r * 6)..<(r * 6 + 6)])
            #expect(l[1] != -100 || l[2] != -100)
            #expect(l[0] == -100 && l[3] == -100 && l[4] == -100 && l[5] == -100)
            if l[1] != -100 { firstCount += 1 }
        }
        #expect(b.labels[3000..<3006].allSatisfy { $0 == -100 })
        // Position 1 is a target with probability 0.15 + 0.85² × 0.5 = 0.51125.
        let sd = (500 * 0.51125 * 0.48875).squareRoot()
        #expect(abs(Double(firstCount) - 500 * 0.51125) < 5 * sd)
    }

    @Test func determinismBySeed() throws {
        let m = try MLMMasking(vocabSize: 4096, maskId: 4, specialIds: Self.specials)
        let clean = Self.makeBatch(rows: 16, length: 64, seed: 1)
        var a = clean, b = clean, c = clean
        var r1 = TrainingRNG(seed: 5), r2 = TrainingRNG(seed: 5), r3 = TrainingRNG(seed: 6)
        try m.apply(to: &a, rng: &r1)
        try m.apply(to: &b, rng: &r2)
        try m.apply(to: &c, rng: &r3)
        #expect(a.ids == b.ids && a.labels == b.labels)
        #expect(a.labels != c.labels)
        #expect(r1 == r2)
    }

    @Test func tokenizerSpecialsAreNeverChosen() throws {
        let tok = try Tokenizer(contentsOfFile: Self.tokenizerPath)
        let m = try MLMMasking(tokenizer: tok)
        #expect(m.maskId == 4)
        #expect(m.specialIds == Self.specials)
        #expect(m.randomCandidates.count == 4091 && m.randomCandidates.first == 5)
        #expect(throws: DNABertError.self) { try MLMMasking(vocabSize: 10, maskId: 12, specialIds: []) }
        #expect(throws: DNABertError.self) { try MLMMasking(vocabSize: 10, maskId: 1, specialIds: [], probability: 0) }
        var bad = MLMBatch(ids: [1, 2, 3], attentionMask: [1, 1], labels: [], batch: 1, length: 3)
        var rng = TrainingRNG(seed: 1)
        #expect(throws: DNABertError.self) { try m.apply(to: &bad, rng: &rng) }
    }

    @Test func rngStateRoundTripsAndIsUniform() throws {
        var a = TrainingRNG(seed: 123)
        for _ in 0..<10 { _ = a.next() }
        var b = try TrainingRNG(json: JSON.parse(JSON.serialize(a.json)))
        for _ in 0..<100 { #expect(a.next() == b.next()) }
        #expect(throws: DNABertError.self) { try TrainingRNG(state: [0, 0, 0, 0]) }
        #expect(throws: DNABertError.self) { try TrainingRNG(state: [1, 2]) }
        // nextInt(below:) over 7 buckets: chi-square.
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[a.nextInt(below: 7)] += 1 }
        let chi2 = counts.reduce(0.0) { $0 + (Double($1) - 10_000) * (Double($1) - 10_000) / 10_000 }
        #expect(chi2 < 22.5)
        // Seeding by splitmix64(0) and the first outputs of xoshiro256**, computed by a Python transcription of
        // Vigna's reference C code.
        var z = TrainingRNG(seed: 0)
        #expect(z.state == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC])
        #expect(z.next() == 0x99EC5F36CB75F2B4)
        #expect(z.next() == 0xBF6E1F784956452A)
        #expect(z.next() == 0x1A5F849D4933E6E0)
    }
}
