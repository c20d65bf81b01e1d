/// The masked-LM head: logits = decoder(LayerNorm(GELU(dense(x)))) with the decoder tied to the word
/// embeddings. Forward beside backward; the loss is `Loss.crossEntropy`.
enum MLMHead {
    /// Transform of `rows` rows of x [rows, H]: z = dense(x), u = GELU(z), v = LayerNorm(u). Training passes three
    /// buffers and `stats` [2·rows] (mean, rstd) for the backward; inference passes z = u = v (in place after
    /// the dense layer, whose output must not be x) and nil.
    static func transform(x: UnsafePointer<Float>, rows: Int, _ w: MLMHeadWeights, hidden H: Int, eps: Double,
                          z: Buf, u: Buf, v: Buf, stats: Buf?, threads nt: Int) {
        if rows <= 0 { return }
        Linear.forward(x: x, ldx: H, rows: rows, inFeatures: H, weight: w.dense, outFeatures: H, bias: w.denseB,
                       y: z, ldy: H, threads: nt)
        let parts = Parallel.ranges(rows, parts: min(nt, max(1, rows / 8)))
        Parallel.forEach(parts.count, threads: nt) { q in
            let r = parts[q], o = r.lowerBound * H, n = r.count * H
            if u != z { (u + o).update(from: z + o, count: n) }
            Activations.gelu(u + o, count: n)
            if v != u { (v + o).update(from: u + o, count: n) }
            LayerNorm.forward(v + o, ld: H, rows: r.count, cols: H, weight: w.lnW, bias: w.lnB, eps: eps,
                              mean: stats.map { $0 + r.lowerBound }, rstd: stats.map { $0 + rows + r.lowerBound })
        }
    }

    /// logits [rows, V] = v·wordᵀ + decoder bias.
    static func decode(v: UnsafePointer<Float>, rows: Int, _ w: MLMHeadWeights, hidden H: Int, vocab V: Int,
                       logits: Buf, threads nt: Int) {
        Linear.forward(x: v, ldx: H, rows: rows, inFeatures: H, weight: w.decoder, outFeatures: V, bias: w.decoderB,
                       y: logits, ldy: V, threads: nt)
    }

    /// Backward from ∂loss/∂logits (`dLogits` [rows, V]) to `dx` [rows, H] (overwritten); weight gradients are
    /// added where `g` points. `dv` [rows, H] is scratch.
    static func backward(dLogits: UnsafePointer<Float>, rows: Int, x: UnsafePointer<Float>, z: UnsafePointer<Float>,
                         u: UnsafePointer<Float>, v: UnsafePointer<Float>, stats: UnsafePointer<Float>,
                         _ w: MLMHeadWeights, _ g: MLMHeadGrads, hidden H: Int, vocab V: Int, dv: Buf, dx: Buf, threads nt: Int) {
        Linear.backward(dy: dLogits, ldy: V, rows: rows, outFeatures: V, x: v, ldx: H, inFeatures: H, weight: w.decoder,
                        dx: dv, lddx: H, accumulateDX: false, dW: g.decoder, dB: g.decoderB, threads: nt)
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: 2 * H)
        defer { sink.deallocate() }
        sink.initialize(repeating: 0, count: 2 * H)
        LayerNorm.backward(dy: dv, x: u, ld: H, rows: rows, cols: H, mean: stats, rstd: stats + rows, weight: w.lnW, dx: dv,
                           accumulate: false, dW: g.lnW ?? sink, dB: g.lnB ?? sink + H, threads: nt)
        Activations.geluBackward(dv, z: z, count: rows * H)
        Linear.backward(dy: dv, ldy: H, rows: rows, outFeatures: H, x: x, ldx: H, inFeatures: H, weight: w.dense,
                        dx: dx, lddx: H, accumulateDX: false, dW: g.dense, dB: g.denseB, threads: nt)
    }
}
