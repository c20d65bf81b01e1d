#if canImport(Glibc)
import Glibc
#endif

/// The losses, each forward fused with its backward (as llm.c's fused classifier): with `gradient`, the
/// logits are overwritten by ∂(loss·scale)/∂logits. Reductions in Float64.
enum Loss {
    /// Softmax cross-entropy of `rows` rows of `classes` logits (row r at `row(r)`) against class `label(r)`,
    /// each row weighted by `weight(label)` (PyTorch's weighted mean: Σ w_y·nll / Σ w_y; nil = 1).
    /// Returns Σ w_y·nll, Σ w_y, and how many rows have their label as argmax.
    static func crossEntropy(rows: Int, classes C: Int, row: (Int) -> Buf, label: (Int) -> Int, weights: [Double]? = nil,
                             scale: Double = 1, gradient: Bool, threads: Int = 1) -> (sum: Double, weightSum: Double, correct: Int) {
        if rows == 0 { return (0, 0, 0) }
        var wsum = 0.0
        if let weights { for i in 0..<rows { wsum += weights[label(i)] } } else { wsum = Double(rows) }
        let norm = wsum > 0 ? wsum : 1
        let nt = Parallel.threads(threads)
        let parts = Parallel.ranges(rows, parts: min(nt, rows))
        var sums = [Double](repeating: 0, count: parts.count), correct = [Int](repeating: 0, count: parts.count)
        withoutActuallyEscaping(row) { row in
            withoutActuallyEscaping(label) { label in
                sums.withUnsafeMutableBufferPointer { sp in
                    correct.withUnsafeMutableBufferPointer { cp in
                        Parallel.forEach(parts.count, threads: nt) { p in
                            for i in parts[p] {
                                let z = row(i), y = label(i)
                                let w = weights?[y] ?? 1
                                var mx = z[0], am = 0
                                for j in 1..<C where z[j] > mx { mx = z[j]; am = j }
                                var s = 0.0
                                for j in 0..<C { s += Glibc.exp(Double(z[j] - mx)) }
                                let lse = Double(mx) + Glibc.log(s)
                                sp[p] += w * (lse - Double(z[y]))
                                if am == y { cp[p] += 1 }
                                if gradient {
                                    let f = w * scale / norm
                                    for j in 0..<C { z[j] = Float(Glibc.exp(Double(z[j]) - lse) * f) }
                                    z[y] -= Float(f)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (sums.reduce(0, +), wsum, correct.reduce(0, +))
    }

    /// Mean binary cross-entropy with logits over `n` values against targets in [0, 1] (log-sum-exp stable).
    static func binaryCrossEntropy(_ z: Buf, targets: UnsafePointer<Float>, count n: Int, scale: Double = 1, gradient: Bool) -> Double {
        var total = 0.0
        let dn = Double(n)
        for i in 0..<n {
            let x = Double(z[i]), y = Double(targets[i])
            total += max(x, 0) - x * y + Glibc.log1p(Glibc.exp(-abs(x)))
            if gradient { z[i] = Float((1 / (1 + Glibc.exp(-x)) - y) * scale / dn) }
        }
        return total / dn
    }

    /// Mean squared error over `n` values.
    static func meanSquaredError(_ z: Buf, targets: UnsafePointer<Float>, count n: Int, scale: Double = 1, gradient: Bool) -> Double {
        var total = 0.0
        let dn = Double(n)
        for i in 0..<n {
            let e = Double(z[i]) - Double(targets[i])
            total += e * e
            if gradient { z[i] = Float(2 * e * scale / dn) }
        }
        return total / dn
    }
}
