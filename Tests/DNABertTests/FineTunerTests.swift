import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// The fine-tuning loop on a synthetic task whose answer is known: a motif present (1) or absent (0).
@Suite struct FineTunerTests {
    static func tinyBase() throws -> PretrainedModel {
        let tok = try Tokenizer(contentsOfFile: TestData.dnabert2Tokenizer)
        var c = ModelConfig()
        c.vocabSize = tok.vocabSize; c.hiddenSize = 32; c.numHeads = 4; c.numLayers = 2; c.intermediateSize = 64
        return try PretrainedModel.random(config: c, tokenizer: tok, seed: 3)
    }

    /// Random 120 bp sequences; label 1 = the motif GGGGGGGGGG is inserted at a random place.
    static func motifData(_ n: Int, seed: UInt64) throws -> LabelledSequences {
        var rng = TestRandom(seed)
        var seqs: [String] = [], labels: [String] = []
        for i in 0..<n {
            var s = (0..<120).map { _ in ["A", "C", "G", "T"][rng.int(4)] }
            if i % 2 == 1 {
                let at = rng.int(100)
                for k in 0..<12 { s[at + k] = "G" }
            }
            seqs.append(s.joined())
            labels.append(String(i % 2))
        }
        return try LabelledSequences.fromArrays(sequences: seqs, labels: labels)
    }

    @Test(arguments: [true, false])
    func learnsAMotifAndKeepsTheBestDevParameters(lora: Bool) throws {
        // LoRA adapts a pretrained encoder: the project's shipped model (a random frozen encoder carries too
        // little of the input for a rank-4 adapter to find the motif in a few steps); full fine-tuning starts
        // from random weights.
        let base: PretrainedModel
        if lora { base = try PretrainedModel.load(directory: Self.shippedModelPath()) } else { base = try Self.tinyBase() }
        let train = try Self.motifData(256, seed: 1)
        let dev = try LabelledSequences.fromArrays(sequences: Self.motifData(96, seed: 2).sequences,
                                                   labels: (0..<96).map { String($0 % 2) }, schema: train.schema)
        var o = FineTuneOptions()
        o.epochs = 6; o.batchSize = 16; o.learningRate = lora ? 2e-3 : 1e-3; o.evalEvery = 16; o.selectBy = "mcc"
        o.threads = 2; o.seed = 4
        let ft = try FineTuning.start(base: base, train: train, dev: dev, options: o,
                                      lora: lora ? LoRAConfig(r: 4, alpha: 8, dropout: 0, targets: LoRATarget.allCases) : nil)
        let before = try ft.classifier.evaluate(dev)
        let history = try ft.run()
        #expect(history.count == ft.totalSteps && ft.totalSteps == 6 * 16)
        let after = try ft.classifier.evaluate(dev)
        // The motif is learnable; chance is MCC 0.
        #expect(after.value("mcc")! > 0.6, "dev MCC \(after.value("mcc")!) (before \(before.value("mcc")!))")
        #expect(after.loss < before.loss)
        // The kept parameters are those of the best evaluation: re-evaluating gives its value.
        let best = try #require(ft.best)
        #expect(abs(after.value("mcc")! - best.value) < 1e-12)
        #expect(history.compactMap { $0.dev?.value("mcc") }.allSatisfy { $0 <= best.value + 1e-12 })
        // Scores are probabilities; predictions on raw sequences agree with evaluate's.
        let p = try ft.classifier.predict(dev.sequences)
        for i in 0..<dev.count { #expect(abs(p[2 * i] + p[2 * i + 1] - 1) < 1e-5) }
        #expect(p == after.scores)
        // LoRA leaves the base untouched.
        if lora { #expect(ft.classifier.trainableCount < base.model.layout.total / 10) }
    }

    static func shippedModelPath(file: String = #filePath) -> String {
        var dir = file
        for _ in 0..<3 { dir = FileIO.directoryOf(dir) }
        return dir + "/examples/models/dnabert2-small-5genomes"
    }

    @Test func inMemoryLabelsAndBadOptions() throws {
        let names = try LabelledSequences.fromArrays(sequences: ["ACGT", "GGCC", "TTAA"], labels: ["exon", "intron", "exon"])
        #expect(names.labelNames == ["exon", "intron"] && names.classLabels == [0, 1, 0])
        #expect(throws: DNABertError.self) { _ = try LabelledSequences.fromArrays(sequences: ["ACGT"], labels: []) }
        #expect(throws: DNABertError.self) { _ = try LabelledSequences.fromArrays(sequences: ["ACGT", ""], labels: ["0", "1"]) }
        #expect(throws: DNABertError.self) {
            _ = try LabelledSequences.fromArrays(sequences: ["ACGT"], labels: ["other"], schema: names.schema)
        }
        let base = try Self.tinyBase()
        var bads: [FineTuneOptions] = []
        for k in 0..<6 {
            var o = FineTuneOptions()
            switch k {
            case 0: o.epochs = .infinity
            case 1: o.epochs = 1e300
            case 2: o.batchSize = 0
            case 3: o.selectBy = "auc"
            case 4: o.maxLength = 2
            default: o.learningRate = -1
            }
            bads.append(o)
        }
        for o in bads {
            #expect(throws: DNABertError.self) { _ = try FineTuning.start(base: base, train: names, dev: nil, options: o, lora: LoRAConfig()) }
        }
        // A one-class training set cannot make a single-label classifier.
        let oneClass = try LabelledSequences.fromArrays(sequences: ["ACGT", "GGCC"], labels: ["0", "0"])
        #expect(throws: DNABertError.self) { _ = try FineTuning.start(base: base, train: oneClass, dev: nil, options: .init(), lora: LoRAConfig()) }
    }
}
