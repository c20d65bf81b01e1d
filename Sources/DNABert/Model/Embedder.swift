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

    /// What an embedding run computes, derived from the sequences and options alone (so the same on every rank of a
    /// distributed run): the tokens, every window (longest first, so that a batch holds windows of similar
    /// length), the forward batches (consecutive windows) and what each sequence's summed contributions are
    /// divided by.
    struct EmbedPlan {
        var tokens: [[Int32]]
        var windows: [Window]
        /// Window index ranges, one per forward pass.
        var batches: [Range<Int>]
        /// coverage[i][t]: how many windows contain token t of sequence i (multi-window sequences only).
        var coverage: [Int: [Int32]]
        var windowCount: [Int]
        var weightSum: [Double]
        var cls: Int32?, sep: Int32?, pad: Int32
        var specials: Int { (cls == nil ? 0 : 1) + (sep == nil ? 0 : 1) }
        var sequenceCount: Int { tokens.count }
    }

    func embedPlan(_ sequences: [UnsafeBufferPointer<UInt8>], options: EmbedOptions) throws -> EmbedPlan {
        try options.validate()
        guard let tokenizer else {
            throw DNABertError.invalidArgument("embed: the model has no tokenizer (put a tokenizer.json in the model folder)")
        }
        let H = model.config.hiddenSize
        let n = sequences.count
        // n comes from the caller: check the largest array (the Double accumulator) before building any.
        try Memory.reserve(bytes: try Memory.byteCount(Double.self, n * H, what: "embed"), what: "embed: \(n) embeddings")
        let cls = tokenizer.clsId, sep = tokenizer.sepId
        let specials = (cls == nil ? 0 : 1) + (sep == nil ? 0 : 1)
        let width = options.maxLength - specials
        var enc = EncodeOptions()
        enc.addSpecialTokens = false
        enc.uppercase = options.uppercase
        enc.withOffsets = false
        let tokens = n == 0 ? [] : tokenizer.encodeBatch(sequences, options: enc, threads: options.threads).map { $0.ids }
        var windows: [Window] = []
        for (i, t) in tokens.enumerated() {
            for s in PretrainedModel.windowStarts(tokens: t.count, width: width, overlap: options.overlap) {
                windows.append(Window(seq: i, start: s, count: min(width, t.count - s)))
            }
        }
        windows.sort { ($0.count, $1.seq, $1.start) > ($1.count, $0.seq, $0.start) }
        var coverage: [Int: [Int32]] = [:]
        var windowCount = [Int](repeating: 0, count: n)
        for w in windows { windowCount[w.seq] += 1 }
        for w in windows where windowCount[w.seq] > 1 {
            if coverage[w.seq] == nil { coverage[w.seq] = [Int32](repeating: 0, count: tokens[w.seq].count) }
            for t in w.start..<(w.start + w.count) { coverage[w.seq]![t] += 1 }
        }
        var weightSum = [Double](repeating: 0, count: n)
        for w in windows {
            switch options.pooling {
            case .cls: weightSum[w.seq] += Double(max(w.count, 1))
            // an empty sequence: the mean of its special tokens' states
            case .mean: weightSum[w.seq] = w.count == 0 ? Double(max(specials, 1)) : Double(tokens[w.seq].count)
            }
        }
        let batches = stride(from: 0, to: windows.count, by: options.batchSize).map { $0..<min(windows.count, $0 + options.batchSize) }
        return EmbedPlan(tokens: tokens, windows: windows, batches: batches, coverage: coverage, windowCount: windowCount,
                         weightSum: weightSum, cls: cls, sep: sep, pad: tokenizer.padId ?? 0)
    }

    /// One forward pass: the contributions of batch `b`'s windows to their sequences' sums, row j of `parts`
    /// ([windows in the batch, hidden] doubles) for the batch's j-th window. A window's row depends only on the
    /// batch it was computed in (BLAS results can depend on the other rows of a product), so runs that form the
    /// same batches agree bit for bit.
    func embedBatch(_ plan: EmbedPlan, _ b: Int, options: EmbedOptions, parts: UnsafeMutablePointer<Double>) throws {
        let H = model.config.hiddenSize, specials = plan.specials
        let batch = plan.batches[b].map { plan.windows[$0] }
        let L = batch.map { $0.count }.max()! + specials
        var ids = [Int32](repeating: plan.pad, count: batch.count * L)
        var mask = [Int32](repeating: 0, count: batch.count * L)
        for (r, w) in batch.enumerated() {
            var j = r * L
            if let cls = plan.cls { ids[j] = cls; mask[j] = 1; j += 1 }
            for t in w.start..<(w.start + w.count) { ids[j] = plan.tokens[w.seq][t]; mask[j] = 1; j += 1 }
            if let sep = plan.sep { ids[j] = sep; mask[j] = 1 }
        }
        var fopts = ForwardOptions()
        fopts.threads = options.threads
        let hidden = try ids.withUnsafeBufferPointer { ib in
            try mask.withUnsafeBufferPointer { mb in
                try model.forward(ids: ib, batch: batch.count, length: L, attentionMask: mb, options: fopts).lastHidden
            }
        }
        let first = plan.cls == nil ? 0 : 1
        for (r, w) in batch.enumerated() {
            let row = r * L, part = parts + r * H
            part.update(repeating: 0, count: H)
            switch options.pooling {
            case .cls:
                let weight = Double(max(w.count, 1))
                for h in 0..<H { part[h] += weight * Double(hidden[row * H + h]) }
            case .mean:
                if w.count == 0 {
                    for p in 0..<specials { for h in 0..<H { part[h] += Double(hidden[(row + p) * H + h]) } }
                } else {
                    let cov = plan.coverage[w.seq]
                    for t in 0..<w.count {
                        let wt = cov.map { 1.0 / Double($0[w.start + t]) } ?? 1.0
                        let base = (row + first + t) * H
                        for h in 0..<H { part[h] += wt * Double(hidden[base + h]) }
                    }
                }
            }
        }
    }

    /// Adds the rows of one batch's `parts` (from `embedBatch`) into the sequences' sums `acc` [n, hidden]. Batches
    /// must be added in their order, so that every run adds the same numbers in the same order.
    static func addBatch(_ plan: EmbedPlan, _ b: Int, parts: UnsafePointer<Double>, hidden H: Int, into acc: inout [Double]) {
        for (j, wi) in plan.batches[b].enumerated() {
            let s = plan.windows[wi].seq, part = parts + j * H
            for h in 0..<H { acc[s * H + h] += part[h] }
        }
    }

    /// The embeddings [n, hidden] from the summed contributions.
    static func finishEmbedding(_ plan: EmbedPlan, _ acc: [Double], hidden H: Int) -> [Float] {
        var out = [Float](repeating: 0, count: plan.sequenceCount * H)
        for i in 0..<plan.sequenceCount {
            let d = plan.weightSum[i] > 0 ? plan.weightSum[i] : 1
            for h in 0..<H { out[i * H + h] = Float(acc[i * H + h] / d) }
        }
        return out
    }

    /// Embeddings [n, hidden] of `sequences`. `progress(done, total)` returning false cancels.
    public func embed(_ sequences: [UnsafeBufferPointer<UInt8>], options: EmbedOptions = .init(),
                      progress: ((Int, Int) -> Bool)? = nil) throws -> [Float] {
        let plan = try embedPlan(sequences, options: options)
        let H = model.config.hiddenSize, n = sequences.count
        var acc = [Double](repeating: 0, count: n * H)
        var parts = [Double](repeating: 0, count: options.batchSize * H)
        var done = 0
        var finished = [Int](repeating: 0, count: n)
        for b in plan.batches.indices {
            try parts.withUnsafeMutableBufferPointer { try embedBatch(plan, b, options: options, parts: $0.baseAddress!) }
            parts.withUnsafeBufferPointer { PretrainedModel.addBatch(plan, b, parts: $0.baseAddress!, hidden: H, into: &acc) }
            for wi in plan.batches[b] {
                let s = plan.windows[wi].seq
                finished[s] += 1
                if finished[s] == plan.windowCount[s] { done += 1 }
            }
            if let progress, !progress(done, n) { throw DNABertError.cancelled }
        }
        return PretrainedModel.finishEmbedding(plan, acc, hidden: H)
    }
}
