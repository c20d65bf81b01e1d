#if canImport(Glibc)
import Glibc
#endif

/// Hyper-parameters of AdamW. The defaults are DNABERT-2's pretraining recipe (β = (0.9, 0.98), ε = 1e-6,
/// weight decay 1e-5); `fineTuning` is its GUE recipe's optimizer (PyTorch's β and ε, weight decay 0.01).
public struct AdamWConfig: Sendable, Equatable {
    public var beta1 = 0.9
    public var beta2 = 0.98
    public var eps = 1e-6
    public var weightDecay = 1e-5

    public init(beta1: Double = 0.9, beta2: Double = 0.98, eps: Double = 1e-6, weightDecay: Double = 1e-5) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    public static let pretraining = AdamWConfig()
    public static let fineTuning = AdamWConfig(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01)

    public func validate() throws {
        guard beta1 >= 0, beta1 < 1 else { throw DNABertError.invalidArgument("AdamW: beta1 must be in [0, 1), got \(beta1)") }
        guard beta2 >= 0, beta2 < 1 else { throw DNABertError.invalidArgument("AdamW: beta2 must be in [0, 1), got \(beta2)") }
        guard eps > 0, eps.isFinite else { throw DNABertError.invalidArgument("AdamW: eps must be positive, got \(eps)") }
        guard weightDecay >= 0, weightDecay.isFinite else {
            throw DNABertError.invalidArgument("AdamW: weight decay must be >= 0, got \(weightDecay)")
        }
    }

    public var json: JSONValue {
        .object([("beta1", .double(beta1)), ("beta2", .double(beta2)), ("eps", .double(eps)), ("weight_decay", .double(weightDecay))])
    }

    public init(json: JSONValue) throws {
        func num(_ k: String) throws -> Double {
            guard let v = json[k]?.doubleValue else { throw DNABertError.format("AdamW config: missing number '\(k)'") }
            return v
        }
        self.init(beta1: try num("beta1"), beta2: try num("beta2"), eps: try num("eps"), weightDecay: try num("weight_decay"))
        do { try validate() } catch let e as DNABertError { throw DNABertError.format(e.message) }
    }
}

/// AdamW (Loshchilov & Hutter) over the flat parameter buffer, with exactly PyTorch's `torch.optim.AdamW`
/// arithmetic (decoupled decay `p *= 1 - lr·wd`, bias-corrected moments, ε added after dividing √v by
/// √(1 − β2ᵗ)), all in Float32 as PyTorch does for Float32 tensors.
///
/// Weight decay follows the Hugging Face Trainer's parameter groups: every tensor is decayed except biases and
/// LayerNorm weights/biases (embeddings are decayed). The moments `m` and `v` have the parameters' layout.
public final class AdamW: @unchecked Sendable {
    public let layout: ParameterLayout
    public var config: AdamWConfig
    /// First and second moments (PyTorch's exp_avg, exp_avg_sq), laid out like the parameters.
    public let m: UnsafeMutableBufferPointer<Float>
    public let v: UnsafeMutableBufferPointer<Float>
    /// Number of updates applied so far (PyTorch's `step` state).
    public private(set) var step = 0
    /// Contiguous runs of the buffer with one decay setting, split into pieces for the threads.
    let segments: [(range: Range<Int>, decay: Bool)]

    /// Whether the Hugging Face recipe decays a parameter: everything but biases and LayerNorm parameters.
    public static func decays(_ name: String) -> Bool {
        !(name.hasSuffix("bias") || name.contains("LayerNorm.") || name.contains("layernorm.") || name.contains("layer_norm."))
    }

    public init(layout: ParameterLayout, config: AdamWConfig = .pretraining) throws {
        try config.validate()
        self.layout = layout
        self.config = config
        let n = layout.total
        guard let mp = Self.allocate(n), let vp = Self.allocate(n) else {
            throw DNABertError(.outOfMemory, "AdamW: cannot allocate moments for \(n) parameters")
        }
        m = mp
        v = vp
        var segs: [(Range<Int>, Bool)] = []
        let piece = 1 << 16
        for view in layout.views {
            let d = Self.decays(view.name)
            var lo = view.offset
            let end = view.offset + view.count
            while lo < end {
                let hi = min(lo + piece, end)
                if let last = segs.last, last.1 == d, last.0.upperBound == lo, last.0.count + (hi - lo) <= piece {
                    segs[segs.count - 1].0 = last.0.lowerBound..<hi
                } else {
                    segs.append((lo..<hi, d))
                }
                lo = hi
            }
        }
        segments = segs
    }

    deinit {
        free(m.baseAddress)
        free(v.baseAddress)
    }

    private static func allocate(_ n: Int) -> UnsafeMutableBufferPointer<Float>? {
        var raw: UnsafeMutableRawPointer? = nil
        let bytes = max(n, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let p = raw else { return nil }
        memset(p, 0, bytes)
        return UnsafeMutableBufferPointer(start: p.bindMemory(to: Float.self, capacity: max(n, 1)), count: n)
    }

    /// Zeroes the moments and the step count.
    public func reset() {
        if let p = m.baseAddress { memset(p, 0, m.count * 4) }
        if let p = v.baseAddress { memset(p, 0, v.count * 4) }
        step = 0
    }

    /// Sets the step count after the moments were restored from a checkpoint.
    public func restore(step: Int) throws {
        guard step >= 0 else { throw DNABertError.invalidArgument("AdamW: step must be >= 0, got \(step)") }
        self.step = step
    }

    /// One update with learning rate `lr`: `parameters -= …` from `gradients` (both laid out by `layout`).
    public func update(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>,
                       lr: Double, threads: Int = 0) throws {
        guard parameters.count >= layout.total, gradients.count >= layout.total,
              let pb = parameters.baseAddress, let gb = gradients.baseAddress else {
            if layout.total == 0 { step += 1; return }
            throw DNABertError.invalidArgument("AdamW: parameter (\(parameters.count)) and gradient (\(gradients.count)) buffers must hold \(layout.total) floats")
        }
        guard lr >= 0, lr.isFinite else { throw DNABertError.invalidArgument("AdamW: learning rate must be finite and >= 0, got \(lr)") }
        step += 1
        let t = Double(step)
        let b2 = Float(config.beta2)
        let oneMinusB1 = Float(1 - config.beta1), oneMinusB2 = Float(1 - config.beta2)
        let bc1 = 1 - Foundationless.pow(config.beta1, t)
        let bc2Sqrt = (1 - Foundationless.pow(config.beta2, t)).squareRoot()
        let stepSize = Float(lr / bc1)
        let bc2 = Float(bc2Sqrt)
        let eps = Float(config.eps)
        let decayFactor = Float(1 - lr * config.weightDecay)
        let mb = m.baseAddress!, vb = v.baseAddress!, gm = UnsafeMutablePointer(mutating: gb)
        Parallel.forEach(segments.count, threads: threads) { s in
            let seg = self.segments[s]
            let decay = seg.decay && config.weightDecay != 0
            Self.kernel(p: pb, g: gm, m: mb, v: vb, range: seg.range, decay: decay ? decayFactor : 1,
                        oneMinusB1: oneMinusB1, b2: b2, oneMinusB2: oneMinusB2, bc2: bc2, eps: eps, stepSize: stepSize)
        }
    }

    /// √x for x ≥ 0, 8 lanes, without libm: Swift lowers `squareRoot()` to a call of `sqrtf` (errno
    /// semantics) per lane, which blocks vectorisation. Inverse square root from the bit-level estimate and
    /// three Newton steps, then one Heron step on √x: within 1 ulp of the correctly rounded root (tested).
    @inline(__always)
    static func sqrt8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        var y = unsafeBitCast(SIMD8<UInt32>(repeating: 0x5F37_59DF) &- (bits &>> 1), to: SIMD8<Float>.self)
        let half = 0.5 * x
        y = y * (1.5 - half * y * y)
        y = y * (1.5 - half * y * y)
        y = y * (1.5 - half * y * y)
        var r = x * y
        r = 0.5 * (r + x / r)
        r.replace(with: x, where: x .== 0 .| x .== .infinity)
        return r
    }

    /// The per-element update, 8 lanes at a time. Per element and operation order it is PyTorch's
    /// single-tensor AdamW in Float32 (no fused multiply-add); the vector square root is within 1 ulp.
    @inline(__always)
    static func kernel(p pb: UnsafeMutablePointer<Float>, g gb: UnsafeMutablePointer<Float>, m mb: UnsafeMutablePointer<Float>,
                       v vb: UnsafeMutablePointer<Float>, range: Range<Int>, decay: Float, oneMinusB1: Float, b2: Float,
                       oneMinusB2: Float, bc2: Float, eps: Float, stepSize: Float) {
        typealias V8 = SIMD8<Float>
        var i = range.lowerBound
        let end = range.upperBound
        let applyDecay = decay != 1
        let vd = V8(repeating: decay), va = V8(repeating: oneMinusB1), vb2 = V8(repeating: b2), vc = V8(repeating: oneMinusB2)
        let vbc2 = V8(repeating: bc2), veps = V8(repeating: eps), vstep = V8(repeating: -stepSize)
        while i + 8 <= end {
            let g = UnsafeRawPointer(gb + i).loadUnaligned(as: V8.self)
            var p = UnsafeRawPointer(pb + i).loadUnaligned(as: V8.self)
            let m0 = UnsafeRawPointer(mb + i).loadUnaligned(as: V8.self)
            let v0 = UnsafeRawPointer(vb + i).loadUnaligned(as: V8.self)
            if applyDecay { p = p * vd }
            let m1 = m0 + va * (g - m0)
            let v1 = v0 * vb2 + vc * g * g
            let denom = Self.sqrt8(v1) / vbc2 + veps
            p = p + vstep * (m1 / denom)
            UnsafeMutableRawPointer(mb + i).storeBytes(of: m1, as: V8.self)
            UnsafeMutableRawPointer(vb + i).storeBytes(of: v1, as: V8.self)
            UnsafeMutableRawPointer(pb + i).storeBytes(of: p, as: V8.self)
            i += 8
        }
        while i < end {
            let g = gb[i]
            var p = pb[i]
            if applyDecay { p *= decay }
            // exp_avg.lerp_(grad, 1 - β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, value: 1 - β2)
            let mi = mb[i] + oneMinusB1 * (g - mb[i])
            let vi = vb[i] * b2 + oneMinusB2 * g * g
            mb[i] = mi
            vb[i] = vi
            let denom = vi.squareRoot() / bc2 + eps
            p += -stepSize * (mi / denom)
            pb[i] = p
            i += 1
        }
    }
}

/// `pow` without Foundation.
enum Foundationless {
    @inline(__always) static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
}
