import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// The whole model's MLM loss gradient against central finite differences of the loss.
@Suite struct TrainableTests {
    static func tinyModel(seed: UInt64) throws -> Model {
        var c = ModelConfig()
        c.vocabSize = 24; c.hiddenSize = 8; c.numHeads = 2; c.numLayers = 2; c.intermediateSize = 12
        let m = try Model(config: c)
        var rng = TestRandom(seed)
        for v in m.layout.views {
            let p = m.parameter(named: v.name)!
            let isLN = v.name.hasSuffix("LayerNorm.weight") || v.name.hasSuffix("layernorm.weight")
            for i in 0..<v.count {
                p[i] = isLN ? 1 + rng.float(0.3) : (v.shape.count == 2 ? rng.float(0.6) : rng.float(0.2))
            }
        }
        return m
    }

    static func batch() -> MLMBatch {
        // Row 0: 9 real tokens; row 1: 6 real then 3 padding. Labels on 6 positions.
        let ids: [Int32] = [1, 5, 7, 9, 11, 3, 20, 4, 2, 1, 6, 8, 23, 10, 2, 0, 0, 0]
        let mask: [Int32] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
        var labels = [Int32](repeating: -100, count: 18)
        labels[1] = 5; labels[3] = 13; labels[6] = 20; labels[11] = 8; labels[12] = 17; labels[13] = 10
        return MLMBatch(ids: ids, attentionMask: mask, labels: labels, batch: 2, length: 9)
    }

    func checkFD(dropout: Double) throws {
        let m = try Self.tinyModel(seed: 7)
        let tr = try Trainable(model: m, dropout: dropout, seed: 99)
        let b = Self.batch()
        var grad = [Float](repeating: 0, count: m.layout.total)
        var scratch = grad
        func loss() throws -> Double {
            tr.calls = 0
            return try scratch.withUnsafeMutableBufferPointer { try tr.lossAndGradient(b, into: $0, threads: 2).loss }
        }
        tr.calls = 0
        let res = try grad.withUnsafeMutableBufferPointer { try tr.lossAndGradient(b, into: $0, threads: 2) }
        #expect(res.counted == 6)
        #expect(res.loss > 0 && res.loss.isFinite)
        var rng = TestRandom(5)
        var worst = 0.0
        for v in m.layout.views {
            let p = m.parameter(named: v.name)!
            var picks = (0..<4).map { _ in rng.int(v.count) }
            if v.name == "bert.embeddings.word_embeddings.weight" { picks += [5 * 8 + 3, 23 * 8 + 1, 0 * 8 + 2] }
            var an = [Double](), fd = [Double]()
            for i in picks {
                fd.append(try FiniteDifferences.derivative(p, i, step: 1.0 / 32, loss))
                an.append(Double(grad[v.offset + i]))
            }
            let err = FiniteDifferences.relativeError(an, fd)
            worst = max(worst, err)
            #expect(err < 2e-2, "\(v.name): analytic \(an) vs finite differences \(fd)")
        }
        print("Trainable FD dropout \(dropout): worst relative error \(worst)")
    }

    @Test func wholeModelGradientMatchesFiniteDifferences() throws { try checkFD(dropout: 0) }

    @Test func wholeModelGradientWithDropoutMatchesFiniteDifferences() throws { try checkFD(dropout: 0.3) }

    @Test func lossMatchesInferenceLogitsAndGradientsAccumulate() throws {
        let m = try Self.tinyModel(seed: 8)
        let tr = try Trainable(model: m, dropout: 0, seed: 1)
        let b = Self.batch()
        var g1 = [Float](repeating: 0, count: m.layout.total)
        let r = try g1.withUnsafeMutableBufferPointer { try tr.lossAndGradient(b, into: $0, threads: 1) }
        // Cross-entropy recomputed in Float64 from the inference path's logits.
        let logits = try b.ids.withUnsafeBufferPointer { ids in
            try b.attentionMask.withUnsafeBufferPointer { am in try m.mlmLogits(ids: ids, batch: 2, length: 9, attentionMask: am) }
        }
        var loss = 0.0, n = 0, correct = 0
        for (at, lab) in b.labels.enumerated() where lab != -100 {
            let row = logits[(at * 24)..<((at + 1) * 24)].map(Double.init)
            let mx = row.max()!
            let lse = mx + Glibc.log(row.map { Glibc.exp($0 - mx) }.reduce(0, +))
            loss += lse - row[Int(lab)]; n += 1
            if row.firstIndex(of: mx)! == Int(lab) { correct += 1 }
        }
        #expect(abs(r.loss - loss / Double(n)) < 1e-5 * loss / Double(n))
        #expect(r.counted == n && r.correct == correct)
        var g2 = g1
        _ = try g2.withUnsafeMutableBufferPointer { try tr.lossAndGradient(b, into: $0, threads: 2) }
        for i in g1.indices { #expect(abs(g2[i] - 2 * g1[i]) <= 1e-5 * abs(g1[i]) + 1e-7) }
    }

    /// ALiBi depends on |i − j| only and padded keys get probability 0, so moving row 1's padding from the end
    /// to the front (the packed positions path of flash attention) must not change the loss or any gradient.
    @Test func leftPaddingGivesTheSameLossAndGradients() throws {
        let m = try Self.tinyModel(seed: 10)
        let tr = try Trainable(model: m, dropout: 0, seed: 1)
        let b = Self.batch()
        var left = b
        for i in 0..<9 {
            let src = i < 3 ? 15 + i : 9 + (i - 3)   // padding first, then the 6 real tokens
            left.ids[9 + i] = b.ids[src]; left.attentionMask[9 + i] = b.attentionMask[src]; left.labels[9 + i] = b.labels[src]
        }
        #expect(left.attentionMask[9..<18] == [0, 0, 0, 1, 1, 1, 1, 1, 1])
        var g1 = [Float](repeating: 0, count: m.layout.total), g2 = g1
        let r1 = try g1.withUnsafeMutableBufferPointer { try tr.lossAndGradient(b, into: $0, threads: 2) }
        let r2 = try g2.withUnsafeMutableBufferPointer { try tr.lossAndGradient(left, into: $0, threads: 2) }
        #expect(abs(r1.loss - r2.loss) <= 1e-6 * r1.loss)
        #expect(r1.counted == r2.counted && r1.correct == r2.correct)
        var num = 0.0, den = 0.0
        for i in g1.indices { num += Double(g1[i] - g2[i]) * Double(g1[i] - g2[i]); den += Double(g1[i]) * Double(g1[i]) }
        #expect(num.squareRoot() <= 1e-5 * den.squareRoot())
    }

    @Test func invalidInputsThrow() throws {
        let m = try Self.tinyModel(seed: 9)
        let tr = try Trainable(model: m, dropout: 0, seed: 1)
        var g = [Float](repeating: 0, count: m.layout.total)
        var b = Self.batch()
        b.labels[16] = 3   // label on a padded position
        #expect(throws: DNABertError.self) { try g.withUnsafeMutableBufferPointer { try tr.lossAndGradient(b, into: $0) } }
        b = Self.batch(); b.labels[0] = 24
        #expect(throws: DNABertError.self) { try g.withUnsafeMutableBufferPointer { try tr.lossAndGradient(b, into: $0) } }
        b = Self.batch(); b.ids[0] = -1
        #expect(throws: DNABertError.self) { try g.withUnsafeMutableBufferPointer { try tr.lossAndGradient(b, into: $0) } }
        var small = [Float](repeating: 0, count: 3)
        #expect(throws: DNABertError.self) { try small.withUnsafeMutableBufferPointer { try tr.lossAndGradient(Self.batch(), into: $0) } }
        #expect(g.allSatisfy { $0 == 0 })
    }
}
