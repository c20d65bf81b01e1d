import Testing
@testable import DNABert

/// The pretraining loop: it learns, and a resumed run continues step for step like an uninterrupted one.
@Suite struct PretrainerTests {
    /// A genome with structure to learn: a few motifs repeated with point mutations, as FASTA.
    static func writeGenome(_ dir: String) throws -> String {
        var rng = TestRandom(11)
        let bases = Array("ACGT".utf8)
        let motifs = (0..<6).map { _ in (0..<40).map { _ in bases[rng.int(4)] } }
        var seq: [UInt8] = []
        while seq.count < 60_000 {
            var m = motifs[rng.int(motifs.count)]
            if rng.int(4) == 0 { m[rng.int(m.count)] = bases[rng.int(4)] }
            seq += m
        }
        var text = Array(">synthetic\n".utf8)
        for i in stride(from: 0, to: seq.count, by: 70) { text += seq[i..<min(i + 70, seq.count)] + [10] }
        let path = dir + "/genome.fa"
        try FileIO.writeAtomically(path, text)
        return path
    }

    static func model(seed: UInt64) throws -> PretrainedModel {
        let tok = try Tokenizer(contentsOfFile: TestData.dnabert2Tokenizer)
        var c = ModelConfig()
        c.hiddenSize = 32; c.numLayers = 1; c.numHeads = 2; c.intermediateSize = 64
        return try PretrainedModel.random(config: c, tokenizer: tok, seed: seed)
    }

    static func options(steps: Int) -> PretrainOptions {
        var o = PretrainOptions()
        o.steps = steps
        o.batchSize = 8
        o.learningRate = 3e-3
        o.warmupSteps = 2
        o.evalEvery = 3
        o.checkpointEvery = 3
        o.threads = 2
        o.data.sequenceLength = 32
        o.data.validationWindows = 16
        return o
    }

    @Test func lossFalls() throws {
        let dir = ioTempDirectory()
        let genome = try Self.writeGenome(dir)
        var o = Self.options(steps: 40)
        o.evalEvery = 40
        o.checkpointEvery = 0
        let p = try Pretrainer(model: try Self.model(seed: 1), files: [genome], out: dir + "/run", options: o)
        let before = try p.evaluate()
        let history = try p.run()
        #expect(history.count == 40)
        let after = history.last!.validationLoss!
        // From about ln(4096) ≈ 8.3 at random init, well down on a corpus of repeated motifs.
        #expect(before.loss > 7.5)
        #expect(after < before.loss - 2, "validation loss \(before.loss) → \(after)")
        #expect(FileIO.exists(dir + "/run/model/model.safetensors"))
        #expect(FileIO.exists(dir + "/run/metrics.jsonl"))
    }

    @Test func resumeGivesTheSameRun() throws {
        let dir = ioTempDirectory()
        let genome = try Self.writeGenome(dir)
        let o = Self.options(steps: 6)
        // Uninterrupted.
        let a = try Pretrainer(model: try Self.model(seed: 2), files: [genome], out: dir + "/a", options: o)
        let ha = try a.run()
        // Stopped after step 3 (a checkpoint is written on the way out), then resumed in a new trainer.
        let b = try Pretrainer(model: try Self.model(seed: 2), files: [genome], out: dir + "/b", options: o)
        #expect(throws: DNABertError.self) { try b.run { $0.step < 3 } }
        #expect(b.step == 3)
        let fresh = try Self.model(seed: 99)   // other weights: the checkpoint must overwrite them all
        let c = try Pretrainer(model: fresh, files: [genome], out: dir + "/b", options: o, resume: true)
        #expect(c.step == 3)
        let hc = try c.run()
        #expect(hc.count == 6)
        #expect(ha.map(\.loss) == hc.map(\.loss))
        #expect(ha.compactMap(\.validationLoss) == hc.compactMap(\.validationLoss))
        #expect(Array(a.pretrained.model.parameters) == Array(fresh.model.parameters))
    }
}

