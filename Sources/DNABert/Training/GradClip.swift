/// Global L2-norm gradient clipping over the flat gradient buffer, as `torch.nn.utils.clip_grad_norm_`:
/// if the norm exceeds `maxNorm` every gradient is scaled by maxNorm / (norm + 1e-6).
/// The norm is accumulated in Float64 over fixed ranges summed in a fixed order, so it does not depend on
/// the thread count.
public enum GradClip {
    static let piece = 1 << 16

    /// ‖g‖₂ with Float64 accumulation.
    public static func globalNorm(_ g: UnsafeBufferPointer<Float>, threads: Int = 0) -> Double {
        guard let base = g.baseAddress, g.count > 0 else { return 0 }
        let pieces = (g.count + piece - 1) / piece
        var partial = [Double](repeating: 0, count: pieces)
        partial.withUnsafeMutableBufferPointer { out in
            let o = out
            Parallel.forEach(pieces, threads: threads) { k in
                let lo = k * piece, hi = min(lo + piece, g.count)
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                var i = lo
                while i + 4 <= hi {
                    let a = Double(base[i]), b = Double(base[i + 1]), c = Double(base[i + 2]), d = Double(base[i + 3])
                    s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d
                    i += 4
                }
                while i < hi { let a = Double(base[i]); s0 += a * a; i += 1 }
                o[k] = (s0 + s1) + (s2 + s3)
            }
        }
        return partial.reduce(0, +).squareRoot()
    }

    /// Clips `g` in place to global norm `maxNorm` and returns the norm before clipping. A non-finite norm
    /// leaves the gradients untouched (the caller should skip the step; PyTorch would fill them with NaN).
    @discardableResult
    public static func clip(_ g: UnsafeMutableBufferPointer<Float>, maxNorm: Double, threads: Int = 0) throws -> Double {
        guard maxNorm > 0, !maxNorm.isNaN else { throw DNABertError.invalidArgument("gradient clipping: max norm must be positive, got \(maxNorm)") }
        let norm = globalNorm(UnsafeBufferPointer(g), threads: threads)
        guard norm.isFinite else { return norm }
        let coef = maxNorm / (norm + 1e-6)
        guard coef < 1, let base = g.baseAddress else { return norm }
        scale(base, g.count, by: Float(coef), threads: threads)
        return norm
    }

    /// g *= s, in parallel.
    public static func scale(_ base: UnsafeMutablePointer<Float>, _ count: Int, by s: Float, threads: Int = 0) {
        let pieces = (count + piece - 1) / piece
        Parallel.forEach(pieces, threads: threads) { k in
            let lo = k * piece, hi = min(lo + piece, count)
            for i in lo..<hi { base[i] *= s }
        }
    }
}
