/// The safetensors format (Hugging Face): `u64 LE header length N`, `N` bytes of JSON header, raw data.
///
/// Reading follows the reference implementation's validation: header at most 100 MB, a JSON object
/// starting with `{`, entries `{dtype, shape, data_offsets}` whose byte ranges, sorted by offset,
/// tile the data region exactly (no gaps, no overlap, nothing left over), byte length equal to
/// dtype size × element count, no duplicate names, and `__metadata__` a string → string map.
public enum Safetensors {
    /// Largest header accepted (the reference implementation's limit).
    public static let maxHeaderSize = 100_000_000

    /// One header entry, as described by the file (before conversion).
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// Byte range relative to the start of the data region.
        public var begin: Int
        public var end: Int
    }

    public struct Header: Sendable {
        /// Entries in file (data-offset) order.
        public var entries: [Entry]
        public var metadata: [String: String]
        /// Absolute file offset of the data region.
        public var dataStart: Int
    }

    /// All tensors converted to Float32, in file order.
    public static func read(path: String) throws -> [(name: String, tensor: Tensor)] {
        try open(path: path).map { ($0.name, try $0.load()) }
    }

    /// The validated tensors of a file, converted only on `copy(into:)`/`load()` (file order).
    public static func open(path: String) throws -> [LazyTensor] {
        let file = try MappedFile(path: path)
        let header = try parseHeader(file.bytes, path: path)
        return header.entries.map { e in
            let count = ShapeMath.elementCount(e.shape) ?? 0   // validated in parseHeader
            let start = header.dataStart + e.begin
            return LazyTensor(name: e.name, shape: e.shape, dtype: e.dtype, count: count) { dst in
                guard let base = file.bytes.baseAddress else { return }
                DTypeConversion.convert(e.dtype, from: base + start, count: count, into: dst)
            }
        }
    }

    /// The `__metadata__` map (empty when absent).
    public static func readMetadata(path: String) throws -> [String: String] {
        try readHeader(path: path).metadata
    }

    /// The validated header without converting any data (for `inspect`-style listings).
    public static func readHeader(path: String) throws -> Header {
        let file = try MappedFile(path: path)
        return try parseHeader(file.bytes, path: path)
    }

    static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        let r = ByteReader(bytes: bytes, what: "safetensors '\(path)'")
        guard bytes.count >= 8 else {
            throw DNABertError.format("safetensors '\(path)': file is \(bytes.count) bytes, too small for the 8-byte header length")
        }
        let n64 = try r.u64(0)
        guard n64 <= UInt64(maxHeaderSize) else {
            throw DNABertError.format("safetensors '\(path)': header length \(n64) exceeds the \(maxHeaderSize)-byte limit")
        }
        let n = Int(n64)
        guard n <= bytes.count - 8 else {
            throw DNABertError.format("safetensors '\(path)': header length \(n) runs past the end of the \(bytes.count)-byte file")
        }
        let headerBytes = try r.slice(8, n)
        guard n >= 2, headerBytes[0] == UInt8(ascii: "{") else {
            throw DNABertError.format("safetensors '\(path)': header does not start with '{'")
        }
        let json: JSONValue
        do { json = try JSON.parse(bytes: headerBytes) } catch let e as JSONError {
            throw DNABertError.format("safetensors '\(path)': header is not valid JSON (\(e.description))")
        }
        guard let members = json.objectValue else {
            throw DNABertError.format("safetensors '\(path)': header is not a JSON object")
        }
        let dataStart = 8 + n
        let dataLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        var names = Set<String>()
        for (name, value) in members {
            guard names.insert(name).inserted else {
                throw DNABertError.format("safetensors '\(path)': duplicate entry '\(name)'")
            }
            if name == "__metadata__" {
                guard let m = value.objectValue else {
                    throw DNABertError.format("safetensors '\(path)': __metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v.stringValue else {
                        throw DNABertError.format("safetensors '\(path)': __metadata__ value of '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(name, value, path: path))
        }
        // Stable sort by offset: zero-length tensors sharing an offset keep header order.
        let ordered = entries.enumerated().sorted { a, b in
            (a.element.begin, a.element.end, a.offset) < (b.element.begin, b.element.end, b.offset)
        }.map(\.element)
        var expected = 0
        for e in ordered {
            guard e.begin == expected else {
                let what = e.begin < expected ? "overlaps the previous tensor" : "leaves a gap after the previous tensor"
                throw DNABertError.format("safetensors '\(path)': tensor '\(e.name)' data_offsets [\(e.begin), \(e.end)] \(what) (expected start \(expected))")
            }
            guard e.end <= dataLength else {
                throw DNABertError.format("safetensors '\(path)': tensor '\(e.name)' data_offsets [\(e.begin), \(e.end)] beyond the \(dataLength)-byte data region")
            }
            expected = e.end
        }
        guard expected == dataLength else {
            throw DNABertError.format("safetensors '\(path)': tensors cover \(expected) bytes but the data region has \(dataLength)")
        }
        return Header(entries: ordered, metadata: metadata, dataStart: dataStart)
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, path: String) throws -> Entry {
        func bad(_ m: String) -> DNABertError { DNABertError.format("safetensors '\(path)': tensor '\(name)': \(m)") }
        guard value.objectValue != nil else { throw bad("entry is not an object") }
        guard let dtypeName = value["dtype"]?.stringValue else { throw bad("missing string 'dtype'") }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw DNABertError.unsupported("safetensors '\(path)': tensor '\(name)': unsupported dtype '\(dtypeName)'")
        }
        guard let dims = value["shape"]?.arrayValue else { throw bad("missing array 'shape'") }
        var shape: [Int] = []
        for d in dims {
            guard let v = d.intValue, v >= 0, v <= Int64(Int.max) else { throw bad("shape has a non-integer or negative dimension") }
            shape.append(Int(v))
        }
        guard let offs = value["data_offsets"]?.arrayValue, offs.count == 2,
              let b = offs[0].intValue, let e = offs[1].intValue, b >= 0, e >= b else {
            throw bad("'data_offsets' must be two integers [begin, end] with 0 <= begin <= end")
        }
        guard let count = ShapeMath.elementCount(shape) else { throw bad("shape \(ShapeMath.describe(shape)) overflows") }
        let (bytes, o) = count.multipliedReportingOverflow(by: dtype.size)
        guard !o, Int64(bytes) == e - b else {
            throw bad("\(dtypeName) \(ShapeMath.describe(shape)) needs \(o ? "an overflowing number of" : String(bytes)) bytes but data_offsets span \(e - b)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: Int(b), end: Int(e))
    }

    /// Writes tensors of an open file (any dtype) as F32, converting one tensor at a time through a
    /// scratch buffer, so converting a 468 MB `pytorch_model.bin` needs no second copy of the model.
    public static func write(path: String, tensors: [LazyTensor], metadata: [String: String] = [:]) throws {
        let largest = tensors.map(\.count).max() ?? 0
        // Checked: the counts come from the input file's headers.
        let scratch = try CheckedBuffer<Float>(count: largest, what: "conversion buffer for \(largest) floats")
        try { (buf: UnsafeMutableBufferPointer<Float>) in
            try write(path: path, header: tensors.map { ($0.name, $0.shape, $0.count) }, metadata: metadata) { i, w in
                let t = tensors[i]
                let view = UnsafeMutableBufferPointer(rebasing: buf[0..<t.count])
                try t.copy(into: view)
                try w.write(UnsafeRawBufferPointer(UnsafeBufferPointer(view)))
            }
        }(scratch.buffer)
    }

    /// Writes F32 tensors in the given order, atomically. The header is padded with spaces to a
    /// multiple of 8 bytes (as the reference writer does) so the data region is 8-byte aligned.
    public static func write(path: String,
                             tensors: [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)],
                             metadata: [String: String] = [:]) throws {
        try write(path: path, header: tensors.map { ($0.name, $0.shape, $0.data.count) }, metadata: metadata) { i, w in
            try w.write(UnsafeRawBufferPointer(tensors[i].data))
        }
    }

    /// Writes tensors of any dtype given as raw little-endian bytes (e.g. an int8 checkpoint), atomically.
    public static func write(path: String, raw tensors: [(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer)],
                             metadata: [String: String] = [:]) throws {
        for t in tensors {
            guard let n = ShapeMath.elementCount(t.shape), n * t.dtype.size == t.bytes.count else {
                throw DNABertError.invalidArgument("safetensors write '\(path)': tensor '\(t.name)' has shape \(ShapeMath.describe(t.shape)) but \(t.bytes.count) bytes of \(t.dtype.rawValue)")
            }
        }
        try write(path: path, header: tensors.map { ($0.name, $0.shape, $0.bytes.count / $0.dtype.size) }, dtypes: tensors.map(\.dtype),
                  metadata: metadata) { i, w in
            try w.write(tensors[i].bytes)
        }
    }

    private static func write(path: String, header entries: [(name: String, shape: [Int], count: Int)], dtypes: [DType]? = nil,
                              metadata: [String: String],
                              body: (Int, AtomicFileWriter) throws -> Void) throws {
        var members: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var names = Set<String>()
        var offset = 0
        for (ti, t) in entries.enumerated() {
            let dtype = dtypes?[ti] ?? .f32
            guard t.name != "__metadata__" else { throw DNABertError.invalidArgument("safetensors write '\(path)': '__metadata__' is not a valid tensor name") }
            guard names.insert(t.name).inserted else {
                throw DNABertError.invalidArgument("safetensors write '\(path)': duplicate tensor name '\(t.name)'")
            }
            guard let count = ShapeMath.elementCount(t.shape), count == t.count else {
                throw DNABertError.invalidArgument("safetensors write '\(path)': tensor '\(t.name)' has shape \(ShapeMath.describe(t.shape)) but \(t.count) values")
            }
            let end = offset + dtype.size * count
            members.append((t.name, .object([
                ("dtype", .string(dtype.rawValue)),
                ("shape", .array(t.shape.map { .int(Int64($0)) })),
                ("data_offsets", .array([.int(Int64(offset)), .int(Int64(end))])),
            ])))
            offset = end
        }
        var header = Array(JSON.serialize(.object(members)).utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        var prefix = [UInt8](repeating: 0, count: 8)
        var n = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &n) { for i in 0..<8 { prefix[i] = $0[i] } }
        let w = try AtomicFileWriter(path: path)
        try w.write(prefix)
        try w.write(header)
        for i in entries.indices { try body(i, w) }
        try w.commit()
    }
}
