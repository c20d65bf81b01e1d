import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// LoRA / full fine-tuning gradients of the classification head and encoder against finite differences, and the
/// classifier's inference against the model's own (independent) classification forward.
@Suite struct SequenceClassifierTests {
    static func base(seed: UInt64, classifierLabels: Int = 0) throws -> PretrainedModel {
        var c = ModelConfig()
        c.vocabSize = 24; c.hiddenSize = 8; c.numHeads = 2; c.numLayers = 2; c.intermediateSize = 12
        c.numLabels = classifierLabels
        let m = try Model(config: c, mlmHead: true, pooler: true, classifier: classifierLabels > 0)
        var rng = TestRandom(seed)
        for v in m.layout.views {
            let p = m.parameter(named: v.name)!
            let isLN = v.name.hasSuffix("LayerNorm.weight") || v.name.hasSuffix("layernorm.weight")
            for i in 0..<v.count {
                p[i] = isLN ? 1 + rng.float(0.3) : (v.shape.count == 2 ? rng.float(0.6) : rng.float(0.2))
            }
        }
        return PretrainedModel(model: m, tokenizer: nil)
    }

    static func batch(_ head: ClassifierHead) -> ClassificationBatch {
        // Three sequences: 9, 6 and 4 real tokens, right-padded.
        let ids: [Int32] = [1, 5, 7, 9, 11, 3, 20, 4, 2,
                            1, 6, 8, 23, 10, 2, 0, 0, 0,
                            1, 13, 17, 2, 0, 0, 0, 0, 0]
        let mask: [Int32] = ids.enumerated().map { i, v in (i % 9 == 0 || v != 0) ? 1 : 0 }
        let C = head.numLabels
        var labels: [Float]
        switch head.problemType {
        case .singleLabel: labels = [2, 0, 1].map { Float($0 % C) }
        case .multiLabel: labels = (0..<(3 * C)).map { Float(($0 * 7 + 1) % 3 == 0 ? 1 : 0) }
        case .regression: labels = (0..<(3 * C)).map { Float($0) * 0.7 - 1.1 }
        }
        return ClassificationBatch(ids: ids, attentionMask: mask, batch: 3, length: 9, labels: labels)
    }

    /// Analytic gradient of every trainable tensor (a few coordinates each) against 4th-order central differences.
    func checkFD(head: ClassifierHead, lora: LoRAConfig?, dropout: Double, randomB: Bool = true) throws {
        let base = try Self.base(seed: 11)
        let clf = try SequenceClassifier(base: base, head: head, lora: lora, dropout: dropout, seed: 3)
        var rng = TestRandom(21)
        if randomB {
            for v in clf.layout.views where v.name.hasSuffix("lora_B.weight") {
                let p = clf.tensor(named: v.name)!
                for i in 0..<v.count { p[i] = rng.float(0.5) }
            }
        }
        let b = Self.batch(head)
        var grad = [Float](repeating: 0, count: clf.layout.total)
        var scratch = grad
        func loss() throws -> Double {
            clf.calls = 0
            return try scratch.withUnsafeMutableBufferPointer { try clf.lossAndGradient(b, into: $0, threads: 2).loss }
        }
        clf.calls = 0
        let res = try grad.withUnsafeMutableBufferPointer { try clf.lossAndGradient(b, into: $0, threads: 2) }
        #expect(res.loss.isFinite && res.loss > 0)
        var worst = 0.0
        for v in clf.layout.views {
            let p = clf.tensor(named: v.name)!
            let picks = (0..<3).map { _ in rng.int(v.count) }
            var an = [Double](), fd = [Double]()
            for i in picks {
                fd.append(try FiniteDifferences.derivative(p, i, step: 1.0 / 64, loss))
                an.append(Double(grad[v.offset + i]))
            }
            let err = FiniteDifferences.relativeError(an, fd)
            worst = max(worst, err)
            #expect(err < 2e-2, "\(v.name): analytic \(an) vs finite differences \(fd)")
        }
        // Gradients really flowed into every trainable tensor (a test that could pass with all-zero gradients
        // would not be a test).
        for v in clf.layout.views {
            let s = grad[v.offset..<(v.offset + v.count)].reduce(0) { $0 + abs(Double($1)) }
            #expect(s > 0, "\(v.name) got no gradient")
        }
        print("classifier FD \(head.problemType) \(head.pooling) lora \(lora != nil) dropout \(dropout): worst \(worst)")
    }

    static let allTargets = LoRAConfig(r: 3, alpha: 6, dropout: 0, targets: LoRATarget.allCases)

    @Test func loraSingleLabelGradients() throws {
        try checkFD(head: ClassifierHead(numLabels: 3), lora: Self.allTargets, dropout: 0)
    }

    @Test func loraWeightedSingleLabelWithDropoutGradients() throws {
        var l = Self.allTargets
        l.dropout = 0.25
        try checkFD(head: ClassifierHead(numLabels: 3, classWeights: [0.5, 2, 1.25]), lora: l, dropout: 0.2)
    }

    @Test func loraMultiLabelMeanPoolingGradients() throws {
        try checkFD(head: ClassifierHead(numLabels: 4, problemType: .multiLabel, pooling: .mean), lora: Self.allTargets, dropout: 0)
    }

    @Test func loraRegressionGradients() throws {
        let l = LoRAConfig(r: 2, alpha: 4, dropout: 0, targets: [.wqkv, .wo])
        try checkFD(head: ClassifierHead(numLabels: 1, problemType: .regression), lora: l, dropout: 0)
    }

    @Test func fullFineTuningGradients() throws {
        try checkFD(head: ClassifierHead(numLabels: 2), lora: nil, dropout: 0.1)
    }

    /// With B = 0 the LoRA classifier is the base model: logits equal `Model.classifierLogits` (the inference
    /// path, separate code) of a base that carries the same pooler and classifier.
    @Test func zeroBIsTheBaseModel() throws {
        let base = try Self.base(seed: 5, classifierLabels: 3)
        let clf = try SequenceClassifier(base: base, head: ClassifierHead(numLabels: 3), lora: Self.allTargets, seed: 1)
        let b = Self.batch(clf.head)
        let want = try b.ids.withUnsafeBufferPointer { ids in
            try b.attentionMask.withUnsafeBufferPointer { am in
                try base.model.classifierLogits(ids: ids, batch: 3, length: 9, attentionMask: am)
            }
        }
        let got = try clf.evaluate(b).logits
        #expect(got.count == want.count)
        for i in want.indices { #expect(abs(got[i] - want[i]) <= 1e-5 * max(1, abs(want[i])), "logit \(i): \(got[i]) vs \(want[i])") }
        // Non-zero B changes them.
        for v in clf.layout.views where v.name.hasSuffix("lora_B.weight") { clf.tensor(named: v.name)![0] = 0.5 }
        let moved = try clf.evaluate(b).logits
        #expect(zip(moved, want).contains { abs($0 - $1) > 1e-4 })
    }

    /// QLoRA: LoRA gradients on a frozen int8 base (int8 forward, int8 input gradients through the frozen linears)
    /// against those of the same LoRA on a float32 model holding the dequantized weights — what the int8 base
    /// approximates. They differ only by the per-row rounding of activations and of dY, so they point the same way;
    /// a transposed or mis-scaled int8 backward would not.
    @Test func qloraGradientsTrackTheDequantizedFloatModel() throws {
        let fp = try Self.base(seed: 11).model
        let q = try fp.quantized(to: .int8)
        let deq = try Self.dequantizedCopy(q)
        let head = ClassifierHead(numLabels: 3)
        func gradients(_ m: Model) throws -> (SequenceClassifier, [Float]) {
            let clf = try SequenceClassifier(base: PretrainedModel(model: m, tokenizer: nil), head: head, lora: Self.allTargets,
                                             dropout: 0, seed: 3)
            var rng = TestRandom(21)
            for v in clf.layout.views where v.name.hasSuffix("lora_B.weight") {
                let p = clf.tensor(named: v.name)!
                for i in 0..<v.count { p[i] = rng.float(0.5) }
            }
            var g = [Float](repeating: 0, count: clf.layout.total)
            _ = try g.withUnsafeMutableBufferPointer { try clf.lossAndGradient(Self.batch(head), into: $0, threads: 2) }
            return (clf, g)
        }
        let int8Bytes = q.weightBytes.int8
        let (clfQ, gq) = try gradients(q)
        let (clfF, gf) = try gradients(deq)
        // the backward packed Wᵀ of every linear once (1 byte per weight, with its sums and scales), counted as the model's
        var transposed = 0
        for l in 0..<q.config.numLayers { for t in LoRATarget.allCases { transposed += q.weights.layers[l].int8[t.index]!.transposedByteCount } }
        #expect(transposed > 0 && q.weightBytes.int8 == int8Bytes + transposed)
        #expect(clfQ.layout.total == clfF.layout.total)
        #expect(gq != gf, "the int8 base gave exactly the float32 gradients: its int8 paths did not run")
        for v in clfQ.layout.views where v.name.contains("lora_") {
            var dot = 0.0, nq = 0.0, nf = 0.0
            for i in v.offset..<(v.offset + v.count) {
                dot += Double(gq[i]) * Double(gf[i]); nq += Double(gq[i] * gq[i]); nf += Double(gf[i] * gf[i])
            }
            #expect(nf > 0, "\(v.name) got no gradient")
            let cosine = dot / (nq * nf).squareRoot()
            #expect(cosine > 0.99, "\(v.name): cosine \(cosine) between the int8-base and float32 gradients")
            #expect(abs(nq.squareRoot() / nf.squareRoot() - 1) < 0.1, "\(v.name): norms \(nq.squareRoot()) vs \(nf.squareRoot())")
        }
    }

    /// A float32 model with the dequantized weights of an int8 one (and its other tensors): the int8 model holds
    /// its linears only in int8, so this is `dequantizedFloat32()`.
    static func dequantizedCopy(_ q: Model) throws -> Model {
        for l in 0..<q.config.numLayers {
            for t in LoRATarget.allCases { try #require(q.weights.layers[l].int8[t.index] != nil) }
        }
        return try q.dequantizedFloat32()
    }

    @Test func badLabelsAndShapesThrow() throws {
        let base = try Self.base(seed: 5)
        let clf = try SequenceClassifier(base: base, head: ClassifierHead(numLabels: 3), lora: Self.allTargets, seed: 1)
        var b = Self.batch(clf.head)
        var g = [Float](repeating: 0, count: clf.layout.total)
        b.labels = [0, 3, 1]
        #expect(throws: DNABertError.self) { try g.withUnsafeMutableBufferPointer { _ = try clf.lossAndGradient(b, into: $0) } }
        b.labels = [0, 1]
        #expect(throws: DNABertError.self) { try g.withUnsafeMutableBufferPointer { _ = try clf.lossAndGradient(b, into: $0) } }
        b.labels = [0, 1.5, 1]
        #expect(throws: DNABertError.self) { try g.withUnsafeMutableBufferPointer { _ = try clf.lossAndGradient(b, into: $0) } }
        var short = [Float](repeating: 0, count: 3)
        #expect(throws: DNABertError.self) { try short.withUnsafeMutableBufferPointer { _ = try clf.lossAndGradient(Self.batch(clf.head), into: $0) } }
        #expect(throws: DNABertError.self) { _ = try SequenceClassifier(base: base, head: ClassifierHead(numLabels: 1), lora: nil) }
        #expect(throws: DNABertError.self) { _ = try SequenceClassifier(base: base, head: ClassifierHead(numLabels: 2), lora: LoRAConfig(r: 0)) }
        #expect(throws: DNABertError.self) { _ = try LoRATarget(name: "query") }
        #expect(throws: DNABertError.self) { _ = try LoRATarget(name: "dense") }
        #expect(try LoRATarget(name: "mlp.wo") == .wo)
    }
}
