import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// A read-only zip archive over a memory-mapped file, enough for PyTorch checkpoints:
/// stored (method 0) and deflated (method 8) entries, ZIP64 sizes and offsets, CRC-32 checked.
/// Encrypted and multi-disk archives are refused.
final class ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let file: MappedFile
    static let maxDeflateRatio: UInt64 = 1032
    private(set) var entries: [Entry] = []
    private var byName: [String: Int] = [:]
    private var what: String { "zip '\(file.path)'" }
    /// Entries whose CRC has been checked, and inflated entries, so tensors sharing one storage
    /// neither re-check nor re-inflate it. Guarded by `lock` (tensors may be copied in parallel).
    private var verified = Set<String>()
    private var inflated: [String: CheckedBuffer<UInt8>] = [:]
    private let lock: UnsafeMutablePointer<pthread_mutex_t>

    init(path: String) throws {
        // The mutex is allocated only once the file is open: a throw before every stored property is set skips
        // deinit (and would leak it); from here on a throw runs deinit, which frees it.
        file = try MappedFile(path: path)
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        try readCentralDirectory()
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    func entry(_ name: String) -> Entry? { byName[name].map { entries[$0] } }

    private func fail(_ m: String) -> DNABertError { DNABertError.format("\(what): \(m)") }

    private func readCentralDirectory() throws {
        let r = ByteReader(bytes: file.bytes, what: what)
        let size = file.count
        guard size >= 22 else { throw fail("file is \(size) bytes, too small to be a zip archive") }
        // End of central directory: the last signature whose comment length reaches exactly the end.
        var eocd = -1
        var p = size - 22
        let lowest = max(0, size - 22 - 65535)
        while p >= lowest {
            if try r.u32(p) == 0x0605_4b50, Int(try r.u16(p + 20)) == size - p - 22 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record (not a zip archive, or truncated)") }
        var disk = Int(try r.u16(eocd + 4)), cdDisk = Int(try r.u16(eocd + 6))
        var count = Int(try r.u16(eocd + 10)), diskCount = Int(try r.u16(eocd + 8))
        var cdSize = Int(try r.u32(eocd + 12)), cdOffset = Int(try r.u32(eocd + 16))
        // ZIP64: a locator right before the classic record points at the 64-bit record.
        if eocd >= 20, try r.u32(eocd - 20) == 0x0706_4b50 {
            let z64 = try r.u64(eocd - 20 + 8)
            guard z64 <= UInt64(eocd - 20) else { throw fail("ZIP64 end record offset \(z64) out of range") }
            let z = Int(z64)
            guard try r.u32(z) == 0x0606_4b50 else { throw fail("bad ZIP64 end-of-central-directory signature") }
            disk = Int(try r.u32(z + 16)); cdDisk = Int(try r.u32(z + 20))
            let d64 = try r.u64(z + 24), c64 = try r.u64(z + 32), s64 = try r.u64(z + 40), o64 = try r.u64(z + 48)
            guard c64 <= UInt64(size), d64 <= UInt64(size), s64 <= UInt64(size), o64 <= UInt64(size) else {
                throw fail("ZIP64 central directory fields out of range")
            }
            diskCount = Int(d64); count = Int(c64); cdSize = Int(s64); cdOffset = Int(o64)
        }
        guard disk == 0, cdDisk == 0, diskCount == count else { throw DNABertError.unsupported("\(what): multi-disk archives are not supported") }
        guard cdOffset <= size, cdSize <= size - cdOffset else {
            throw fail("central directory (offset \(cdOffset), \(cdSize) bytes) lies outside the \(size)-byte file")
        }
        guard count <= cdSize / 46 else { throw fail("central directory claims \(count) entries in \(cdSize) bytes") }
        entries.reserveCapacity(count)
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for i in 0..<count {
            guard q + 46 <= cdEnd, try r.u32(q) == 0x0201_4b50 else { throw fail("bad central directory entry \(i)") }
            let flags = try r.u16(q + 8)
            let method = try r.u16(q + 10)
            let crc = try r.u32(q + 16)
            var csize = UInt64(try r.u32(q + 20)), usize = UInt64(try r.u32(q + 24))
            let nameLen = Int(try r.u16(q + 28)), extraLen = Int(try r.u16(q + 30)), commentLen = Int(try r.u16(q + 32))
            var local = UInt64(try r.u32(q + 42))
            let entryEnd = q + 46 + nameLen + extraLen + commentLen
            guard entryEnd <= cdEnd else { throw fail("central directory entry \(i) runs past the directory") }
            let nameBytes = try r.slice(q + 46, nameLen)
            let name = String(decoding: nameBytes, as: UTF8.self)
            // ZIP64 extra field: the 32-bit fields saturated at 0xFFFFFFFF follow in this order.
            var e = q + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = try r.u16(e), len = Int(try r.u16(e + 2))
                guard e + 4 + len <= extraEnd else { throw fail("entry '\(name)': extra field runs past its record") }
                if id == 0x0001 {
                    var f = e + 4
                    func next() throws -> UInt64 {
                        guard f + 8 <= e + 4 + len else { throw fail("entry '\(name)': short ZIP64 extra field") }
                        defer { f += 8 }
                        return try r.u64(f)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next() }
                    if csize == 0xFFFF_FFFF { csize = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                e += 4 + len
            }
            guard flags & 1 == 0 else { throw DNABertError.unsupported("\(what): entry '\(name)' is encrypted") }
            guard method == 0 || method == 8 else {
                throw DNABertError.unsupported("\(what): entry '\(name)' uses compression method \(method) (only stored and deflate are supported)")
            }
            guard csize <= UInt64(size), usize <= UInt64(Int.max / 2), local <= UInt64(size) else {
                throw fail("entry '\(name)': sizes or offset out of range")
            }
            if method == 0 && csize != usize { throw fail("stored entry '\(name)' has compressed size \(csize) != size \(usize)") }
            // Deflate expands at most 1032:1 (a 258-byte match per 2 bits, plus block headers): a bigger claim is
            // a zip bomb or corruption, refused here — before anything is allocated for it.
            if method == 8 && usize > csize &* ZipArchive.maxDeflateRatio &+ 1024 {
                throw fail("entry '\(name)': claims \(usize) bytes from \(csize) compressed bytes (deflate expands at most \(ZipArchive.maxDeflateRatio)×)")
            }
            guard byName[name] == nil else { throw fail("duplicate entry '\(name)'") }
            byName[name] = entries.count
            entries.append(Entry(name: name, method: method, crc32: crc, compressedSize: Int(csize), size: Int(usize), localHeaderOffset: Int(local)))
            q = entryEnd
        }
    }

    /// Raw compressed bytes of an entry, located through its local header.
    private func rawData(_ e: Entry) throws -> UnsafeRawBufferPointer {
        let r = ByteReader(bytes: file.bytes, what: what)
        let h = e.localHeaderOffset
        guard try r.u32(h) == 0x0403_4b50 else { throw fail("entry '\(e.name)': bad local header signature at offset \(h)") }
        let start = h + 30 + Int(try r.u16(h + 26)) + Int(try r.u16(h + 28))
        guard start <= file.count, e.compressedSize <= file.count - start else {
            throw fail("entry '\(e.name)': data (\(e.compressedSize) bytes at \(start)) runs past the end of the file (truncated?)")
        }
        return try r.slice(start, e.compressedSize)
    }

    /// Calls `body` with the uncompressed, CRC-checked bytes of `e` (a view into the map when stored).
    func withData<R>(_ e: Entry, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        if e.method == 0 {
            let raw = try rawData(e)
            pthread_mutex_lock(lock)
            let known = verified.contains(e.name)
            pthread_mutex_unlock(lock)
            if !known {
                try checkCRC(e, raw)
                pthread_mutex_lock(lock); verified.insert(e.name); pthread_mutex_unlock(lock)
            }
            return try body(raw)
        }
        pthread_mutex_lock(lock)
        let cached = inflated[e.name]
        pthread_mutex_unlock(lock)
        if let cached { return try body(UnsafeRawBufferPointer(cached.buffer)) }
        let raw = try rawData(e)
        // Checked and not zero-filled: the pages of a lying entry are never touched, so a corrupt stream fails
        // after costing only what it really inflated; an entry larger than memory is `.outOfMemory`.
        let out = try CheckedBuffer<UInt8>(count: e.size, what: "\(what): entry '\(e.name)' (\(e.size) bytes inflated)")
        try inflate(raw, into: UnsafeMutableRawBufferPointer(out.buffer), name: e.name)
        try checkCRC(e, UnsafeRawBufferPointer(out.buffer))
        pthread_mutex_lock(lock); inflated[e.name] = out; pthread_mutex_unlock(lock)
        return try body(UnsafeRawBufferPointer(out.buffer))
    }

    private func checkCRC(_ e: Entry, _ data: UnsafeRawBufferPointer) throws {
        var crc: UInt = 0
        var off = 0
        while off < data.count {
            let n = min(data.count - off, 1 << 30)
            crc = CZlib.crc32(crc, data.baseAddress!.advanced(by: off).assumingMemoryBound(to: Bytef.self), uInt(n))
            off += n
        }
        guard UInt32(truncatingIfNeeded: crc) == e.crc32 else {
            throw fail("entry '\(e.name)': CRC-32 mismatch (corrupt data)")
        }
    }

    private func inflate(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer, name: String) throws {
        var s = z_stream()
        guard inflateInit2_(&s, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DNABertError(.internal, "zlib inflateInit failed")
        }
        defer { inflateEnd(&s) }
        var inOff = 0, outOff = 0
        var status: Int32 = Z_OK
        while true {
            if s.avail_in == 0 && inOff < src.count {
                let n = min(src.count - inOff, 1 << 30)
                s.next_in = UnsafeMutablePointer(mutating: src.baseAddress!.advanced(by: inOff).assumingMemoryBound(to: Bytef.self))
                s.avail_in = uInt(n)
                inOff += n
            }
            if s.avail_out == 0 && outOff < dst.count {
                let n = min(dst.count - outOff, 1 << 30)
                s.next_out = dst.baseAddress!.advanced(by: outOff).assumingMemoryBound(to: Bytef.self)
                s.avail_out = uInt(n)
                outOff += n
            }
            var spare: UInt8 = 0
            if s.avail_out == 0 {
                // Output full: give one spare byte so zlib can report the stream end (or excess data).
                status = withUnsafeMutablePointer(to: &spare) { p in
                    s.next_out = p; s.avail_out = 1
                    return CZlib.inflate(&s, Z_NO_FLUSH)
                }
                if status == Z_STREAM_END && s.avail_out == 1 { break }
                throw fail("entry '\(name)': deflate stream is longer than the declared size")
            }
            status = CZlib.inflate(&s, Z_NO_FLUSH)
            if status == Z_STREAM_END { break }
            if status == Z_BUF_ERROR && s.avail_in == 0 && inOff >= src.count {
                throw fail("entry '\(name)': deflate stream is truncated")
            }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                throw fail("entry '\(name)': corrupt deflate stream (zlib status \(status))")
            }
        }
        guard Int(s.total_out) == dst.count else {
            throw fail("entry '\(name)': inflated \(s.total_out) bytes, expected \(dst.count)")
        }
    }
}
