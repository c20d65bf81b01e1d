#if canImport(Glibc)
import Glibc
#endif

/// The sequence-classification head, forward beside backward: pool the final hidden states (the [CLS] row,
/// or the mean over real tokens), the pooler tanh(dense(·)) when the head has one, dropout, the classifier
/// linear. The loss is in `Loss`.
enum ClassifierHeadLayer {
    /// What the forward keeps for the backward (all [B, H] except `logits` [B, C]).
    struct Store {
        /// Pooled hidden states (before the pooler).
        var pooled: Buf
        /// tanh(pooler), or nil without a pooler.
        var tanh: Buf?
        /// The classifier's input after dropout.
        var dropped: Buf
        var logits: Buf?
    }

    /// Pooled [B, H] rows of the packed hidden states `x`. [CLS] pooling of a sequence whose first position is
    /// padding throws when `requireFirst`, else gives zeros (the reference's pooled output of a padded [CLS]).
    static func pool(_ x: UnsafePointer<Float>, _ pb: PackedBatch, pooling: Pooling, hidden H: Int, requireFirst: Bool,
                     into pin: Buf) throws {
        for b in 0..<pb.batch {
            let dst = pin + b * H
            switch pooling {
            case .cls:
                let r = pb.rows[b * pb.length]
                if r >= 0 {
                    dst.update(from: x + r * H, count: H)
                } else if requireFirst {
                    throw DNABertError.invalidArgument("classifier: sequence \(b) has a padded first position; [CLS] pooling needs right padding")
                } else {
                    dst.update(repeating: 0, count: H)
                }
            case .mean:
                var acc = [Double](repeating: 0, count: H)
                var n = 0
                for i in 0..<pb.length {
                    let r = pb.rows[b * pb.length + i]
                    if r < 0 { continue }
                    n += 1
                    let src = x + r * H
                    for j in 0..<H { acc[j] += Double(src[j]) }
                }
                guard n > 0 else { throw DNABertError.invalidArgument("classifier: sequence \(b) has no real token") }
                for j in 0..<H { dst[j] = Float(acc[j] / Double(n)) }
            }
        }
    }

    /// From `act.pooled` [B, H]: the pooler (when `w` has one), dropout, and the classifier linear into
    /// `act.logits` (when both exist).
    static func forward(_ act: Store, batch B: Int, _ w: ClassifierHeadWeights, hidden H: Int, classes C: Int,
                        drop: DropoutMask, threads nt: Int) {
        if let pw = w.poolerW, let th = act.tanh {
            Linear.forward(x: act.pooled, ldx: H, rows: B, inFeatures: H, weight: pw, outFeatures: H, bias: w.poolerB,
                           y: th, ldy: H, threads: nt)
            for i in 0..<(B * H) { th[i] = tanhf(th[i]) }
            if act.dropped != th { act.dropped.update(from: th, count: B * H) }
        } else if act.dropped != act.pooled {
            act.dropped.update(from: act.pooled, count: B * H)
        }
        drop.apply(act.dropped, ld: H, rows: 0..<B, cols: H)
        if let cw = w.classifierW, let lg = act.logits {
            Linear.forward(x: act.dropped, ldx: H, rows: B, inFeatures: H, weight: cw, outFeatures: C, bias: w.classifierB,
                           y: lg, ldy: C, threads: nt)
        }
    }

    /// Backward from ∂loss/∂logits (in `act.logits`) to ∂loss/∂x, *added* into `dx` [T, H] at the pooled rows;
    /// weight gradients are added where `g` points. `dDropped` and `dPooled` [B, H] are scratch.
    static func backward(_ act: Store, _ pb: PackedBatch, pooling: Pooling, _ w: ClassifierHeadWeights,
                         _ g: ClassifierHeadGrads, hidden H: Int, classes C: Int, drop: DropoutMask,
                         dDropped: Buf, dPooled: Buf, dx: Buf, threads nt: Int) {
        let B = pb.batch
        guard let lg = act.logits, let cw = w.classifierW else { return }
        Linear.backward(dy: lg, ldy: C, rows: B, outFeatures: C, x: act.dropped, ldx: H, inFeatures: H, weight: cw,
                        dx: dDropped, lddx: H, accumulateDX: false, dW: g.classifierW, dB: g.classifierB, threads: nt)
        drop.apply(dDropped, ld: H, rows: 0..<B, cols: H)
        if let th = act.tanh, let pw = w.poolerW {
            for i in 0..<(B * H) { dDropped[i] *= 1 - th[i] * th[i] }
            Linear.backward(dy: dDropped, ldy: H, rows: B, outFeatures: H, x: act.pooled, ldx: H, inFeatures: H, weight: pw,
                            dx: dPooled, lddx: H, accumulateDX: false, dW: g.poolerW, dB: g.poolerB, threads: nt)
        } else {
            dPooled.update(from: dDropped, count: B * H)
        }
        for s in 0..<B {
            let gr = dPooled + s * H
            switch pooling {
            case .cls:
                let r = pb.rows[s * pb.length]
                let d = dx + r * H
                for j in 0..<H { d[j] += gr[j] }
            case .mean:
                var rows: [Int] = []
                for i in 0..<pb.length where pb.rows[s * pb.length + i] >= 0 { rows.append(pb.rows[s * pb.length + i]) }
                let f = 1 / Float(rows.count)
                for r in rows {
                    let d = dx + r * H
                    for j in 0..<H { d[j] += gr[j] * f }
                }
            }
        }
    }
}
