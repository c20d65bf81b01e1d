import Foundation
import Testing
@testable import DNABert

/// Parallel.forEach on the spinning worker pool (Sources/CThreadPool): every chunk runs exactly once, whatever the
/// thread count, when regions nest, and when several host threads start regions at once (the pool takes one, the
/// others go to Dispatch).
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

    /// The work of a region is shared: with two threads, a region of two 20 ms chunks ends well before 40 ms.
    /// (A loose bound, so a loaded host does not fail it; a pool that ran everything on the caller would.)
    @Test(.enabled(if: Parallel.coreCount >= 2, "one core: nothing to share"))
    func twoChunksRunConcurrently() {
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            Parallel.forEach(2, threads: 2) { _ in usleep(20_000) }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        #expect(best < 35, "two 20 ms chunks took \(best) ms on two threads")
    }
}
