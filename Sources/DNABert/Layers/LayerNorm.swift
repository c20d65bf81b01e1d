/// LayerNorm over the last dimension with Float64 statistics.
public enum LayerNorm {
    /// For each of `rows` rows of `cols` floats (row stride `ld`):
    /// y = (x − mean)/sqrt(var + eps)·weight + bias, in place. `mean`/`rstd` (length `rows`) are saved when
    /// given (the backward pass needs them).
    public static func forward(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, cols: Int,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Double,
                               mean: UnsafeMutablePointer<Float>? = nil, rstd: UnsafeMutablePointer<Float>? = nil) {
        for r in 0..<rows {
            let (mu, rs) = SIMDPath.layerNormRow(x + r * ld, nil, cols, eps, weight, bias)
            mean?[r] = Float(mu)
            rstd?[r] = Float(rs)
        }
    }

    /// Fused residual form used by every post-LN block: x = LayerNorm(x + addBias + residual).
    public static func addForward(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, cols: Int,
                                  addBias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, ldr: Int,
                                  weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Double) {
        for r in 0..<rows {
            let row = x + r * ld
            // (x + addBias) + residual: the row kernel adds the residual in its first pass
            if let b = addBias { for j in 0..<cols { row[j] += b[j] } }
            _ = SIMDPath.layerNormRow(row, residual.map { $0 + r * ldr }, cols, eps, weight, bias)
        }
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
