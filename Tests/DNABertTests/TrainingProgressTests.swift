#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import DNABert

@Suite struct TrainingProgressTests {
    static func tempPath(_ suffix: String) -> String { "/tmp/dnabert-metrics-\(getpid())-\(UInt32.random(in: 0...UInt32.max))\(suffix)" }

    @Test func derivedFieldsAndJSONRoundTrip() throws {
        // 40 of 100 steps in 20 s, 81 920 tokens: 4096 tokens/s, 0.5 s per step → 30 s left.
        let p = TrainingProgress(step: 40, totalSteps: 100, loss: 5.25, learningRate: 4e-4, gradNorm: 1.5, tokens: 81_920,
                                 elapsedSeconds: 20, validationLoss: 5.5, validationAccuracy: 0.125)
        #expect(p.tokensPerSecond == 4096)
        #expect(p.etaSeconds == 30)
        #expect(TrainingProgress.eta(step: 0, totalSteps: 10, elapsedSeconds: 5) == 0)
        #expect(TrainingProgress.eta(step: 10, totalSteps: 10, elapsedSeconds: 5) == 0)
        let back = try TrainingProgress(json: JSON.parse(JSON.serialize(p.json)))
        #expect(back == p)
        var q = p
        q.validationLoss = nil
        q.gradNorm = nil
        let qb = try TrainingProgress(json: JSON.parse(JSON.serialize(q.json)))
        #expect(qb.validationLoss == nil && qb.gradNorm == nil && qb.validationAccuracy == 0.125)
        #expect(throws: DNABertError.self) { try TrainingProgress(json: JSON.parse("{\"loss\": 1}")) }
    }

    @Test func jsonlAndCSVFiles() throws {
        let csv = Self.tempPath(".csv"), jsonl = Self.tempPath(".jsonl")
        defer { unlink(csv); unlink(jsonl) }
        let a = TrainingProgress(step: 1, totalSteps: 3, loss: 8.25, learningRate: 1e-4, tokens: 100, elapsedSeconds: 2)
        let b = TrainingProgress(step: 2, totalSteps: 3, loss: 7.5, learningRate: 2e-4, tokens: 200, elapsedSeconds: 4, validationLoss: 7.75)
        do {
            let w = try MetricsWriter(path: csv)
            try w.write(a)
        }
        do {
            // Reopening appends without a second header (a resumed run).
            let w = try MetricsWriter(path: csv)
            try w.write(b)
            let j = try MetricsWriter(path: jsonl)
            try j.write(a)
            try j.write(b)
        }
        let lines = String(decoding: try FileIO.read(csv), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0] == "step,total_steps,loss,lr,grad_norm,tokens,tokens_per_second,elapsed_seconds,eta_seconds,val_loss,val_accuracy")
        let cells = lines[2].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(cells.count == 11)
        #expect(cells[0] == "2" && Double(cells[2]) == 7.5 && Double(cells[3]) == 2e-4 && cells[4] == "")
        #expect(Double(cells[6]) == 50 && Double(cells[8]) == 2 && Double(cells[9]) == 7.75 && cells[10] == "")
        let jl = String(decoding: try FileIO.read(jsonl), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(jl.count == 2)
        #expect(try TrainingProgress(json: JSON.parse(jl[1])) == b)
        #expect(throws: DNABertError.self) { try MetricsWriter(path: "/nonexistent-dir/m.csv") }
    }
}
