import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// A file read as a stream of bytes, gunzipped on the fly when it starts with the gzip magic (1f 8b).
/// Concatenated gzip members (`cat a.gz b.gz`, bgzip's blocks) are read one after another, as `gzip -d`
/// does. A stream that ends inside a member, or that fails its CRC, throws `.format` naming the path.
final class ByteStream {
    let path: String
    private var fd: Int32
    private var isGzip = false
    private var raw: UnsafeMutablePointer<UInt8>   // compressed input (gzip) or the plain read buffer
    private let rawCapacity = 1 << 20
    private var rawStart = 0, rawEnd = 0           // unread compressed bytes raw[rawStart..<rawEnd]
    private var rawEOF = false
    private var zs = z_stream()
    private var zActive = false                   // inside a gzip member
    private var finished = false

    init(path: String) throws {
        self.path = path
        // Regular files and FIFOs/pipes (streamed input); devices such as /dev/zero, which never end, are refused.
        fd = try FileIO.openForReading(path, regularOnly: false).fd
        raw = .allocate(capacity: rawCapacity)
        do {
            try fillRaw()
        } catch {
            raw.deallocate(); close(fd)
            throw error
        }
        let gz = rawEnd - rawStart >= 2 && raw[rawStart] == 0x1f && raw[rawStart + 1] == 0x8b
        isGzip = gz
        if gz {
            // 15 + 16: gzip wrapper only (not zlib), 32 KiB window.
            let rc = inflateInit2_(&zs, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else {
                raw.deallocate(); close(fd)
                throw DNABertError(.outOfMemory, "cannot initialise zlib for '\(path)' (code \(rc))")
            }
            zActive = true
        }
    }

    deinit {
        if isGzip { inflateEnd(&zs) }
        raw.deallocate()
        if fd >= 0 { close(fd) }
    }

    /// Moves the unread compressed bytes to the front and reads more from the file.
    private func fillRaw() throws {
        if rawStart > 0 {
            let n = rawEnd - rawStart
            if n > 0 { memmove(raw, raw + rawStart, n) }
            rawStart = 0; rawEnd = n
        }
        while !rawEOF && rawEnd < rawCapacity {
            let n = Glibc.read(fd, raw + rawEnd, rawCapacity - rawEnd)
            if n < 0 {
                if errno == EINTR { continue }
                throw DNABertError.io("cannot read '\(path)': \(String(cString: strerror(errno)))")
            }
            if n == 0 { rawEOF = true; break }
            rawEnd += n
            if rawEnd - rawStart >= 2 { break }
        }
    }

    /// Fills `buffer` with the next bytes; returns how many (0 only at the end of the stream).
    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws -> Int {
        if finished || capacity == 0 { return 0 }
        if !isGzip {
            if rawEnd > rawStart {   // bytes read while sniffing the magic
                let n = min(capacity, rawEnd - rawStart)
                memcpy(buffer, raw + rawStart, n)
                rawStart += n
                return n
            }
            while true {
                let n = Glibc.read(fd, buffer, capacity)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DNABertError.io("cannot read '\(path)': \(String(cString: strerror(errno)))")
                }
                if n == 0 { finished = true }
                return n
            }
        }
        var produced = 0
        while produced == 0 {
            if rawStart == rawEnd {
                try fillRaw()
                if rawStart == rawEnd {
                    if zActive {
                        throw DNABertError.format("truncated gzip stream in '\(path)': the file ends inside a gzip member")
                    }
                    finished = true
                    return 0
                }
            }
            if !zActive {
                // Between members: another member must follow (trailing zero padding is tolerated).
                if raw[rawStart] == 0 {
                    var k = rawStart
                    while k < rawEnd && raw[k] == 0 { k += 1 }
                    rawStart = k
                    continue
                }
                if rawEnd - rawStart < 2 && !rawEOF { try fillRaw(); continue }
                guard rawEnd - rawStart >= 2, raw[rawStart] == 0x1f, raw[rawStart + 1] == 0x8b else {
                    throw DNABertError.format("corrupt gzip file '\(path)': trailing bytes after the last gzip member are not gzip data")
                }
                guard inflateReset(&zs) == Z_OK else {
                    throw DNABertError(.internal, "zlib inflateReset failed on '\(path)'")
                }
                zActive = true
            }
            zs.next_in = raw + rawStart
            zs.avail_in = UInt32(rawEnd - rawStart)
            zs.next_out = buffer + produced
            zs.avail_out = UInt32(capacity - produced)
            let rc = inflate(&zs, Z_NO_FLUSH)
            let consumed = (rawEnd - rawStart) - Int(zs.avail_in)
            rawStart += consumed
            produced = capacity - Int(zs.avail_out)
            switch rc {
            case Z_OK:
                break
            case Z_STREAM_END:
                zActive = false
            case Z_BUF_ERROR:
                // No progress possible: more input needed (handled by the loop) or output full.
                if consumed == 0 && produced == 0 && rawEOF && rawStart == rawEnd {
                    throw DNABertError.format("truncated gzip stream in '\(path)'")
                }
            case Z_MEM_ERROR:
                throw DNABertError(.outOfMemory, "out of memory while decompressing '\(path)'")
            default:
                let why = zs.msg.map { String(cString: $0) } ?? "code \(rc)"
                throw DNABertError.format("corrupt gzip data in '\(path)': \(why)")
            }
        }
        return produced
    }
}
