#if canImport(Glibc)
import Glibc
#endif

/// Streams a file to a unique temporary name beside it and renames it over `path` on `commit()`.
///
/// Why not `FileIO.writeAtomically`: a 468 MB checkpoint should not be assembled in one array first.
/// A writer dropped without `commit()` removes its temporary file, so errors leave no debris.
/// The temporary name is unique per writer (pid + random suffix, created with O_EXCL), so threads and
/// processes saving the same path never share one. A target that exists must be a regular file: saving onto a
/// device node, FIFO, socket or folder is refused; a symbolic link is followed and the file it points to is
/// replaced (the link stays a link).
public final class AtomicFileWriter {
    public let path: String
    private let tmp: String
    private var fd: Int32
    private var committed = false

    public init(path requested: String) throws {
        path = try FileIO.resolveSaveTarget(requested, expect: S_IFREG)
        var fd: Int32 = -1
        var name = ""
        for _ in 0..<16 {
            name = path + ".tmp-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw DNABertError.io("cannot create '\(name)': \(FileIO.errnoString())") }
        self.fd = fd
        tmp = name
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, base + off, min(bytes.count - off, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw DNABertError.io("cannot write '\(tmp)': \(FileIO.errnoString())")
            }
            off += n
        }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    public func commit() throws {
        guard fsync(fd) == 0 else { throw DNABertError.io("cannot sync '\(tmp)': \(FileIO.errnoString())") }
        close(fd)
        fd = -1
        // Re-check just before replacing: the target may have become something else since init.
        _ = try FileIO.resolveSaveTarget(path, expect: S_IFREG)
        guard rename(tmp, path) == 0 else {
            throw DNABertError.io("cannot rename '\(tmp)' to '\(path)': \(FileIO.errnoString())")
        }
        committed = true
        FileIO.syncDirectory(FileIO.directoryOf(path))
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(tmp) }
    }
}
