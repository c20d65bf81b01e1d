import Testing
@testable import DNABert

/// Metrics against scikit-learn / SciPy: Fixtures/finetune/metrics_cases.json from
/// tools/reference/make_metrics_fixture.py (null in the fixture = NaN).
@Suite struct MetricsTests {
    static let fixturePath = FileIO.directoryOf("\(#filePath)") + "/Fixtures/finetune/metrics_cases.json"

    static func load() throws -> JSONValue { try JSON.parse(bytes: FileIO.read(fixturePath)) }

    func ints(_ v: JSONValue?) -> [Int] { (v?.arrayValue ?? []).map { Int($0.intValue ?? -999) } }
    func doubles(_ v: JSONValue?) -> [Double] { (v?.arrayValue ?? []).map { $0.doubleValue ?? .nan } }
    func bools(_ v: JSONValue?) -> [[Bool]] { (v?.arrayValue ?? []).map { ints($0).map { $0 != 0 } } }

    /// Compares to the reference within 1e-9 (absolute, or relative for large values); null means NaN.
    func close(_ got: Double, _ want: JSONValue?, _ what: String) {
        guard let want else { Issue.record("\(what): missing in fixture"); return }
        if want.isNull {
            #expect(got.isNaN, "\(what): expected NaN, got \(got)")
            return
        }
        guard let w = want.doubleValue else { Issue.record("\(what): not a number in fixture"); return }
        #expect(abs(got - w) <= 1e-9 * max(1, abs(w)), "\(what): \(got) vs sklearn/scipy \(w)")
    }

    @Test func classificationMatchesSklearn() throws {
        let cases = try Self.load()["classification"]?.arrayValue ?? []
        #expect(cases.count >= 40)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let k = Int(c["num_classes"]?.intValue ?? 0)
            let m = try Metrics.classification(predicted: ints(c["predicted"]), truth: ints(c["truth"]), numClasses: k)
            close(m.accuracy, c["accuracy"], "\(name) accuracy")
            close(m.f1, c["f1"], "\(name) f1")
            close(m.precision, c["precision"], "\(name) precision")
            close(m.recall, c["recall"], "\(name) recall")
            close(m.mcc, c["mcc"], "\(name) mcc")
            let conf = (c["confusion"]?.arrayValue ?? []).map { ints($0) }
            #expect(m.confusion == conf, "\(name) confusion")
            #expect(m.count == ints(c["truth"]).count)
            // The same numbers from the confusion matrix alone.
            let m2 = try Metrics.fromConfusion(conf)
            #expect(m2 == m, "\(name) fromConfusion")
        }
    }

    @Test func inferredClassCountGivesSameScores() throws {
        // Macro averages skip classes absent from both sides, so an inferred K changes only the matrix size.
        let pred = [0, 2, 1, 1, 0, 2, 2], truth = [0, 1, 1, 2, 0, 2, 1]
        let a = try Metrics.classification(predicted: pred, truth: truth)
        let b = try Metrics.classification(predicted: pred, truth: truth, numClasses: 6)
        #expect(a.numClasses == 3 && b.numClasses == 6)
        #expect(a.f1 == b.f1 && a.mcc == b.mcc && a.precision == b.precision && a.recall == b.recall)
        #expect(a.dictionary.map(\.0) == ["accuracy", "f1", "matthews_correlation", "precision", "recall"])
    }

    @Test func regressionMatchesScipy() throws {
        let cases = try Self.load()["regression"]?.arrayValue ?? []
        #expect(cases.count >= 10)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let m = try Metrics.regression(predicted: doubles(c["predicted"]), truth: doubles(c["truth"]))
            close(m.pearson, c["pearson"], "\(name) pearson")
            close(m.spearman, c["spearman"], "\(name) spearman")
            close(m.mse, c["mse"], "\(name) mse")
            close(m.mae, c["mae"], "\(name) mae")
            close(m.r2, c["r2"], "\(name) r2")
        }
    }

    @Test func averageRanksForTies() {
        // scipy.stats.rankdata([3, 1, 3, 2, 3, 1]) = [5, 1.5, 5, 3, 5, 1.5]
        #expect(Metrics.ranks([3, 1, 3, 2, 3, 1]) == [5, 1.5, 5, 3, 5, 1.5])
    }

    @Test func multiLabelMatchesSklearn() throws {
        let cases = try Self.load()["multi_label"]?.arrayValue ?? []
        #expect(cases.count >= 12)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let m = try Metrics.multiLabel(predicted: bools(c["predicted"]), truth: bools(c["truth"]))
            close(m.accuracy, c["accuracy"], "\(name) subset accuracy")
            close(m.f1, c["f1"], "\(name) f1")
            close(m.precision, c["precision"], "\(name) precision")
            close(m.recall, c["recall"], "\(name) recall")
            close(m.mcc, c["mcc"], "\(name) mcc")
        }
    }

    @Test func indicatorsFromLabelLists() throws {
        let ind = try Metrics.indicators([[0, 2], [], [1]], numLabels: 3)
        #expect(ind == [[true, false, true], [false, false, false], [false, true, false]])
        #expect(throws: DNABertError.self) { try Metrics.indicators([[3]], numLabels: 3) }
        #expect(throws: DNABertError.self) { try Metrics.indicators([[-1]], numLabels: 3) }
    }

    @Test func badInputThrows() {
        #expect(throws: DNABertError.self) { try Metrics.classification(predicted: [0, 1], truth: [0]) }
        #expect(throws: DNABertError.self) { try Metrics.classification(predicted: [], truth: []) }
        #expect(throws: DNABertError.self) { try Metrics.classification(predicted: [0, 2], truth: [0, 1], numClasses: 2) }
        #expect(throws: DNABertError.self) { try Metrics.classification(predicted: [0, 1], truth: [-1, 1]) }
        #expect(throws: DNABertError.self) { try Metrics.classification(predicted: [-1], truth: [-1]) }
        #expect(throws: DNABertError.self) { try Metrics.classification(predicted: [0], truth: [0], numClasses: 0) }
        #expect(throws: DNABertError.self) { try Metrics.fromConfusion([[1, 0]]) }
        #expect(throws: DNABertError.self) { try Metrics.fromConfusion([[0, 0], [0, 0]]) }
        #expect(throws: DNABertError.self) { try Metrics.fromConfusion([[1, -1], [0, 0]]) }
        #expect(throws: DNABertError.self) { try Metrics.regression(predicted: [1], truth: [1, 2]) }
        #expect(throws: DNABertError.self) { try Metrics.regression(predicted: [], truth: []) }
        #expect(throws: DNABertError.self) { try Metrics.multiLabel(predicted: [[true]], truth: [[true], [false]]) }
        #expect(throws: DNABertError.self) { try Metrics.multiLabel(predicted: [[true], [true]], truth: [[true], [false, true]]) }
        #expect(throws: DNABertError.self) { try Metrics.multiLabel(predicted: [], truth: []) }
        #expect(throws: DNABertError.self) { try Metrics.multiLabel(predicted: [[]], truth: [[]]) }
    }

    @Test func nanPropagatesInsteadOfThrowing() throws {
        let m = try Metrics.regression(predicted: [1, .nan, 3], truth: [1, 2, 3])
        #expect(m.pearson.isNaN && m.spearman.isNaN && m.mse.isNaN && m.r2.isNaN)
    }
}

@Suite struct MetricsEvaluateTests {
    func file(_ text: String) throws -> String {
        let p = FASTATestPaths.tempDir() + "/d.csv"
        try FileIO.writeAtomically(p, string: text)
        return p
    }

    @Test func argmaxTakesFirstOnTies() throws {
        #expect(try Metrics.argmax([0.1, 0.7, 0.2, 0.5, 0.5, 0, -1, -3, -2], numLabels: 3) == [1, 0, 0])
        #expect(throws: DNABertError.self) { try Metrics.argmax([1, 2, 3], numLabels: 2) }
        #expect(throws: DNABertError.self) { try Metrics.argmax([1], numLabels: 0) }
    }

    @Test func evaluatePicksMetricsByProblemType() throws {
        // Single-label: predictions 1, 0, 1, 1 against 1, 0, 0, 1 → accuracy 3/4 (hand-computed);
        // class 0: tp 1, predicted 1, true 2; class 1: tp 2, predicted 3, true 2.
        let single = try LabelledSequences.read(path: try file("sequence,label\nA,1\nC,0\nG,0\nT,1\n"))
        let s = Dictionary(uniqueKeysWithValues: try Metrics.evaluate(scores: [0.2, 0.8, 0.9, 0.1, 0.4, 0.6, 0.3, 0.7], truth: single))
        #expect(s["accuracy"] == 0.75)
        #expect(abs((s["precision"] ?? 0) - (1.0 + 2.0 / 3) / 2) < 1e-12)
        #expect(abs((s["recall"] ?? 0) - (0.5 + 1.0) / 2) < 1e-12)
        #expect(abs((s["f1"] ?? 0) - (2.0 / 3 + 0.8) / 2) < 1e-12)
        // Multi-label with threshold 0.5: rows {0,1} vs {0,1} and {} vs {1} → subset accuracy 1/2.
        let multi = try LabelledSequences.read(path: try file("sequence,label\nA,0;1\nC,1\n"))
        let m = Dictionary(uniqueKeysWithValues: try Metrics.evaluate(scores: [0.9, 0.5, 0.1, 0.2], truth: multi))
        #expect(m["accuracy"] == 0.5)
        // Regression: errors 0.5 and -0.5 → mse 0.25.
        let reg = try LabelledSequences.read(path: try file("sequence,label\nA,1.5\nC,2.5\n"))
        let r = Dictionary(uniqueKeysWithValues: try Metrics.evaluate(scores: [1, 3], truth: reg))
        #expect(r["mse"] == 0.25 && r["mae"] == 0.5)
        #expect(throws: DNABertError.self) { try Metrics.evaluate(scores: [1], truth: reg) }
        let unlabelled = try LabelledSequences.readInputs(path: try file("sequence\nACGT\n"))
        #expect(throws: DNABertError.self) { try Metrics.evaluate(scores: [1, 0], truth: unlabelled) }
    }
}
