#if canImport(Glibc)
import Glibc
#endif

/// Streams a file to `<path>.tmp-<pid>` and renames it over `path` on `commit()`.
///
/// Why not `FileIO.writeAtomically`: a 468 MB checkpoint should not be assembled in one array first.
/// A writer dropped without `commit()` removes its temporary file, so errors leave no debris.
final class AtomicFileWriter {
    let path: String
    private let tmp: String
    private var fd: Int32
    private var committed = false

    init(path: String) throws {
        self.path = path
        tmp = path + ".tmp-\(getpid())"
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DNABertError.io("cannot create '\(tmp)': \(FileIO.errnoString())") }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
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

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func commit() throws {
        guard fsync(fd) == 0 else { throw DNABertError.io("cannot sync '\(tmp)': \(FileIO.errnoString())") }
        close(fd)
        fd = -1
        guard rename(tmp, path) == 0 else {
            throw DNABertError.io("cannot rename '\(tmp)' to '\(path)': \(FileIO.errnoString())")
        }
        committed = true
        let dfd = open(FileIO.directoryOf(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(tmp) }
    }
}
