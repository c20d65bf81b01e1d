#if canImport(Glibc)
import Glibc
#endif

/// A linear layer of the encoder that LoRA can adapt. Raw values are the names users give (PEFT's
/// `target_modules` strings, matched as module-path suffixes exactly as PEFT does).
public enum LoRATarget: String, CaseIterable, Sendable {
    case wqkv = "Wqkv"
    case attentionOutput = "attention.output.dense"
    case gatedLayers = "gated_layers"
    case wo = "wo"

    /// Position in per-layer tables.
    var index: Int {
        switch self {
        case .wqkv: return 0
        case .attentionOutput: return 1
        case .gatedLayers: return 2
        case .wo: return 3
        }
    }

    /// Module path inside `bert.encoder.layer.<l>.`.
    public var modulePath: String {
        switch self {
        case .wqkv: return "attention.self.Wqkv"
        case .attentionOutput: return "attention.output.dense"
        case .gatedLayers: return "mlp.gated_layers"
        case .wo: return "mlp.wo"
        }
    }

    /// (in, out) features of the adapted weight.
    public func dimensions(_ c: ModelConfig) -> (inFeatures: Int, outFeatures: Int) {
        switch self {
        case .wqkv: return (c.hiddenSize, 3 * c.hiddenSize)
        case .attentionOutput: return (c.hiddenSize, c.hiddenSize)
        case .gatedLayers: return (c.hiddenSize, 2 * c.intermediateSize)
        case .wo: return (c.intermediateSize, c.hiddenSize)
        }
    }

    /// Parses one PEFT-style target name. Accepts the short names above, the module path
    /// (`attention.self.Wqkv`, `mlp.wo`, …) and `dense` only when unambiguous is *not* assumed: `dense` alone
    /// would also match the pooler and MLM transform in PEFT, so it is refused with a hint.
    public init(name: String) throws {
        let n = trim(name)
        for t in LoRATarget.allCases where n == t.rawValue || n == t.modulePath || n == "mlp." + t.rawValue {
            self = t
            return
        }
        let known = LoRATarget.allCases.map { $0.rawValue }.joined(separator: ", ")
        if n == "dense" {
            throw DNABertError.invalidArgument("LoRA target 'dense' is ambiguous in DNABERT-2 (attention output, pooler, MLM transform); use attention.output.dense")
        }
        if n == "query" || n == "key" || n == "value" || n == "q_proj" || n == "k_proj" || n == "v_proj" {
            throw DNABertError.invalidArgument("LoRA target '\(n)' does not exist in DNABERT-2: query, key and value are fused into one Wqkv projection (use Wqkv). Known targets: \(known)")
        }
        throw DNABertError.invalidArgument("unknown LoRA target '\(n)'; known targets: \(known)")
    }
}

/// LoRA hyper-parameters (PEFT's LoraConfig fields of the same names).
public struct LoRAConfig: Equatable, Sendable {
    public var r: Int
    public var alpha: Double
    public var dropout: Double
    public var targets: [LoRATarget]

    /// The DNABERT-2 paper's LoRA (rank 8, alpha 32, dropout 0.05), on the fused attention projection and the
    /// attention output.
    public init(r: Int = 8, alpha: Double = 32, dropout: Double = 0.05, targets: [LoRATarget] = [.wqkv, .attentionOutput]) {
        self.r = r
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
    }

    /// PEFT's scaling without rsLoRA: alpha / r.
    public var scaling: Double { alpha / Double(r) }

    public func validate(_ c: ModelConfig) throws {
        guard r > 0, r <= min(c.hiddenSize, 4096) else {
            throw DNABertError.invalidArgument("LoRA: r must be in 1...\(min(c.hiddenSize, 4096)), got \(r)")
        }
        guard alpha.isFinite, alpha > 0 else { throw DNABertError.invalidArgument("LoRA: alpha must be positive, got \(alpha)") }
        guard dropout >= 0, dropout < 1 else { throw DNABertError.invalidArgument("LoRA: dropout must be in [0, 1), got \(dropout)") }
        guard !targets.isEmpty else { throw DNABertError.invalidArgument("LoRA: no target modules") }
        guard Set(targets).count == targets.count else { throw DNABertError.invalidArgument("LoRA: a target module is listed twice") }
    }

    /// Tensor names and shapes (PEFT's module names without `base_model.model.`), layer by layer, targets in
    /// the canonical order.
    public func tensors(_ c: ModelConfig) -> [(name: String, shape: [Int])] {
        var out: [(String, [Int])] = []
        let ordered = LoRATarget.allCases.filter { targets.contains($0) }
        for l in 0..<c.numLayers {
            for t in ordered {
                let (i, o) = t.dimensions(c)
                let base = Self.moduleName(layer: l, target: t)
                out.append((base + ".lora_A.weight", [r, i]))
                out.append((base + ".lora_B.weight", [o, r]))
            }
        }
        return out
    }

    public static func moduleName(layer: Int, target: LoRATarget) -> String {
        "bert.encoder.layer.\(layer).\(target.modulePath)"
    }
}

/// One adapter during a pass: y += scale·(drop(x)·Aᵀ)·Bᵀ. Gradients nil in inference.
struct LoRASlot {
    let a: UnsafeMutablePointer<Float>
    let b: UnsafeMutablePointer<Float>
    let da: UnsafeMutablePointer<Float>?
    let db: UnsafeMutablePointer<Float>?
    let rank: Int
    let scale: Float
}

/// The LoRA products, split over rows (activations) or over output columns (weight gradients) for the threads;
/// every sgemm call is single-threaded on its share (see `BLAS`).
enum LoRAKernels {
    /// xd = x with the dropout mask (in `tmp` when the mask is active, else x itself).
    @inline(__always)
    static func dropped(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ inF: Int, _ mask: DropoutMask,
                        _ tmp: UnsafeMutablePointer<Float>) -> (UnsafePointer<Float>, Int) {
        if !mask.active { return (x, ldx) }
        for r in rows { (tmp + r * inF).update(from: x + r * ldx, count: inF) }
        mask.apply(tmp + rows.lowerBound * inF, ld: inF, rows: rows, cols: inF, rowBase: rows.lowerBound)
        return (UnsafePointer(tmp), inF)
    }

    /// u = drop(x)·Aᵀ [T, r] and y += scale·u·Bᵀ.
    static func forward(x: UnsafePointer<Float>, ldx: Int, rows: Int, inFeatures: Int, outFeatures: Int, slot: LoRASlot,
                        mask: DropoutMask, tmp: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>,
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
