import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// `dnabert-probe train B L [threads] [reps] [layers]`: one MLM step (forward + backward into a gradient
/// buffer) on the 117M shape with random weights, 15% of positions as targets. GFLOP/s counts 3× the
/// forward FLOPs (encoder as in `forward`, plus the MLM head on the target rows).
func trainProbe(_ args: [String]) {
    if args.count > 2 && args[2] == "attention" { attentionBackwardProbe(args); return }
    let B = args.count > 2 ? Int(args[2]) ?? 8 : 8
    let L = args.count > 3 ? Int(args[3]) ?? 128 : 128
    let threads = args.count > 4 ? Int(args[4]) ?? 2 : 2
    let reps = args.count > 5 ? Int(args[5]) ?? 3 : 3
    var cfg = ModelConfig()
    if args.count > 6, let nl = Int(args[6]) { cfg.numLayers = nl }
    let model = try! Model(config: cfg)
    model.initializeRandom(seed: 1)
    var ids = [Int32](repeating: 0, count: B * L), labels = [Int32](repeating: -100, count: B * L)
    var s: UInt32 = 7
    for i in 0..<(B * L) {
        s = s &* 1664525 &+ 1013904223; ids[i] = Int32(5 + Int(s >> 8) % 4091)
        s = s &* 1664525 &+ 1013904223; if (s >> 8) % 100 < 15 { labels[i] = ids[i] }
    }
    let batch = MLMBatch(ids: ids, attentionMask: [Int32](repeating: 1, count: B * L), labels: labels, batch: B, length: L)
    let tr = try! Trainable(model: model, dropout: 0.1, seed: 1)
    var grad = [Float](repeating: 0, count: model.layout.total)
    let H = Double(cfg.hiddenSize), I = Double(cfg.intermediateSize), V = Double(cfg.vocabSize)
    let tokens = Double(B * L), M = Double(batch.targetCount)
    let fwd = Double(cfg.numLayers) * (2 * tokens * (3 * H * H + H * H + 2 * I * H + I * H) + 4 * tokens * Double(L) * H)
        + 2 * M * (H * H + H * V)
    var best = 1e9
    var loss = 0.0
    for _ in 0..<reps {
        let t0 = Clock.now()
        loss = try! grad.withUnsafeMutableBufferPointer { try tr.lossAndGradient(batch, into: $0, threads: threads).loss }
        let dt = Clock.now() - t0
        best = min(best, dt)
        if getenv("DNABERT_PROBE_VERBOSE") != nil { print("  step \(fmt(dt, 4)) s") }
    }
    if let prof = tr.profile {
        let total = prof.values.reduce(0, +)
        for (k, v) in prof.sorted(by: { $0.value > $1.value }) { print("  \(k): \(fmt(v / Double(reps), 3)) s/step (\(fmt(100 * v / total, 1))%)") }
    }
    print("train step B=\(B) L=\(L) threads=\(threads) layers=\(cfg.numLayers): best \(fmt(best, 4)) s, \(fmt(3 * fwd / best / 1e9, 1)) GFLOP/s (3× forward FLOPs), loss \(fmt(loss, 3)), peak RSS \(fmt(peakRSSMB(), 0)) MB")
}

/// `dnabert-probe train attention L [threads] [tileQ] [tileK] [batch]`: flash attention backward alone (12 heads × 64).
func attentionBackwardProbe(_ args: [String]) {
    let L = args.count > 3 ? Int(args[3]) ?? 512 : 512
    let threads = args.count > 4 ? Int(args[4]) ?? 2 : 2
    let tq = args.count > 5 ? Int(args[5]) ?? 128 : 128
    let tk = args.count > 6 ? Int(args[6]) ?? 128 : 128
    let B = args.count > 7 ? Int(args[7]) ?? 4 : 4
    let H = 768, heads = 12, T = B * L
    let qkv = UnsafeMutablePointer<Float>.allocate(capacity: T * 3 * H); fillRandom(qkv, T * 3 * H)
    let out = UnsafeMutablePointer<Float>.allocate(capacity: T * H)
    let dout = UnsafeMutablePointer<Float>.allocate(capacity: T * H); fillRandom(dout, T * H)
    let dqkv = UnsafeMutablePointer<Float>.allocate(capacity: T * 3 * H)
    let lse = UnsafeMutablePointer<Float>.allocate(capacity: T * heads)
    let slopes = ALiBi.slopes(heads: heads)
    let spans = (0..<B).map { FlashAttention.Span(start: $0 * L, count: L) }
    FlashAttention.forward(q: qkv, k: qkv + H, v: qkv + 2 * H, stride: 3 * H, out: out, outStride: H, spans: spans,
                           positions: nil, heads: heads, headDim: 64, slopes: slopes, scale: 0.125, lse: lse, threads: threads)
    var best = 1e9
    for _ in 0..<3 {
        let t0 = Clock.now()
        FlashAttention.backward(q: qkv, k: qkv + H, v: qkv + 2 * H, stride: 3 * H, out: out, dOut: dout, outStride: H, lse: lse,
                                dq: dqkv, dk: dqkv + H, dv: dqkv + 2 * H, dStride: 3 * H, spans: spans, positions: nil,
                                heads: heads, headDim: 64, slopes: slopes, scale: 0.125, threads: threads, tileQ: tq, tileK: tk)
        best = min(best, Clock.now() - t0)
    }
    // Backward FLOPs: 5 matmuls of B·L·L·H·2 (recomputed S, dV, dP, dQ, dK).
    print("attention backward B=\(B) L=\(L) threads=\(threads) tile \(tq)x\(tk): \(fmt(best, 4)) s, \(fmt(10.0 * Double(B * L * L * H) / best / 1e9, 1)) GFLOP/s")
}
