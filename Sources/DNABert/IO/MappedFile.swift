#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory map of a whole file.
///
/// Why: checkpoints are hundreds of MB. Mapping avoids a second full copy (file bytes + converted
/// floats) and lets the zip reader pick storages without reading the whole archive into an array.
/// All reads go through the bounds-checked helpers below, so a truncated or lying file throws.
final class MappedFile {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?
    private let length: Int

    init(path: String) throws {
        self.path = path
        // Regular files only: a device or FIFO has no size to map.
        let (fd, st) = try FileIO.openForReading(path, regularOnly: true)
        defer { close(fd) }
        let size = Int(st.st_size)
        if size <= 0 {
            mapping = nil
            length = 0
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            // No address space for it (ENOMEM: an RLIMIT_AS, a full 32-bit space) is a lack of memory, not of the file.
            let why = errno, text = FileIO.errnoString()
            if why == ENOMEM { throw DNABertError(.outOfMemory, "cannot map '\(path)' (\(size) bytes): \(text)") }
            throw DNABertError.io("cannot map '\(path)' (\(size) bytes): \(text)")
        }
        mapping = p
        length = size
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let mapping { munmap(mapping, length) }
    }

    var count: Int { bytes.count }
}

/// Bounds-checked little-endian reads over a byte buffer; `what` names the file in errors.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let what: String

    func check(_ offset: Int, _ size: Int) throws {
        guard offset >= 0, size >= 0, offset <= bytes.count, size <= bytes.count - offset else {
            throw DNABertError.format("\(what): truncated (needs bytes \(offset)..<\(offset &+ size), file has \(bytes.count))")
        }
    }

    func u8(_ o: Int) throws -> UInt8 { try check(o, 1); return bytes[o] }
    func u16(_ o: Int) throws -> UInt16 {
        try check(o, 2); return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }
    func u32(_ o: Int) throws -> UInt32 {
        try check(o, 4); return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }
    func u64(_ o: Int) throws -> UInt64 {
        try check(o, 8); return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self))
    }
    func slice(_ o: Int, _ n: Int) throws -> UnsafeRawBufferPointer {
        try check(o, n)
        return UnsafeRawBufferPointer(rebasing: bytes[o..<(o + n)])
    }
}
