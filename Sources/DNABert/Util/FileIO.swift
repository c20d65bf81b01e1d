#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and crash-safe writes without Foundation.
public enum FileIO {
    /// Opens `path` for reading without blocking on a FIFO and checks what it is: folders are refused;
    /// with `regularOnly`, so is anything but a regular file (a device such as /dev/zero never ends, a FIFO
    /// may never be written); otherwise FIFOs and pipes are accepted (streamed input such as `<(zcat x.gz)`)
    /// but devices and sockets are not. The descriptor is returned in blocking mode, with its stat.
    public static func openForReading(_ path: String, regularOnly: Bool) throws -> (fd: Int32, stat: stat) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw DNABertError.io("cannot open '\(path)': \(errnoString())") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let m = errnoString(); close(fd)
            throw DNABertError.io("cannot stat '\(path)': \(m)")
        }
        let type = st.st_mode & S_IFMT
        if type == S_IFDIR { close(fd); throw DNABertError.io("'\(path)' is a directory, not a file") }
        if type != S_IFREG && (regularOnly || type != S_IFIFO) {
            close(fd)
            throw DNABertError.io("'\(path)' is a \(typeName(type)), not a regular file")
        }
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        return (fd, st)
    }

    static func typeName(_ type: mode_t) -> String {
        switch type {
        case S_IFCHR: return "character device"
        case S_IFBLK: return "block device"
        case S_IFIFO: return "FIFO"
        case S_IFSOCK: return "socket"
        case S_IFLNK: return "symbolic link"
        case S_IFDIR: return "directory"
        default: return "special file"
        }
    }

    /// Reads a whole regular file (devices, FIFOs and sockets are refused: their size is not known and a
    /// read may never end). Throws `.io` with the path and the system's reason, `.outOfMemory` when the
    /// file does not fit in memory.
    public static func read(_ path: String) throws -> [UInt8] {
        let (fd, st) = try openForReading(path, regularOnly: true)
        defer { close(fd) }
        let size = max(Int(st.st_size), 0)
        try Memory.reserve(bytes: size, what: "'\(path)'")
        var out: [UInt8] = []
        out.reserveCapacity(size)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DNABertError.io("cannot read '\(path)': \(errnoString())")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Where a save to `path` must write: `path` itself, or — when `path` is a symbolic link — the file or
    /// folder it points to (a save replaces the target, the link stays). Refuses an existing target of
    /// another type than `expect` (S_IFREG for files, S_IFDIR for folders): a device node, FIFO or socket is
    /// never replaced by a save.
    public static func resolveSaveTarget(_ path: String, expect: mode_t) throws -> String {
        var st = stat()
        var target = path
        // Follow links one at a time (a link may point to a file that does not exist yet).
        var hops = 0
        while lstat(target, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK {
            hops += 1
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(target, &buf, Int(PATH_MAX))
            guard hops <= 40, n > 0 else {
                throw DNABertError.io("'\(path)' is a symbolic link that cannot be followed\(hops > 40 ? " (a loop)" : ": " + errnoString())")
            }
            let dest = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            target = dest.hasPrefix("/") ? dest : directoryOf(target) + "/" + dest
        }
        if lstat(target, &st) == 0 {
            let type = st.st_mode & S_IFMT
            if type != expect {
                throw DNABertError.io("'\(path)' is a \(typeName(type)); refusing to replace it with a \(expect == S_IFDIR ? "folder" : "file")")
            }
        } else if errno != ENOENT {
            throw DNABertError.io("cannot stat '\(path)': \(errnoString())")
        }
        return target
    }

    /// fsync of a folder (makes renames inside it durable); errors are ignored (some filesystems refuse).
    static func syncDirectory(_ path: String) {
        let dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the folder.
    /// A crash at any point leaves either the old file or the new one, never a torn one.
    public static func writeAtomically(_ path: String, _ bytes: UnsafeRawBufferPointer) throws {
        let w = try AtomicFileWriter(path: path)
        try w.write(bytes)
        try w.commit()
    }

    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAtomically(path, $0) }
    }

    public static func writeAtomically(_ path: String, string: String) throws {
        try writeAtomically(path, Array(string.utf8))
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// mkdir -p.
    public static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw DNABertError.io("cannot create directory '\(prefix)': \(errnoString())")
            }
            prefix += "/"
        }
    }

    public static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    public static func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func errnoString() -> String { String(cString: strerror(errno)) }
}
