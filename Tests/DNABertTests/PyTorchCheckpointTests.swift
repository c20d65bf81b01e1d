import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import DNABert

/// Hand-assembled archives in torch.save's layout, for hostile cases PyTorch itself would never write.
enum TorchArchiveBuilder {
    static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// A stored (uncompressed) zip with classic 32-bit records.
    static func zip(_ entries: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], cd: [UInt8] = []
        for (name, data) in entries {
            let n = Array(name.utf8), crc = crc32(data), off = UInt32(out.count)
            out += le(UInt32(0x0403_4b50)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0x21))
            out += le(crc) + le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(n.count)) + le(UInt16(0)) + n + data
            cd += le(UInt32(0x0201_4b50)) + le(UInt16(20)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0x21))
            cd += le(crc) + le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(n.count)) + le(UInt16(0)) + le(UInt16(0))
            cd += le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(off) + n
        }
        let cdOff = UInt32(out.count)
        out += cd
        out += le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
        out += le(UInt32(cd.count)) + le(cdOff) + le(UInt16(0))
        return out
    }

    /// Pickle pieces (protocol 2 opcodes).
    static func str(_ s: String) -> [UInt8] { [0x58] + le(UInt32(s.utf8.count)) + Array(s.utf8) }
    static func int(_ v: Int32) -> [UInt8] { [0x4A] + le(v) }
    static func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }
    static func tuple(_ items: [[UInt8]]) -> [UInt8] { [0x28] + items.flatMap { $0 } + [0x74] }

    /// `_rebuild_tensor_v2(persid(('storage', FloatStorage, key, 'cpu', numel)), offset, size, stride, False, OrderedDict())`
    static func tensor(key: String, numel: Int32, offset: Int32, shape: [Int32], stride: [Int32], storage: String = "FloatStorage") -> [UInt8] {
        var p = global("torch._utils", "_rebuild_tensor_v2")
        p += [0x28]
        p += tuple([str("storage"), global("torch", storage), str(key), str("cpu"), int(numel)]) + [0x51]
        p += int(offset) + tuple(shape.map(int)) + tuple(stride.map(int)) + [0x89]
        p += global("collections", "OrderedDict") + [0x29, 0x52]
        p += [0x74, 0x52]
        return p
    }

    static func stateDict(_ items: [(String, [UInt8])]) -> [UInt8] {
        [0x80, 0x02] + global("collections", "OrderedDict") + [0x29, 0x52] + [0x28] + items.flatMap { str($0.0) + $0.1 } + [0x75, 0x2E]
    }

    static func floats(_ v: [Float]) -> [UInt8] { v.flatMap { le($0.bitPattern) } }

    static func archive(pickle: [UInt8], storages: [(String, [UInt8])]) -> [UInt8] {
        zip([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))] + storages.map { ("archive/data/" + $0.0, $0.1) })
    }
}

@Suite struct PyTorchCheckpointTests {
    typealias B = TorchArchiveBuilder

    static func read(_ bytes: [UInt8]) throws -> [(name: String, tensor: Tensor)] {
        let path = ioTempDirectory() + "/m.bin"
        try FileIO.writeAtomically(path, bytes)
        return try PyTorchCheckpoint.read(path: path)
    }

    /// torch.save of transposed, sliced (storage offset), stride-0, shared-storage, f16/bf16/f64/int/bool
    /// tensors, as torch-saved, as a hand-packed all-ZIP64 archive and as a deflated archive, against the
    /// same tensors converted by torch and written by the `safetensors` package.
    @Test(arguments: ["variety.bin", "variety_zip64.bin", "variety_deflate.bin"])
    func readsTorchSavedVariety(_ file: String) throws {
        let got = try PyTorchCheckpoint.read(path: modelFixture(file))
        let ref = try Safetensors.read(path: modelFixture("variety_f32.safetensors"))
        #expect(Set(got.map(\.name)) == Set(ref.map(\.name)))
        let byName = Dictionary(uniqueKeysWithValues: got.map { ($0.name, $0.tensor) })
        for (name, r) in ref {
            let t = try #require(byName[name])
            #expect(t.shape == r.shape, "\(file) \(name)")
            #expect(sameFloatBits(t.data, r.data), "\(file) \(name): \(t.data.prefix(6)) vs \(r.data.prefix(6))")
        }
    }

    /// `dnabert convert`: every tensor, in any dtype or layout, becomes F32 with torch's values.
    @Test(arguments: ["variety.bin", "variety_deflate.bin"])
    func convertsToSafetensors(_ file: String) throws {
        let out = ioTempDirectory() + "/c.safetensors"
        #expect(try PyTorchCheckpoint.convertToSafetensors(input: modelFixture(file), output: out) == 18)
        let got = try Safetensors.read(path: out)
        let ref = Dictionary(uniqueKeysWithValues: try Safetensors.read(path: modelFixture("variety_f32.safetensors")).map { ($0.name, $0.tensor) })
        #expect(got.count == ref.count)
        for (name, t) in got { #expect(ref[name].map { $0.shape == t.shape && sameFloatBits($0.data, t.data) } == true, "\(name)") }
        #expect(try Safetensors.readMetadata(path: out) == ["format": "pt"])
        #expect(Set(try Safetensors.readHeader(path: out).entries.map(\.dtype)) == [.f32])
    }

    /// Converts the fixture's pytorch_model.bin for tools/reference/check_swift_safetensors.py.
    @Test(TestData.writesFor("tools/reference/check_swift_safetensors.py", variable: "DNABERT_CONVERT_OUT"))
    func convertForPythonCheck() throws {
        let p = try #require(getenv("DNABERT_CONVERT_OUT"))
        try PyTorchCheckpoint.convertToSafetensors(input: modelFixture("pytorch_model.bin"), output: String(cString: p))
    }

    @Test func readsModelWithTiedDecoder() throws {
        let bin = try PyTorchCheckpoint.read(path: modelFixture("pytorch_model.bin"))
        let st = try Safetensors.read(path: modelFixture("model.safetensors"))
        let byName = Dictionary(uniqueKeysWithValues: bin.map { ($0.name, $0.tensor) })
        #expect(bin.count == st.count + 1)
        #expect(bin.first?.name == "bert.embeddings.word_embeddings.weight")  // state-dict order kept
        for (name, t) in st { #expect(byName[name] == t, "\(name)") }
        #expect(byName["cls.predictions.decoder.weight"] == byName["bert.embeddings.word_embeddings.weight"])
    }

    @Test func handBuiltArchiveReads() throws {
        let pkl = B.stateDict([
            ("w", B.tensor(key: "0", numel: 6, offset: 0, shape: [2, 3], stride: [3, 1])),
            ("wt", B.tensor(key: "0", numel: 6, offset: 0, shape: [3, 2], stride: [1, 3])),
            ("tail", B.tensor(key: "0", numel: 6, offset: 4, shape: [2], stride: [1])),
            ("h", B.tensor(key: "1", numel: 2, offset: 0, shape: [2], stride: [1], storage: "HalfStorage")),
        ])
        let t = try Self.read(B.archive(pickle: pkl, storages: [("0", B.floats([1, 2, 3, 4, 5, 6])), ("1", [0x00, 0x3C, 0x00, 0xC0])]))
        #expect(t.map(\.name) == ["w", "wt", "tail", "h"])
        #expect(t[0].tensor == Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]))
        #expect(t[1].tensor == Tensor(shape: [3, 2], data: [1, 4, 2, 5, 3, 6]))
        #expect(t[2].tensor == Tensor(shape: [2], data: [5, 6]))
        #expect(t[3].tensor == Tensor(shape: [2], data: [1, -2]))   // f16 0x3C00 = 1, 0xC000 = -2
    }

    static func refused(_ pkl: [UInt8], storages: [(String, [UInt8])] = [("0", B.floats([1, 2, 3, 4]))]) -> DNABertError? {
        do { _ = try read(B.archive(pickle: pkl, storages: storages)) } catch let e as DNABertError { return e } catch { return nil }
        return nil
    }

    @Test func refusesForeignGlobals() throws {
        // The classic exploit: os.system("...") via GLOBAL + REDUCE. Must fail at GLOBAL, before anything runs.
        let evil: [UInt8] = [0x80, 0x02] + B.global("os", "system") + B.str("touch /tmp/dnabert-pwned") + [0x85, 0x52, 0x2E]
        let e = try #require(Self.refused(evil))
        #expect(e.kind == .unsupported && e.message.contains("refusing pickle global os.system"))
        let viaStack: [UInt8] = [0x80, 0x04] + B.str("builtins") + B.str("eval") + [0x93, 0x2E]
        #expect(Self.refused(viaStack)?.message.contains("refusing pickle global builtins.eval") == true)
        // An allow-listed storage class is not callable.
        let callStorage: [UInt8] = [0x80, 0x02] + B.global("torch", "FloatStorage") + [0x29, 0x52, 0x2E]
        #expect(Self.refused(callStorage)?.message.contains("refusing pickle REDUCE") == true)
    }

    @Test(arguments: [UInt8(0x69), 0x81, 0x92, 0x6F, 0x30, 0x8B, 0x43])  // INST, NEWOBJ, NEWOBJ_EX, OBJ, POP, FROZENSET, SHORT_BINBYTES
    func refusesOtherOpcodes(_ op: UInt8) throws {
        let e = try #require(Self.refused([0x80, 0x02, op, 0x2E]))
        #expect(e.kind == .unsupported && e.message.contains("refusing pickle opcode"), "\(e.message)")
    }

    @Test func refusesNonStateDicts() throws {
        #expect(Self.refused([0x80, 0x02, 0x5D, 0x2E])?.message.contains("not a state dict") == true)  // a list
        #expect(Self.refused([0x80, 0x02] + B.int(5) + [0x2E])?.kind == .format)
        #expect(Self.refused([0x80, 0x02, 0x7D, 0x28] + B.str("a") + B.int(1) + [0x75, 0x2E])?.message.contains("'a' is a int") == true)
        #expect(Self.refused([0x80, 0x02, 0x7D])?.kind == .format)          // truncated pickle
        #expect(Self.refused([0x80, 0x02, 0x7D, 0x7D, 0x2E])?.kind == .format)  // stack left over
        #expect(Self.refused([0x80, 0x02, 0x68, 0x09, 0x2E])?.kind == .format)  // undefined memo key
        #expect(Self.refused([0x80, 0x02, 0x75, 0x2E])?.kind == .format)        // SETITEMS without MARK
    }

    /// A million nested tuples (or a list appended into itself) must be refused, not overflow the stack.
    @Test func refusesDeepNesting() throws {
        let deep: [UInt8] = [0x80, 0x02, 0x4E] + [UInt8](repeating: 0x85, count: 1_000_000) + [0x2E]
        #expect(Self.refused(deep)?.message.contains("deeper") == true)
        let lists: [UInt8] = [0x80, 0x02, 0x5D] + Array(repeating: [0x5D, 0x61] as [UInt8], count: 10).flatMap { $0 } + [0x2E]
        #expect(Self.refused(lists)?.kind == .format)   // shallow enough: refused only as "not a state dict"
        let selfRef: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00] + Array(repeating: [0x68, 0x00, 0x61] as [UInt8], count: 100).flatMap { $0 } + [0x2E]
        #expect(Self.refused(selfRef)?.message.contains("deeper") == true)
    }

    @Test func refusesBadTensorGeometry() throws {
        func one(numel: Int32 = 4, offset: Int32 = 0, shape: [Int32], stride: [Int32]) -> DNABertError? {
            Self.refused(B.stateDict([("t", B.tensor(key: "0", numel: numel, offset: offset, shape: shape, stride: stride))]))
        }
        #expect(one(shape: [2, 2], stride: [2, 1]) == nil)                        // the control case reads
        #expect(one(shape: [-1, 4], stride: [4, 1])?.message.contains("'t'") == true)
        #expect(one(shape: [2], stride: [-1])?.kind == .format)
        #expect(one(offset: -1, shape: [2], stride: [1])?.kind == .format)
        #expect(one(offset: 3, shape: [2], stride: [1])?.message.contains("reaches element") == true)
        #expect(one(shape: [65536, 65536], stride: [65536, 1])?.kind == .format)
        #expect(one(shape: [2147483647, 2147483647, 2147483647], stride: [1, 1, 1])?.kind == .format)
        #expect(one(shape: [3], stride: [2])?.kind == .format)
        #expect(one(numel: 8, shape: [2], stride: [1])?.message.contains("holds 16 bytes") == true)
        #expect(one(shape: [2], stride: [1, 1])?.kind == .format)
    }

    @Test func refusesMissingStorageAndBadArchives() throws {
        let pkl = B.stateDict([("t", B.tensor(key: "7", numel: 4, offset: 0, shape: [4], stride: [1]))])
        #expect(Self.refused(pkl)?.message.contains("storage '7' is missing") == true)
        let good = B.archive(pickle: B.stateDict([("t", B.tensor(key: "0", numel: 4, offset: 0, shape: [4], stride: [1]))]),
                             storages: [("0", B.floats([1, 2, 3, 4]))])
        #expect(try Self.read(good).first?.tensor.data == [1, 2, 3, 4])
        // Truncated at every length: never traps, always a clear error.
        for n in stride(from: 0, to: good.count, by: 7) {
            #expect(dnabertErrorKind { _ = try Self.read(Array(good.prefix(n))) } == .format, "truncated to \(n)")
        }
        // Bad central directory signature.
        var bad = good
        if let i = (0..<(bad.count - 3)).first(where: { bad[$0] == 0x50 && bad[$0 + 1] == 0x4B && bad[$0 + 2] == 1 && bad[$0 + 3] == 2 }) { bad[i + 3] = 9 }
        #expect(dnabertErrorMessage { _ = try Self.read(bad) }?.contains("central directory") == true)
        // Storage bytes corrupted: the CRC catches it.
        var flipped = good
        if let i = (0..<(flipped.count - 4)).first(where: { flipped[$0..<($0 + 4)].elementsEqual(B.floats([3])) }) { flipped[i] ^= 1 }
        #expect(dnabertErrorMessage { _ = try Self.read(flipped) }?.contains("CRC") == true)
        // No data.pkl at all; not a zip at all.
        #expect(dnabertErrorKind { _ = try Self.read(B.zip([("archive/data/0", B.floats([1]))])) } == .format)
        #expect(dnabertErrorKind { _ = try Self.read(Array("not a zip file at all, just some text".utf8)) } == .format)
        // PyTorch's legacy (pre-1.6) format: a bare pickle stream, refused with advice.
        let legacy: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        #expect(dnabertErrorMessage { _ = try Self.read(legacy) }?.contains("legacy") == true)
        // Big-endian archives are refused.
        let be = B.zip([("a/data.pkl", B.stateDict([])), ("a/byteorder", Array("big".utf8))])
        #expect(dnabertErrorKind { _ = try Self.read(be) } == .unsupported)
    }

    @Test func survivesCorruption() throws {
        let orig = try FileIO.read(modelFixture("variety.bin"))
        let dir = ioTempDirectory()
        var rng = SystemRandomNumberGenerator()
        for i in 0..<160 {
            var b = orig
            if i < 100 {
                b = Array(b.prefix(i * b.count / 100))
            } else {
                for _ in 0..<(1 + i % 4) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            }
            writeScratchFile(dir + "/f.bin", b)
            if i < 100 { #expect(dnabertErrorKind { _ = try PyTorchCheckpoint.read(path: dir + "/f.bin") } != nil) }
            else { _ = try? PyTorchCheckpoint.read(path: dir + "/f.bin") }
        }
    }

    /// Random edits of a real data.pkl (re-zipped with valid CRCs so the unpickler sees them): always a
    /// result or a DNABertError, never a trap.
    @Test func survivesPickleCorruption() throws {
        let z = try ZipArchive(path: modelFixture("variety.bin"))
        var entries: [(String, [UInt8])] = []
        for e in z.entries { entries.append((e.name, try z.withData(e) { Array($0) })) }
        let pi = try #require(entries.firstIndex { $0.0.hasSuffix("/data.pkl") })
        let dir = ioTempDirectory()
        var rng = SystemRandomNumberGenerator()
        var rejected = 0
        for i in 0..<1000 {
            var es = entries
            for _ in 0..<(1 + i % 4) {
                let pos = Int.random(in: 0..<es[pi].1.count, using: &rng)
                if i % 2 == 0 { es[pi].1[pos] = UInt8.random(in: 0...255, using: &rng) } else { es[pi].1[pos] ^= UInt8(1 << (i % 8)) }
            }
            writeScratchFile(dir + "/p.bin", B.zip(es))
            do { _ = try PyTorchCheckpoint.read(path: dir + "/p.bin") } catch is DNABertError { rejected += 1 }
        }
        #expect(rejected > 0)
    }
}
