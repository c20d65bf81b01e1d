import CForkGuard
import CThreadPool
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Parallel loops over the machine's cores.
///
/// Fork safety: in a `fork()` child, the thread that called fork carries a stale thread id inside the Swift
/// runtime (see Sources/CForkGuard/fork_guard.c); if it took part in a parallel region, the first lazy
/// initialisation contended there (OpenBLAS's loading, on the first forward) would hang the child. So in a
/// forked child that thread hands each parallel region to a fresh thread and waits for it; every other thread,
/// and every process that has not forked, runs regions as before.
public enum Parallel {
    /// Number of CPUs this process may run on (at least 1): its affinity mask's count — 1 under `taskset -c 0`, the
    /// allocated cores in a batch job bound by Slurm or numactl — or the online CPUs when that cannot be read. Read
    /// once, when first used.
    public static let coreCount: Int = max(1, Int(dnabert_pool_cpu_count()))

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
        // Each worker takes a static stride of chunks: they are expected to be balanced by the caller (or numerous
        // enough to even out). The spinning pool runs the region when it is free; a region started while it is
        // busy (another host thread's, or one nested in a region) goes to Dispatch's threads.
        let forking = dnabert_fork_guard_is_forking_thread() != 0
        if !forking, runOnPool(chunks, threads: t, body) { return }
        withoutActuallyEscaping(body) { body in
            let region = {
                DispatchQueue.concurrentPerform(iterations: t) { w in
                    var i = w
                    while i < chunks {
                        body(i)
                        i += t
                    }
                }
            }
            if forking {
                // No thread to be had: one thread at a time, nothing contended.
                if !onFreshThread(region) { for i in 0..<chunks { body(i) } }
            } else {
                region()
            }
        }
    }

    /// The region's loop as the C pool sees it: worker w runs chunks w, w + threads, ….
    private struct PoolRegion {
        let body: (Int) -> Void
        let chunks: Int
        let threads: Int
    }

    /// Runs the region on the spinning worker pool (Sources/CThreadPool); false, nothing run, when the pool refuses
    /// it (busy with another region, or a thread could not be created).
    private static func runOnPool(_ chunks: Int, threads t: Int, _ body: (Int) -> Void) -> Bool {
        withoutActuallyEscaping(body) { body in
            var region = PoolRegion(body: body, chunks: chunks, threads: t)
            return withUnsafeMutablePointer(to: &region) { p in
                dnabert_pool_run(Int32(t), { context, worker in
                    let r = context!.assumingMemoryBound(to: PoolRegion.self)
                    var i = worker
                    while i < r.pointee.chunks {
                        r.pointee.body(i)
                        i += r.pointee.threads
                    }
                }, p) == 0
            }
        }
    }

    private final class Job {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Runs `work` on a new thread and waits for it; false (nothing run) if no thread can be created.
    static func onFreshThread(_ work: () -> Void) -> Bool {
        withoutActuallyEscaping(work) { work -> Bool in
            let job = Unmanaged.passRetained(Job(work))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { arg in
                Unmanaged<Job>.fromOpaque(arg!).takeUnretainedValue().run()
                return nil
            }, job.toOpaque())
            if rc == 0 { pthread_join(thread, nil) }
            job.release()
            return rc == 0
        }
    }

    /// Splits 0..<count into `parts` contiguous ranges of near-equal size.
    public static func ranges(_ count: Int, parts: Int) -> [Range<Int>] {
        let p = max(1, min(parts, max(count, 1)))
        return (0..<p).map { i in (count * i / p)..<(count * (i + 1) / p) }
    }
}
