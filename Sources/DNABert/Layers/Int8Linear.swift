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
    /// The largest input (or output) feature count an int8 linear accepts: 255 · 127 · 65,536 < 2³¹.
    static let maxFeatures = 65_536
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
    /// Wᵀ packed for the input-gradient product of QLoRA-style fine-tuning, built on first use (inference never
    /// pays for it); guarded by `transposeLock`.
    private var transposedPack: TransposedPack?
    private let transposeLock: UnsafeMutablePointer<pthread_mutex_t>

    private init(out n: Int, in k: Int, smooth s: UnsafePointer<Float>?) throws {
        // The kernels' int32 sums Σ (q − zp)·w stay exact up to 255 · 127 · k: bound both dimensions (the input
        // gradient's product runs over the output features).
        if k > Self.maxFeatures || n > Self.maxFeatures {
            throw DNABertError.invalidArgument("int8: a \(n) × \(k) linear has more than \(Self.maxFeatures) features on a side; its int32 sums could overflow")
        }
        if let s {
            for j in 0..<k where !(s[j] > 0 && s[j].isFinite && (1 / s[j]).isFinite) {
                throw DNABertError.invalidArgument("int8: smoothing factor \(j) is \(s[j]) (must be finite and > 0)")
            }
        }
        outFeatures = n; inFeatures = k
        kpad = (k + 3) / 4 * 4; npad = (n + 15) / 16 * 16
        packed = try Memory.allocate(Int8.self, count: max(npad * kpad, 64), what: "int8: a packed \(n) × \(k) weight").baseAddress!
        transposeLock = .allocate(capacity: 1)
        pthread_mutex_init(transposeLock, nil)
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

    deinit {
        free(packed); colsum.deallocate(); scales.deallocate(); smooth?.deallocate(); inverseSmooth?.deallocate()
        pthread_mutex_destroy(transposeLock); transposeLock.deallocate()
    }

    /// The int8 values of Wᵀ [in, out] in the kernels' packed layout (the input features are its "output
    /// channels", the output features its reduction), with their sums, and the factors of the product
    /// dX = dY·W = ((dY·diag(scale))·Wqᵀᵀ)·diag(1/s): the dY rows are pre-scaled by `scale` [out] (the per-output-
    /// channel weight scales, folded into the activation before its row quantization) and the int32 sums are
    /// multiplied by `columnScale` [in] (1/s, or 1 unsmoothed).
    final class TransposedPack {
        let kpad: Int, npad: Int
        let packed: UnsafeMutablePointer<Int8>
        let colsum: UnsafeMutablePointer<Int32>
        let columnScale: UnsafeMutablePointer<Float>

        init(_ m: Int8Matrix) throws {
            let n = m.inFeatures, k = m.outFeatures
            kpad = (k + 3) / 4 * 4; npad = (n + 15) / 16 * 16
            packed = try Memory.allocate(Int8.self, count: max(npad * kpad, 64), what: "int8: a packed \(k) × \(n) transposed weight").baseAddress!
            colsum = .allocate(capacity: npad)
            columnScale = .allocate(capacity: npad)
            columnScale.initialize(repeating: 0, count: npad)
            for j in 0..<n { columnScale[j] = m.inverseSmooth?[j] ?? 1 }
            // row-major Wqᵀ [in, out] from the forward packing, then the same packing routine
            let t = UnsafeMutablePointer<Int8>.allocate(capacity: n * k)
            defer { t.deallocate() }
            for o in 0..<k { for j in 0..<n { t[j * k + o] = m.value(o, j) } }
            dnabert_i8_pack_weights(t, k, n, k, packed, colsum)
        }

        deinit { free(packed); colsum.deallocate(); columnScale.deallocate() }
    }

    /// Bytes of Wᵀ's packed form once QLoRA's first backward built it (0 before).
    var transposedByteCount: Int {
        pthread_mutex_lock(transposeLock)
        defer { pthread_mutex_unlock(transposeLock) }
        return transposedPack.map { $0.npad * $0.kpad + 8 * $0.npad } ?? 0
    }

    /// Wᵀ's packed form, built once on first use (thread-safe).
    func transposed() throws -> TransposedPack {
        pthread_mutex_lock(transposeLock)
        defer { pthread_mutex_unlock(transposeLock) }
        if let t = transposedPack { return t }
        let t = try TransposedPack(self)
        transposedPack = t
        return t
    }

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
    /// weight this int8 form stands for, element by element through `value(_:_:)`. The library uses the row-wise
    /// `dequantize(into:threads:)` (Int8Dequantize.swift); this plain version is the reference its tests compare with.
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
        int8Product(x: x, ldx: ldx, rows: rows, k: inFeatures, prescale: q.inverseSmooth, kpad: q.kpad, packed: q.packed,
                    colsum: q.colsum, columnScale: q.scales, n: q.outFeatures, bias: bias, y: y, ldy: ldy, threads: threads)
    }

    /// Whether QLoRA's input-gradient products run in int8 (the default) — `DNABERT_INT8_BACKWARD=fp32` makes them use
    /// the dequantized float32 weights instead: a diagnostic for measuring what the int8 gradients cost in accuracy
    /// and gain in speed, not a supported option.
    static let int8InputGradient: Bool = {
        guard let e = getenv("DNABERT_INT8_BACKWARD") else { return true }
        return String(cString: e) != "fp32"
    }()

    /// The input gradient of an int8 linear, dX (= or += when `accumulate`) = dY·W, computed in int8 like the
    /// forward (QLoRA-style fine-tuning on an int8 base): each row of dY·diag(scale) is quantized per row, the
    /// product runs against the int8 Wᵀ (`Int8Matrix.transposed`), and the int32 sums are dequantized with the
    /// row's scale and 1/s. `scratch` (rows × in floats, optional) holds the product when accumulating; without it
    /// a buffer is allocated. Throws only when Wᵀ's packing or that buffer cannot be allocated.
    static func backwardInputInt8(dy: UnsafePointer<Float>, ldy: Int, rows: Int, weight q: Int8Matrix,
                                  dx: UnsafeMutablePointer<Float>, lddx: Int, accumulate: Bool,
                                  scratch: UnsafeMutablePointer<Float>? = nil, threads: Int) throws {
        if rows <= 0 || q.inFeatures <= 0 { return }
        let t = try q.transposed(), n = q.inFeatures
        if !accumulate {
            int8Product(x: dy, ldx: ldy, rows: rows, k: q.outFeatures, prescale: q.scales, kpad: t.kpad, packed: t.packed,
                        colsum: t.colsum, columnScale: t.columnScale, n: n, bias: nil, y: dx, ldy: lddx, threads: threads)
            return
        }
        var owned: UnsafeMutableBufferPointer<Float>? = nil
        defer { owned.map(Memory.deallocate) }
        let tmp: UnsafeMutablePointer<Float>
        if let scratch {
            tmp = scratch
        } else {
            let (count, overflow) = rows.multipliedReportingOverflow(by: n)
            guard !overflow else { throw DNABertError(.outOfMemory, "int8: a \(rows) × \(n) input gradient does not fit in memory") }
            owned = try Memory.allocate(Float.self, count: count, what: "int8 input gradient")
            tmp = owned!.baseAddress!
        }
        int8Product(x: dy, ldx: ldy, rows: rows, k: q.outFeatures, prescale: q.scales, kpad: t.kpad, packed: t.packed,
                    colsum: t.colsum, columnScale: t.columnScale, n: n, bias: nil, y: tmp, ldy: n, threads: threads)
        let parts = min(Parallel.threads(threads), max(1, rows / 16))
        Parallel.forEach(parts, threads: parts) { p in
            for r in (rows * p / parts)..<(rows * (p + 1) / parts) {
                let d = dx + r * lddx, s = tmp + r * n
                for j in 0..<n { d[j] += s[j] }
            }
        }
    }

    /// y[r, c] = sx[r] · columnScale[c] · Σ_k quant(x[r, :] · prescale)[k] · packed[c, k] (+ bias[c]) over a packed
    /// int8 matrix with n "output channels" and reduction length k (padded to kpad).
    private static func int8Product(x: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int, prescale: UnsafePointer<Float>?,
                                    kpad kp: Int, packed: UnsafePointer<Int8>, colsum: UnsafePointer<Int32>,
                                    columnScale: UnsafePointer<Float>, n: Int, bias: UnsafePointer<Float>?,
                                    y: UnsafeMutablePointer<Float>, ldy: Int, threads: Int) {
        let kernel = Int8Kernel.current.code
        quantizedProduct(rows: rows, kpad: kp, scratch: prescale == nil ? 0 : k, packed: packed, colsum: colsum,
                         columnScale: columnScale, n: n, bias: bias, y: y, ldy: ldy, threads: threads) { r, tmp, xq, sx, zp in
            if let inv = prescale {
                dnabert_i8_quantize_rows_u8_smoothed(x + r.lowerBound * ldx, ldx, r.count, k, inv, tmp, xq, kp, sx, zp, kernel)
            } else {
                dnabert_i8_quantize_rows_u8(x + r.lowerBound * ldx, ldx, r.count, k, xq, kp, sx, zp, kernel)
            }
        }
    }

    /// The product of `rows` rows, quantized first by `quantize` (given a range of rows, `scratch` floats of the
    /// worker's own, and where that range's u8 rows, row stride kpad, their scales and zero points go; the ranges split the rows
    /// across threads), with a packed int8 matrix — split across threads by rows for long inputs, by 16-channel
    /// column blocks for short ones.
    private static func quantizedProduct(rows: Int, kpad kp: Int, scratch: Int, packed: UnsafePointer<Int8>,
                                         colsum: UnsafePointer<Int32>, columnScale: UnsafePointer<Float>, n: Int,
                                         bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, ldy: Int, threads: Int,
                                         quantize: (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<UInt8>,
                                                    UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) -> Void) {
        if rows <= 0 || n <= 0 { return }
        let t = Parallel.threads(threads), kernel = Int8Kernel.current.code
        let xq = UnsafeMutablePointer<UInt8>.allocate(capacity: rows * kp)
        let sx = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        let zp = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
        defer { xq.deallocate(); sx.deallocate(); zp.deallocate() }
        let qParts = Parallel.ranges(rows, parts: min(t, max(1, rows / 8)))
        Parallel.forEach(qParts.count, threads: qParts.count) { p in
            let r = qParts[p]
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: max(scratch, 1))
            defer { tmp.deallocate() }
            quantize(r, tmp, xq + r.lowerBound * kp, sx + r.lowerBound, zp + r.lowerBound)
        }
        let byRows = rows >= 64 * t || n < 64 * t
        let parts = byRows ? min(t, max(1, rows / 4)) : min(t, max(1, n / 16))
        Parallel.forEach(parts, threads: parts) { p in
            if byRows {
                let r0 = rows * p / parts, r1 = rows * (p + 1) / parts
                dnabert_i8_gemm(xq + r0 * kp, sx + r0, zp + r0, r1 - r0, kp, packed, colsum, columnScale, bias, 0, n,
                                y + r0 * ldy, ldy, kernel)
            } else {
                let blocks = (n + 15) / 16
                let c0 = min(n, blocks * p / parts * 16), c1 = min(n, blocks * (p + 1) / parts * 16)
                dnabert_i8_gemm(xq, sx, zp, rows, kp, packed, colsum, columnScale, bias, c0, c1, y, ldy, kernel)
            }
        }
    }

    /// y = GEGLU(h)·Wᵀ (+ bias) with W int8, never writing GEGLU(h) in float32: each row's GEGLU output (of `inner`
    /// features from h's 2·inner), multiplied by 1/s, is computed into a thread's scratch row and quantized there
    /// while it is in L1 (`dnabert_i8_geglu_quantize_rows`, with int8 inference's rational-erf GELU) — the same
    /// bits as `Activations.int8GEGLU` followed by `forwardInt8`, without a [rows, inner] round trip through
    /// memory. For an int8 model's inference MLP (no dropout, no adapter on the output linear, no observer).
    static func forwardInt8AfterGEGLU(h: UnsafePointer<Float>, ldh: Int, rows: Int, inner: Int, weight q: Int8Matrix,
                                      bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, ldy: Int, threads: Int) {
        let kp = q.kpad, kernel = Int8Kernel.current.code
        quantizedProduct(rows: rows, kpad: kp, scratch: inner, packed: q.packed, colsum: q.colsum, columnScale: q.scales,
                         n: q.outFeatures, bias: bias, y: y, ldy: ldy, threads: threads) { range, row, xq, sx, zp in
            dnabert_i8_geglu_quantize_rows(h + range.lowerBound * ldh, ldh, range.count, inner, q.inverseSmooth, row,
                                           xq, kp, sx, zp, kernel)
        }
    }
}
