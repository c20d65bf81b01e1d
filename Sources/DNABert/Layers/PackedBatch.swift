/// The real tokens of a padded batch, packed row after row (MosaicBERT's "unpadded" layout).
struct PackedBatch {
    var batch: Int
    var length: Int
    /// Packed token count.
    var tokens: Int
    var ids: [Int32]
    var spans: [FlashAttention.Span]
    /// Original position of each packed token (for ALiBi).
    var positions: [Float]
    /// rows[b·L + i] = packed row of token (b, i), or −1 when padded.
    var rows: [Int]
    var contiguous: Bool

    private init(batch: Int, length: Int, tokens: Int, ids: [Int32], spans: [FlashAttention.Span], positions: [Float],
                 rows: [Int], contiguous: Bool) {
        self.batch = batch; self.length = length; self.tokens = tokens; self.ids = ids; self.spans = spans
        self.positions = positions; self.rows = rows; self.contiguous = contiguous
    }

    /// Validates the inputs (ids in 0..<vocab, mask values 0/1) and packs the real tokens. `attentionMask` nil =
    /// every token is real.
    init(ids: UnsafeBufferPointer<Int32>, batch: Int, length: Int, attentionMask: UnsafeBufferPointer<Int32>?, vocab: Int) throws {
        guard batch > 0 else { throw DNABertError.invalidArgument("forward: batch must be positive, got \(batch)") }
        guard length > 0 else { throw DNABertError.invalidArgument("forward: length must be positive, got \(length)") }
        // ALiBi distances are carried as Float: exact below 2^24.
        guard length <= (1 << 24) else { throw DNABertError.invalidArgument("forward: length \(length) exceeds the supported 16,777,216 tokens per sequence") }
        let (n, o) = batch.multipliedReportingOverflow(by: length)
        guard !o, n <= (1 << 26) else {
            throw DNABertError.invalidArgument("forward: batch × length = \(batch) × \(length) is too large")
        }
        guard ids.count == n else {
            throw DNABertError.invalidArgument("forward: ids has \(ids.count) entries, expected batch × length = \(n)")
        }
        if let m = attentionMask, m.count != n {
            throw DNABertError.invalidArgument("forward: attention_mask has \(m.count) entries, expected batch × length = \(n)")
        }
        var packed = PackedBatch(batch: batch, length: length, tokens: 0, ids: [], spans: [], positions: [],
                                 rows: [Int](repeating: -1, count: n), contiguous: true)
        packed.ids.reserveCapacity(n)
        packed.positions.reserveCapacity(n)
        for b in 0..<batch {
            let start = packed.ids.count
            var seenPad = false
            for i in 0..<length {
                let at = b * length + i
                let id = ids[at]
                guard id >= 0, Int(id) < vocab else {
                    throw DNABertError.invalidArgument("forward: token id \(id) at batch \(b), position \(i) is outside the vocabulary [0, \(vocab))")
                }
                var real = true
                if let m = attentionMask {
                    let v = m[at]
                    guard v == 0 || v == 1 else {
                        throw DNABertError.invalidArgument("forward: attention_mask value \(v) at batch \(b), position \(i) must be 0 or 1")
                    }
                    real = v == 1
                }
                if real {
                    if seenPad || i != packed.ids.count - start { packed.contiguous = false }
                    packed.rows[at] = packed.ids.count
                    packed.ids.append(id)
                    packed.positions.append(Float(i))
                } else {
                    seenPad = true
                }
            }
            packed.spans.append(FlashAttention.Span(start: start, count: packed.ids.count - start))
        }
        packed.tokens = packed.ids.count
        self = packed
    }

    /// Copies packed rows [T, width] into the padded layout [B, L, width] (zeros at padding).
    func unpack(_ src: UnsafePointer<Float>, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: batch * length * width)
        out.withUnsafeMutableBufferPointer { o in
            for (at, r) in rows.enumerated() where r >= 0 {
                (o.baseAddress! + at * width).update(from: src + r * width, count: width)
            }
        }
        return out
    }
}
