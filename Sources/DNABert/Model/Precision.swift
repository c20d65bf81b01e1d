#if canImport(Glibc)
import Glibc
#endif

/// Arithmetic precision of a model's encoder linears (the four per layer: Wqkv, attention output, gated
/// layers, wo). LayerNorm, softmax, GELU, residuals, attention and the heads stay float32 at every precision.
public enum Precision: String, CaseIterable, Sendable {
    /// Float32 everywhere (the checkpoint as trained).
    case fp32
    /// Weights int8 with one scale per output channel, activations quantized per row at run time,
    /// int32 accumulation (AVX-512 VNNI when present), dequantized to float32.
    case int8

    /// Parses a user-facing name: "fp32" (or "float32"), "int8". Anything else is `.invalidArgument`.
    public init(name: String) throws {
        switch name.lowercased() {
        case "fp32", "float32": self = .fp32
        case "int8": self = .int8
        default:
            throw DNABertError.invalidArgument("unknown precision '\(name)' (expected one of: fp32, int8)")
        }
    }

    /// The C ABI's DNABERT_PRECISION_* value.
    public var code: Int32 { self == .fp32 ? 0 : 1 }

    public init(code: Int32) throws {
        switch code {
        case 0: self = .fp32
        case 1: self = .int8
        default: throw DNABertError.invalidArgument("unknown precision code \(code) (expected DNABERT_PRECISION_FP32 = 0 or DNABERT_PRECISION_INT8 = 1)")
        }
    }
}

/// The int8 checkpoint layout (see README "Reduced precision"): `model.safetensors` holds every float tensor
/// as F32 under its usual name, except the four linears of each layer, stored as `<name>` I8 [out, in] plus
/// `<name>_scale` F32 [out] and `<name>_smooth` F32 [in] (W ≈ I8 · scale per row / smooth per column);
/// metadata `dnabert_precision = int8`. `_smooth` is optional: checkpoints written before smoothing load with s = 1.
enum Int8Checkpoint {
    static let scaleSuffix = "_scale"
    static let smoothSuffix = "_smooth"
    static let metadataKey = "dnabert_precision"

    /// Names of the quantized weights, in (layer, target) order.
    static func weightName(layer l: Int, _ t: LoRATarget) -> String { LoRAConfig.moduleName(layer: l, target: t) + ".weight" }

    static func isInt8(_ tensors: [LazyTensor]) -> Bool { tensors.contains { $0.name.hasSuffix(".weight" + scaleSuffix) } }

    /// A tensor of the int8 side tables (scales, smoothing factors), not of the parameter layout.
    static func isSideTensor(_ name: String) -> Bool { name.hasSuffix(scaleSuffix) || name.hasSuffix(smoothSuffix) }

    /// Reads a side tensor of shape [count] as floats, each finite and > 0 (≥ 0 when `zeroAllowed`).
    private static func positiveVector(_ t: LazyTensor, count: Int, zeroAllowed: Bool, directory: String) throws -> [Float] {
        guard t.shape == [count] else {
            throw DNABertError.format("'\(directory)': int8 checkpoint: '\(t.name)' is not of shape [\(count)]")
        }
        var v = [Float](repeating: 0, count: count)
        try v.withUnsafeMutableBufferPointer { try t.copy(into: $0) }
        guard v.allSatisfy({ $0.isFinite && (zeroAllowed ? $0 >= 0 : $0 > 0 && (1 / $0).isFinite) }) else {
            throw DNABertError.format("'\(directory)': int8 checkpoint: '\(t.name)' has a \(zeroAllowed ? "negative" : "zero, negative") or non-finite value")
        }
        return v
    }

    /// Loads an int8 checkpoint's tensors into `model` (allocated with every linear quantized, so its layout has no
    /// view for their weights): the float tensors into the float buffer, the I8 weights straight into their packed
    /// `Int8Matrix` forms (no float32 copy is kept).
    static func load(tensors: [LazyTensor], into model: Model, directory: String) throws {
        let side = Dictionary(tensors.filter { isSideTensor($0.name) }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let weightsOnly = tensors.filter { !isSideTensor($0.name) }
        let byName = Dictionary(weightsOnly.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let c = model.config
        guard model.layout.quantized == Set(LoRATarget.allCases) else {
            throw DNABertError(.internal, "int8 checkpoint load: the model was not allocated with its linears quantized")
        }
        let quantizedNames = Set((0..<c.numLayers).flatMap { l in LoRATarget.allCases.map { weightName(layer: l, $0) } })
        try Checkpoint.load(tensors: weightsOnly.filter { !quantizedNames.contains($0.name) }, layout: model.layout, into: model.parameters)
        // One float buffer, sized to the largest linear, that each I8 tensor is read through (the values convert
        // exactly); freed once the matrices are packed.
        let largest = max(3 * c.hiddenSize * c.hiddenSize, 2 * c.intermediateSize * c.hiddenSize)
        var f = try Memory.array(repeating: Float(0), count: largest, what: "int8 checkpoint load buffer")
        var q = try Memory.array(repeating: Int8(0), count: largest, what: "int8 checkpoint load buffer")
        var used = Set<String>()
        for l in 0..<c.numLayers {
            for t in LoRATarget.allCases {
                let name = weightName(layer: l, t)
                let (k, n) = t.dimensions(c)
                guard let w = byName[name], w.dtype == .i8, w.shape == [n, k] else {
                    throw DNABertError.format("'\(directory)': int8 checkpoint: '\(name)' is not an I8 matrix of shape [\(n), \(k)]")
                }
                guard let s = side[name + scaleSuffix], s.shape == [n] else {
                    throw DNABertError.format("'\(directory)': int8 checkpoint: '\(name)\(scaleSuffix)' is missing or not of shape [\(n)]")
                }
                used.insert(s.name)
                let sv = try positiveVector(s, count: n, zeroAllowed: true, directory: directory)
                var smooth: [Float]? = nil
                if let sm = side[name + smoothSuffix] {
                    used.insert(sm.name)
                    smooth = try positiveVector(sm, count: k, zeroAllowed: false, directory: directory)
                }
                try f.withUnsafeMutableBufferPointer { fb in
                    try w.copy(into: UnsafeMutableBufferPointer(rebasing: fb[0..<(n * k)]))
                    for i in 0..<(n * k) { q[i] = Int8(fb[i]) }
                }
                let m = try q.withUnsafeBufferPointer { qb in
                    try sv.withUnsafeBufferPointer { sb in
                        if let smooth {
                            return try smooth.withUnsafeBufferPointer {
                                try Int8Matrix(values: qb.baseAddress!, scales: sb.baseAddress!, smooth: $0.baseAddress!, out: n, in: k)
                            }
                        }
                        return try Int8Matrix(values: qb.baseAddress!, scales: sb.baseAddress!, out: n, in: k)
                    }
                }
                model.weights.layers[l].int8[t.index] = m
            }
        }
        guard used.count == side.count else {
            let extra = side.keys.filter { !used.contains($0) }
            throw DNABertError.format("'\(directory)': int8 checkpoint: unexpected scale or smoothing tensors \(extra.sorted().prefix(3))")
        }
        model.precision = .int8
    }

    /// Writes config.json and the int8 model.safetensors into an existing (staging) folder.
    /// The tensors go in the order of the float32 layout (each quantized weight where its float32 view would be),
    /// the float ones from the buffer, the quantized ones from their `Int8Matrix` only.
    static func writeFiles(into directory: String, model: Model) throws {
        let layout = ParameterLayout(config: model.config, mlmHead: model.layout.hasMLMHead, pooler: model.layout.hasPooler,
                                     classifier: model.layout.hasClassifier)
        var cfg = model.config
        if !layout.hasClassifier { cfg.numLabels = 0 }
        var quantized: [String: Int8Matrix] = [:]
        for (l, lw) in model.weights.layers.enumerated() {
            for t in LoRATarget.allCases { if let m = lw.int8[t.index] { quantized[weightName(layer: l, t)] = m } }
        }
        // Owned byte buffers for the int8 values, scales and smoothing factors, alive until the file is written.
        var storage: [UnsafeMutableRawBufferPointer] = []
        defer { for s in storage { s.deallocate() } }
        var tensors: [(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer)] = []
        for v in layout.views {
            if let m = quantized[v.name] {
                let q = UnsafeMutableRawBufferPointer.allocate(byteCount: v.count, alignment: 64)
                storage.append(q)
                m.unpack(into: q.baseAddress!.bindMemory(to: Int8.self, capacity: v.count))
                let s = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * m.outFeatures, alignment: 64)
                storage.append(s)
                s.baseAddress!.bindMemory(to: Float.self, capacity: m.outFeatures).update(from: m.scales, count: m.outFeatures)
                tensors.append((v.name, .i8, v.shape, UnsafeRawBufferPointer(q)))
                tensors.append((v.name + scaleSuffix, .f32, [m.outFeatures], UnsafeRawBufferPointer(s)))
                if let sm = m.smooth {
                    let b = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * m.inFeatures, alignment: 64)
                    storage.append(b)
                    b.baseAddress!.bindMemory(to: Float.self, capacity: m.inFeatures).update(from: sm, count: m.inFeatures)
                    tensors.append((v.name + smoothSuffix, .f32, [m.inFeatures], UnsafeRawBufferPointer(b)))
                }
            } else {
                guard let p = model.parameter(named: v.name), p.count == v.count else {
                    throw DNABertError(.internal, "int8 save: '\(v.name)' is neither a float32 tensor nor a quantized weight of the model")
                }
                let bytes = UnsafeRawBufferPointer(p)
                tensors.append((v.name, .f32, v.shape, bytes))
                if v.name == "bert.embeddings.word_embeddings.weight" && layout.hasMLMHead {
                    tensors.append(("cls.predictions.decoder.weight", .f32, v.shape, bytes))
                }
            }
        }
        try Safetensors.write(path: directory + "/model.safetensors", raw: tensors, metadata: ["format": "pt", metadataKey: "int8"])
        try FileIO.writeAtomically(directory + "/config.json", string: JSON.serialize(cfg.jsonValue(), indent: 2) + "\n")
    }
}

extension Model {
    /// A copy of this model at `precision`. To int8: each layer's four linears are smoothed (SmoothQuant, factors
    /// from a float32 forward on a fixed calibration batch: `Int8Calibration`), quantized (symmetric, one scale per
    /// output channel) and packed for the int8 kernel; the copy holds them only in that int8 form (its float buffer
    /// has no view for them: about a quarter of the float32 memory for those weights). Quantizing an int8 model
    /// again, or back to fp32, is refused (`.invalidArgument`): load the float32 checkpoint instead (or
    /// `dequantizedFloat32()` for a float32 model of the dequantized weights). fp32 → fp32 is a plain copy.
    public func quantized(to target: Precision) throws -> Model {
        if precision == .int8 {
            throw DNABertError.invalidArgument("quantize: the model is already int8 (quantizing twice, or back to fp32, is not supported; load the float32 checkpoint)")
        }
        let alpha: Double? = try target == .int8 ? Int8Calibration.alphaFromEnvironment() : nil
        // DNABERT_INT8_KEEP_FP32=<targets> (comma-separated LoRA target names, e.g. "wo") keeps those linears in
        // float32: a diagnostic for locating quantization error, not a supported option.
        let keep = Set((getenv("DNABERT_INT8_KEEP_FP32").map { String(cString: $0) } ?? "").split(separator: ",").map(String.init))
        let targets = target == .int8 ? LoRATarget.allCases.filter { !keep.contains($0.rawValue) } : []
        let m = try Model(config: config, mlmHead: layout.hasMLMHead, pooler: layout.hasPooler, classifier: layout.hasClassifier,
                          quantized: Set(targets))
        for v in m.layout.views { m.ptr(v.name).update(from: ptr(v.name), count: v.count) }
        guard target == .int8 else { return m }
        let H = config.hiddenSize, I = config.intermediateSize
        var jobs: [(Int, LoRATarget)] = []
        for l in 0..<config.numLayers { for t in targets { jobs.append((l, t)) } }
        let ranges: [[[Float]]]? = try alpha == nil ? nil : Int8Calibration.activationRanges(of: self, threads: 0)
        var out = [Int8Matrix?](repeating: nil, count: jobs.count)
        var failure: Error? = nil
        out.withUnsafeMutableBufferPointer { ob in
            Parallel.forEach(jobs.count, threads: 0) { j in
                let (l, t) = jobs[j]
                let (n, k) = (t == .wqkv ? 3 * H : t == .gatedLayers ? 2 * I : H, t == .wo ? I : H)
                let w = ptr(Int8Checkpoint.weightName(layer: l, t))   // this float32 model's weight
                do {
                    if let alpha, let ranges {
                        let s = Int8Calibration.factors(activationRange: ranges[l][t.index], weight: w, out: n, in: k, alpha: alpha)
                        ob[j] = try s.withUnsafeBufferPointer { try Int8Matrix(quantizing: w, out: n, in: k, smooth: $0.baseAddress!) }
                    } else {
                        ob[j] = try Int8Matrix(quantizing: w, out: n, in: k)
                    }
                } catch { failure = error }
            }
        }
        if let failure { throw failure }
        for (j, (l, t)) in jobs.enumerated() { m.weights.layers[l].int8[t.index] = out[j] }
        m.precision = .int8
        return m
    }

    /// A float32 model of this model's weights: for an int8 model the dequantized linears (q · scale / s, what the
    /// int8 forward stands for), every other tensor copied; for a float32 model a plain copy. What anything that
    /// needs float32 weights of an int8 model builds (it costs the float32 memory the int8 model saves).
    public func dequantizedFloat32() throws -> Model {
        let m = try Model(config: config, mlmHead: layout.hasMLMHead, pooler: layout.hasPooler, classifier: layout.hasClassifier)
        for v in m.layout.views where !copyFloat32(named: v.name, into: m.ptr(v.name), count: v.count) {
            throw DNABertError(.internal, "dequantize: the model has no tensor '\(v.name)'")
        }
        return m
    }
}
