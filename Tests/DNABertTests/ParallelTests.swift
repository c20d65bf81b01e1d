import CThreadPool
import Foundation
import Synchronization
import Testing
@testable import DNABert

/// Parallel.forEach on the spinning worker pool (Sources/CThreadPool): every chunk runs exactly once, whatever the
/// thread count, when regions nest, and when several host threads start regions at once (the pool takes one, the
/// others go to Dispatch); and the pool's parts of a region run at the same time.
@Suite struct ParallelTests {
    /// Runs forEach(chunks, threads) and returns how many times each chunk ran.
    private func counts(_ chunks: Int, threads: Int, nested: Int = 0) -> [Int] {
        let n = max(chunks, 1) * max(nested, 1)
        let c = UnsafeMutablePointer<Int>.allocate(capacity: n)
        c.initialize(repeating: 0, count: n)
        defer { c.deallocate() }
        Parallel.forEach(chunks, threads: threads) { i in
            if nested > 0 {
                // Each inner chunk has its own slot: no two threads write the same word.
                Parallel.forEach(nested, threads: threads) { j in c[i * nested + j] += 1 }
            } else {
                c[i] += 1
            }
        }
        return Array(UnsafeBufferPointer(start: c, count: n))
    }

    @Test(arguments: [0, 1, 2, 3, 8, 255, 300])
    func everyChunkRunsOnce(threads: Int) {
        for chunks in [0, 1, 2, 3, 7, 64, 1000] {
            #expect(counts(chunks, threads: threads) == [Int](repeating: chunks == 0 ? 0 : 1, count: max(chunks, 1)),
                    "chunks \(chunks)")
        }
    }

    @Test(arguments: [2, 4])
    func nestedRegions(threads: Int) {
        #expect(counts(9, threads: threads, nested: 5) == [Int](repeating: 1, count: 45))
    }

    /// Four host threads each run many small regions at the same time; each region's chunks must all run once.
    @Test func concurrentRegionsFromSeveralHostThreads() {
        let hosts = 4, rounds = 300
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: hosts)
        failures.initialize(repeating: 0, count: hosts)
        defer { failures.deallocate() }
        DispatchQueue.concurrentPerform(iterations: hosts) { h in
            for r in 0..<rounds {
                let chunks = 1 + (r * 7 + h) % 13
                if counts(chunks, threads: 2 + (r + h) % 3) != [Int](repeating: 1, count: chunks) { failures[h] += 1 }
            }
        }
        #expect(Array(UnsafeBufferPointer(start: failures, count: hosts)) == [0, 0, 0, 0])
    }

    /// The pool runs a region's parts on two threads at once: the two parts meet (each waits, up to 10 s, until both
    /// have arrived), which a pool that ran them one after the other could not do. No timing bound, so a loaded host
    /// cannot fail it; while another test's region holds the pool, the call is refused and retried.
    @Test func poolRunsTwoPartsAtOnce() {
        final class Rendezvous: @unchecked Sendable {
            let arrived = Atomic<Int>(0)
            let met = Atomic<Int>(0)
        }
        let r = Rendezvous()
        let context = Unmanaged.passUnretained(r).toOpaque()
        let giveUp = Clock.now() + 60
        var rc: Int32 = -1
        while rc != 0 && Clock.now() < giveUp {
            rc = dnabert_pool_run(2, { context, _ in
                let r = Unmanaged<Rendezvous>.fromOpaque(context!).takeUnretainedValue()
                r.arrived.add(1, ordering: .sequentiallyConsistent)
                let end = Clock.now() + 10
                while r.arrived.load(ordering: .sequentiallyConsistent) < 2 && Clock.now() < end { sched_yield() }
                if r.arrived.load(ordering: .sequentiallyConsistent) >= 2 { r.met.add(1, ordering: .sequentiallyConsistent) }
            }, context)
            if rc != 0 { usleep(2000) }   // another region holds the pool
        }
        #expect(rc == 0, "the pool was busy for a minute")
        #expect(r.met.load(ordering: .sequentiallyConsistent) == 2, "the two parts of the region did not run at the same time")
        #expect(dnabert_pool_run(1, { _, _ in }, nil) == -1)   // one thread: refused, the caller runs it inline
    }
}
