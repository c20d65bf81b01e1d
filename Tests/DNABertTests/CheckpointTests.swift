import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

@Suite struct CheckpointTests {
    static func fixtureLayout() throws -> (ModelConfig, ParameterLayout) {
        let c = try ModelConfig.load(path: modelFixture("config.json"))
        return (c, ParameterLayout(config: c, mlmHead: true, pooler: true, classifier: true))
    }

    static func loaded(_ tensors: [(name: String, tensor: Tensor)], _ layout: ParameterLayout,
                       options: Checkpoint.LoadOptions = .init()) throws -> [Float] {
        var buf = [Float](repeating: .nan, count: layout.total)
        try buf.withUnsafeMutableBufferPointer { _ = try Checkpoint.load(tensors: tensors, layout: layout, into: $0, options: options) }
        return buf
    }

    /// The safetensors file (written by the `safetensors` package) and the .bin (written by torch.save,
    /// with the tied decoder) are two independent encodings of the same weights: both must fill the flat
    /// buffer identically, and every view must equal the tensor of that name in the *other* file.
    @Test func bothWeightFilesLoadIdentically() throws {
        let (c, layout) = try Self.fixtureLayout()
        let st = try Safetensors.read(path: modelFixture("model.safetensors"))
        let bin = try PyTorchCheckpoint.read(path: modelFixture("pytorch_model.bin"))
        let parts = Checkpoint.detectParts(tensors: bin)
        #expect(parts.mlmHead && parts.pooler && parts.classifierLabels == 3 && c.numLabels == 3)
        #expect(Checkpoint.detectParts(names: st.map(\.name)) == (true, true, -1))
        let a = try Self.loaded(st, layout), b = try Self.loaded(bin, layout)
        #expect(sameFloatBits(a, b))
        #expect(!a.contains { $0.isNaN })   // every float was written
        for (name, t) in bin where name != Checkpoint.tiedDecoderName {
            let v = try #require(layout[name])
            #expect(sameFloatBits(Array(a[v.offset..<(v.offset + v.count)]), t.data), "\(name)")
        }
        var buf = [Float](repeating: 0, count: layout.total)
        let report = try buf.withUnsafeMutableBufferPointer { try Checkpoint.load(tensors: bin, layout: layout, into: $0) }
        #expect(report.ignored == [Checkpoint.tiedDecoderName] && report.missing.isEmpty)
    }

    /// Streaming from the mapped files fills the buffer exactly as the eager path does.
    @Test func lazyLoadMatchesEager() throws {
        let (_, layout) = try Self.fixtureLayout()
        let eager = try Self.loaded(try Safetensors.read(path: modelFixture("model.safetensors")), layout)
        for lazy in [try Safetensors.open(path: modelFixture("model.safetensors")), try PyTorchCheckpoint.open(path: modelFixture("pytorch_model.bin"))] {
            var buf = [Float](repeating: .nan, count: layout.total)
            try buf.withUnsafeMutableBufferPointer { _ = try Checkpoint.load(tensors: lazy, layout: layout, into: $0) }
            #expect(sameFloatBits(buf, eager))
            #expect(Checkpoint.detectParts(tensors: lazy) == (true, true, 3))
        }
        let t = try #require(try Safetensors.open(path: modelFixture("model.safetensors")).first)
        var small = [Float](repeating: 0, count: t.count - 1)
        #expect(dnabertErrorKind { try small.withUnsafeMutableBufferPointer { try t.copy(into: $0) } } == .invalidArgument)
        #expect(t.dtype == .f32 && t.count == t.shape.reduce(1, *))
    }

    @Test func readWeightsPrefersSafetensorsThenBin() throws {
        let dir = ioTempDirectory()
        #expect(dnabertErrorKind { _ = try Checkpoint.readWeights(directory: dir) } == .notFound)
        try FileIO.writeAtomically(dir + "/pytorch_model.bin", FileIO.read(modelFixture("pytorch_model.bin")))
        #expect(try Checkpoint.readWeights(directory: dir).contains { $0.name == Checkpoint.tiedDecoderName })
        try FileIO.writeAtomically(dir + "/model.safetensors", FileIO.read(modelFixture("model.safetensors")))
        #expect(try !Checkpoint.readWeights(directory: dir).contains { $0.name == Checkpoint.tiedDecoderName })
    }

    @Test func saveThenLoadRoundTrips() throws {
        let (c, layout) = try Self.fixtureLayout()
        let params = try Self.loaded(try Safetensors.read(path: modelFixture("model.safetensors")), layout)
        let dir = ioTempDirectory() + "/saved"
        try params.withUnsafeBufferPointer { try Checkpoint.save(directory: dir, config: c, layout: layout, parameters: $0) }
        #expect(try ModelConfig.load(path: dir + "/config.json") == c)
        #expect(try Safetensors.readMetadata(path: dir + "/model.safetensors")["format"] == "pt")
        let back = try Checkpoint.readWeights(directory: dir)
        let byName = Dictionary(uniqueKeysWithValues: back.map { ($0.name, $0.tensor) })
        #expect(byName[Checkpoint.tiedDecoderName] == byName["bert.embeddings.word_embeddings.weight"])
        #expect(sameFloatBits(try Self.loaded(back, layout), params))
        // Saving again over the same directory works (atomic replace).
        try params.withUnsafeBufferPointer { try Checkpoint.save(directory: dir, config: c, layout: layout, parameters: $0) }
        #expect(dnabertErrorKind { try [Float](repeating: 0, count: 3).withUnsafeBufferPointer { try Checkpoint.save(directory: dir, config: c, layout: layout, parameters: $0) } } == .invalidArgument)
    }

    /// Saves the fixture model for tools/reference/check_swift_safetensors.py, which loads it into the PyTorch
    /// reference with strict=True and compares the forward pass. Skipped without the environment variable.
    @Test(TestData.writesFor("tools/reference/check_swift_safetensors.py", variable: "DNABERT_CHECKPOINT_OUT"))
    func saveForPythonCheck() throws {
        let p = try #require(getenv("DNABERT_CHECKPOINT_OUT"))
        let (c, layout) = try Self.fixtureLayout()
        let params = try Self.loaded(try PyTorchCheckpoint.read(path: modelFixture("pytorch_model.bin")), layout)
        try params.withUnsafeBufferPointer { try Checkpoint.save(directory: String(cString: p), config: c, layout: layout, parameters: $0) }
    }

    /// Full-size check (tools/reference/make_large_checkpoint.py): both 468 MB files stream into the same
    /// buffer; prints timings. Skipped without DNABERT_LARGE_CHECKPOINT_DIR.
    @Test(.enabled(if: getenv("DNABERT_LARGE_CHECKPOINT_DIR") != nil,
                   "needs a full-size checkpoint from tools/reference/make_large_checkpoint.py; set DNABERT_LARGE_CHECKPOINT_DIR"))
    func largeCheckpoint() throws {
        let p = try #require(getenv("DNABERT_LARGE_CHECKPOINT_DIR"))
        let dir = String(cString: p)
        func now() -> Double { Clock.now() }
        let c = try ModelConfig.load(path: dir + "/config.json")
        let layout = ParameterLayout(config: c, mlmHead: true)
        #expect(layout.total == 117_074_176)
        var a = [Float](repeating: .nan, count: layout.total), b = a
        for _ in 0..<2 {
            var t0 = now()
            let st = try Safetensors.open(path: dir + "/model.safetensors")
            try a.withUnsafeMutableBufferPointer { _ = try Checkpoint.load(tensors: st, layout: layout, into: $0) }
            let tSt = now() - t0
            t0 = now()
            let bin = try PyTorchCheckpoint.open(path: dir + "/pytorch_model.bin")
            try b.withUnsafeMutableBufferPointer { _ = try Checkpoint.load(tensors: bin, layout: layout, into: $0) }
            let tBin = now() - t0
            t0 = now()
            try a.withUnsafeBufferPointer { try Checkpoint.save(directory: dir + "/saved", config: c, layout: layout, parameters: $0) }
            let tSave = now() - t0
            t0 = now()
            try PyTorchCheckpoint.convertToSafetensors(input: dir + "/pytorch_model.bin", output: dir + "/saved/converted.safetensors")
            let tConv = now() - t0
            print("large checkpoint: load model.safetensors \(tSt) s, load pytorch_model.bin \(tBin) s, save \(tSave) s, convert \(tConv) s")
        }
        #expect(sameFloatBits(a, b))
    }

    // MARK: strictness

    static func tensors() throws -> [(name: String, tensor: Tensor)] { try Safetensors.read(path: modelFixture("model.safetensors")) }

    @Test func missingTensorIsNamed() throws {
        let (_, layout) = try Self.fixtureLayout()
        let t = try Self.tensors().filter { $0.name != "bert.encoder.layer.1.mlp.wo.bias" }
        #expect(dnabertErrorMessage { _ = try Self.loaded(t, layout) }?.contains("bert.encoder.layer.1.mlp.wo.bias") == true)
    }

    @Test func wrongShapeNamesBothShapes() throws {
        let (_, layout) = try Self.fixtureLayout()
        var t = try Self.tensors()
        let i = try #require(t.firstIndex { $0.name == "bert.encoder.layer.0.attention.self.Wqkv.weight" })
        t[i].tensor = Tensor(shape: [48, 144], data: t[i].tensor.data)   // transposed shape, same count
        let m = try #require(dnabertErrorMessage { _ = try Self.loaded(t, layout) })
        #expect(m.contains("Wqkv.weight") && m.contains("[48, 144]") && m.contains("[144, 48]"))
    }

    @Test func duplicateAndUnknownTensorsAreErrors() throws {
        let (_, layout) = try Self.fixtureLayout()
        let t = try Self.tensors()
        #expect(dnabertErrorMessage { _ = try Self.loaded(t + [t[3]], layout) }?.contains("more than once") == true)
        let extra = t + [("bert.encoder.layer.7.mlp.wo.bias", Tensor(shape: [48], data: .init(repeating: 0, count: 48)))]
        #expect(dnabertErrorMessage { _ = try Self.loaded(extra, layout) }?.contains("layer.7") == true)
        // ...unless explicitly ignored.
        #expect(try Self.loaded(extra, layout, options: .init(ignoreUnexpected: true)) == Self.loaded(t, layout))
        // Buffers without learned state are skipped silently.
        let buffers = t + [("bert.embeddings.position_ids", Tensor(shape: [1, 512], data: (0..<512).map(Float.init)))]
        #expect(try Self.loaded(buffers, layout) == Self.loaded(t, layout))
    }

    @Test func untiedDecoderIsRefused() throws {
        let (_, layout) = try Self.fixtureLayout()
        let t = try Self.tensors()
        var emb = try #require(t.first { $0.name == "bert.embeddings.word_embeddings.weight" }).tensor
        #expect(try Self.loaded(t + [(Checkpoint.tiedDecoderName, emb)], layout) == Self.loaded(t, layout))
        emb.data[100] += 1
        #expect(dnabertErrorMessage { _ = try Self.loaded(t + [(Checkpoint.tiedDecoderName, emb)], layout) }?.contains("differs") == true)
    }

    @Test func missingHeadsAreExplained() throws {
        let c = try ModelConfig.load(path: modelFixture("config.json"))
        let encoderOnly = try Self.tensors().filter { $0.name.hasPrefix("bert.") && !$0.name.hasPrefix("bert.pooler") }
        let mlm = ParameterLayout(config: c, mlmHead: true)
        #expect(dnabertErrorMessage { _ = try Self.loaded(encoderOnly, mlm) }?.contains("no MLM head") == true)
        let cls = ParameterLayout(config: c, mlmHead: false, pooler: true, classifier: true)
        let m = try #require(dnabertErrorMessage { _ = try Self.loaded(encoderOnly, cls) })
        #expect(m.contains("no pooler") && m.contains("no classifier"))
        // A fresh classifier on a pretrained encoder: allowed when asked for, left untouched.
        let buf = try Self.loaded(encoderOnly, cls, options: .init(allowMissingPrefixes: ["bert.pooler.", "classifier."]))
        #expect(buf[cls.offset("classifier.bias")].isNaN && !buf[cls.offset("bert.embeddings.LayerNorm.bias")].isNaN)
        // The encoder alone loads into an encoder-only layout, and the MLM head is refused there unless ignored.
        let bare = ParameterLayout(config: c, mlmHead: false)
        #expect(try Self.loaded(encoderOnly, bare).count == bare.total)
        #expect(dnabertErrorKind { _ = try Self.loaded(try Self.tensors(), bare) } == .format)
        #expect(Checkpoint.detectParts(names: encoderOnly.map(\.name)) == (false, false, 0))
    }

    /// The encoder12h fixture is saved like transformers' BertModel (no "bert." prefix, no heads).
    @Test func bareEncoderFixtureLoads() throws {
        let dir = modelFixture("encoder12h")
        let c = try ModelConfig.load(path: dir + "/config.json")
        #expect(c.numHeads == 12 && c.hiddenSize == 24 && c.numLayers == 1 && c.numLabels == 0)
        let lazy = try Checkpoint.openWeights(directory: dir)
        #expect(lazy.allSatisfy { !$0.name.hasPrefix("bert.") })
        #expect(Checkpoint.detectParts(tensors: lazy) == (false, false, 0))
        let layout = ParameterLayout(config: c, mlmHead: false)
        var buf = [Float](repeating: .nan, count: layout.total)
        try buf.withUnsafeMutableBufferPointer { _ = try Checkpoint.load(tensors: lazy, layout: layout, into: $0) }
        #expect(!buf.contains { $0.isNaN })
        let emb = try #require(lazy.first { $0.name == "embeddings.word_embeddings.weight" }).load()
        let v = try #require(layout["bert.embeddings.word_embeddings.weight"])
        #expect(sameFloatBits(Array(buf[v.offset..<(v.offset + v.count)]), emb.data))
    }

    @Test func bareBertNamesAreAccepted() throws {
        let c = try ModelConfig.load(path: modelFixture("config.json"))
        let layout = ParameterLayout(config: c, mlmHead: false)
        let encoder = try Self.tensors().filter { $0.name.hasPrefix("bert.") && !$0.name.hasPrefix("bert.pooler") }
        let stripped = encoder.map { (name: String($0.name.dropFirst(5)), tensor: $0.tensor) }
        #expect(stripped.first?.name.hasPrefix("embeddings.") == true)
        #expect(try Self.loaded(stripped, layout) == Self.loaded(encoder, layout))
    }

    @Test func smallBufferIsInvalidArgument() throws {
        let (_, layout) = try Self.fixtureLayout()
        var small = [Float](repeating: 0, count: 10)
        let t = try Self.tensors()
        #expect(dnabertErrorKind { try small.withUnsafeMutableBufferPointer { _ = try Checkpoint.load(tensors: t, layout: layout, into: $0) } } == .invalidArgument)
    }
}
