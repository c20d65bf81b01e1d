#if canImport(Glibc)
import Glibc
#endif

/// Saves a folder as a whole: the files are written into a fresh sibling folder (`staging`), which replaces
/// the target in one rename when `commit()` is called. A failure or a crash at any point leaves the old folder
/// complete (or no folder, if there was none) — never new weights beside an old config.
///
/// - The staging name is unique per call (pid + random suffix, created with mkdir's exclusivity), so threads
///   and processes saving the same path each get their own; the last commit wins, all succeed.
/// - The swap is `renameat2(RENAME_EXCHANGE)`: the old folder stays whole until the new one is in place.
///   On filesystems without it, the old folder is first renamed to a backup name, then removed.
/// - Entries of the old folder that the save does not write (a user's README, loss curves, subfolders) are
///   kept: regular files and symbolic links are linked into the new folder before the swap, subfolders and
///   other entries are moved across right after it.
/// - The target must be a folder or not exist: a file, device node, FIFO or socket is refused. A symbolic link
///   is followed (the folder it points to is replaced; the link stays).
/// A writer dropped without `commit()` removes its staging folder.
final class AtomicFolder {
    let target: String
    let staging: String
    private var committed = false

    init(_ path: String) throws {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard !p.isEmpty else { throw DNABertError.invalidArgument("empty folder path") }
        target = try FileIO.resolveSaveTarget(p, expect: S_IFDIR)
        let parent = FileIO.directoryOf(target), base = FileIO.lastComponent(target)
        var name = ""
        var ok = false
        for _ in 0..<16 {
            name = (parent == "/" ? "" : parent) + "/.\(base).tmp-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            if mkdir(name, 0o755) == 0 { ok = true; break }
            if errno != EEXIST { break }
        }
        guard ok else { throw DNABertError.io("cannot create the folder '\(name)' to save '\(path)': \(FileIO.errnoString())") }
        staging = name
    }

    /// The path of `file` inside the staging folder (write it there, atomically or not).
    func path(_ file: String) -> String { staging + "/" + file }

    func commit() throws {
        // Entries of the old folder the save did not write: files and links are linked in before the swap (so the
        // new folder is complete the moment it appears); everything else is moved across right after it.
        for e in AtomicFolder.entries(target) where !AtomicFolder.present(path(e)) {
            var st = stat()
            guard lstat(target + "/" + e, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                if link(target + "/" + e, path(e)) != 0 {
                    let bytes = try FileIO.read(target + "/" + e)
                    try FileIO.writeAtomically(path(e), bytes)
                }
            case S_IFLNK:
                if let dest = AtomicFolder.isLink(target + "/" + e) { _ = symlink(dest, path(e)) }
            default:
                break
            }
        }
        FileIO.syncDirectory(staging)
        // Swap. NOREPLACE when there is no old folder; EXCHANGE otherwise (retried if the folder appears or
        // disappears under us, as when another thread saves the same path).
        var old: String? = nil
        var done = false
        for _ in 0..<8 where !done {
            if AtomicFolder.rename2(staging, target, AtomicFolder.noReplace) == 0 { done = true; break }
            var e = errno
            if e == EEXIST || e == ENOTEMPTY {
                if AtomicFolder.rename2(staging, target, AtomicFolder.exchange) == 0 { old = staging; done = true; break }
                e = errno
                if e == ENOENT { continue }
            }
            if e == EINVAL || e == ENOSYS {
                // No renameat2 here: keep the old folder under a backup name until the new one is in place.
                var st = stat()
                if lstat(target, &st) == 0 {
                    let backup = staging + ".old"
                    guard rename(target, backup) == 0 else { break }
                    old = backup
                }
                if rename(staging, target) == 0 { done = true; break }
                let m = FileIO.errnoString()
                if let o = old { _ = rename(o, target) }
                throw DNABertError.io("cannot rename '\(staging)' to '\(target)': \(m)")
            }
            throw DNABertError.io("cannot rename '\(staging)' to '\(target)': \(String(cString: strerror(e)))")
        }
        guard done else { throw DNABertError.io("cannot replace '\(target)': it keeps changing under this save") }
        committed = true
        FileIO.syncDirectory(FileIO.directoryOf(target))
        guard let old else { return }
        // Whatever the old folder holds that the new one lacks moves across: subfolders, and anything created
        // there while this save ran. Then the old folder's files (replaced or linked in) go.
        for e in AtomicFolder.entries(old) where !AtomicFolder.present(target + "/" + e) {
            _ = rename(old + "/" + e, target + "/" + e)
        }
        AtomicFolder.removeFlat(old)
    }

    deinit {
        if !committed { AtomicFolder.removeFlat(staging) }
    }

    // MARK: - helpers

    static let noReplace: UInt32 = 1, exchange: UInt32 = 2

    private typealias Renameat2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// glibc's renameat2 (2.28+), looked up at run time: the Swift Glibc module does not export it.
    private static let renameat2Fn: Renameat2? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2").map { unsafeBitCast($0, to: Renameat2.self) }

    static func rename2(_ from: String, _ to: String, _ flags: UInt32) -> Int32 {
        guard let f = renameat2Fn else { errno = ENOSYS; return -1 }
        return f(AT_FDCWD, from, AT_FDCWD, to, flags)
    }

    static func entries(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    static func present(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func isLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buf, 4096)
        return n < 0 ? nil : String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes a folder's files and links, then the folder if it is then empty. Never recurses: a subfolder
    /// left behind (it could only be a user's) keeps the folder, rather than deleting data.
    static func removeFlat(_ dir: String) {
        for e in entries(dir) {
            var st = stat()
            if lstat(dir + "/" + e, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR { unlink(dir + "/" + e) }
        }
        rmdir(dir)
    }
}
