import DNABertAVX512
#if canImport(Glibc)
import Glibc
#endif

/// Backward passes of the encoder's kernels. Every gradient of a parameter is *accumulated* (+=) so that
/// micro-batches add up; gradients of activations are written (or added where the doc says so).

/// y = x·Wᵀ + b (W [out, in]) backward.
public enum LinearBackward {
    /// dX (= or += when `accumulateDX`) = dY·W;  dW += dYᵀ·X;  dB += Σ_rows dY.
    /// Parallel over rows for dX and over output features for dW/dB (no reductions across threads).
    /// A nil `dx`, `dW` or `dB` is not computed (frozen weights, or an input that needs no gradient).
    public static func backward(dy: UnsafePointer<Float>, ldy: Int, rows: Int, outFeatures: Int,
                                x: UnsafePointer<Float>, ldx: Int, inFeatures: Int,
                                weight: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, lddx: Int, accumulateDX: Bool,
                                dW: UnsafeMutablePointer<Float>?, dB: UnsafeMutablePointer<Float>?, threads: Int) {
        if rows <= 0 || outFeatures <= 0 || inFeatures <= 0 { return }
        let nt = Parallel.threads(threads)
        if let dx = dx {
            let parts = min(nt, max(1, rows / 16))
            Parallel.forEach(parts, threads: parts) { p in
                let r0 = rows * p / parts, r1 = rows * (p + 1) / parts
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: r1 - r0, n: inFeatures, k: outFeatures, alpha: 1,
                           a: dy + r0 * ldy, lda: ldy, b: weight, ldb: inFeatures,
                           beta: accumulateDX ? 1 : 0, c: dx + r0 * lddx, ldc: lddx)
            }
        }
        if dW == nil && dB == nil { return }
        let parts = min(nt, max(1, outFeatures / 16))
        Parallel.forEach(parts, threads: parts) { p in
            let c0 = outFeatures * p / parts, c1 = outFeatures * (p + 1) / parts
            if c1 <= c0 { return }
            if let dW = dW {
                BLAS.sgemm(transA: .trans, transB: .noTrans, m: c1 - c0, n: inFeatures, k: rows, alpha: 1,
                           a: dy + c0, lda: ldy, b: x, ldb: ldx, beta: 1, c: dW + c0 * inFeatures, ldc: inFeatures)
            }
            if let dB = dB {
                let n = c1 - c0
                let acc = UnsafeMutablePointer<Double>.allocate(capacity: n)
                defer { acc.deallocate() }
                acc.initialize(repeating: 0, count: n)
                for r in 0..<rows {
                    let row = dy + r * ldy + c0
                    for j in 0..<n { acc[j] += Double(row[j]) }
                }
                for j in 0..<n { dB[c0 + j] += Float(acc[j]) }
            }
        }
    }
}

public enum LayerNormBackward {
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

public enum ActivationsBackward {
    /// d/dx [x·Φ(x)] = Φ(x) + x·φ(x) (exact erf GELU).
    @inline(__always)
    public static func geluDerivative(_ x: Float) -> Float {
        let xd = Double(x)
        let cdf = 0.5 * (1 + erf(xd * 0.7071067811865476))
        let pdf = 0.3989422804014327 * Glibc.exp(-0.5 * xd * xd)
        return Float(cdf + xd * pdf)
    }

    /// In place: d = d·GELU'(z) for `count` floats (SIMD; erf to 1.5e-7).
    public static func gelu(_ d: UnsafeMutablePointer<Float>, z: UnsafePointer<Float>, count: Int) {
        switch SIMDPath.current {
        case .avx512: DNABertAVX512.SIMDBackwardKernels.geluBackward(d, z, count)
        case .baseline: SIMDBackwardKernels.geluBackward(d, z, count)
        }
    }

    /// GEGLU backward: h = [a | b] per row (stride `ld`), out = GELU(a)·b. Writes dh = [dOut·b·GELU'(a) | dOut·GELU(a)]
    /// (row stride `lddh`). `dOut` has row stride `ldo`.
    public static func geglu(h: UnsafePointer<Float>, ld: Int, rows: Int, inner: Int, dOut: UnsafePointer<Float>, ldo: Int,
                             dh: UnsafeMutablePointer<Float>, lddh: Int) {
        switch SIMDPath.current {
        case .avx512: DNABertAVX512.SIMDBackwardKernels.gegluBackward(h, ld, rows, inner, dOut, ldo, dh, lddh)
        case .baseline: SIMDBackwardKernels.gegluBackward(h, ld, rows, inner, dOut, ldo, dh, lddh)
        }
    }
}

extension FlashAttention {
    /// Backward of `forward` from the saved output O and log-sum-exp (`lse[t·heads + h]`), recomputing the
    /// probabilities tile by tile: P = exp(S − lse), dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)),
    /// dQ = scale·dS·K, dK = scale·dSᵀ·Q. One worker owns one (sequence, head), so dQ/dK/dV columns of that
    /// head are written by it alone: dq/dk/dv (stride `dStride`) are *overwritten*. ALiBi slopes get no gradient.
    /// Memory: O(tile²) per worker.
    public static func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, stride: Int,
                                out: UnsafePointer<Float>, dOut: UnsafePointer<Float>, outStride: Int,
                                lse: UnsafePointer<Float>,
                                dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                dStride: Int, spans: [Span], positions: UnsafePointer<Float>?, heads: Int, headDim d: Int,
                                slopes: [Float], scale: Float, threads: Int, tileQ: Int = 128, tileK: Int = 128) {
        var items: [(Int, Int)] = []
        let order = spans.indices.sorted { spans[$0].count > spans[$1].count }
        for s in order where spans[s].count > 0 { for h in 0..<heads { items.append((s, h)) } }
        if items.isEmpty { return }
        let bq = max(1, tileQ), bk = max(8, tileK)
        let maxLen = spans.map(\.count).max() ?? 0
        let workers = min(Parallel.threads(threads), items.count)
        Parallel.forEach(workers, threads: workers) { w in
            let pBuf = UnsafeMutablePointer<Float>.allocate(capacity: bq * bk)
            let dpBuf = UnsafeMutablePointer<Float>.allocate(capacity: bq * bk)
            let dkBuf = UnsafeMutablePointer<Float>.allocate(capacity: bk * d)
            let dvBuf = UnsafeMutablePointer<Float>.allocate(capacity: bk * d)
            let dRow = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxLen))
            let lRow = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxLen))
            let pos = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxLen))
            let qNorm = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxLen))
            defer {
                pBuf.deallocate(); dpBuf.deallocate(); dkBuf.deallocate(); dvBuf.deallocate()
                dRow.deallocate(); lRow.deallocate(); pos.deallocate(); qNorm.deallocate()
            }
            var i = w
            while i < items.count {
                let (s, h) = items[i]
                i += workers
                let span = spans[s], n = span.count
                let slope = h < slopes.count ? slopes[h] : 0
                let qB = q + span.start * stride + h * d, kB = k + span.start * stride + h * d
                let vB = v + span.start * stride + h * d
                let oB = out + span.start * outStride + h * d, doB = dOut + span.start * outStride + h * d
                let dqB = dq + span.start * dStride + h * d, dkB = dk + span.start * dStride + h * d
                let dvB = dv + span.start * dStride + h * d
                for t in 0..<n {
                    var acc = 0.0
                    let o = oB + t * outStride, g = doB + t * outStride
                    for j in 0..<d { acc += Double(o[j]) * Double(g[j]) }
                    dRow[t] = Float(acc)
                    lRow[t] = lse[(span.start + t) * heads + h]
                    pos[t] = positions.map { $0[span.start + t] } ?? Float(t)
                    let qr = qB + t * stride
                    var qq: Float = 0
                    for j in 0..<d { qq += qr[j] * qr[j] }
                    qNorm[t] = qq.squareRoot() * scale * 1.0001
                    let dqr = dqB + t * dStride
                    for j in 0..<d { dqr[j] = 0 }
                }
                var k0 = 0
                while k0 < n {
                    let kn = min(bk, n - k0)
                    // Largest key norm of this tile: with ALiBi, a (query tile, key tile) pair whose every score
                    // bound |q|·max|k|·scale − slope·distance lies 88 below the row's log-sum-exp has all
                    // P = exp(S − lse) < 1e-38 (0 in float32): it contributes nothing and is skipped.
                    var kMax: Float = 0
                    for r in 0..<kn {
                        let kr = kB + (k0 + r) * stride
                        var kk: Float = 0
                        for j in 0..<d { kk += kr[j] * kr[j] }
                        kMax = max(kMax, kk.squareRoot())
                    }
                    kMax *= 1.0001
                    let firstK = pos[k0], lastK = pos[k0 + kn - 1]
                    dkBuf.initialize(repeating: 0, count: kn * d)
                    dvBuf.initialize(repeating: 0, count: kn * d)
                    var q0 = 0
                    while q0 < n {
                        let qn = min(bq, n - q0)
                        if slope > 0 && FlashAttention.skipDistantTiles {
                            var skip = true
                            for r in q0..<(q0 + qn) {
                                let pr = pos[r]
                                let dist: Float = pr < firstK ? firstK - pr : (pr > lastK ? pr - lastK : 0)
                                if qNorm[r] * kMax - slope * dist - lRow[r] > -88 { skip = false; break }
                            }
                            if skip { q0 += qn; continue }
                        }
                        BLAS.sgemm(transA: .noTrans, transB: .trans, m: qn, n: kn, k: d, alpha: scale,
                                   a: qB + q0 * stride, lda: stride, b: kB + k0 * stride, ldb: stride,
                                   beta: 0, c: pBuf, ldc: bk)
                        for r in 0..<qn {
                            // exp(S − m) with m = max(lse, row max) = lse up to rounding.
                            _ = SIMDPath.biasExpRow(pBuf + r * bk, kn, pos + k0, pos[q0 + r], slope, lRow[q0 + r])
                        }
                        // dV += Pᵀ·dO
                        BLAS.sgemm(transA: .trans, transB: .noTrans, m: kn, n: d, k: qn, alpha: 1, a: pBuf, lda: bk,
                                   b: doB + q0 * outStride, ldb: outStride, beta: 1, c: dvBuf, ldc: d)
                        // dP = dO·Vᵀ
                        BLAS.sgemm(transA: .noTrans, transB: .trans, m: qn, n: kn, k: d, alpha: 1,
                                   a: doB + q0 * outStride, lda: outStride, b: vB + k0 * stride, ldb: stride,
                                   beta: 0, c: dpBuf, ldc: bk)
                        for r in 0..<qn {
                            let p = pBuf + r * bk, dp = dpBuf + r * bk, dr = dRow[q0 + r]
                            for j in 0..<kn { dp[j] = p[j] * (dp[j] - dr) }
                        }
                        // dQ += scale·dS·K ; dK += scale·dSᵀ·Q
                        BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: qn, n: d, k: kn, alpha: scale, a: dpBuf, lda: bk,
                                   b: kB + k0 * stride, ldb: stride, beta: 1, c: dqB + q0 * dStride, ldc: dStride)
                        BLAS.sgemm(transA: .trans, transB: .noTrans, m: kn, n: d, k: qn, alpha: scale, a: dpBuf, lda: bk,
                                   b: qB + q0 * stride, ldb: stride, beta: 1, c: dkBuf, ldc: d)
                        q0 += qn
                    }
                    for r in 0..<kn {
                        let dkr = dkB + (k0 + r) * dStride, dvr = dvB + (k0 + r) * dStride
                        for j in 0..<d { dkr[j] = dkBuf[r * d + j]; dvr[j] = dvBuf[r * d + j] }
                    }
                    k0 += kn
                }
            }
        }
    }
}
