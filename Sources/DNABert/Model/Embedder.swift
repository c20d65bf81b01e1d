/// Sequence embeddings: tokenize, run the encoder over windows of at most `maxLength` tokens, pool.
///
/// Sequences longer than a window are cut into overlapping windows (each with its own [CLS]/[SEP]); a token's
/// state is averaged over the windows that contain it, so the result does not depend on where a window happens
/// to start. Mean pooling averages the sequence's own tokens ([CLS], [SEP] and padding excluded); CLS pooling
/// averages the windows' [CLS] states weighted by how many tokens each window holds.
public enum Pooling: Int32, Sendable {
    case mean = 0
    case cls = 1
}

public struct EmbedOptions: Sendable {
    public var pooling = Pooling.mean
    public var maxLength = 512
    public var overlap = 64
    public var batchSize = 16
    public var uppercase = true
    public var threads = 0
    public init() {}

    func validate() throws {
        guard maxLength >= 3 else { throw DNABertError.invalidArgument("embed: max_length must be at least 3, got \(maxLength)") }
        guard overlap >= 0, overlap < maxLength - 2 else {
            throw DNABertError.invalidArgument("embed: overlap must be in 0..<\(maxLength - 2) (max_length − 2), got \(overlap)")
        }
        guard batchSize >= 1 else { throw DNABertError.invalidArgument("embed: batch_size must be positive, got \(batchSize)") }
        guard threads >= 0 else { throw DNABertError.invalidArgument("embed: threads must be >= 0") }
    }
}

extension PretrainedModel {
    /// One window: tokens [start, start+count) of sequence `seq`.
    struct Window {
        var seq: Int
        var start: Int
        var count: Int
    }

    /// Window starts covering `n` tokens with windows of `w` tokens overlapping by `overlap`.
    static func windowStarts(tokens n: Int, width w: Int, overlap: Int) -> [Int] {
        if n <= w { return [0] }
        let stride = w - overlap
        var starts: [Int] = []
        var s = 0
        while s + w < n {
            starts.append(s)
            s += stride
        }
        starts.append(n - w)
        return starts
    }

    /// Embeddings [n, hidden] of `sequences`. `progress(done, total)` returning false cancels.
    public func embed(_ sequences: [UnsafeBufferPointer<UInt8>], options: EmbedOptions = .init(),
                      progress: ((Int, Int) -> Bool)? = nil) throws -> [Float] {
        try options.validate()
        guard let tokenizer else {
            throw DNABertError.invalidArgument("embed: the model has no tokenizer (put a tokenizer.json in the model folder)")
        }
        let H = model.config.hiddenSize
        let n = sequences.count
        // n comes from the caller: check the largest array (the Double accumulator below) before building any.
        try Memory.reserve(bytes: try Memory.byteCount(Double.self, n * H, what: "embed"), what: "embed: \(n) embeddings")
        var out = [Float](repeating: 0, count: n * H)
        if n == 0 { return out }
        let cls = tokenizer.clsId, sep = tokenizer.sepId
        let pad = tokenizer.padId ?? 0
        let specials = (cls == nil ? 0 : 1) + (sep == nil ? 0 : 1)
        let width = options.maxLength - specials
        var enc = EncodeOptions()
        enc.addSpecialTokens = false
        enc.uppercase = options.uppercase
        enc.withOffsets = false
        let tokens = tokenizer.encodeBatch(sequences, options: enc, threads: options.threads).map { $0.ids }

        // All windows of all sequences, longest first so that a batch holds windows of similar length.
        var windows: [Window] = []
        for (i, t) in tokens.enumerated() {
            for s in PretrainedModel.windowStarts(tokens: t.count, width: width, overlap: options.overlap) {
                windows.append(Window(seq: i, start: s, count: min(width, t.count - s)))
            }
        }
        windows.sort { ($0.count, $1.seq) > ($1.count, $0.seq) }
        // coverage[i][t]: how many windows contain token t of sequence i (only needed for multi-window sequences).
        var coverage: [Int: [Int32]] = [:]
        var windowCount = [Int](repeating: 0, count: n)
        for w in windows { windowCount[w.seq] += 1 }
        for w in windows where windowCount[w.seq] > 1 {
            if coverage[w.seq] == nil { coverage[w.seq] = [Int32](repeating: 0, count: tokens[w.seq].count) }
            for t in w.start..<(w.start + w.count) { coverage[w.seq]![t] += 1 }
        }
        var weightSum = [Double](repeating: 0, count: n)
        var acc = [Double](repeating: 0, count: n * H)
        var fopts = ForwardOptions()
        fopts.threads = options.threads
        var done = 0
        var finished = [Int](repeating: 0, count: n)
        var b0 = 0
        while b0 < windows.count {
            let batch = Array(windows[b0..<min(windows.count, b0 + options.batchSize)])
            b0 += batch.count
            let L = batch.map { $0.count }.max()! + specials
            var ids = [Int32](repeating: pad, count: batch.count * L)
            var mask = [Int32](repeating: 0, count: batch.count * L)
            for (r, w) in batch.enumerated() {
                var j = r * L
                if let cls { ids[j] = cls; mask[j] = 1; j += 1 }
                for t in w.start..<(w.start + w.count) { ids[j] = tokens[w.seq][t]; mask[j] = 1; j += 1 }
                if let sep { ids[j] = sep; mask[j] = 1 }
            }
            let hidden = try ids.withUnsafeBufferPointer { ib in
                try mask.withUnsafeBufferPointer { mb in
                    try model.forward(ids: ib, batch: batch.count, length: L, attentionMask: mb, options: fopts).lastHidden
                }
            }
            let first = cls == nil ? 0 : 1
            for (r, w) in batch.enumerated() {
                let row = r * L
                switch options.pooling {
                case .cls:
                    let weight = Double(max(w.count, 1))
                    for h in 0..<H { acc[w.seq * H + h] += weight * Double(hidden[row * H + h]) }
                    weightSum[w.seq] += weight
                case .mean:
                    if w.count == 0 {
                        // An empty sequence: fall back to the mean of its special tokens' states.
                        for p in 0..<specials { for h in 0..<H { acc[w.seq * H + h] += Double(hidden[(row + p) * H + h]) } }
                        weightSum[w.seq] += Double(max(specials, 1))
                    } else {
                        let cov = coverage[w.seq]
                        for t in 0..<w.count {
                            let wt = cov.map { 1.0 / Double($0[w.start + t]) } ?? 1.0
                            let base = (row + first + t) * H
                            for h in 0..<H { acc[w.seq * H + h] += wt * Double(hidden[base + h]) }
                        }
                        if finished[w.seq] == 0 { weightSum[w.seq] = Double(tokens[w.seq].count) }
                    }
                }
                finished[w.seq] += 1
                if finished[w.seq] == windowCount[w.seq] {
                    done += 1
                }
            }
            if let progress, !progress(done, n) { throw DNABertError.cancelled }
        }
        for i in 0..<n {
            let d = weightSum[i] > 0 ? weightSum[i] : 1
            for h in 0..<H { out[i * H + h] = Float(acc[i * H + h] / d) }
        }
        return out
    }
}
