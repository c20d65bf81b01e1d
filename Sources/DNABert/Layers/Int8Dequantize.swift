// Dequantizing an `Int8Matrix` back to float32, fast enough to run every training step: an int8 model holds no
// float32 copy of its quantized weights, so QLoRA's float32 input-gradient backward (`DNABERT_INT8_BACKWARD=fp32`;
// by default it runs in int8) dequantizes each linear into a scratch buffer when it needs it, and full
// fine-tuning / merging / `Model.copyFloat32` materialise the float32 weights from here. (Kept apart from
// Int8Linear.swift, the kernels' Swift side.)

extension Int8Matrix {
    /// Writes rows `rows` of the dequantized weight into `w` (row-major [out, in], row n at `w + n · in`): q · scale,
    /// divided by s column by column when smoothed — the same float expressions, so the same bits, as
    /// `dequantize(into:)`, but read row by row from the packed layout directly (a row's values are 4-byte groups
    /// 64 bytes apart, see `value(_:_:)`) instead of one index computation per element.
    func dequantizeRows(_ rows: Range<Int>, into w: UnsafeMutablePointer<Float>) {
        let k = inFeatures, groups = kpad / 4, full = k / 4
        for n in rows {
            let src = packed + (n / 16) * groups * 64 + (n % 16) * 4
            let dst = w + n * k
            let s = scales[n]
            for g in 0..<full {
                let q = src + g * 64, d = dst + 4 * g
                d[0] = Float(q[0]) * s; d[1] = Float(q[1]) * s; d[2] = Float(q[2]) * s; d[3] = Float(q[3]) * s
            }
            if full * 4 < k {
                let q = src + full * 64
                for j in (full * 4)..<k { dst[j] = Float(q[j - full * 4]) * s }
            }
            if let sm = smooth {
                for j in 0..<k { dst[j] = dst[j] / sm[j] }
            }
        }
    }

    /// The whole dequantized weight [out, in] into `w`, rows split across `threads` (0 = all cores).
    func dequantize(into w: UnsafeMutablePointer<Float>, threads: Int) {
        let parts = Parallel.ranges(outFeatures, parts: min(Parallel.threads(threads), max(1, outFeatures / 64)))
        Parallel.forEach(parts.count, threads: parts.count) { p in dequantizeRows(parts[p], into: w) }
    }

    /// Bytes this matrix holds: packed int8 values, per-channel sums and scales, smoothing factors and their
    /// reciprocals, and Wᵀ's packed form once QLoRA has built it.
    var byteCount: Int { npad * kpad + 8 * npad + (smooth == nil ? 0 : 8 * inFeatures) + transposedByteCount }
}
