import CDNABertABI
import DNABert
#if canImport(Glibc)
import Glibc
#endif

// C export for benchmarks: the rate of the library's own sgemm, as the model's kernels call it.

/// GFLOP/s (2·n³ per product) of C = A·Bᵀ with n×n float32 matrices through the library's BLAS, the way the
/// model's linear layers run it: rows of A split across `threads` workers (0 = all cores), each calling sgemm
/// single-threaded. One warm-up product, then products for at least half a second (at least 3); the best one
/// counts.
@_cdecl("dnabert_blas_benchmark")
public func dnabert_blas_benchmark(_ n: Int32, _ threads: Int32, _ gflops: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded("dnabert_blas_benchmark") {
        let out = try require(gflops, "gflops")
        guard n >= 1, n <= 8192 else { throw DNABertError.invalidArgument("n must be in 1...8192, got \(n)") }
        guard threads >= 0, threads <= 1024 else {
            throw DNABertError.invalidArgument("threads must be in 0...1024 (0 = all cores), got \(threads)")
        }
        try BLAS.ensureLoaded()
        let size = Int(n)
        let t = min(Parallel.threads(Int(threads)), size)
        let count = size * size
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<count {
            a[i] = Float(i % 17) * 0.01 - 0.08
            b[i] = Float(i % 13) * 0.01 - 0.06
            c[i] = 0
        }
        func product() {
            Parallel.forEach(t, threads: t) { p in
                let r0 = size * p / t, r1 = size * (p + 1) / t
                if r1 > r0 {
                    BLAS.sgemm(transA: .noTrans, transB: .trans, m: r1 - r0, n: size, k: size, alpha: 1,
                               a: a + r0 * size, lda: size, b: b, ldb: size, beta: 0, c: c + r0 * size, ldc: size)
                }
            }
        }
        product()
        var best = Double.infinity
        var reps = 0
        let start = Clock.now()
        while reps < 3 || Clock.now() - start < 0.5 {
            let t0 = Clock.now()
            product()
            best = min(best, Clock.now() - t0)
            reps += 1
        }
        out.pointee = 2.0 * Double(size) * Double(size) * Double(size) / max(best, 1e-9) / 1e9
    }
}
