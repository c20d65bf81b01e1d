#if canImport(Glibc)
import Glibc
#endif

/// A LoRA adapter of one linear: y += scale·(drop(x)·Aᵀ)·Bᵀ, A [rank, in], B [out, rank].
struct LoRAAdapter {
    let a: UnsafeMutablePointer<Float>
    let b: UnsafeMutablePointer<Float>
    let rank: Int
    let scale: Float
}

/// Where an adapter's gradients go.
struct LoRAAdapterGrads {
    let da: UnsafeMutablePointer<Float>
    let db: UnsafeMutablePointer<Float>
}

/// One adapter during a pass: its weights and (training) its gradients.
struct LoRASlot {
    let a: UnsafeMutablePointer<Float>
    let b: UnsafeMutablePointer<Float>
    let da: UnsafeMutablePointer<Float>?
    let db: UnsafeMutablePointer<Float>?
    let rank: Int
    let scale: Float

    init(_ w: LoRAAdapter, _ g: LoRAAdapterGrads?) {
        a = w.a; b = w.b; da = g?.da; db = g?.db; rank = w.rank; scale = w.scale
    }
}

/// The LoRA products, forward beside backward, split over rows (activations) or over output columns (weight
/// gradients) for the threads; every sgemm call is single-threaded on its share (see `BLAS`).
enum LoRAKernels {
    /// xd = x with the dropout mask (in `tmp`, which must then exist, when the mask is active; else x itself).
    @inline(__always)
    static func dropped(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ inF: Int, _ mask: DropoutMask,
                        _ tmp: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int) {
        guard mask.active, let tmp else { return (x, ldx) }
        for r in rows { (tmp + r * inF).update(from: x + r * ldx, count: inF) }
        mask.apply(tmp + rows.lowerBound * inF, ld: inF, rows: rows, cols: inF, rowBase: rows.lowerBound)
        return (UnsafePointer(tmp), inF)
    }

    /// u = drop(x)·Aᵀ [T, r] and y += scale·u·Bᵀ. `tmp` ([T, in]) is needed only when the mask is active.
    static func forward(x: UnsafePointer<Float>, ldx: Int, rows: Int, inFeatures: Int, outFeatures: Int, slot: LoRASlot,
                        mask: DropoutMask, tmp: UnsafeMutablePointer<Float>?, u: UnsafeMutablePointer<Float>,
                        y: UnsafeMutablePointer<Float>, ldy: Int, threads: Int) {
        if rows <= 0 { return }
        let r = slot.rank
        let parts = Parallel.ranges(rows, parts: min(threads, max(1, rows / 16)))
        Parallel.forEach(parts.count, threads: parts.count) { p in
            let rr = parts[p]
            if rr.isEmpty { return }
            let (xd, ld) = dropped(x, ldx, rr, inFeatures, mask, tmp)
            let off = rr.lowerBound
            BLAS.sgemm(transA: .noTrans, transB: .trans, m: rr.count, n: r, k: inFeatures, alpha: 1, a: xd + off * ld, lda: ld,
                       b: slot.a, ldb: inFeatures, beta: 0, c: u + off * r, ldc: r)
            BLAS.sgemm(transA: .noTrans, transB: .trans, m: rr.count, n: outFeatures, k: r, alpha: slot.scale, a: u + off * r, lda: r,
                       b: slot.b, ldb: r, beta: 1, c: y + off * ldy, ldc: ldy)
        }
    }

    /// Given dy (gradient of y), accumulates dB += scale·dyᵀ·u and dA += duᵀ·drop(x) with du = scale·dy·B
    /// (written to `du`, [T, r]), recomputing drop(x) into `tmp` when dropout is active.
    static func backwardWeights(dy: UnsafePointer<Float>, ldy: Int, x: UnsafePointer<Float>, ldx: Int, rows: Int,
                                inFeatures: Int, outFeatures: Int, slot: LoRASlot, mask: DropoutMask,
                                tmp: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>, du: UnsafeMutablePointer<Float>,
                                threads: Int) {
        if rows <= 0 { return }
        let r = slot.rank
        let rowParts = Parallel.ranges(rows, parts: min(threads, max(1, rows / 16)))
        var xd = x, ldxd = ldx
        if mask.active { xd = UnsafePointer(tmp); ldxd = inFeatures }
        Parallel.forEach(rowParts.count, threads: rowParts.count) { p in
            let rr = rowParts[p]
            if rr.isEmpty { return }
            BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: rr.count, n: r, k: outFeatures, alpha: slot.scale,
                       a: dy + rr.lowerBound * ldy, lda: ldy, b: slot.b, ldb: r, beta: 0, c: du + rr.lowerBound * r, ldc: r)
            _ = dropped(x, ldx, rr, inFeatures, mask, tmp)
        }
        if let db = slot.db {
            let parts = min(threads, max(1, outFeatures / 16))
            Parallel.forEach(parts, threads: parts) { p in
                let c0 = outFeatures * p / parts, c1 = outFeatures * (p + 1) / parts
                if c1 <= c0 { return }
                BLAS.sgemm(transA: .trans, transB: .noTrans, m: c1 - c0, n: r, k: rows, alpha: slot.scale, a: dy + c0, lda: ldy,
                           b: u, ldb: r, beta: 1, c: db + c0 * r, ldc: r)
            }
        }
        if let da = slot.da {
            let parts = min(threads, max(1, inFeatures / 16))
            Parallel.forEach(parts, threads: parts) { p in
                let c0 = inFeatures * p / parts, c1 = inFeatures * (p + 1) / parts
                if c1 <= c0 { return }
                BLAS.sgemm(transA: .trans, transB: .noTrans, m: r, n: c1 - c0, k: rows, alpha: 1, a: du, lda: r,
                           b: xd + c0, ldb: ldxd, beta: 1, c: da + c0, ldc: inFeatures)
            }
        }
    }

    /// dx += mask ⊙ (du·A). `tmp` ([T, in]) is overwritten when the mask is active.
    static func backwardInput(du: UnsafePointer<Float>, rows: Int, inFeatures: Int, slot: LoRASlot, mask: DropoutMask,
                              tmp: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>, lddx: Int, threads: Int) {
        if rows <= 0 { return }
        let r = slot.rank
        let parts = Parallel.ranges(rows, parts: min(threads, max(1, rows / 16)))
        Parallel.forEach(parts.count, threads: parts.count) { p in
            let rr = parts[p]
            if rr.isEmpty { return }
            let o = rr.lowerBound
            if !mask.active {
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: rr.count, n: inFeatures, k: r, alpha: 1, a: du + o * r, lda: r,
                           b: slot.a, ldb: inFeatures, beta: 1, c: dx + o * lddx, ldc: lddx)
            } else {
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: rr.count, n: inFeatures, k: r, alpha: 1, a: du + o * r, lda: r,
                           b: slot.a, ldb: inFeatures, beta: 0, c: tmp + o * inFeatures, ldc: inFeatures)
                mask.apply(tmp + o * inFeatures, ld: inFeatures, rows: rr, cols: inFeatures, rowBase: o)
                for t in rr {
                    let d = dx + t * lddx, s = tmp + t * inFeatures
                    for j in 0..<inFeatures { d[j] += s[j] }
                }
            }
        }
    }
}
