#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and crash-safe writes without Foundation.
public enum FileIO {
    /// Reads a whole file. Throws `.io` with the path and the system's reason.
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DNABertError.io("cannot open '\(path)': \(errnoString())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DNABertError.io("cannot stat '\(path)': \(errnoString())") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw DNABertError.io("'\(path)' is a directory, not a file") }
        var out: [UInt8] = []
        out.reserveCapacity(max(Int(st.st_size), 0))
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

    public static func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func errnoString() -> String { String(cString: strerror(errno)) }
}
