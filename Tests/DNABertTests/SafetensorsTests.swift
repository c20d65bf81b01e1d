import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// Fixtures written by tools/reference/make_model_fixture.py (PyTorch + the `safetensors` package).
func modelFixture(_ name: String, file: String = #filePath) -> String {
    FileIO.directoryOf(file) + "/Fixtures/model/" + name
}

/// A fresh temporary directory for one test.
func ioTempDirectory() -> String {
    var template = Array("/tmp/dnabert-io-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return p.map { String(cString: $0) } ?? "/tmp"
}

/// Plain write without fsync (fuzz loops write thousands of files).
func writeScratchFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// Bitwise float equality (NaN equal to NaN), as two encodings of the same numbers must give.
func sameFloatBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
}

func dnabertErrorKind(_ body: () throws -> Void) -> DNABertError.Kind? {
    do { try body() } catch let e as DNABertError { return e.kind } catch { return .internal }
    return nil
}

func dnabertErrorMessage(_ body: () throws -> Void) -> String? {
    do { try body() } catch let e as DNABertError { return e.message } catch { return "\(error)" }
    return nil
}

@Suite struct SafetensorsTests {
    /// Builds a safetensors file by hand: 8-byte length, the given header text, data bytes.
    static func file(header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        var n = (length ?? UInt64(h.count)).littleEndian
        withUnsafeBytes(of: &n) { out += $0 }
        return out + h + data
    }

    static func readBytes(_ bytes: [UInt8]) throws -> [(name: String, tensor: Tensor)] {
        let path = ioTempDirectory() + "/t.safetensors"
        try FileIO.writeAtomically(path, bytes)
        return try Safetensors.read(path: path)
    }

    @Test func readsPackageWrittenFileInFileOrder() throws {
        let tensors = try Safetensors.read(path: modelFixture("model.safetensors"))
        // config: vocab 4096, hidden 48, 2 layers, intermediate 64, pooler + 3-label classifier + MLM head
        #expect(tensors.count == 4 + 2 * 11 + 2 + 2 + 5)
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
        #expect(byName["bert.embeddings.word_embeddings.weight"]?.shape == [4096, 48])
        #expect(byName["bert.encoder.layer.1.mlp.gated_layers.weight"]?.shape == [128, 48])
        #expect(byName["classifier.weight"]?.shape == [3, 48])
        #expect(byName["cls.predictions.decoder.weight"] == nil)
        for t in tensors { #expect(t.tensor.data.count == t.tensor.shape.reduce(1, *)) }
        let header = try Safetensors.readHeader(path: modelFixture("model.safetensors"))
        #expect(header.entries.map(\.name) == tensors.map(\.name))
        #expect(zip(header.entries.dropFirst(), header.entries).allSatisfy { $0.begin == $1.end })
        #expect(try Safetensors.readMetadata(path: modelFixture("model.safetensors")) == ["format": "pt"])
    }

    /// F16 (incl. subnormals, inf, -0), BF16, F64, integer and bool tensors, converted by us, against
    /// torch's own `.float()` of the same tensors.
    @Test func convertsEveryDTypeLikeTorch() throws {
        let native = try Safetensors.read(path: modelFixture("variety_native.safetensors"))
        let f32 = Dictionary(uniqueKeysWithValues: try Safetensors.read(path: modelFixture("variety_f32.safetensors")).map { ($0.name, $0.tensor) })
        let dtypes = Set(try Safetensors.readHeader(path: modelFixture("variety_native.safetensors")).entries.map(\.dtype))
        #expect(dtypes == [.f32, .f16, .bf16, .f64, .i64, .i32, .i16, .i8, .u8, .bool])
        #expect(native.count == f32.count)
        for (name, t) in native {
            let ref = try #require(f32[name], "missing \(name)")
            #expect(t.shape == ref.shape, "\(name)")
            #expect(sameFloatBits(t.data, ref.data), "\(name): \(t.data.prefix(6)) vs \(ref.data.prefix(6))")
        }
    }

    @Test func readsIdsAndMaskOfExpectedFixture() throws {
        let e = Dictionary(uniqueKeysWithValues: try Safetensors.read(path: modelFixture("expected.safetensors")).map { ($0.name, $0.tensor) })
        let ids = try #require(e["input_ids"]), mask = try #require(e["attention_mask"])
        #expect(ids.shape == mask.shape && ids.shape.count == 2 && ids.shape[0] == 3)
        let L = ids.shape[1]
        for b in 0..<3 {
            #expect(ids.data[b * L] == 1)   // [CLS]
            for j in 0..<L { #expect((ids.data[b * L + j] == 3) == (mask.data[b * L + j] == 0)) }  // [PAD] = 3 exactly where masked
        }
        #expect(e["mlm_logits"]?.shape == [3, L, 4096])
        #expect(try Safetensors.readMetadata(path: modelFixture("expected.safetensors"))["sequences"] != nil)
    }

    @Test func writeRoundTripsWithAlignedHeader() throws {
        let dir = ioTempDirectory(), path = dir + "/w.safetensors"
        let a: [Float] = (0..<12).map { Float($0) * 0.5 - 1 }, b: [Float] = [.pi], c: [Float] = []
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try c.withUnsafeBufferPointer { pc in
                    try Safetensors.write(path: path, tensors: [("a", [3, 4], pa), ("scalar", [], pb), ("empty", [0, 5], pc)],
                                          metadata: ["format": "pt", "x": "y\"z"])
                }
            }
        }
        let bytes = try FileIO.read(path)
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        #expect((8 + n) % 8 == 0)
        #expect(bytes.count == 8 + n + 13 * 4)
        let back = try Safetensors.read(path: path)
        #expect(back.map(\.name) == ["a", "scalar", "empty"])
        #expect(back[0].tensor == Tensor(shape: [3, 4], data: a))
        #expect(back[1].tensor == Tensor(shape: [], data: b))
        #expect(back[2].tensor == Tensor(shape: [0, 5], data: []))
        #expect(try Safetensors.readMetadata(path: path) == ["format": "pt", "x": "y\"z"])
        #expect(!FileIO.exists(path + ".tmp-\(getpid())"))
    }

    @Test func writeRejectsBadInput() throws {
        let path = ioTempDirectory() + "/w.safetensors"
        let a: [Float] = [1, 2, 3]
        a.withUnsafeBufferPointer { p in
            #expect(dnabertErrorKind { try Safetensors.write(path: path, tensors: [("a", [2, 2], p)]) } == .invalidArgument)
            #expect(dnabertErrorKind { try Safetensors.write(path: path, tensors: [("a", [3], p), ("a", [3], p)]) } == .invalidArgument)
            #expect(dnabertErrorKind { try Safetensors.write(path: path, tensors: [("__metadata__", [3], p)]) } == .invalidArgument)
            #expect(dnabertErrorKind { try Safetensors.write(path: "/nonexistent-dir/x.safetensors", tensors: [("a", [3], p)]) } == .io)
        }
        #expect(!FileIO.exists(path))
    }

    /// Writes a file for tools/reference/check_swift_safetensors.py (run by that script) to read with the
    /// Python `safetensors` package. Skipped without the environment variable.
    @Test(TestData.writesFor("tools/reference/check_swift_safetensors.py", variable: "DNABERT_SAFETENSORS_OUT"))
    func writeFileForPythonCheck() throws {
        let p = try #require(getenv("DNABERT_SAFETENSORS_OUT"))
        let path = String(cString: p)
        let a: [Float] = (0..<(7 * 5)).map { Float($0) * 0.25 - 3 }
        let b: [Float] = (0..<3).map { Float($0) + 0.5 }
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try Safetensors.write(path: path, tensors: [("weights.a", [7, 5], pa), ("b", [3], pb), ("c", [1, 1, 3], pb)],
                                      metadata: ["format": "pt", "writer": "dnabert"])
            }
        }
        #expect(FileIO.exists(path))
    }

    // MARK: hostile files

    static let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test func acceptsWellFormedHandMadeFile() throws {
        let t = try Self.readBytes(Self.file(header: Self.good, data: [0, 0, 128, 63, 0, 0, 0, 64]))
        #expect(t.count == 1 && t[0].tensor.data == [1, 2])
        // Trailing space padding and __metadata__ are fine.
        let t2 = try Self.readBytes(Self.file(header: #"{"__metadata__":{"k":"v"},"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}   "#, data: [0x80, 0x3f]))
        #expect(t2[0].tensor.data == [1])
    }

    @Test(arguments: [
        ("tiny", [UInt8](repeating: 0, count: 5)),
        ("huge header length", SafetensorsTests.file(header: good, data: [UInt8](repeating: 0, count: 8), length: 200_000_000)),
        ("header past end", SafetensorsTests.file(header: good, data: [], length: 1000)),
        ("not an object", SafetensorsTests.file(header: #"[1,2]"#)),
        ("bad json", SafetensorsTests.file(header: #"{"a":{"dtype":"F32""#, data: [])),
        ("missing dtype", SafetensorsTests.file(header: #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("missing shape", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("negative dim", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("fractional dim", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("one offset", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("reversed offsets", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("size mismatch", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("shape overflow", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("bytes overflow", SafetensorsTests.file(header: #"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("offset past data", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0])),
        ("leftover data", SafetensorsTests.file(header: good, data: [UInt8](repeating: 0, count: 12))),
        ("gap", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, data: [UInt8](repeating: 0, count: 12))),
        ("not from zero", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("overlap", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("duplicate", SafetensorsTests.file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("metadata not strings", SafetensorsTests.file(header: #"{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
        ("entry not object", SafetensorsTests.file(header: #"{"a":[1]}"#)),
    ])
    func rejectsMalformed(_ name: String, _ bytes: [UInt8]) {
        #expect(dnabertErrorKind { _ = try Self.readBytes(bytes) } == .format, "\(name)")
    }

    @Test func rejectsUnknownDType() {
        let bytes = Self.file(header: #"{"a":{"dtype":"F9","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(dnabertErrorKind { _ = try Self.readBytes(bytes) } == .unsupported)
    }

    @Test func missingFileIsIOError() {
        #expect(dnabertErrorKind { _ = try Safetensors.read(path: "/nonexistent/x.safetensors") } == .io)
        #expect(dnabertErrorKind { _ = try Safetensors.read(path: "/tmp") } == .io)
    }

    /// Truncations and byte flips of a real file must throw or read, never trap.
    @Test func survivesCorruption() throws {
        let orig = try FileIO.read(modelFixture("variety_native.safetensors"))
        let dir = ioTempDirectory()
        var rng = SystemRandomNumberGenerator()
        var threw = 0
        for i in 0..<160 {
            var b = orig
            if i < 100 {
                b = Array(b.prefix(i * b.count / 100))
            } else {
                for _ in 0..<(1 + i % 4) { b[Int.random(in: 0..<min(b.count, 400), using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            }
            writeScratchFile(dir + "/f", b)
            do { _ = try Safetensors.read(path: dir + "/f") } catch is DNABertError { threw += 1 }
        }
        #expect(threw >= 100)   // every truncation must be detected
    }
}
