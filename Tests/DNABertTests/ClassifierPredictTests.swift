import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// No silent wrong results from a classifier: a merged model folder reloads as the same classifier (pooling,
/// strand symmetry, labels, problem type, max length), and inputs longer than the classifier's max length are
/// reported (truncation) or scored by windows whose pooled score matches a naive window-by-window computation.
@Suite struct ClassifierPredictTests {
    /// A LoRA classifier on a small random base with non-zero adapters (so merging matters).
    static func classifier(pooling: Pooling, reverseComplement: Bool, problem: ProblemType = .singleLabel, labels: Int = 2,
                           seed: UInt64 = 7) throws -> SequenceClassifier {
        let base = try FineTunerTests.tinyBase()
        let lora = LoRAConfig(r: 4, alpha: 8, dropout: 0, targets: [.wqkv, .attentionOutput, .gatedLayers, .wo])
        let head = ClassifierHead(numLabels: labels, problemType: problem, pooling: pooling)
        let clf = try SequenceClassifier(base: base, head: head, lora: lora, seed: seed)
        var rng = TestRandom(seed)
        for v in clf.layout.views {
            let p = clf.tensor(named: v.name)!
            for i in 0..<v.count { p[i] = rng.float(v.name.hasSuffix("lora_B.weight") ? 0.3 : 0.5) }
        }
        clf.reverseComplement = reverseComplement
        clf.maxLength = 24
        if problem == .singleLabel { clf.labelNames = (0..<labels).map { "class-\($0)" } }
        return clf
    }

    static func sequences(_ n: Int, length: Int, seed: UInt64) -> [String] {
        var rng = TestRandom(seed)
        return (0..<n).map { _ in (0..<length).map { _ in ["A", "C", "G", "T"][rng.int(4)] }.joined() }
    }

    static func tempDir(_ tag: String) -> String {
        var template = Array("/tmp/dnabert-\(tag)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: p!)
    }

    @Test(arguments: [(Pooling.mean, true), (Pooling.mean, false), (Pooling.cls, true), (Pooling.cls, false)])
    func mergedModelReloadsAsTheSameClassifier(pooling: Pooling, rc: Bool) throws {
        let clf = try Self.classifier(pooling: pooling, reverseComplement: rc)
        let seqs = Self.sequences(40, length: 90, seed: 11)
        let expected = try clf.predict(seqs)
        let dir = Self.tempDir("merged")
        defer { _ = system("rm -rf '\(dir)'") }
        try clf.mergedModel().save(directory: dir + "/m")
        let back = try SequenceClassifier.load(directory: dir + "/m", base: nil)
        #expect(back.lora == nil)
        #expect(back.head.pooling == pooling)
        #expect(back.reverseComplement == rc)
        #expect(back.labelNames == ["class-0", "class-1"])
        #expect(back.maxLength == 24)
        #expect(back.head.problemType == .singleLabel)
        let got = try back.predict(seqs)
        let worst = zip(expected, got).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-5, "largest probability difference \(worst)")
        // The folder, loaded as a model and saved again, still carries the metadata (and HF's config fields).
        let m = try PretrainedModel.load(directory: dir + "/m")
        try m.save(directory: dir + "/m2")
        let again = try SequenceClassifier.load(directory: dir + "/m2", base: nil)
        #expect(again.head.pooling == pooling && again.reverseComplement == rc && again.maxLength == 24)
        let cfg = try SequenceClassifier.parseJSONFile(dir + "/m2/config.json")
        #expect(cfg["problem_type"] == .string("single_label_classification"))
        #expect(cfg["id2label"]?["1"] == .string("class-1"))
    }

    @Test func mergedMultiLabelKeepsItsProblemType() throws {
        let clf = try Self.classifier(pooling: .mean, reverseComplement: false, problem: .multiLabel, labels: 3)
        let seqs = Self.sequences(10, length: 60, seed: 3)
        let dir = Self.tempDir("merged-ml")
        defer { _ = system("rm -rf '\(dir)'") }
        try clf.mergedModel().save(directory: dir)
        let back = try SequenceClassifier.load(directory: dir, base: nil)
        #expect(back.head.problemType == .multiLabel)
        let a = try clf.predict(seqs), b = try back.predict(seqs)
        #expect(zip(a, b).map { abs($0 - $1) }.max()! <= 1e-5)
    }

    /// Naive windows: each window scored alone through `logits` (batch of one, no padding), softmax, then the
    /// mean (or max) over windows; strands averaged.
    func naive(_ clf: SequenceClassifier, _ s: String, width: Int, overlap: Int, max useMax: Bool) throws -> [Float] {
        let tok = clf.base.tokenizer!
        var o = EncodeOptions()
        o.addSpecialTokens = false
        o.uppercase = true
        func strand(_ seq: String) throws -> [Float] {
            let t = tok.encode(seq, options: o).ids
            var starts: [Int] = []
            var st = 0
            while true {
                if st + width >= t.count { starts.append(max(t.count - width, 0)); break }
                starts.append(st)
                st += width - overlap
            }
            var acc = [Float](repeating: useMax ? -.infinity : 0, count: clf.head.numLabels)
            for s0 in starts {
                let ids: [Int32] = [tok.clsId!] + t[s0..<min(s0 + width, t.count)] + [tok.sepId!]
                var lg = try ids.withUnsafeBufferPointer { try clf.logits(ids: $0, batch: 1, length: ids.count, attentionMask: nil) }
                clf.probabilities(&lg, rows: 1)
                for j in 0..<lg.count { acc[j] = useMax ? max(acc[j], lg[j]) : acc[j] + lg[j] / Float(starts.count) }
            }
            return acc
        }
        let f = try strand(s)
        guard clf.reverseComplement else { return f }
        let r = try strand(ReverseComplement.of(s))
        return zip(f, r).map { ($0 + $1) / 2 }
    }

    @Test(arguments: [(false, WindowPooling.mean), (true, WindowPooling.mean), (true, WindowPooling.max)])
    func longInputsAreReportedOrScoredByWindows(rc: Bool, pooling: WindowPooling) throws {
        let clf = try Self.classifier(pooling: .mean, reverseComplement: rc)
        let short = Self.sequences(3, length: 40, seed: 5)
        let long = Self.sequences(3, length: 700, seed: 6)
        let seqs = [short[0], long[0], short[1], long[1], long[2], short[2]]
        // Truncation (the default) is counted so that callers can warn.
        var o = PredictOptions()
        let (truncated, r1) = try clf.predict(seqs, options: o)
        #expect(r1.longInputs == 3 && r1.maxLength == 24 && r1.longestTokens > 24)
        let plain = try clf.predict(seqs)
        #expect(truncated == plain)
        o.longInputs = .windows
        o.overlap = 5
        o.windowPooling = pooling
        o.batchSize = 4
        let (windowed, r2) = try clf.predict(seqs, options: o)
        #expect(r2.longInputs == 3 && r2.windows > seqs.count)
        let C = clf.head.numLabels
        for (i, s) in seqs.enumerated() {
            let want = try naive(clf, s, width: 22, overlap: 5, max: pooling == .max)
            for j in 0..<C { #expect(abs(windowed[i * C + j] - want[j]) <= 1e-5, "sequence \(i) label \(j)") }
        }
        // Short inputs get the same scores either way.
        for i in [0, 2, 5] { for j in 0..<C { #expect(abs(windowed[i * C + j] - truncated[i * C + j]) <= 1e-6) } }
    }
}
