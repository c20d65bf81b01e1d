/// The embedding block: x = drop(LayerNorm(word[id] + type[0])) for the packed tokens (DNABERT-2 has no
/// position embeddings: ALiBi biases attention instead).
enum Embeddings {
    /// `sum` receives word[id] + type[0] (it may be `x`: inference normalises in place); mean/rstd of the
    /// LayerNorm are saved when given (training).
    static func forward(ids: [Int32], _ w: EmbeddingWeights, hidden H: Int, eps: Double, sum: Buf, x: Buf,
                        mean: Buf?, rstd: Buf?, drop: DropoutMask, threads nt: Int) {
        let T = ids.count
        let rowParts = Parallel.ranges(T, parts: min(nt, max(1, T / 8)))
        ids.withUnsafeBufferPointer { idb in
            Parallel.forEach(rowParts.count, threads: nt) { p in
                let r = rowParts[p]
                for t in r {
                    let src = w.word + Int(idb[t]) * H, dst = sum + t * H
                    for j in 0..<H { dst[j] = src[j] + w.type0[j] }
                }
                let o = r.lowerBound * H
                if sum != x { (x + o).update(from: sum + o, count: r.count * H) }
                LayerNorm.forward(x + o, ld: H, rows: r.count, cols: H, weight: w.lnW, bias: w.lnB, eps: eps,
                                  mean: mean.map { $0 + r.lowerBound }, rstd: rstd.map { $0 + r.lowerBound })
                drop.apply(x + o, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
            }
        }
    }

    /// Backward from `dx` (∂loss/∂x, overwritten): gradients are added where `g` points (frozen LayerNorm
    /// parameters sum into `sink`, 2·H floats).
    static func backward(dx: Buf, ids: [Int32], _ w: EmbeddingWeights, _ g: EmbeddingGrads, hidden H: Int,
                         sum: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                         drop: DropoutMask, sink: Buf, threads nt: Int) {
        let T = ids.count
        let rowParts = Parallel.ranges(T, parts: min(nt, max(1, T / 8)))
        Parallel.forEach(rowParts.count, threads: nt) { q in
            let r = rowParts[q]
            drop.apply(dx + r.lowerBound * H, ld: H, rows: r, cols: H, rowBase: r.lowerBound)
        }
        LayerNorm.backward(dy: dx, x: sum, ld: H, rows: T, cols: H, mean: mean, rstd: rstd, weight: w.lnW, dx: dx,
                           accumulate: false, dW: g.lnW ?? sink, dB: g.lnB ?? sink + H, threads: nt)
        if let dWord = g.word {
            for t in 0..<T {
                let gr = dx + t * H, dst = dWord + Int(ids[t]) * H
                for j in 0..<H { dst[j] += gr[j] }
            }
        }
        if let dType = g.type0 {
            var tsum = [Double](repeating: 0, count: H)
            for t in 0..<T {
                let gr = dx + t * H
                for j in 0..<H { tsum[j] += Double(gr[j]) }
            }
            for j in 0..<H { dType[j] += Float(tsum[j]) }
        }
    }
}
