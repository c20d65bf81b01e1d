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
