#if canImport(Glibc)
import Glibc
#endif

/// ALiBi (attention with linear biases): score[h, i, j] += -slope[h]·|i − j|.
public enum ALiBi {
    /// Head slopes as DNABERT-2/MosaicBERT define them: for a power of two n, start = 2^(−8/n) and
    /// slope_i = start^(i+1); otherwise the slopes of the largest power of two p < n, followed by the
    /// even-indexed slopes of 2p, first n − p of them.
    public static func slopes(heads n: Int) -> [Float] {
        guard n > 0 else { return [] }
        func powerOfTwo(_ n: Int) -> [Double] {
            let start = pow(2.0, -8.0 / Double(n))
            var out: [Double] = []
            var s = start
            for _ in 0..<n { out.append(s); s *= start }
            return out
        }
        if n & (n - 1) == 0 { return powerOfTwo(n).map { Float($0) } }
        var p = 1
        while p * 2 < n { p *= 2 }
        let base = powerOfTwo(p)
        let extra = powerOfTwo(2 * p).enumerated().filter { $0.offset % 2 == 0 }.map(\.element).prefix(n - p)
        return (base + extra).map { Float($0) }
    }
}
