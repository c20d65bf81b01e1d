import Testing
@testable import DNABert

/// The whole encoder against the project's PyTorch reference (tools/reference/make_model_fixture.py):
/// random weights for a 6-head (non-power-of-two ALiBi) config, a padded batch of real genome sequences.
@Suite struct ModelReferenceTests {
    static func expected(_ dir: String) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, t) in try Safetensors.read(path: modelFixture(dir) + "/expected.safetensors") { out[name] = t }
        return out
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var m: Float = 0
        for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
        return m
    }

    static func inputs(_ e: [String: Tensor]) -> (ids: [Int32], mask: [Int32], batch: Int, length: Int) {
        let ids = e["input_ids"]!, mask = e["attention_mask"]!
        return (ids.data.map { Int32($0) }, mask.data.map { Int32($0) }, ids.shape[0], ids.shape[1])
    }

    /// A folder holding only one weight format, so the loader has no choice.
    static func folder(with weights: String) throws -> String {
        let dir = ioTempDirectory()
        let src = modelFixture(".")
        for f in ["config.json", weights] {
            try FileIO.writeAtomically(dir + "/" + f, try FileIO.read(src + "/" + f))
        }
        return dir
    }

    @Test(arguments: ["model.safetensors", "pytorch_model.bin"])
    func matchesPyTorch(weights: String) throws {
        let e = try Self.expected(".")
        let m = try PretrainedModel.load(directory: try Self.folder(with: weights)).model
        #expect(m.layout.hasMLMHead && m.layout.hasPooler && m.layout.hasClassifier)
        let (ids, mask, B, L) = Self.inputs(e)
        var o = ForwardOptions()
        o.outputAllHiddenStates = true
        let out = try ids.withUnsafeBufferPointer { i in
            try mask.withUnsafeBufferPointer { k in try m.forward(ids: i, batch: B, length: L, attentionMask: k, options: o) }
        }
        #expect(Self.maxAbsDiff(out.lastHidden, e["last_hidden_state"]!.data) < 1e-4)
        #expect(out.allHidden?.count == m.config.numLayers + 1)
        #expect(Self.maxAbsDiff(out.allHidden![0], e["embedding_output"]!.data) < 1e-4)
        for l in 0..<m.config.numLayers {
            #expect(Self.maxAbsDiff(out.allHidden![l + 1], e["hidden_states.\(l)"]!.data) < 1e-4)
        }
        let logits = try ids.withUnsafeBufferPointer { i in
            try mask.withUnsafeBufferPointer { k in try m.mlmLogits(ids: i, batch: B, length: L, attentionMask: k) }
        }
        #expect(Self.maxAbsDiff(logits, e["mlm_logits"]!.data) < 1e-3)
        let pooled = try ids.withUnsafeBufferPointer { i in
            try mask.withUnsafeBufferPointer { k in try m.pooledOutput(ids: i, batch: B, length: L, attentionMask: k) }
        }
        #expect(Self.maxAbsDiff(pooled, e["pooled_output"]!.data) < 1e-4)
        let cls = try ids.withUnsafeBufferPointer { i in
            try mask.withUnsafeBufferPointer { k in try m.classifierLogits(ids: i, batch: B, length: L, attentionMask: k) }
        }
        #expect(Self.maxAbsDiff(cls, e["classifier_logits"]!.data) < 1e-4)
    }

    /// 12 heads (DNABERT-2's count and slope rule), a bare encoder saved without the `bert.` prefix.
    @Test func bareTwelveHeadEncoder() throws {
        let e = try Self.expected("encoder12h")
        let m = try PretrainedModel.load(directory: modelFixture("encoder12h")).model
        #expect(!m.layout.hasMLMHead)
        let (ids, mask, B, L) = Self.inputs(e)
        let out = try ids.withUnsafeBufferPointer { i in
            try mask.withUnsafeBufferPointer { k in try m.forward(ids: i, batch: B, length: L, attentionMask: k) }
        }
        #expect(Self.maxAbsDiff(out.lastHidden, e["last_hidden_state"]!.data) < 1e-4)
    }

    /// Save → load keeps every output bit for bit.
    @Test func saveLoadRoundTrip() throws {
        let m = try PretrainedModel.load(directory: modelFixture("."))
        let dir = ioTempDirectory() + "/saved"
        try m.save(directory: dir)
        let m2 = try PretrainedModel.load(directory: dir)
        #expect(Array(m.model.parameters) == Array(m2.model.parameters))
    }
}
