#if canImport(Glibc)
import Glibc
#endif
import CFloatKernels
import Synchronization

/// Tiled ("flash") attention forward with ALiBi, memory linear in sequence length.
///
/// Sequences are packed: only real (unpadded) tokens are rows of Q, K, V, as in MosaicBERT's unpadded
/// encoder. A padded key contributes exp(−10000 + …) = 0 in float32 to the reference softmax, so dropping it
/// is exact; `positions` keeps each token's original index so ALiBi's |i − j| is that of the padded layout.
///
/// Per (sequence, head, query tile): S = scale·Q·Kᵀ, S += −slope·|pos_i − pos_j| on the fly, online softmax
/// (running max m and Float64 running sum l, accumulator rescaled by exp(m_old − m_new)), O += P·V; the two
/// products on dnabert's float32 kernel where the linear layers use it (AVX-512), else sgemm — or, for an int8
/// model's inference, on bfloat16 pairs (`TileProducts.bf16`, bf16_attention.h). The L × L matrix never exists;
/// scratch is tileQ·(tileK + headDim) floats per worker (plus, with bf16 products on sequences longer than one query
/// tile, those sequences' keys and values packed once: about T·H 32-bit words).
public enum FlashAttention {
    /// Rows `start ..< start + count` of the packed Q/K/V/output form one sequence.
    public struct Span: Sendable, Equatable {
        public var start: Int
        public var count: Int
        public init(start: Int, count: Int) { self.start = start; self.count = count }
    }

    /// Default tile sizes (measured on the 117M shape; see bench/bench_forward_probe.md).
    public static let defaultTileQ = 128
    public static let defaultTileK = 256

    /// Arithmetic of the two tile products (S = scale·Q·Kᵀ and O += P·V).
    public enum TileProducts: String, Sendable, CaseIterable {
        /// float32 inputs and sums (every float32 model, and training).
        case float32
        /// Q, K, P and V rounded to bfloat16, float32 sums (vdpbf16ps; see bf16_attention.h). Softmax, the running
        /// maxima and sums, the rescaling and the output stay float32.
        case bf16

        /// Whether this CPU runs the products this way (float32 always does).
        public var isSupported: Bool { self == .float32 || dnabert_bf16_cpu_has_avx512bf16() != 0 }
    }

    /// The tile products of int8 models' inference: bf16 where the CPU has AVX512_BF16 and runs it faster than
    /// float32 FMA — AMD's (Zen 4 on: twice the FMA rate; Intel's AVX512_BF16 CPUs run it at half the rate, so they
    /// keep float32) — else float32. `DNABERT_INT8_ATTENTION=float32|bf16` overrides (bf16 only where supported).
    /// Float32 models, and training (whose backward recomputes the probabilities in float32), always use float32.
    public static let int8TileProducts: TileProducts = {
        if let e = getenv("DNABERT_INT8_ATTENTION"), let p = TileProducts(rawValue: String(cString: e)), p.isSupported {
            return p
        }
        return TileProducts.bf16.isSupported && dnabert_cpu_is_amd() != 0 ? .bf16 : .float32
    }()

    /// Distant-tile skipping (exact to float32, see `tile`; forward and backward) is on unless
    /// DNABERT_NO_TILE_SKIP=1, which exists to measure the dense cost. Internal and mutable only so that the
    /// tests can compare a run against a dense run in the same process; nothing else writes it.
    nonisolated(unsafe) static var skipDistantTiles: Bool = {
        if let e = getenv("DNABERT_NO_TILE_SKIP") { return String(cString: e) != "1" }
        return true
    }()

    /// - Parameters:
    ///   - q, k, v: row t of head h starts at `ptr + t·stride + h·headStride` (e.g. the three blocks of a
    ///     fused [T, 3H] qkv buffer: stride 3H, headStride headDim; or head-major [heads, T, d]: stride d,
    ///     headStride T·d, which keeps a head's keys on few pages — much kinder to the TLB at long L).
    ///   - out: row t of head h is written at `out + t·outStride + h·headDim`.
    ///   - positions: original position of each packed row (Float, exact below 2^24); nil = 0, 1, 2, …
    ///     within each span.
    ///   - slopes: one ALiBi slope per head (empty = no ALiBi).
    ///   - lse: when given, receives log-sum-exp of each row's scaled, biased scores at `lse[t·heads + h]`.
    ///   - threads: parallel workers; BLAS is called single-threaded inside (see `BLAS`).
    public static func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               stride: Int, out: UnsafeMutablePointer<Float>, outStride: Int,
                               spans: [Span], positions: UnsafePointer<Float>?, heads: Int, headDim: Int,
                               slopes: [Float], scale: Float, lse: UnsafeMutablePointer<Float>? = nil,
                               headStride: Int? = nil, threads: Int, tileQ: Int = defaultTileQ, tileK: Int = defaultTileK,
                               products: TileProducts = .float32) {
        let bf16 = products == .bf16
        let bq = max(1, tileQ), bk = max(8, (tileK + 7) / 8 * 8), d = headDim
        let hs = headStride ?? headDim
        // Work items: (span, head, first query row), longest spans first for balance.
        var items: [(Int, Int, Int)] = []
        let order = spans.indices.sorted { spans[$0].count > spans[$1].count }
        // bf16 products on sequences longer than one query tile: each (sequence, head)'s K and V are packed into the
        // kernel's bf16 layout once (below), and a head's query tiles follow one another in the queue so that its
        // packed keys stay in cache between them.
        let prepack = bf16 && bk % 64 == 0 && headDim <= 256 && spans.contains(where: { $0.count > bq })
        for s in order where spans[s].count > 0 {
            if prepack {
                for h in 0..<heads { for q0 in Swift.stride(from: 0, to: spans[s].count, by: bq) { items.append((s, h, q0)) } }
                continue
            }
            var q0 = 0
            while q0 < spans[s].count {
                for h in 0..<heads { items.append((s, h, q0)) }
                q0 += bq
            }
        }
        if items.isEmpty { return }
        let workers = min(Parallel.threads(threads), items.count)
        // Largest key norm per (span, head): bounds every score of a key tile (Cauchy–Schwarz), which lets
        // a query tile skip key tiles whose ALiBi distance makes every probability underflow (see `tile`). Only
        // spans of more than one key tile have anything to skip.
        var kMax = [Float](repeating: 0, count: spans.count * heads)
        if spans.contains(where: { $0.count > bk }) {
            kMax.withUnsafeMutableBufferPointer { km in
                Parallel.forEach(spans.count * heads, threads: min(workers, spans.count * heads)) { sh in
                    let s = sh / heads, h = sh % heads
                    if spans[s].count <= bk { return }
                    var m: Float = 0
                    for t in spans[s].start..<(spans[s].start + spans[s].count) {
                        m = max(m, sumOfSquares(k + t * stride + h * hs, d))
                    }
                    km[sh] = m.squareRoot()
                }
            }
        }
        // The packing, in parallel: once per key instead of once per query tile (1 × 512: packing took 3.3 % of
        // the forward's CPU samples with every key packed 4 times).
        var packedAt = [Int](repeating: -1, count: spans.count * heads)   // (s, h) → offset of K; V follows
        var vStride = [Int](repeating: 0, count: spans.count)
        var packed: UnsafeMutablePointer<UInt32>? = nil
        if prepack {
            var total = 0
            for (s, span) in spans.enumerated() where span.count > bq {
                let ks = dnabert_bf16_packed_k_size(span.count, d), vs = dnabert_bf16_packed_v_size(span.count, d)
                vStride[s] = dnabert_bf16_packed_v_stride(span.count)
                for h in 0..<heads { packedAt[s * heads + h] = total; total += ks + vs }
            }
            // (64-byte aligned, as the kernels require; without the memory, the tiles pack their own operands)
            if let buf = (try? Memory.allocate(UInt32.self, count: total, what: "packed keys"))?.baseAddress {
                let jobs = (0..<(spans.count * heads)).filter { packedAt[$0] >= 0 }
                let failed = Atomic<Bool>(false)
                Parallel.forEach(jobs.count, threads: min(workers, jobs.count)) { i in
                    let sh = jobs[i], s = sh / heads, h = sh % heads, n = spans[s].count
                    let kOut = buf + packedAt[sh], vOut = kOut + dnabert_bf16_packed_k_size(n, d)
                    if dnabert_bf16_pack_k(k + spans[s].start * stride + h * hs, stride, n, d, kOut) != 0
                        || dnabert_bf16_pack_v(v + spans[s].start * stride + h * hs, stride, n, d, vOut) != 0 {
                        failed.store(true, ordering: .relaxed)
                    }
                }
                if failed.load(ordering: .relaxed) { free(buf) } else { packed = buf }
            }
        }
        defer { free(packed) }
        // A shared atomic-free work queue: worker w takes items w, w + workers, … (items are sorted by cost).
        Parallel.forEach(workers, threads: workers) { w in
            let sBuf = UnsafeMutablePointer<Float>.allocate(capacity: bq * bk)
            let oBuf = UnsafeMutablePointer<Float>.allocate(capacity: bq * d)
            let mBuf = UnsafeMutablePointer<Float>.allocate(capacity: bq)
            let lBuf = UnsafeMutablePointer<Double>.allocate(capacity: bq)
            let posBuf = UnsafeMutablePointer<Float>.allocate(capacity: bk)
            let qNorm = UnsafeMutablePointer<Float>.allocate(capacity: bq)
            let qPos = UnsafeMutablePointer<Float>.allocate(capacity: bq), rowMax = UnsafeMutablePointer<Float>.allocate(capacity: bq)
            defer {
                sBuf.deallocate(); oBuf.deallocate(); mBuf.deallocate(); lBuf.deallocate(); posBuf.deallocate(); qNorm.deallocate()
                qPos.deallocate(); rowMax.deallocate()
            }
            var i = w
            while i < items.count {
                let (s, h, q0) = items[i]
                let span = spans[s]
                let at = packedAt[s * heads + h]
                let kP = at >= 0 ? packed.map { UnsafePointer($0 + at) } : nil
                let vP = kP.map { $0 + dnabert_bf16_packed_k_size(span.count, d) }
                tile(packedK: kP, packedV: vP, vStride: vStride[s],
                     q: q, k: k, v: v, stride: stride, out: out, outStride: outStride, span: span, q0: q0,
                     qn: min(bq, span.count - q0), positions: positions, head: h, heads: heads, d: d, hs: hs,
                     slope: h < slopes.count ? slopes[h] : 0, scale: scale, lse: lse, bk: bk,
                     kMax: kMax[s * heads + h] * (bf16 ? 1.01 : 1.0001), qNorm: qNorm,
                     sBuf: sBuf, oBuf: oBuf, mBuf: mBuf, lBuf: lBuf, posBuf: posBuf, bf16: bf16, qPos: qPos, rowMax: rowMax)
                i += workers
            }
        }
    }

    /// Σ x[j]² over n floats, 16 at a time in two independent vector sums (a bound for tile skipping: the order of
    /// the sum does not matter).
    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        typealias F8 = VectorMath.F8
        var a = F8(), b = F8(), j = 0
        while j + 16 <= n {
            let u = VectorMath.load(x + j), v = VectorMath.load(x + j + 8)
            a += u * u; b += v * v   // (not addingProduct: without FMA in this module's baseline build it calls fmaf)
            j += 16
        }
        var acc = (a + b).sum()
        while j < n { acc += x[j] * x[j]; j += 1 }
        return acc
    }

    @inline(__always)
    static func tile(packedK: UnsafePointer<UInt32>? = nil, packedV: UnsafePointer<UInt32>? = nil, vStride: Int = 0,
                     q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, stride: Int,
                     out: UnsafeMutablePointer<Float>, outStride: Int, span: Span, q0: Int, qn: Int,
                     positions: UnsafePointer<Float>?, head h: Int, heads: Int, d: Int, hs: Int, slope: Float,
                     scale: Float, lse: UnsafeMutablePointer<Float>?, bk: Int, kMax: Float,
                     qNorm: UnsafeMutablePointer<Float>, sBuf: UnsafeMutablePointer<Float>, oBuf: UnsafeMutablePointer<Float>,
                     mBuf: UnsafeMutablePointer<Float>, lBuf: UnsafeMutablePointer<Double>,
                     posBuf: UnsafeMutablePointer<Float>, bf16: Bool = false, qPos: UnsafeMutablePointer<Float>? = nil,
                     rowMax: UnsafeMutablePointer<Float>? = nil) {
        typealias F8 = VectorMath.F8
        let qBase = q + (span.start + q0) * stride + h * hs
        let kBase = k + span.start * stride + h * hs
        let vBase = v + span.start * stride + h * hs
        oBuf.initialize(repeating: 0, count: qn * d)
        mBuf.initialize(repeating: -Float.infinity, count: qn)
        lBuf.initialize(repeating: 0, count: qn)
        // Key tiles in order of distance from the query tile, so the running maxima are large early;
        // then a tile is skipped when, for every query row r, its best possible score
        // |q_r|·max|k|·scale − slope·(nearest key distance) lies 88 below m_r: exp() of every entry
        // would underflow float32 (< 1e-38), so the skipped contribution is below float32 resolution.
        // Distances grow monotonically outward, so the first skippable tile ends that direction.
        let nTiles = (span.count + bk - 1) / bk
        if nTiles > 1 {
            for r in 0..<qn { qNorm[r] = sumOfSquares(qBase + r * stride, d).squareRoot() * kMax * scale }
        }
        func posOf(_ t: Int) -> Float { positions.map { $0[span.start + t] } ?? Float(t) }
        if bf16, let qPos { for r in 0..<qn { qPos[r] = posOf(q0 + r) } }
        func skippable(_ k0: Int, _ kn: Int) -> Bool {
            if slope <= 0 || !skipDistantTiles { return false }
            let first = posOf(k0), last = posOf(k0 + kn - 1)
            for r in 0..<qn {
                let m = mBuf[r]
                if m == -Float.infinity { return false }
                let pr = posOf(q0 + r)
                let dist: Float = pr < first ? first - pr : (pr > last ? pr - last : 0)
                if qNorm[r] - slope * dist - m > -88 { return false }
            }
            return true
        }
        let center = min(nTiles - 1, (q0 + qn / 2) / bk)
        var left = center - 1, right = center + 1
        var leftOpen = true, rightOpen = true
        var next: Int? = center
        while let ti = next {
            let k0 = ti * bk
            let kn = min(bk, span.count - k0)
            // Key positions of this tile.
            if let p = positions {
                for j in 0..<kn { posBuf[j] = p[span.start + k0 + j] }
            } else {
                for j in 0..<kn { posBuf[j] = Float(k0 + j) }
            }
            // S = scale·Q·Kᵀ − slope·|i − j|: on bf16 pairs when asked, the bias added and the rows' maxima kept in
            // the product's epilogue (K packed once per sequence when given) — a bound of 1.01 on
            // bf16(q)·bf16(k) / |q||k| keeps the tile skipping exact.
            var fused = false
            if bf16, let qPos, let rowMax {
                fused = (packedK.map {
                    dnabert_bf16_qk_alibi_packed(qBase, stride, qn, dnabert_bf16_packed_k_tile($0, k0, d), kn, d, scale, qPos, posBuf,
                                                 slope, sBuf, bk, rowMax)
                } ?? dnabert_bf16_qk_alibi(qBase, stride, qn, kBase + k0 * stride, stride, kn, d, scale, qPos, posBuf,
                                           slope, sBuf, bk, rowMax)) == 0
            }
            // Else S = scale·Q·Kᵀ on dnabert's float32 kernel where the linear layers use it (it packs the key tile
            // itself; OpenBLAS's copies of both tiles were about 15 % of attention's time), else sgemm, and the bias
            // in `biasExpRow`.
            if !fused, !(bf16 && dnabert_bf16_qk(qBase, stride, qn, kBase + k0 * stride, stride, kn, d, scale, sBuf, bk) == 0),
               !Linear.useKernel || dnabert_f32_gemm_nt(qBase, stride, qn, d, kBase + k0 * stride, stride, 0, kn, nil,
                                                         scale, sBuf, bk) != 0 {
                BLAS.sgemm(transA: .noTrans, transB: .trans, m: qn, n: kn, k: d, alpha: scale, a: qBase, lda: stride,
                           b: kBase + k0 * stride, ldb: stride, beta: 0, c: sBuf, ldc: bk)
            }
            for r in 0..<qn {
                let row = sBuf + r * bk
                let mOld = mBuf[r]
                let (mNew, sum) = fused ? SIMDPath.expRow(row, kn, rowMax![r], mOld)
                    : SIMDPath.biasExpRow(row, kn, posBuf, posOf(q0 + r), slope, mOld)
                if mOld == -Float.infinity {
                    lBuf[r] = sum
                } else {
                    let c = Glibc.expf(mOld - mNew)
                    lBuf[r] = lBuf[r] * Double(c) + sum
                    if c != 1 {
                        let o = oBuf + r * d
                        let cv = F8(repeating: c)
                        var t = 0
                        while t + 8 <= d { VectorMath.store(VectorMath.load(o + t) * cv, o + t); t += 8 }
                        while t < d { o[t] *= c; t += 1 }
                    }
                }
                mBuf[r] = mNew
            }
            // O += P·V, V's rows read in place by the kernel (they are its panel layout already).
            if let vp = packedV, dnabert_bf16_pv_acc_packed(sBuf, bk, qn, kn, dnabert_bf16_packed_v_tile(vp, k0), vStride, d, oBuf, d) == 0 {
                // (V packed once for the whole sequence)
            } else if !(bf16 && dnabert_bf16_pv_acc(sBuf, bk, qn, kn, vBase + k0 * stride, stride, d, oBuf, d) == 0),
               !Linear.useKernel || dnabert_f32_gemm_nn_acc(sBuf, bk, qn, kn, vBase + k0 * stride, stride, d, oBuf, d) != 0 {
                BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: qn, n: d, k: kn, alpha: 1, a: sBuf, lda: bk,
                           b: vBase + k0 * stride, ldb: stride, beta: 1, c: oBuf, ldc: d)
            }
            // Choose the next tile: alternate outward while a direction is open.
            next = nil
            while next == nil && (leftOpen || rightOpen) {
                if rightOpen && (right - center <= center - left || !leftOpen) {
                    if right >= nTiles { rightOpen = false; continue }
                    if skippable(right * bk, min(bk, span.count - right * bk)) { rightOpen = false; continue }
                    next = right; right += 1
                } else {
                    if left < 0 { leftOpen = false; continue }
                    if skippable(left * bk, min(bk, span.count - left * bk)) { leftOpen = false; continue }
                    next = left; left -= 1
                }
            }
        }
        for r in 0..<qn {
            let inv = Float(1.0 / lBuf[r])
            let o = oBuf + r * d
            let dst = out + (span.start + q0 + r) * outStride + h * d
            for t in 0..<d { dst[t] = o[t] * inv }
            if let lse = lse {
                lse[(span.start + q0 + r) * heads + h] = Float(Double(mBuf[r]) + Glibc.log(lBuf[r]))
            }
        }
    }

    /// Full attention probabilities for one layer, [B, heads, L, L] in the padded layout: rows of padded
    /// queries and columns of padded keys are 0. Memory is quadratic: for inspection of short inputs only.
    /// `qkv` is the packed [T, 3H] projection; `rows[b·L + i]` is the packed row of token (b, i) or −1.
    static func probabilities(qkv: UnsafePointer<Float>, hidden: Int, heads: Int, batch: Int, length: Int,
                              rows: [Int], slopes: [Float], threads: Int) -> [Float] {
        let d = hidden / heads, L = length
        var outArr = [Float](repeating: 0, count: batch * heads * L * L)
        let scale = 1 / Float(d).squareRoot()
        outArr.withUnsafeMutableBufferPointer { ob in
            let outBase = ob.baseAddress!
            Parallel.forEach(batch * heads, threads: threads) { bh in
                let b = bh / heads, h = bh % heads
                let valid = (0..<L).filter { rows[b * L + $0] >= 0 }
                let n = valid.count
                if n == 0 { return }
                // Gather this head's q and k of the valid tokens, then one sgemm.
                let qg = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
                let kg = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
                let s = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
                defer { qg.deallocate(); kg.deallocate(); s.deallocate() }
                for (a, i) in valid.enumerated() {
                    let src = qkv + rows[b * L + i] * 3 * hidden + h * d
                    for t in 0..<d { qg[a * d + t] = src[t]; kg[a * d + t] = src[hidden + t] }
                }
                BLAS.sgemm(transA: .noTrans, transB: .trans, m: n, n: n, k: d, alpha: scale, a: qg, lda: d,
                           b: kg, ldb: d, beta: 0, c: s, ldc: n)
                let slope = h < slopes.count ? slopes[h] : 0
                let base = outBase + bh * L * L
                for (a, i) in valid.enumerated() {
                    let row = s + a * n
                    var mx = -Float.infinity
                    for (c, j) in valid.enumerated() {
                        row[c] -= slope * Float(abs(i - j))
                        mx = max(mx, row[c])
                    }
                    var sum = 0.0
                    for c in 0..<n { let e = Glibc.expf(row[c] - mx); row[c] = e; sum += Double(e) }
                    let inv = Float(1 / sum)
                    for (c, j) in valid.enumerated() { base[i * L + j] = row[c] * inv }
                }
            }
        }
        return outArr
    }

    /// Backward of `forward` from the saved output O and log-sum-exp (`lse[t·heads + h]`), recomputing the
    /// probabilities tile by tile: P = exp(S − lse), dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)),
    /// dQ = scale·dS·K, dK = scale·dSᵀ·Q. One worker owns one (sequence, head), so dQ/dK/dV columns of that
    /// head are written by it alone: dq/dk/dv (stride `dStride`) are *overwritten*. ALiBi slopes get no gradient.
    /// Memory: O(tile²) per worker.
    public static func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, stride: Int,
                                out: UnsafePointer<Float>, dOut: UnsafePointer<Float>, outStride: Int,
                                lse: UnsafePointer<Float>,
                                dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                dStride: Int, spans: [Span], positions: UnsafePointer<Float>?, heads: Int, headDim d: Int,
                                slopes: [Float], scale: Float, threads: Int, tileQ: Int = 128, tileK: Int = 128) {
        var items: [(Int, Int)] = []
        let order = spans.indices.sorted { spans[$0].count > spans[$1].count }
        for s in order where spans[s].count > 0 { for h in 0..<heads { items.append((s, h)) } }
        if items.isEmpty { return }
        let bq = max(1, tileQ), bk = max(8, tileK)
        let maxLen = spans.map(\.count).max() ?? 0
        let workers = min(Parallel.threads(threads), items.count)
        Parallel.forEach(workers, threads: workers) { w in
            let pBuf = UnsafeMutablePointer<Float>.allocate(capacity: bq * bk)
            let dpBuf = UnsafeMutablePointer<Float>.allocate(capacity: bq * bk)
            let dkBuf = UnsafeMutablePointer<Float>.allocate(capacity: bk * d)
            let dvBuf = UnsafeMutablePointer<Float>.allocate(capacity: bk * d)
            let dRow = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxLen))
            let lRow = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxLen))
            let pos = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxLen))
            let qNorm = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxLen))
            defer {
                pBuf.deallocate(); dpBuf.deallocate(); dkBuf.deallocate(); dvBuf.deallocate()
                dRow.deallocate(); lRow.deallocate(); pos.deallocate(); qNorm.deallocate()
            }
            var i = w
            while i < items.count {
                let (s, h) = items[i]
                i += workers
                let span = spans[s], n = span.count
                let slope = h < slopes.count ? slopes[h] : 0
                let qB = q + span.start * stride + h * d, kB = k + span.start * stride + h * d
                let vB = v + span.start * stride + h * d
                let oB = out + span.start * outStride + h * d, doB = dOut + span.start * outStride + h * d
                let dqB = dq + span.start * dStride + h * d, dkB = dk + span.start * dStride + h * d
                let dvB = dv + span.start * dStride + h * d
                for t in 0..<n {
                    var acc = 0.0
                    let o = oB + t * outStride, g = doB + t * outStride
                    for j in 0..<d { acc += Double(o[j]) * Double(g[j]) }
                    dRow[t] = Float(acc)
                    lRow[t] = lse[(span.start + t) * heads + h]
                    pos[t] = positions.map { $0[span.start + t] } ?? Float(t)
                    qNorm[t] = sumOfSquares(qB + t * stride, d).squareRoot() * scale * 1.0001
                    let dqr = dqB + t * dStride
                    for j in 0..<d { dqr[j] = 0 }
                }
                var k0 = 0
                while k0 < n {
                    let kn = min(bk, n - k0)
                    // Largest key norm of this tile: with ALiBi, a (query tile, key tile) pair whose every score
                    // bound |q|·max|k|·scale − slope·distance lies 88 below the row's log-sum-exp has all
                    // P = exp(S − lse) < 1e-38 (0 in float32): it contributes nothing and is skipped.
                    var kMax: Float = 0
                    for r in 0..<kn { kMax = max(kMax, sumOfSquares(kB + (k0 + r) * stride, d)) }
                    kMax = kMax.squareRoot() * 1.0001
                    let firstK = pos[k0], lastK = pos[k0 + kn - 1]
                    dkBuf.initialize(repeating: 0, count: kn * d)
                    dvBuf.initialize(repeating: 0, count: kn * d)
                    var q0 = 0
                    while q0 < n {
                        let qn = min(bq, n - q0)
                        if slope > 0 && FlashAttention.skipDistantTiles {
                            var skip = true
                            for r in q0..<(q0 + qn) {
                                let pr = pos[r]
                                let dist: Float = pr < firstK ? firstK - pr : (pr > lastK ? pr - lastK : 0)
                                if qNorm[r] * kMax - slope * dist - lRow[r] > -88 { skip = false; break }
                            }
                            if skip { q0 += qn; continue }
                        }
                        BLAS.sgemm(transA: .noTrans, transB: .trans, m: qn, n: kn, k: d, alpha: scale,
                                   a: qB + q0 * stride, lda: stride, b: kB + k0 * stride, ldb: stride,
                                   beta: 0, c: pBuf, ldc: bk)
                        for r in 0..<qn {
                            // exp(S − m) with m = max(lse, row max) = lse up to rounding.
                            _ = SIMDPath.biasExpRow(pBuf + r * bk, kn, pos + k0, pos[q0 + r], slope, lRow[q0 + r])
                        }
                        // dV += Pᵀ·dO
                        BLAS.sgemm(transA: .trans, transB: .noTrans, m: kn, n: d, k: qn, alpha: 1, a: pBuf, lda: bk,
                                   b: doB + q0 * outStride, ldb: outStride, beta: 1, c: dvBuf, ldc: d)
                        // dP = dO·Vᵀ
                        BLAS.sgemm(transA: .noTrans, transB: .trans, m: qn, n: kn, k: d, alpha: 1,
                                   a: doB + q0 * outStride, lda: outStride, b: vB + k0 * stride, ldb: stride,
                                   beta: 0, c: dpBuf, ldc: bk)
                        for r in 0..<qn {
                            let p = pBuf + r * bk, dp = dpBuf + r * bk, dr = dRow[q0 + r]
                            for j in 0..<kn { dp[j] = p[j] * (dp[j] - dr) }
                        }
                        // dQ += scale·dS·K ; dK += scale·dSᵀ·Q
                        BLAS.sgemm(transA: .noTrans, transB: .noTrans, m: qn, n: d, k: kn, alpha: scale, a: dpBuf, lda: bk,
                                   b: kB + k0 * stride, ldb: stride, beta: 1, c: dqB + q0 * dStride, ldc: dStride)
                        BLAS.sgemm(transA: .trans, transB: .noTrans, m: kn, n: d, k: qn, alpha: scale, a: dpBuf, lda: bk,
                                   b: qB + q0 * stride, ldb: stride, beta: 1, c: dkBuf, ldc: d)
                        q0 += qn
                    }
                    for r in 0..<kn {
                        let dkr = dkB + (k0 + r) * dStride, dvr = dvB + (k0 + r) * dStride
                        for j in 0..<d { dkr[j] = dkBuf[r * d + j]; dvr[j] = dvBuf[r * d + j] }
                    }
                    k0 += kn
                }
            }
        }
    }
}
