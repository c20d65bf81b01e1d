import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// Reverse complements and strand-symmetric classifiers. Expected strands are written out by hand or made by
/// the test's own complement function, not the library's.
@Suite struct ReverseComplementTests {
    /// The test's own reverse complement (IUPAC pairs written out).
    static func rc(_ s: String) -> String {
        let pairs: [Character: Character] = ["A": "T", "T": "A", "C": "G", "G": "C", "N": "N", "a": "t", "t": "a", "c": "g", "g": "c", "n": "n"]
        return String(s.reversed().map { pairs[$0]! })
    }

    @Test func iupacCodesCaseAndOddLengths() {
        #expect(ReverseComplement.of("ACGTRYKMBVDHSWN-acgtu") == "aacgt-NWSDHBVKMRYACGT")
        #expect(ReverseComplement.of("ACG") == "CGT")
        #expect(ReverseComplement.of("A") == "T")
        #expect(ReverseComplement.of("") == "")
        #expect(ReverseComplement.of("GATTACA") == "TGTAATC")
        // An involution on DNA text.
        let s = "ACGTNacgtnRYKMBVDHSW"
        #expect(ReverseComplement.of(ReverseComplement.of(s)) == s)
    }

    static func sequences(_ n: Int, seed: UInt64) -> [String] {
        var rng = TestRandom(seed)
        return (0..<n).map { i in
            String((0..<(40 + rng.int(80))).map { _ in Array("ACGTacgtN")[rng.int(i % 3 == 0 ? 9 : 4)] })
        }
    }

    @Test func bothStrandsGetTheMeanOfTheTwoScores() throws {
        let base = try FineTunerTests.tinyBase()
        let head = ClassifierHead(numLabels: 3, problemType: .singleLabel, pooling: .mean)
        let clf = try SequenceClassifier(base: base, head: head, lora: LoRAConfig(r: 4, alpha: 8, dropout: 0), seed: 5)
        // Non-zero adapters, so the LoRA path takes part.
        for i in 0..<clf.parameters.count { clf.parameters[i] += Float((i * 7919) % 13 - 6) * 1e-3 }
        let seqs = Self.sequences(23, seed: 9), rcs = seqs.map(Self.rc)
        let forward = try clf.predict(seqs), reverse = try clf.predict(rcs)
        #expect(zip(forward, reverse).contains { abs($0 - $1) > 1e-4 }, "the strands should score differently one by one")
        clf.reverseComplement = true
        let both = try clf.predict(seqs), bothRC = try clf.predict(rcs)
        for k in 0..<both.count {
            #expect(abs(both[k] - (forward[k] + reverse[k]) / 2) < 1e-6)
            #expect(abs(both[k] - bothRC[k]) < 1e-6)
        }
        // evaluate scores the same way; its metrics follow the averaged probabilities.
        let data = try LabelledSequences.fromArrays(sequences: seqs, labels: seqs.indices.map { String($0 % 3) })
        let e = try clf.evaluate(data)
        for k in 0..<both.count { #expect(abs(e.scores[k] - both[k]) < 1e-6) }
        var correct = 0
        for i in seqs.indices {
            let row = Array(both[(3 * i)..<(3 * i + 3)])
            if row.firstIndex(of: row.max()!)! == i % 3 { correct += 1 }
        }
        #expect(abs(e.value("accuracy")! - Double(correct) / Double(seqs.count)) < 1e-12)
    }

    @Test func trainingDrawsEachStrandAboutHalfTheTime() throws {
        let base = try FineTunerTests.tinyBase()
        let seqs = Self.sequences(64, seed: 11)
        let train = try LabelledSequences.fromArrays(sequences: seqs, labels: seqs.indices.map { String($0 % 2) })
        let tok = base.tokenizer!
        var eo = EncodeOptions()
        eo.uppercase = true
        let fwd = seqs.map { tok.encode($0, options: eo).ids }, rev = seqs.map { tok.encode(Self.rc($0), options: eo).ids }
        for reverse in [false, true] {
            var o = FineTuneOptions()
            o.batchSize = 8; o.reverseComplement = reverse; o.seed = 2
            let ft = try FineTuning.start(base: base, train: train, dev: nil, options: o, lora: LoRAConfig())
            #expect(ft.classifier.reverseComplement == reverse)
            var nf = 0, nr = 0
            for _ in 0..<200 {
                let b = ft.nextBatch()
                for r in 0..<b.batch {
                    let row = Array(b.ids[(r * b.length)..<(r * b.length + b.length)])
                    let n = b.attentionMask[(r * b.length)..<(r * b.length + b.length)].reduce(0) { $0 + Int($1) }
                    let ids = Array(row[0..<n])
                    if fwd.contains(ids) { nf += 1 } else if rev.contains(ids) { nr += 1 } else { Issue.record("a row that is neither strand (reverse \(reverse)): \(ids)") }
                }
            }
            if reverse {
                #expect(abs(Double(nr) / Double(nf + nr) - 0.5) < 0.05, "\(nr) of \(nf + nr) rows reverse-complemented")
            } else {
                #expect(nr == 0 && nf == 1600)
            }
        }
    }

    @Test func savedWithTheClassifierAndCheckedOnLoad() throws {
        let base = try FineTunerTests.tinyBase()
        let clf = try SequenceClassifier(base: base, head: ClassifierHead(numLabels: 2), lora: LoRAConfig(), seed: 1)
        clf.reverseComplement = true
        let dir = ioTempDirectory()
        defer { _ = system("rm -rf '\(dir)'") }
        try clf.save(directory: dir)
        let back = try SequenceClassifier.load(directory: dir, base: base)
        #expect(back.reverseComplement)
        let seqs = Self.sequences(5, seed: 3)
        #expect(try back.predict(seqs) == clf.predict(seqs))
        // Hostile or older files: a non-boolean is refused; a missing field means one strand.
        let path = dir + "/dnabert_classifier.json"
        let fields = try #require(JSON.parse(bytes: FileIO.read(path)).objectValue)
        #expect(fields.contains { $0.0 == "reverse_complement" && $0.1 == .bool(true) })
        func rewrite(_ f: [(String, JSONValue)]) throws { try FileIO.writeAtomically(path, string: JSON.serialize(JSONValue.object(f))) }
        try rewrite(fields.map { $0.0 == "reverse_complement" ? ($0.0, JSONValue.string("yes")) : $0 })
        #expect(throws: DNABertError.self) { _ = try SequenceClassifier.load(directory: dir, base: base) }
        try rewrite(fields.filter { $0.0 != "reverse_complement" })
        #expect(try SequenceClassifier.load(directory: dir, base: base).reverseComplement == false)
    }
}
