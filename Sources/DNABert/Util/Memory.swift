#if canImport(Glibc)
import Glibc
#endif

/// The checked allocator: every allocation whose size comes from input (a file header, a config, a caller's
/// count) goes through here, so an impossible size becomes `DNABERT_ERR_OUT_OF_MEMORY` (or a format error
/// found before) instead of a trap that takes the host process down.
///
/// Why a probe for Swift arrays: Swift's runtime aborts when malloc fails, and there is no failable array
/// initialiser. `array(repeating:count:what:)` therefore checks the byte count for overflow, maps that many
/// bytes (an untouched reservation: no page is written, so it costs no RSS), unmaps them, and only then builds
/// the array. That turns the practical failure — a size larger than the address space, the
/// overcommit heuristic or `ulimit -v` allows — into an error. Raw buffers (`allocate`) are checked directly.
public enum Memory {
    /// Alignment of `allocate`'s buffers: a cache line, and enough for AVX-512 loads.
    public static let alignment = 64

    /// `count` elements of `T` in bytes; throws `.outOfMemory` when that overflows.
    public static func byteCount<T>(_: T.Type, _ count: Int, what: String) throws -> Int {
        guard count >= 0 else { throw DNABertError.invalidArgument("\(what): negative element count \(count)") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow, bytes <= Int.max - alignment else {
            throw DNABertError(.outOfMemory, "\(what): \(count) elements of \(MemoryLayout<T>.stride) bytes do not fit in memory")
        }
        return bytes
    }

    /// Throws `.outOfMemory` unless `bytes` can be allocated now (see the type's comment).
    public static func reserve(bytes: Int, what: String) throws {
        guard bytes >= 0 else { throw DNABertError.invalidArgument("\(what): negative size \(bytes)") }
        if bytes < 1 << 20 { return }   // small: not worth a probe
        // mmap, as glibc's malloc does for blocks this size (same overcommit and RLIMIT_AS checks); a
        // malloc/free pair whose pointer is unused would be removed by the optimiser.
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw DNABertError(.outOfMemory, "\(what): cannot allocate \(describe(bytes))")
        }
        munmap(p, bytes)
    }

    /// `[T](repeating: value, count: count)` for an untrusted `count`: throws instead of aborting.
    public static func array<T>(repeating value: T, count: Int, what: String) throws -> [T] {
        try reserve(bytes: try byteCount(T.self, count, what: what), what: what)
        return [T](repeating: value, count: count)
    }

    /// An uninitialised, 64-byte aligned buffer of `count` elements; free it with `deallocate(_:)`.
    /// Throws `.outOfMemory` when it cannot be had.
    public static func allocate<T>(_: T.Type, count: Int, what: String) throws -> UnsafeMutableBufferPointer<T> {
        let bytes = try byteCount(T.self, count, what: what)
        var p: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&p, max(alignment, MemoryLayout<T>.alignment), max(bytes, 1)) == 0, let p else {
            throw DNABertError(.outOfMemory, "\(what): cannot allocate \(describe(bytes))")
        }
        return UnsafeMutableBufferPointer(start: p.bindMemory(to: T.self, capacity: count), count: count)
    }

    public static func deallocate<T>(_ b: UnsafeMutableBufferPointer<T>) {
        free(b.baseAddress)
    }

    static func describe(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(bytes) bytes" : String(Int((v * 10).rounded()) / 10) + "." + String(Int((v * 10).rounded()) % 10) + " " + units[u]
    }
}

/// An owned, checked, aligned buffer (see `Memory.allocate`), freed when the last reference goes.
public final class CheckedBuffer<T>: @unchecked Sendable {
    public let buffer: UnsafeMutableBufferPointer<T>

    /// Uninitialised memory: untouched pages cost no RSS until written.
    public init(count: Int, what: String) throws {
        buffer = try Memory.allocate(T.self, count: count, what: what)
    }

    deinit { Memory.deallocate(buffer) }

    public var count: Int { buffer.count }
}
