// Shared helpers of the libFuzzer harnesses (fuzz/harnesses/*.swift); compiled into every harness binary.
//
// Most readers of the library take a path (they map or stream the file, sniff gzip, look at the name), so a
// harness writes the input to a private scratch folder and calls the same entry point a user's file reaches.
// Thrown errors are the expected outcome of a malformed input; a crash, trap, sanitizer report, hang (libFuzzer
// -timeout) or runaway memory (-rss_limit_mb / -malloc_limit_mb) is a finding.
#if canImport(Glibc)
import Glibc
#endif

enum Fuzz {
    /// A private folder for this process, created on first use, removed at exit.
    static let scratch: String = {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/dnabert-fuzz-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { buf -> String? in
            guard let p = mkdtemp(buf.baseAddress!) else { return nil }
            return String(cString: p)
        }
        guard let dir else { fatalError("fuzz: cannot create a scratch folder under \(base)") }
        scratchToRemove = dir
        atexit { Fuzz.removeScratch() }
        return dir
    }()
    nonisolated(unsafe) static var scratchToRemove: String?

    static func removeScratch() {
        if let dir = scratchToRemove { removeTree(dir) }
    }

    /// Removes a folder and everything under it (the scratch folder holds files and one level of folders).
    static func removeTree(_ dir: String) {
        if let d = opendir(dir) {
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name == "." || name == ".." { continue }
                let path = dir + "/" + name
                if Int32(e.pointee.d_type) == Int32(DT_DIR) { removeTree(path) } else { unlink(path) }
            }
            closedir(d)
        }
        rmdir(dir)
    }

    /// Writes `bytes` to `path` (truncating); traps when the scratch folder cannot be written, which is a broken
    /// set-up, not a finding.
    static func write(_ path: String, _ bytes: UnsafeRawBufferPointer) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("fuzz: cannot write \(path)") }
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            guard n > 0 else { fatalError("fuzz: short write to \(path)") }
            off += n
        }
        close(fd)
    }

    static func remove(_ path: String) { unlink(path) }

    /// The input as a file in the scratch folder, named `name`.
    static func file(_ name: String, _ data: UnsafePointer<UInt8>, _ size: Int) -> String {
        let path = scratch + "/" + name
        write(path, UnsafeRawBufferPointer(start: size > 0 ? UnsafeRawPointer(data) : nil, count: size))
        return path
    }

    /// Repository root: this file is <root>/fuzz/support/FuzzSupport.swift (build.sh passes absolute paths).
    static let repositoryRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// Splits the input at each occurrence of `separator` (used by harnesses that fuzz several files at once).
    static func split(_ data: UnsafePointer<UInt8>, _ size: Int, separator: [UInt8]) -> [UnsafeRawBufferPointer] {
        var out: [UnsafeRawBufferPointer] = []
        var start = 0, i = 0
        let m = separator.count
        while i + m <= size {
            var match = true
            for k in 0..<m where data[i + k] != separator[k] { match = false; break }
            if match {
                out.append(UnsafeRawBufferPointer(start: data + start, count: i - start))
                i += m
                start = i
            } else {
                i += 1
            }
        }
        out.append(UnsafeRawBufferPointer(start: size > start ? data + start : nil, count: size - start))
        return out
    }

    /// DNABERT_FUZZ_VERBOSE=1: print why an input was rejected (to check that seeds get past the loaders).
    static let verbose = getenv("DNABERT_FUZZ_VERBOSE") != nil

    /// Runs `body`; a thrown error is a rejected input (printed when verbose), returned as nil.
    static func attempt<T>(_ what: String, _ body: () throws -> T) -> T? {
        do { return try body() } catch {
            if verbose { print("fuzz: \(what) rejected: \(error)") }
            return nil
        }
    }

    /// A property of the library that must hold for every input it accepted: stop with a message (libFuzzer
    /// reports the input as a crash).
    static func require(_ ok: Bool, _ what: @autoclosure () -> String) {
        if !ok { fatalError("fuzz: property violated: \(what())") }
    }
}
