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

    /// The work of one embedding call, fixed by the sequences and options alone (not by who runs it): the
    /// tokens, every window in processing order (longest first, so that a batch holds windows of similar length)
    /// and the batches as ranges of that order. A batch's forward pass is the unit of work: the same batch gives
    /// the same numbers wherever it runs, which a data-parallel run relies on (BLAS results may depend on a
    /// product's row count, so a window's numbers are only reproducible within the same batch).
    struct EmbedPlan {
        var tokens: [[Int32]]
        var windows: [Window]
        var windowCount: [Int]
        /// coverage[i][t]: how many windows contain token t of sequence i (multi-window sequences only).
        var coverage: [Int: [Int32]]
        var batches: [Range<Int>]
        var specials: Int
    }

    func embedPlan(_ sequences: [UnsafeBufferPointer<UInt8>], options: EmbedOptions) throws -> EmbedPlan {
        guard let tokenizer else {
            throw DNABertError.invalidArgument("embed: the model has no tokenizer (put a tokenizer.json in the model folder)")
        }
        let n = sequences.count
        let specials = (tokenizer.clsId == nil ? 0 : 1) + (tokenizer.sepId == nil ? 0 : 1)
        let width = options.maxLength - specials
        var enc = EncodeOptions()
        enc.addSpecialTokens = false
        enc.uppercase = options.uppercase
        enc.withOffsets = false
        let tokens = tokenizer.encodeBatch(sequences, options: enc, threads: options.threads).map { $0.ids }
        var windows: [Window] = []
        for (i, t) in tokens.enumerated() {
            for s in PretrainedModel.windowStarts(tokens: t.count, width: width, overlap: options.overlap) {
                windows.append(Window(seq: i, start: s, count: min(width, t.count - s)))
            }
        }
        windows.sort { ($0.count, $1.seq) > ($1.count, $0.seq) }
        var coverage: [Int: [Int32]] = [:]
        var windowCount = [Int](repeating: 0, count: n)
        for w in windows { windowCount[w.seq] += 1 }
        for w in windows where windowCount[w.seq] > 1 {
            if coverage[w.seq] == nil { coverage[w.seq] = [Int32](repeating: 0, count: tokens[w.seq].count) }
            for t in w.start..<(w.start + w.count) { coverage[w.seq]![t] += 1 }
        }
        let batches = stride(from: 0, to: windows.count, by: options.batchSize).map { $0..<min(windows.count, $0 + options.batchSize) }
        return EmbedPlan(tokens: tokens, windows: windows, windowCount: windowCount, coverage: coverage,
                         batches: batches, specials: specials)
    }

    /// Runs one batch of the plan: each window's pooled contribution ([windows in the batch, hidden], float64),
    /// the token states it holds summed with their weights (mean pooling: 1 / how many windows hold the token;
    /// CLS pooling: the [CLS] state times the window's token count).
    func embedBatch(_ plan: EmbedPlan, _ range: Range<Int>, options: EmbedOptions) throws -> [Double] {
        guard let tokenizer else { throw DNABertError.invalidArgument("embed: the model has no tokenizer") }
        let H = model.config.hiddenSize
        let cls = tokenizer.clsId, sep = tokenizer.sepId
        let pad = tokenizer.padId ?? 0
        let specials = plan.specials
        var fopts = ForwardOptions()
        fopts.threads = options.threads
        let batch = plan.windows[range]
        let L = batch.map { $0.count }.max()! + specials
        var ids = [Int32](repeating: pad, count: batch.count * L)
        var mask = [Int32](repeating: 0, count: batch.count * L)
        for (r, w) in batch.enumerated() {
            var j = r * L
            if let cls { ids[j] = cls; mask[j] = 1; j += 1 }
            for t in w.start..<(w.start + w.count) { ids[j] = plan.tokens[w.seq][t]; mask[j] = 1; j += 1 }
            if let sep { ids[j] = sep; mask[j] = 1 }
        }
        let hidden = try ids.withUnsafeBufferPointer { ib in
            try mask.withUnsafeBufferPointer { mb in
                try model.forward(ids: ib, batch: batch.count, length: L, attentionMask: mb, options: fopts).lastHidden
            }
        }
        let first = cls == nil ? 0 : 1
        var part = [Double](repeating: 0, count: batch.count * H)
        for (r, w) in batch.enumerated() {
            let row = r * L, o = r * H
            switch options.pooling {
            case .cls:
                let weight = Double(max(w.count, 1))
                for h in 0..<H { part[o + h] = weight * Double(hidden[row * H + h]) }
            case .mean:
                if w.count == 0 {
                    // An empty sequence: the mean of its special tokens' states.
                    for p in 0..<specials { for h in 0..<H { part[o + h] += Double(hidden[(row + p) * H + h]) } }
                } else {
                    let cov = plan.coverage[w.seq]
                    for t in 0..<w.count {
                        let wt = cov.map { 1.0 / Double($0[w.start + t]) } ?? 1.0
                        let base = (row + first + t) * H
                        for h in 0..<H { part[o + h] += wt * Double(hidden[base + h]) }
                    }
                }
            }
        }
        return part
    }

    /// Sums the windows' contributions into their sequences in plan order (so the float64 sums are the same
    /// whichever process computed each batch). `add(range)` returns the contributions of that batch.
    struct EmbedAccumulator {
        var acc: [Double]
        var weightSum: [Double]
        let H: Int

        init(n: Int, hidden H: Int) throws {
            try Memory.reserve(bytes: try Memory.byteCount(Double.self, n * H, what: "embed"), what: "embed: \(n) embeddings")
            acc = [Double](repeating: 0, count: n * H)
            weightSum = [Double](repeating: 0, count: n)
            self.H = H
        }

        mutating func add(_ plan: EmbedPlan, _ range: Range<Int>, _ part: UnsafeBufferPointer<Double>, pooling: Pooling) {
            for (r, w) in plan.windows[range].enumerated() {
                for h in 0..<H { acc[w.seq * H + h] += part[r * H + h] }
                switch pooling {
                case .cls: weightSum[w.seq] += Double(max(w.count, 1))
                case .mean: weightSum[w.seq] = w.count == 0 ? Double(max(plan.specials, 1)) : Double(plan.tokens[w.seq].count)
                }
            }
        }

        func result() -> [Float] {
            var out = [Float](repeating: 0, count: acc.count)
            for i in 0..<weightSum.count {
                let d = weightSum[i] > 0 ? weightSum[i] : 1
                for h in 0..<H { out[i * H + h] = Float(acc[i * H + h] / d) }
            }
            return out
        }
    }

    /// How many sequences are complete after the first `batches` batches of the plan (for progress).
    static func sequencesDone(_ plan: EmbedPlan, finished: inout [Int], batch range: Range<Int>) -> Int {
        var done = 0
        for w in plan.windows[range] {
            finished[w.seq] += 1
            if finished[w.seq] == plan.windowCount[w.seq] { done += 1 }
        }
        return done
    }

    /// Embeddings [n, hidden] of `sequences`. `progress(done, total)` returning false cancels.
    public func embed(_ sequences: [UnsafeBufferPointer<UInt8>], options: EmbedOptions = .init(),
                      progress: ((Int, Int) -> Bool)? = nil) throws -> [Float] {
        try options.validate()
        guard tokenizer != nil else {
            throw DNABertError.invalidArgument("embed: the model has no tokenizer (put a tokenizer.json in the model folder)")
        }
        let H = model.config.hiddenSize
        let n = sequences.count
        // n comes from the caller: check the largest array (the float64 accumulator) before building any.
        var accumulator = try EmbedAccumulator(n: n, hidden: H)
        if n == 0 { return [] }
        let plan = try embedPlan(sequences, options: options)
        var finished = [Int](repeating: 0, count: n)
        var done = 0
        for range in plan.batches {
            let part = try embedBatch(plan, range, options: options)
            part.withUnsafeBufferPointer { accumulator.add(plan, range, $0, pooling: options.pooling) }
            done += PretrainedModel.sequencesDone(plan, finished: &finished, batch: range)
            if let progress, !progress(done, n) { throw DNABertError.cancelled }
        }
        return accumulator.result()
    }
}
