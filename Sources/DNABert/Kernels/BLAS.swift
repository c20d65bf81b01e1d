#if canImport(Glibc)
import Glibc
#endif

/// What the BLAS bridge found and chose; `BLAS.info`.
public struct BLASInfo: Sendable, CustomStringConvertible {
    /// The path or name that was loaded ("" when the Swift fallback is in use).
    public var library: String
    /// `openblas_get_corename()`, e.g. "SkylakeX"; "swift-fallback" when no OpenBLAS was found.
    public var corename: String
    /// `openblas_get_num_threads()` at the time of the query.
    public var threads: Int
    /// `openblas_get_config()`.
    public var config: String
    /// How the library and its core type were chosen (human-readable).
    public var how: String
    /// True when the portable Swift sgemm is in use (slow).
    public var isFallback: Bool

    public var description: String {
        "BLAS(library: \(library), core: \(corename), threads: \(threads), config: \(config); \(how))"
    }
}

/// Runtime bridge to OpenBLAS's `cblas_sgemm`.
///
/// Why not link OpenBLAS at build time: Debian's OpenBLAS 0.3.21 does not recognise recent CPUs and then
/// silently runs its SSE3 "Prescott" kernels (about 5x slower than AVX-512). OpenBLAS decides its core type
/// once, when it is loaded, from `OPENBLAS_CORETYPE`. So at first use we pick the core type from the CPU's
/// features (unless the user set it), export it, and only then `dlopen` OpenBLAS. If the process already has
/// an OpenBLAS with a slow core loaded (R or numpy linked against it), we load a private copy into a new
/// link-map namespace with `dlmopen(LM_ID_NEWLM)`, which runs its own initialiser with our core type.
///
/// Threading: the library splits large products across threads itself (`Parallel.forEach`) and calls
/// sgemm single-threaded from each worker, so OpenBLAS's own thread count is set to 1 when we load it.
/// That avoids oversubscription on nested parallel regions and lets several threads run forwards at once
/// without OpenBLAS's server lock serialising them. `setThreads` changes it for callers of `sgemm` who
/// want OpenBLAS's internal threading instead.
public enum BLAS {
    public enum Transpose: Sendable { case noTrans, trans }

    typealias SgemmFn = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                        UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, Float,
                                        UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias StringFn = @convention(c) () -> UnsafeMutablePointer<CChar>?
    typealias SetThreadsFn = @convention(c) (Int32) -> Void
    typealias GetThreadsFn = @convention(c) () -> Int32
    typealias DlmopenFn = @convention(c) (Int, UnsafePointer<CChar>?, Int32) -> UnsafeMutableRawPointer?

    struct Loaded {
        var sgemm: SgemmFn?
        var corename: StringFn?
        var config: StringFn?
        var setThreads: SetThreadsFn?
        var getThreads: GetThreadsFn?
        var library: String
        var how: String
        var error: DNABertError?
    }

    /// Loaded once, thread-safely (Swift lazy statics use swift_once).
    static let loaded: Loaded = load()

    /// Loads OpenBLAS if it has not been loaded yet; throws `.unsupported` when none can be found
    /// (the Swift fallback sgemm then stays in use, so `sgemm` keeps working, slowly).
    public static func ensureLoaded() throws {
        if let e = loaded.error { throw e }
    }

    public static var info: BLASInfo {
        let l = loaded
        if l.sgemm == nil {
            return BLASInfo(library: "", corename: "swift-fallback", threads: 1, config: "", how: l.how, isFallback: true)
        }
        return BLASInfo(library: l.library,
                        corename: l.corename.flatMap { $0() }.map { String(cString: $0) } ?? "unknown",
                        threads: Int(l.getThreads?() ?? 1),
                        config: l.config.flatMap { $0() }.map { String(cString: $0) } ?? "",
                        how: l.how, isFallback: false)
    }

    /// Sets OpenBLAS's internal thread count (process-wide for the copy we use). The model's own
    /// kernels parallelise outside BLAS and expect 1.
    public static func setThreads(_ n: Int) {
        loaded.setThreads?(Int32(max(1, min(n, 1024))))
    }

    /// Row-major C = alpha·op(A)·op(B) + beta·C with op(A) m×k, op(B) k×n.
    /// Raw-pointer API: the caller guarantees the buffers hold the described matrices (leading dimensions
    /// at least the row length). Sizes beyond OpenBLAS's 32-bit integers go to the portable fallback.
    @inline(__always)
    public static func sgemm(transA: Transpose, transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m <= 0 || n <= 0 { return }
        let k = max(k, 0)
        let limit = Int(Int32.max)
        if let f = loaded.sgemm, m <= limit, n <= limit, k <= limit, lda <= limit, ldb <= limit, ldc <= limit {
            f(101, transA == .noTrans ? 111 : 112, transB == .noTrans ? 111 : 112,
              Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        } else {
            fallbackSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                          b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    // MARK: - Loading

    /// The OpenBLAS core type this CPU should use, from /proc/cpuinfo's feature flags (the kernel lists
    /// a feature only when the OS also saves its registers, so this matches a cpuid+xgetbv check).
    static func preferredCoreType() -> String? {
        guard let flags = cpuFlags() else { return nil }
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// Core names whose sgemm kernels are at least as fast as `want`'s (Cooperlake and Sapphire Rapids
    /// use the SkylakeX sgemm kernels; Zen uses Haswell's). Anything else (Prescott, Nehalem, Sandybridge,
    /// …) on an AVX2/AVX-512 machine is the slow fallback worth replacing with a private copy.
    static func fastCores(for want: String) -> Set<String> {
        let avx512: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]
        return want == "SkylakeX" ? avx512 : avx512.union(["haswell", "zen"])
    }

    static func cpuFlags() -> Set<String>? {
        guard let f = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0 {
            guard let l = line else { break }
            let s = String(cString: l)
            if s.hasPrefix("flags") {
                guard let colon = s.firstIndex(of: ":") else { continue }
                return Set(s[s.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
            }
        }
        return nil
    }

    private static func symbols(_ h: UnsafeMutableRawPointer, library: String, how: String) -> Loaded? {
        guard let s = dlsym(h, "cblas_sgemm") else { return nil }
        func fn<T>(_ name: String, _: T.Type) -> T? { dlsym(h, name).map { unsafeBitCast($0, to: T.self) } }
        return Loaded(sgemm: unsafeBitCast(s, to: SgemmFn.self),
                      corename: fn("openblas_get_corename", StringFn.self),
                      config: fn("openblas_get_config", StringFn.self),
                      setThreads: fn("openblas_set_num_threads", SetThreadsFn.self),
                      getThreads: fn("openblas_get_num_threads", GetThreadsFn.self),
                      library: library, how: how, error: nil)
    }

    /// A second, private copy of OpenBLAS in a new link-map namespace (its own thread pool and settings), or nil
    /// when dlmopen is unavailable or fails (namespaces are few, static TLS may be exhausted).
    private static func privateCopy(_ name: String, how: String) -> Loaded? {
        guard let dlm = dlsym(nil /* RTLD_DEFAULT */, "dlmopen") else { return nil }
        let dlmopen = unsafeBitCast(dlm, to: DlmopenFn.self)
        guard let h = dlmopen(-1 /* LM_ID_NEWLM */, name, RTLD_NOW | RTLD_LOCAL) else { return nil }
        return symbols(h, library: name, how: how)
    }

    private static func load() -> Loaded {
        var candidates: [String] = []
        if let p = getenv("DNABERT_BLAS"), p.pointee != 0 { candidates.append(String(cString: p)) }
        candidates += ["libopenblas.so.0", "libopenblas.so"]

        let userCore = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        var how: String
        var want: String? = nil
        var exported = false
        if let u = userCore, !u.isEmpty {
            how = "OPENBLAS_CORETYPE=\(u) set by the user"
        } else if let c = preferredCoreType() {
            want = c
            setenv("OPENBLAS_CORETYPE", c, 1)
            exported = true
            how = "core type \(c) chosen from CPU features"
        } else {
            how = "CPU has neither AVX-512 nor AVX2+FMA; OpenBLAS picks its own core"
        }
        // Restore the environment afterwards so later-loaded libraries see what the user set.
        defer { if exported { unsetenv("OPENBLAS_CORETYPE") } }

        for name in candidates {
            // Was this library already in the process before us (linked by the host)?
            let already = dlopen(name, RTLD_NOW | RTLD_NOLOAD) != nil
            guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard var l = symbols(h, library: name, how: how) else { continue }
            let core = l.corename.flatMap { $0() }.map { String(cString: $0) } ?? ""
            let hostThreads = Int(l.getThreads?() ?? 1)
            if let want = want, already, !fastCores(for: want).contains(core.lowercased()) {
                // The host's copy initialised with another (slow) core: load a private one.
                if let l2 = privateCopy(name, how: how + "; process already had \(name) with core \(core), loaded a private copy with dlmopen(LM_ID_NEWLM)") {
                    l = l2
                } else {
                    l.how += "; process already had \(name) with core \(core) and dlmopen failed, using it"
                }
                l.setThreads?(1)
            } else if already, hostThreads > 1 {
                // The host's copy runs its own threads (R links OpenBLAS with one per core): our workers'
                // concurrent calls would each wake them and queue on its lock (measured in R, 2 cores: LoRA
                // fine-tuning 1,770 against 2,460 tokens/s, a third of the CPU time in the kernel). A private
                // copy with one thread leaves the host's setting alone for the host's own calls.
                if let l2 = privateCopy(name, how: how + "; process already had \(name) with \(hostThreads) threads, loaded a private single-threaded copy with dlmopen(LM_ID_NEWLM)") {
                    l = l2
                    l.setThreads?(1)
                } else {
                    l.how += "; using the copy already loaded in the process (core \(core), \(hostThreads) threads; dlmopen of a private copy failed): its thread count is left to the host"
                }
            } else if already {
                // The host's own single-threaded copy: concurrent calls from our workers run side by side.
                l.how += "; using the copy already loaded in the process (core \(core), one thread)"
            } else {
                l.setThreads?(1)
            }
            return l
        }
        return Loaded(sgemm: nil, corename: nil, config: nil, setThreads: nil, getThreads: nil, library: "",
                      how: "OpenBLAS not found (tried \(candidates.joined(separator: ", "))); using the slow portable Swift sgemm",
                      error: .unsupported("OpenBLAS was not found (tried \(candidates.joined(separator: ", "))). Install it with `apt-get install libopenblas0` (Debian/Ubuntu) or point DNABERT_BLAS at libopenblas.so; until then a slow portable sgemm is used"))
    }

    // MARK: - Portable fallback

    /// A blocked, obviously-correct sgemm used only when OpenBLAS is missing.
    static func fallbackSgemm(transA: Transpose, transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
                              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        // Scale C by beta first (beta == 0 must overwrite NaNs, as BLAS does).
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { for j in 0..<n { row[j] = 0 } } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
        }
        if k <= 0 || alpha == 0 { return }
        // Pack op(B) row-major k×n in blocks so the inner loop is contiguous.
        let kb = 128, nb = 512
        let pack = UnsafeMutablePointer<Float>.allocate(capacity: kb * nb)
        defer { pack.deallocate() }
        var p0 = 0
        while p0 < k {
            let pk = min(kb, k - p0)
            var j0 = 0
            while j0 < n {
                let jn = min(nb, n - j0)
                for p in 0..<pk {
                    for j in 0..<jn {
                        pack[p * jn + j] = transB == .noTrans ? b[(p0 + p) * ldb + j0 + j] : b[(j0 + j) * ldb + p0 + p]
                    }
                }
                for i in 0..<m {
                    let crow = c + i * ldc + j0
                    for p in 0..<pk {
                        let av = alpha * (transA == .noTrans ? a[i * lda + p0 + p] : a[(p0 + p) * lda + i])
                        let brow = pack + p * jn
                        for j in 0..<jn { crow[j] += av * brow[j] }
                    }
                }
                j0 += jn
            }
            p0 += pk
        }
    }
}
