#if canImport(Glibc)
import Glibc
#endif
import CMPIShim

/// The group of processes of a data-parallel run (after llm.c's multi-process setup): rank, size and the few
/// collectives the trainers and the embedder need. A one-process run has the trivial communicator (`single`),
/// whose collectives do nothing, so the trainers have one code path.
///
/// MPI (Open MPI's libmpi.so.40) is loaded at run time by `world()` only when a distributed run is asked for
/// (see Sources/CMPIShim); nothing links it. MPI is initialised once per process and finalised at exit.
/// All MPI calls are made from the thread that called `world()` (MPI_THREAD_FUNNELED).
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// True when the collectives go through MPI.
    public let usesMPI: Bool
    public var isRoot: Bool { rank == 0 }
    /// Set when an error was raised on every rank alike (different settings, a failure `agree`d on): the ranks
    /// can then end normally with that error, with no need to abort the others.
    public private(set) var failedOnAllRanks = false

    public static let single = Communicator(rank: 0, size: 1, usesMPI: false)

    init(rank: Int, size: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
    }

    nonisolated(unsafe) private static var cached: Communicator?
    private static let lock = PThreadMutex()

    /// The process group of this job. Loads MPI (`library`, else $DNABERT_MPI_LIB, else libmpi.so.40) and
    /// initialises it; a clear `.unsupported` error when MPI is missing. A process not started by an MPI launcher
    /// (mpirun, srun, ...) runs as a single rank: `warn` is called with the reason.
    public static func world(library: String? = nil, warn: (String) -> Void = { eprintWarning($0) }) throws -> Communicator {
        lock.lock(); defer { lock.unlock() }
        if let c = cached { return c }
        var err = [CChar](repeating: 0, count: 1024)
        if dnabert_mpi_load(library, &err, err.count) != 0 {
            throw DNABertError.unsupported("distributed: " + String(cString: err))
        }
        guard launchedByMPI else {
            warn("dnabert: --distributed without an MPI launcher (mpirun -np N / srun): running as a single process")
            cached = .single
            return .single
        }
        var r: Int32 = 0, s: Int32 = 0
        let rc = dnabert_mpi_init(&r, &s)
        guard rc == 0 else { throw DNABertError.io("distributed: MPI initialisation failed: \(errorString(rc))") }
        let c = Communicator(rank: Int(r), size: Int(s), usesMPI: true)
        atexit { _ = dnabert_mpi_finalize() }
        cached = c
        return c
    }

    /// Open MPI's (and PMI's) launcher variables.
    static var launchedByMPI: Bool {
        for v in ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"] where getenv(v) != nil { return true }
        return false
    }

    static func errorString(_ rc: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 600)
        dnabert_mpi_error_string(rc, &buf, buf.count)
        return String(cString: buf)
    }

    func check(_ rc: Int32, _ what: String) throws {
        if rc != 0 { throw DNABertError.io("distributed: \(what) failed on rank \(rank): \(Self.errorString(rc))") }
    }

    /// Ends every process of the job (MPI_Abort): the answer to an error on one rank that the others cannot know
    /// of, instead of leaving them waiting in a collective.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        eprintWarning("dnabert: rank \(rank) of \(size): \(message); aborting all ranks")
        if usesMPI { dnabert_mpi_abort(code) }
        exit(code)
    }

    // ---- collectives (no-ops on one rank) ----

    public func sum(_ values: inout [Double]) throws {
        guard usesMPI, size > 1, !values.isEmpty else { return }
        try check(dnabert_mpi_allreduce(&values, Int64(values.count), 1, 0), "allreduce")
    }

    public func sum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard usesMPI, size > 1, buffer.count > 0 else { return }
        try check(dnabert_mpi_allreduce(buffer.baseAddress, Int64(buffer.count), 0, 0), "allreduce")
    }

    /// Minimum and maximum of a 64-bit value over the ranks.
    public func range(_ v: UInt64) throws -> (min: UInt64, max: UInt64) {
        guard usesMPI, size > 1 else { return (v, v) }
        var lo = v, hi = v
        try check(dnabert_mpi_allreduce(&lo, 1, 2, 2), "allreduce")
        try check(dnabert_mpi_allreduce(&hi, 1, 2, 1), "allreduce")
        return (lo, hi)
    }

    /// True on every rank when `flag` is true on any rank.
    public func any(_ flag: Bool) throws -> Bool {
        guard usesMPI, size > 1 else { return flag }
        var v: UInt64 = flag ? 1 : 0
        try check(dnabert_mpi_allreduce(&v, 1, 2, 1), "allreduce")
        return v != 0
    }

    /// Refuses, on every rank with the same message, a run whose ranks were started with different settings.
    /// `description` lists what must agree (files, seeds, options, initial weights).
    public func requireSameSettings(_ description: String, what: String) throws {
        guard usesMPI, size > 1 else { return }
        let h = Self.fnv(Array(description.utf8))
        let r = try range(h)
        if r.min != r.max {
            failedOnAllRanks = true
            throw DNABertError.invalidArgument("distributed \(what): the \(size) ranks were started with different arguments (files, seeds, options or initial weights differ); give every rank the same command line")
        }
    }

    /// Raises on every rank when `error` is set on any rank (errors of rank-local work such as rank 0's writes).
    public func agree(_ error: Error?, what: String) throws {
        let failed = try any(error != nil)
        if failed && size > 1 { failedOnAllRanks = true }
        if let error { throw error }
        if failed { throw DNABertError.io("distributed: \(what) failed on another rank (see its message)") }
    }

    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) throws {
        guard usesMPI, size > 1 else { return }
        var n = UInt64(bytes.count)
        try check(dnabert_mpi_bcast(&n, 8, Int32(root)), "broadcast")
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(n)) }
        if n > 0 { try check(bytes.withUnsafeMutableBytes { dnabert_mpi_bcast($0.baseAddress, Int64(n), Int32(root)) }, "broadcast") }
    }

    /// Point-to-point (used to gather results on rank 0 in order).
    public func send(_ bytes: UnsafeRawBufferPointer, to dest: Int, tag: Int32) throws {
        var n = UInt64(bytes.count)
        try check(dnabert_mpi_send(&n, 8, Int32(dest), tag), "send")
        if n > 0 { try check(dnabert_mpi_send(bytes.baseAddress, Int64(n), Int32(dest), tag), "send") }
    }

    public func receive(from source: Int, tag: Int32) throws -> [UInt8] {
        var n: UInt64 = 0
        try check(dnabert_mpi_recv(&n, 8, Int32(source), tag), "receive")
        var out = [UInt8](repeating: 0, count: Int(n))
        if n > 0 { try check(out.withUnsafeMutableBytes { dnabert_mpi_recv($0.baseAddress, Int64(n), Int32(source), tag) }, "receive") }
        return out
    }

    public func barrier() throws {
        guard usesMPI, size > 1 else { return }
        try check(dnabert_mpi_barrier(), "barrier")
    }

    // ---- checksums ----

    static func fnv(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    /// A deterministic fingerprint of token-id rows (Swift's hashValue is seeded per process).
    public static func fingerprint(_ rows: [[Int32]]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for r in rows {
            h = (h ^ UInt64(r.count)) &* 0x100_0000_01B3
            for v in r { h = (h ^ UInt64(UInt32(bitPattern: v))) &* 0x100_0000_01B3 }
        }
        return h
    }

    /// A checksum of float bit patterns (Fletcher-style over 32-bit words): any single-bit difference changes it.
    public static func checksum(_ x: UnsafeBufferPointer<Float>) -> UInt64 {
        var a: UInt64 = 0x9E37_79B9, b: UInt64 = 0
        x.withMemoryRebound(to: UInt32.self) { w in
            for v in w { a = a &+ UInt64(v); b = b &+ a }
        }
        return a ^ (b &* 0x100_0000_01B3)
    }
}

/// A minimal mutex (Foundation-free).
final class PThreadMutex: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func lock() { pthread_mutex_lock(&m) }
    func unlock() { pthread_mutex_unlock(&m) }
}

/// A line on stderr (warnings of the library that have no other channel).
public func eprintWarning(_ s: String) {
    let line = s + "\n"
    _ = line.withCString { fputs($0, stderr) }
}
