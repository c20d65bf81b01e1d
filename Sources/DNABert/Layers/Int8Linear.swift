import CInt8Kernels
#if canImport(Glibc)
import Glibc
#endif

/// Which int8 GEMM kernel runs: AVX-512 VNNI when the CPU has it, else AVX2 (int16 `vpmaddwd`), else the portable
/// C path. All three compute the same int32 sums, so their outputs are bitwise equal. `DNABERT_INT8_KERNEL=generic`
/// (or `avx2`) forces a slower path than the CPU's best, for tests; a name the CPU cannot run, or an unknown one,
/// leaves the automatic choice.
public enum Int8Kernel: String, Sendable, CaseIterable {
    case generic, avx2, avx512vnni

    /// Whether this CPU (and OS) can run the kernel.
    public var isSupported: Bool {
        switch self {
        case .generic: return true
        case .avx2: return dnabert_i8_cpu_has_avx2() != 0
        case .avx512vnni: return dnabert_i8_cpu_has_avx512vnni() != 0
        }
    }

    public static let current: Int8Kernel = {
        if let e = getenv("DNABERT_INT8_KERNEL"), let k = Int8Kernel(rawValue: String(cString: e)), k.isSupported { return k }
        return [.avx512vnni, .avx2].first { $0.isSupported } ?? .generic
    }()

    var code: Int32 {
        switch self {
        case .generic: return Int32(DNABERT_I8_GENERIC)
        case .avx2: return Int32(DNABERT_I8_AVX2)
        case .avx512vnni: return Int32(DNABERT_I8_AVX512VNNI)
        }
    }
}

/// A weight matrix W [out, in] quantized symmetrically to int8 with one scale per output channel
/// (scale = max|W[n,:]| / 127), packed once into the VNNI kernel's blocked layout (see int8_kernels.h)
/// with the per-channel sums the u8 zero-point correction needs.
///
/// Optionally smoothed (SmoothQuant, Xiao et al. 2023): with per-input-channel factors s > 0, the matrix holds
/// the quantization of W·diag(s) and the forward multiplies each activation row by 1/s before quantizing it, so
/// y = (x·diag(1/s))·(W·diag(s))ᵀ = x·Wᵀ while outlier input channels of x are moved into the weight, whose
/// per-channel scales absorb them better than a per-row activation scale does (see `Int8Calibration`).
public final class Int8Matrix: @unchecked Sendable {
    public let outFeatures: Int, inFeatures: Int
    let kpad: Int, npad: Int
    let packed: UnsafeMutablePointer<Int8>
    let colsum: UnsafeMutablePointer<Int32>
    /// [npad] per-channel scales (0 beyond outFeatures).
    let scales: UnsafeMutablePointer<Float>
    /// [inFeatures] smoothing factors s and their reciprocals 1/s (what the forward multiplies by), or nil (s = 1:
    /// a model quantized or saved before smoothing existed, or `int8_linear` without it).
    let smooth: UnsafeMutablePointer<Float>?
    let inverseSmooth: UnsafeMutablePointer<Float>?

    private init(out n: Int, in k: Int, smooth s: UnsafePointer<Float>?) throws {
        if let s {
            for j in 0..<k where !(s[j] > 0 && s[j].isFinite && (1 / s[j]).isFinite) {
                throw DNABertError.invalidArgument("int8: smoothing factor \(j) is \(s[j]) (must be finite and > 0)")
            }
        }
        outFeatures = n; inFeatures = k
        kpad = (k + 3) / 4 * 4; npad = (n + 15) / 16 * 16
        var raw: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&raw, 64, max(npad * kpad, 64)) == 0, let p = raw else {
            throw DNABertError(.outOfMemory, "int8: cannot allocate a packed \(n) × \(k) weight")
        }
        packed = p.bindMemory(to: Int8.self, capacity: npad * kpad)
        colsum = .allocate(capacity: npad)
        scales = .allocate(capacity: npad)
        scales.initialize(repeating: 0, count: npad)
        if let s {
            let sm = UnsafeMutablePointer<Float>.allocate(capacity: k), inv = UnsafeMutablePointer<Float>.allocate(capacity: k)
            sm.update(from: s, count: k)
            for j in 0..<k { inv[j] = 1 / s[j] }
            smooth = sm; inverseSmooth = inv
        } else {
            smooth = nil; inverseSmooth = nil
        }
    }

    deinit { free(packed); colsum.deallocate(); scales.deallocate(); smooth?.deallocate(); inverseSmooth?.deallocate() }

    /// Quantizes a float weight W [out, in] (row-major), smoothed by `smooth` [in] when given: the int8 values
    /// and scales are those of W[n, j] · s[j].
    public convenience init(quantizing w: UnsafePointer<Float>, out n: Int, in k: Int, smooth: UnsafePointer<Float>? = nil) throws {
        try self.init(out: n, in: k, smooth: smooth)
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: n * kpad)
        defer { q.deallocate() }
        if let s = self.smooth {
            let ws = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
            defer { ws.deallocate() }
            for r in 0..<n { for j in 0..<k { ws[r * k + j] = w[r * k + j] * s[j] } }
            dnabert_i8_quantize_rows_s8(ws, k, n, k, q, kpad, scales)
        } else {
            dnabert_i8_quantize_rows_s8(w, k, n, k, q, kpad, scales)
        }
        dnabert_i8_pack_weights(q, kpad, n, k, packed, colsum)
    }

    /// From stored int8 values q [out, in], scales [out] and optional smoothing factors [in] (a saved int8
    /// checkpoint; the caller has validated them).
    public convenience init(values q: UnsafePointer<Int8>, scales s: UnsafePointer<Float>, smooth: UnsafePointer<Float>? = nil,
                            out n: Int, in k: Int) throws {
        try self.init(out: n, in: k, smooth: smooth)
        scales.update(from: s, count: n)
        dnabert_i8_pack_weights(q, k, n, k, packed, colsum)
    }

    /// The int8 value of W[n, k] (from the packed layout).
    @inline(__always) public func value(_ n: Int, _ k: Int) -> Int8 {
        packed[((n / 16) * (kpad / 4) + k / 4) * 64 + (n % 16) * 4 + k % 4]
    }

    public func scale(_ n: Int) -> Float { scales[n] }

    /// The smoothing factor of input channel k (1 when the matrix is not smoothed).
    public func smoothing(_ k: Int) -> Float { smooth?[k] ?? 1 }

    /// Writes the row-major int8 values [out, in].
    public func unpack(into q: UnsafeMutablePointer<Int8>) {
        for n in 0..<outFeatures { for k in 0..<inFeatures { q[n * inFeatures + k] = value(n, k) } }
    }

    /// Writes the dequantized weight q · scale [out, in], divided by s column by column when smoothed: the float
    /// weight this int8 form stands for (QLoRA's input-gradient backward and full fine-tuning read it).
    public func dequantize(into w: UnsafeMutablePointer<Float>) {
        for n in 0..<outFeatures {
            let s = scales[n]
            if let sm = smooth {
                for k in 0..<inFeatures { w[n * inFeatures + k] = Float(value(n, k)) * s / sm[k] }
            } else {
                for k in 0..<inFeatures { w[n * inFeatures + k] = Float(value(n, k)) * s }
            }
        }
    }
}

extension Linear {
    /// y = x·Wᵀ (+ bias) with W int8: each row of x (multiplied by 1/s first when W is smoothed) is quantized
    /// to int8 with its own scale just before the product, the int32 sums are dequantized to float32. Split across threads like the float path (rows
    /// for long inputs, 16-channel column blocks for short ones).
    static func forwardInt8(x: UnsafePointer<Float>, ldx: Int, rows: Int, inFeatures: Int, weight q: Int8Matrix,
                            bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, ldy: Int, threads: Int) {
        if rows <= 0 || q.outFeatures <= 0 { return }
        let t = Parallel.threads(threads), kernel = Int8Kernel.current.code, kp = q.kpad, n = q.outFeatures
        let xq = UnsafeMutablePointer<UInt8>.allocate(capacity: rows * kp)
        let sx = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer { xq.deallocate(); sx.deallocate() }
        let qParts = min(t, max(1, rows / 8))
        Parallel.forEach(qParts, threads: qParts) { p in
            let r0 = rows * p / qParts, r1 = rows * (p + 1) / qParts
            if let inv = q.inverseSmooth {
                let tmp = UnsafeMutablePointer<Float>.allocate(capacity: inFeatures)
                defer { tmp.deallocate() }
                dnabert_i8_quantize_rows_u8_smoothed(x + r0 * ldx, ldx, r1 - r0, inFeatures, inv, tmp, xq + r0 * kp, kp,
                                                     sx + r0, kernel)
            } else {
                dnabert_i8_quantize_rows_u8(x + r0 * ldx, ldx, r1 - r0, inFeatures, xq + r0 * kp, kp, sx + r0, kernel)
            }
        }
        let byRows = rows >= 64 * t || n < 64 * t
        let parts = byRows ? min(t, max(1, rows / 4)) : min(t, max(1, n / 16))
        Parallel.forEach(parts, threads: parts) { p in
            if byRows {
                let r0 = rows * p / parts, r1 = rows * (p + 1) / parts
                dnabert_i8_gemm(xq + r0 * kp, sx + r0, r1 - r0, kp, q.packed, q.colsum, q.scales, bias, 0, n,
                                y + r0 * ldy, ldy, kernel)
            } else {
                let blocks = (n + 15) / 16
                let c0 = min(n, blocks * p / parts * 16), c1 = min(n, blocks * (p + 1) / parts * 16)
                dnabert_i8_gemm(xq, sx, rows, kp, q.packed, q.colsum, q.scales, bias, c0, c1, y, ldy, kernel)
            }
        }
    }
}
