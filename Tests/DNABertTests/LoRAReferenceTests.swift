import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// One LoRA (and one full) fine-tuning step against PyTorch + Hugging Face peft
/// (tools/reference/make_lora_fixture.py, Float64 reference; Fixtures/lora/README.md): logits, loss, every
/// trainable tensor's gradient, the tensors after one AdamW step, merged logits, and peft's saved adapter.
@Suite struct LoRAReferenceTests {
    static let dir = modelFixture("../lora")

    static func expected() throws -> [String: Tensor] {
        var e: [String: Tensor] = [:]
        for (n, t) in try Safetensors.read(path: dir + "/expected.safetensors") { e[n] = t }
        return e
    }

    static func base() throws -> PretrainedModel {
        let c = try ModelConfig.load(path: dir + "/config.json")
        let m = try Model(config: c, mlmHead: false, pooler: true, classifier: true)
        try Checkpoint.load(tensors: Safetensors.open(path: dir + "/base.safetensors"), layout: m.layout, into: m.parameters)
        return PretrainedModel(model: m, tokenizer: nil)
    }

    struct Case {
        let name: String
        let head: ClassifierHead
        let lora: Bool
    }

    static let cases: [Case] = [
        Case(name: "case1", head: ClassifierHead(numLabels: 3), lora: true),
        Case(name: "case2", head: ClassifierHead(numLabels: 3, classWeights: [0.25, 1, 3]), lora: true),
        Case(name: "case3", head: ClassifierHead(numLabels: 3, problemType: .multiLabel), lora: true),
        Case(name: "case4", head: ClassifierHead(numLabels: 1, problemType: .regression), lora: true),
        Case(name: "case5", head: ClassifierHead(numLabels: 3, pooling: .mean), lora: true),
        Case(name: "case6", head: ClassifierHead(numLabels: 3), lora: false),
    ]

    static func batch(_ e: [String: Tensor], _ c: Case) -> ClassificationBatch {
        let ids = e["inputs/ids"]!
        return ClassificationBatch(ids: ids.data.map { Int32($0) }, attentionMask: e["inputs/attention_mask"]!.data.map { Int32($0) },
                                   batch: ids.shape[0], length: ids.shape[1], labels: e[c.name + "/labels"]!.data)
    }

    static func classifier(_ base: PretrainedModel, _ e: [String: Tensor], _ c: Case) throws -> SequenceClassifier {
        let lora = c.lora ? LoRAConfig(r: 4, alpha: 8, dropout: 0, targets: LoRATarget.allCases) : nil
        let clf = try SequenceClassifier(base: base, head: c.head, lora: lora, dropout: 0, seed: 1)
        for v in clf.layout.views {
            let t = e["lora/init/" + v.name] ?? e[c.name + "/init/" + v.name]
            if let t { #expect(t.data.count == v.count); try LazyTensor(name: v.name, tensor: t).copy(into: clf.tensor(named: v.name)!) }
        }
        return clf
    }

    static func relErr(_ a: UnsafeBufferPointer<Float>, _ b: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for i in 0..<b.count { let d = Double(a[i]) - Double(b[i]); num += d * d; den += Double(b[i]) * Double(b[i]) }
        return num.squareRoot() / max(den.squareRoot(), 1e-30)
    }

    @Test(arguments: cases.map(\.name))
    func stepMatchesPyTorchAndPeft(_ name: String) throws {
        let c = Self.cases.first { $0.name == name }!
        let e = try Self.expected()
        let base = try Self.base()
        let clf = try Self.classifier(base, e, c)
        let b = Self.batch(e, c)
        var grad = [Float](repeating: 0, count: clf.layout.total)
        let r = try grad.withUnsafeMutableBufferPointer { try clf.lossAndGradient(b, into: $0, threads: 2) }
        let wantLoss = Double(e[name + "/loss"]!.data[0])
        #expect(abs(r.loss - wantLoss) <= 1e-5 * abs(wantLoss), "\(name) loss \(r.loss) vs PyTorch \(wantLoss)")
        let wantLogits = e[name + "/logits"]!.data
        r.logits.withUnsafeBufferPointer { #expect(Self.relErr($0, wantLogits) < 1e-5, "\(name) logits \(Array($0)) vs \(wantLogits)") }
        // Gradients of every trainable tensor.
        var checked = 0
        grad.withUnsafeBufferPointer { g in
            for v in clf.layout.views {
                guard let want = e[name + "/grad/" + v.name] else {
                    Issue.record("\(name): the fixture has no gradient for \(v.name)")
                    continue
                }
                let got = UnsafeBufferPointer(rebasing: g[v.offset..<(v.offset + v.count)])
                let err = Self.relErr(got, want.data)
                #expect(err < 1e-3 || (want.data.allSatisfy { abs($0) < 1e-7 } && got.allSatisfy { abs($0) < 1e-6 }),
                        "\(name) gradient of \(v.name): relative error \(err)")
                checked += 1
            }
        }
        #expect(checked == clf.layout.views.count && checked >= (c.lora ? 18 : 30))
        // One AdamW step (HF recipe: decay all but biases and LayerNorm weights).
        let opt = try AdamW(layout: clf.layout, config: .fineTuning)
        try opt.update(parameters: clf.parameters, gradients: UnsafeBufferPointer(start: grad, count: grad.count), lr: 1e-3, threads: 2)
        for v in clf.layout.views {
            let want = e[name + "/after/" + v.name]!.data, g0 = e[name + "/grad/" + v.name]!.data
            let got = clf.tensor(named: v.name)!
            var bad = 0
            for i in 0..<v.count {
                // The first Adam step is lr·g/|g|: ill-conditioned where the true gradient is ~0 (fixture README).
                let tol = 1e-5 + (abs(g0[i]) < 1e-5 ? 1.1e-3 : 0)
                if abs(Double(got[i]) - Double(want[i])) > tol { bad += 1 }
            }
            #expect(bad == 0, "\(name) after-step \(v.name): \(bad) of \(v.count) values off")
        }
        let after = try clf.evaluate(b).logits
        after.withUnsafeBufferPointer { #expect(Self.relErr($0, e[name + "/logits_after"]!.data) < 1e-4) }
    }

    /// Merged weights (W + α/r·B·A) through the inference path give peft's merge_and_unload logits; unmerge
    /// restores the base weights.
    @Test func mergeMatchesPeftAndUnmergeRestores() throws {
        let e = try Self.expected()
        let base = try Self.base()
        for c in Self.cases where c.lora && c.head.pooling == .cls {
            let clf = try Self.classifier(base, e, c)
            let merged = try clf.mergedModel()
            let b = Self.batch(e, c)
            let got = try b.ids.withUnsafeBufferPointer { ids in
                try b.attentionMask.withUnsafeBufferPointer { am in
                    try merged.model.classifierLogits(ids: ids, batch: b.batch, length: b.length, attentionMask: am)
                }
            }
            got.withUnsafeBufferPointer { #expect(Self.relErr($0, e[c.name + "/merged_logits"]!.data) < 1e-5, "\(c.name) merged logits") }
            let before = Array(merged.model.parameters)
            try clf.unmerge(from: merged.model)
            let w = "bert.encoder.layer.1.attention.self.Wqkv.weight"
            let restored = merged.model.parameter(named: w)!, orig = base.model.parameter(named: w)!
            var worst: Float = 0
            for i in 0..<orig.count { worst = max(worst, abs(restored[i] - orig[i])) }
            #expect(worst < 1e-6)
            #expect(zip(before, merged.model.parameters).contains { $0 != $1 })
        }
    }

    /// The adapter peft saved loads here and gives peft's logits; our save → load round trip gives identical
    /// logits, and our adapter file has exactly peft's keys.
    @Test func peftAdapterLoadsAndRoundTrips() throws {
        let e = try Self.expected()
        let base = try Self.base()
        let clf = try SequenceClassifier.load(directory: Self.dir + "/peft_adapter", base: base)
        #expect(clf.lora?.r == 4 && clf.lora?.alpha == 8 && clf.lora?.targets.count == 4 && clf.head.numLabels == 3)
        let b = Self.batch(e, Self.cases[0])
        let got = try clf.evaluate(b).logits
        got.withUnsafeBufferPointer { #expect(Self.relErr($0, e["peft_adapter/logits"]!.data) < 1e-5) }

        let tmp = "/tmp/dnabert-adapter-test-\(getpid())"
        defer { _ = system("rm -rf '\(tmp)'") }
        clf.labelNames = ["a", "b", "c"]
        clf.maxLength = 77
        try clf.save(directory: tmp)
        let theirs = Set(try Safetensors.open(path: Self.dir + "/peft_adapter/adapter_model.safetensors").map(\.name))
        let ours = Set(try Safetensors.open(path: tmp + "/adapter_model.safetensors").map(\.name))
        #expect(theirs == ours)
        let back = try SequenceClassifier.load(directory: tmp, base: base)
        #expect(back.labelNames == ["a", "b", "c"] && back.maxLength == 77)
        #expect(try back.evaluate(b).logits == got)
        // Full fine-tuning saves a whole model folder.
        let full = try Self.classifier(base, e, Self.cases[5])
        try full.save(directory: tmp + "/full")
        let fullBack = try SequenceClassifier.load(directory: tmp + "/full", base: nil)
        #expect(fullBack.lora == nil)
        #expect(try fullBack.evaluate(b).logits == full.evaluate(b).logits)
    }

    /// PEFT's in-memory names (with the adapter name) map to the file names.
    @Test func adapterKeyNames() {
        let p = "base_model.model."
        #expect(SequenceClassifier.adapterTensorName(p + "bert.encoder.layer.0.attention.self.Wqkv.lora_A.default.weight")
                == "bert.encoder.layer.0.attention.self.Wqkv.lora_A.weight")
        #expect(SequenceClassifier.adapterTensorName(p + "classifier.modules_to_save.default.weight") == "classifier.weight")
        #expect(SequenceClassifier.adapterTensorName(p + "bert.pooler.modules_to_save.default.dense.bias") == "bert.pooler.dense.bias")
        #expect(SequenceClassifier.adapterTensorName(p + "bert.encoder.layer.1.mlp.wo.lora_B.weight") == "bert.encoder.layer.1.mlp.wo.lora_B.weight")
        #expect(SequenceClassifier.adapterTensorName("classifier.default") == "classifier.default")
    }

    @Test func hostileAdaptersThrow() throws {
        let base = try Self.base()
        let tmp = "/tmp/dnabert-adapter-hostile-\(getpid())"
        defer { _ = system("rm -rf '\(tmp)'") }
        _ = system("mkdir -p '\(tmp)' && cp '\(Self.dir)/peft_adapter/'* '\(tmp)/'")
        let cfgPath = tmp + "/adapter_config.json"
        let good = try FileIO.read(cfgPath)
        for bad in ["{", "[]", "{\"peft_type\": \"LORA\"}", "{\"peft_type\": \"PREFIX\", \"r\": 4, \"lora_alpha\": 8}",
                    "{\"peft_type\": \"LORA\", \"r\": -1, \"lora_alpha\": 8}",
                    "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"use_rslora\": true}",
                    "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 8}"] {
            try FileIO.writeAtomically(cfgPath, string: bad)
            #expect(throws: DNABertError.self, "\(bad)") { _ = try SequenceClassifier.load(directory: tmp, base: base) }
        }
        try FileIO.writeAtomically(cfgPath, good)
        // Truncated weights.
        let w = try FileIO.read(tmp + "/adapter_model.safetensors")
        try FileIO.writeAtomically(tmp + "/adapter_model.safetensors", Array(w.prefix(w.count / 2)))
        #expect(throws: DNABertError.self) { _ = try SequenceClassifier.load(directory: tmp, base: base) }
        #expect(throws: DNABertError.self) { _ = try SequenceClassifier.load(directory: tmp, base: nil) }
        #expect(throws: DNABertError.self) { _ = try SequenceClassifier.load(directory: tmp + "/nope", base: base) }
    }
}
