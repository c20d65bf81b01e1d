/// LayerNorm over the last dimension with Float64 statistics.
public enum LayerNorm {
    /// For each of `rows` rows of `cols` floats (row stride `ld`):
    /// y = (x − mean)/sqrt(var + eps)·weight + bias, in place. `mean`/`rstd` (length `rows`) are saved when
    /// given (the backward pass needs them).
    public static func forward(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, cols: Int,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Double,
                               mean: UnsafeMutablePointer<Float>? = nil, rstd: UnsafeMutablePointer<Float>? = nil) {
        for r in 0..<rows {
            let row = x + r * ld
            let (mu, rs) = stats(row, cols, eps)
            mean?[r] = Float(mu)
            rstd?[r] = Float(rs)
            normalize(row, cols, mu, rs, weight, bias)
        }
    }

    /// Fused residual form used by every post-LN block: x = LayerNorm(x + addBias + residual).
    public static func addForward(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, cols: Int,
                                  addBias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, ldr: Int,
                                  weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Double) {
        for r in 0..<rows {
            let row = x + r * ld
            if let res = residual {
                let rr = res + r * ldr
                if let b = addBias {
                    var j = 0
                    while j + 8 <= cols {
                        VectorMath.store(VectorMath.load(row + j) + VectorMath.load(b + j) + VectorMath.load(rr + j), row + j)
                        j += 8
                    }
                    while j < cols { row[j] += b[j] + rr[j]; j += 1 }
                } else {
                    for j in 0..<cols { row[j] += rr[j] }
                }
            } else if let b = addBias {
                for j in 0..<cols { row[j] += b[j] }
            }
            let (mu, rs) = stats(row, cols, eps)
            normalize(row, cols, mu, rs, weight, bias)
        }
    }

    @inline(__always)
    static func stats(_ row: UnsafePointer<Float>, _ n: Int, _ eps: Double) -> (Double, Double) {
        // Two passes in Float64: exact enough for eps = 1e-12 even when |mean| ≫ std.
        var s0 = SIMD2<Double>(), s1 = SIMD2<Double>()
        var j = 0
        while j + 4 <= n {
            s0 += SIMD2<Double>(Double(row[j]), Double(row[j + 1]))
            s1 += SIMD2<Double>(Double(row[j + 2]), Double(row[j + 3]))
            j += 4
        }
        var sum = (s0 + s1).sum()
        while j < n { sum += Double(row[j]); j += 1 }
        let mu = sum / Double(n)
        var q0 = SIMD2<Double>(), q1 = SIMD2<Double>()
        let m2 = SIMD2<Double>(repeating: mu)
        j = 0
        while j + 4 <= n {
            let a = SIMD2<Double>(Double(row[j]), Double(row[j + 1])) - m2
            let b = SIMD2<Double>(Double(row[j + 2]), Double(row[j + 3])) - m2
            q0 += a * a
            q1 += b * b
            j += 4
        }
        var sq = (q0 + q1).sum()
        while j < n { let d = Double(row[j]) - mu; sq += d * d; j += 1 }
        let v = sq / Double(n)
        return (mu, 1.0 / (v + eps).squareRoot())
    }

    @inline(__always)
    static func normalize(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ mu: Double, _ rs: Double,
                          _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>) {
        // y = x·(rs·w) + (b − mu·rs·w), computed with Float32 after the Float64 stats.
        let m = VectorMath.F8(repeating: Float(mu)), s = VectorMath.F8(repeating: Float(rs))
        var j = 0
        while j + 8 <= n {
            let y = (VectorMath.load(row + j) - m) * s * VectorMath.load(w + j) + VectorMath.load(b + j)
            VectorMath.store(y, row + j)
            j += 8
        }
        let mf = Float(mu), sf = Float(rs)
        while j < n { row[j] = (row[j] - mf) * sf * w[j] + b[j]; j += 1 }
    }

    /// Backward of y = (x − mean)·rstd·w + b for `rows` rows given the *input* x and saved mean/rstd.
    /// dx (=, or += when `accumulate`) = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·w;
    /// dW += Σ dy·x̂; dB += Σ dy. Row reductions and parameter sums in Float64. `dx` may alias `dy`.
    public static func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>, accumulate: Bool,
                                dW: UnsafeMutablePointer<Float>, dB: UnsafeMutablePointer<Float>, threads: Int) {
        if rows <= 0 { return }
        let nt = Parallel.threads(threads)
        let parts = Parallel.ranges(rows, parts: min(nt, max(1, rows / 8)))
        let accW = UnsafeMutablePointer<Double>.allocate(capacity: parts.count * cols)
        let accB = UnsafeMutablePointer<Double>.allocate(capacity: parts.count * cols)
        defer { accW.deallocate(); accB.deallocate() }
        accW.initialize(repeating: 0, count: parts.count * cols)
        accB.initialize(repeating: 0, count: parts.count * cols)
        Parallel.forEach(parts.count, threads: nt) { p in
            let aw = accW + p * cols, ab = accB + p * cols
            let xh = UnsafeMutablePointer<Double>.allocate(capacity: cols)
            defer { xh.deallocate() }
            for r in parts[p] {
                let g = dy + r * ld, xr = x + r * ld, o = dx + r * ld
                let mu = Double(mean[r]), rs = Double(rstd[r])
                var s1 = 0.0, s2 = 0.0
                for j in 0..<cols {
                    let xhat = (Double(xr[j]) - mu) * rs
                    xh[j] = xhat
                    let gj = Double(g[j])
                    aw[j] += gj * xhat
                    ab[j] += gj
                    let gh = gj * Double(weight[j])
                    s1 += gh
                    s2 += gh * xhat
                }
                let m1 = s1 / Double(cols), m2 = s2 / Double(cols)
                for j in 0..<cols {
                    let gh = Double(g[j]) * Double(weight[j])
                    let v = Float(rs * (gh - m1 - xh[j] * m2))
                    if accumulate { o[j] += v } else { o[j] = v }
                }
            }
        }
        for j in 0..<cols {
            var w = 0.0, b = 0.0
            for p in 0..<parts.count { w += accW[p * cols + j]; b += accB[p * cols + j] }
            dW[j] += Float(w)
            dB[j] += Float(b)
        }
    }
}
