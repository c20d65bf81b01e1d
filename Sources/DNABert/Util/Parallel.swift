import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Parallel loops over the machine's cores.
public enum Parallel {
    /// Number of online CPUs (at least 1).
    public static let coreCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Threads to use for a request of `n` (0 or negative = all cores).
    public static func threads(_ n: Int) -> Int { n <= 0 ? coreCount : n }

    /// Runs `body(chunk)` for chunk in 0..<chunks on up to `threads` threads; returns when all are done.
    /// With one thread (or one chunk) it runs inline, so callers need no special single-thread path.
    public static func forEach(_ chunks: Int, threads: Int, _ body: (Int) -> Void) {
        if chunks <= 0 { return }
        let t = min(Parallel.threads(threads), chunks)
        if t == 1 {
            for i in 0..<chunks { body(i) }
            return
        }
        // Work-stealing by an atomic-free scheme: each worker takes a static stride. Chunks are
        // expected to be balanced by the caller (or numerous enough to even out).
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: t) { w in
                var i = w
                while i < chunks {
                    body(i)
                    i += t
                }
            }
        }
    }

    /// Splits 0..<count into `parts` contiguous ranges of near-equal size.
    public static func ranges(_ count: Int, parts: Int) -> [Range<Int>] {
        let p = max(1, min(parts, max(count, 1)))
        return (0..<p).map { i in (count * i / p)..<(count * (i + 1) / p) }
    }
}
