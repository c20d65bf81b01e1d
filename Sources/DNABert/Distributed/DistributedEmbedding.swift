/// Embedding shared out over the ranks of a data-parallel job. Every rank makes the same plan of the call (the
/// windows in processing order and their batches, as a one-process run makes it), batch b runs on rank
/// b mod ranks, and rank 0 adds the windows' float64 contributions into their sequences in plan order. A batch's
/// forward pass gives the same numbers wherever it runs (same rows, same threads), and the sums happen in the
/// same order, so the result equals a one-process run with the same threads per process bit for bit (tested) —
/// whatever the BLAS does with a product's row count. Ranks with no batch (fewer batches than ranks) take part
/// with nothing to send. Tokenization is repeated on every rank (it is cheap next to the forward passes).
public enum DistributedEmbedding {
    /// Every rank passes the same `sequences`. Returns [n, hidden] on rank 0 (on every rank when `allRanks`),
    /// nil on the others.
    public static func embed(_ model: PretrainedModel, _ sequences: [UnsafeBufferPointer<UInt8>], options: EmbedOptions,
                             comm: Communicator, allRanks: Bool = false,
                             progress: ((Int, Int) -> Bool)? = nil) throws -> [Float]? {
        let n = sequences.count, H = model.model.config.hiddenSize
        guard comm.size > 1 else { return try model.embed(sequences, options: options, progress: progress) }
        try comm.requireSameSettings("\(n)|\(options.maxLength)|\(options.overlap)|\(options.pooling)|\(options.uppercase)|"
            + "\(options.batchSize)|\(Communicator.checksum(UnsafeBufferPointer(model.model.parameters)))", what: "embedding")
        // The work of this rank: its batches' contributions, one after the other.
        var local: [Double] = []
        var plan: PretrainedModel.EmbedPlan? = nil
        var failure: Error? = nil
        do {
            try options.validate()
            // the size rank 0 will need, checked on every rank so that all refuse alike
            try Memory.reserve(bytes: try Memory.byteCount(Double.self, n * H, what: "embed"), what: "embed: \(n) embeddings")
            let p = try model.embedPlan(sequences, options: options)
            plan = p
            var finished = [Int](repeating: 0, count: n)
            var done = 0
            for (b, range) in p.batches.enumerated() {
                if b % comm.size == comm.rank {
                    local += try model.embedBatch(p, range, options: options)
                }
                // progress as if every rank kept pace: the sequences complete after this batch of the plan
                done += PretrainedModel.sequencesDone(p, finished: &finished, batch: range)
                if b % comm.size == comm.rank, let progress, !progress(done, n) { throw DNABertError.cancelled }
            }
        } catch { failure = error }
        try comm.agree(failure, what: "embedding")
        guard let plan else { throw DNABertError(.internal, "distributed embedding: no plan") }
        let tag: Int32 = 0x454D
        var out: [Float]? = nil
        var combineFailure: Error? = nil
        if comm.isRoot {
            do { out = try combine(local, plan: plan, options: options, comm: comm, tag: tag, n: n, hidden: H) }
            catch { combineFailure = error }
        } else {
            try local.withUnsafeBytes { try comm.send($0, to: 0, tag: tag) }
        }
        try comm.agree(combineFailure, what: "embedding")
        if allRanks {
            var bytes = out.map { o in o.withUnsafeBytes { Array($0) } } ?? []
            try comm.broadcast(&bytes)
            out = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        return out
    }

    /// Rank 0: the other ranks' contributions received, added into their sequences in plan order.
    private static func combine(_ local: [Double], plan: PretrainedModel.EmbedPlan, options: EmbedOptions,
                                comm: Communicator, tag: Int32, n: Int, hidden H: Int) throws -> [Float] {
        var parts: [[Double]] = [local]
        for r in 1..<comm.size {
            let bytes = try comm.receive(from: r, tag: tag)
            guard bytes.count % MemoryLayout<Double>.stride == 0 else {
                throw DNABertError(.internal, "distributed embedding: rank \(r) sent \(bytes.count) bytes")
            }
            parts.append(bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) })
        }
        var accumulator = try PretrainedModel.EmbedAccumulator(n: n, hidden: H)
        var offset = [Int](repeating: 0, count: comm.size)
        for (b, range) in plan.batches.enumerated() {
            let r = b % comm.size, count = range.count * H
            guard offset[r] + count <= parts[r].count else {
                throw DNABertError(.internal, "distributed embedding: rank \(r) sent \(parts[r].count) values, fewer than its batches hold")
            }
            parts[r].withUnsafeBufferPointer {
                accumulator.add(plan, range, UnsafeBufferPointer(rebasing: $0[offset[r]..<(offset[r] + count)]),
                                pooling: options.pooling)
            }
            offset[r] += count
        }
        for r in 0..<comm.size where offset[r] != parts[r].count {
            throw DNABertError(.internal, "distributed embedding: rank \(r) sent \(parts[r].count) values, expected \(offset[r])")
        }
        return accumulator.result()
    }
}
