/// Embedding shared out over the ranks of a data-parallel job. Every rank plans the run as one process would (the
/// same windows in the same forward batches, `PretrainedModel.embedPlan`); batch j is computed on rank j mod ranks,
/// and rank 0 adds the batches' contributions in batch order, as one process does. The result equals a one-process
/// run bit for bit (tested) — which sharing out records instead would not give: a window's hidden states depend in
/// their last bits on the other rows of its forward pass (OpenBLAS's sgemm results depend on the matrix sizes).
/// Ranks with no batch (fewer batches than ranks) take part with nothing to send.
public enum DistributedEmbedding {
    /// Every rank passes the same `sequences`. Returns [n, hidden] on rank 0 (on every rank when `allRanks`),
    /// nil on the others. `progress(done, n)` reports this rank's share of the work scaled to the n sequences.
    public static func embed(_ model: PretrainedModel, _ sequences: [UnsafeBufferPointer<UInt8>], options: EmbedOptions,
                             comm: Communicator, allRanks: Bool = false,
                             progress: ((Int, Int) -> Bool)? = nil) throws -> [Float]? {
        let n = sequences.count, H = model.model.config.hiddenSize
        guard comm.size > 1 else { return try model.embed(sequences, options: options, progress: progress) }
        var plan: PretrainedModel.EmbedPlan? = nil
        var failure: Error? = nil
        do { plan = try model.embedPlan(sequences, options: options) } catch { failure = error }
        try comm.agree(failure, what: "embedding")
        guard let plan else { throw DNABertError(.internal, "distributed embedding: no plan") }
        try comm.requireSameSettings("\(n)|\(options.maxLength)|\(options.overlap)|\(options.batchSize)|\(options.pooling)|"
            + "\(options.uppercase)|\(Communicator.fingerprint(plan.tokens))|"
            + "\(model.model.checksum)", what: "embedding")
        let mine = Array(stride(from: comm.rank, to: plan.batches.count, by: comm.size))
        let windowsOf = { (r: Int) in stride(from: r, to: plan.batches.count, by: comm.size).reduce(0) { $0 + plan.batches[$1].count } }
        let localWindows = windowsOf(comm.rank)
        var local: [Double] = []
        do {
            try Memory.reserve(bytes: try Memory.byteCount(Double.self, localWindows * H, what: "embed"),
                               what: "embed: \(localWindows) windows")
            local = [Double](repeating: 0, count: localWindows * H)
            var at = 0
            for b in mine {
                try local.withUnsafeMutableBufferPointer { try model.embedBatch(plan, b, options: options, parts: $0.baseAddress! + at * H) }
                at += plan.batches[b].count
                if let progress, !progress(n * at / max(localWindows, 1), n) { throw DNABertError.cancelled }
            }
        } catch { failure = error }
        try comm.agree(failure, what: "embedding")
        let tag: Int32 = 0x454D
        var out: [Float]? = nil
        if comm.isRoot {
            // every rank's contributions, its batches in order
            // the other ranks' bytes kept as received, not copied again into [Double]: rank 0 holds every
            // window's contributions at once
            var parts: [[UInt8]] = [[]]
            for r in 1..<comm.size {
                let bytes = try comm.receive(from: r, tag: tag)
                guard bytes.count == windowsOf(r) * H * 8 else {
                    throw DNABertError(.internal, "distributed embedding: rank \(r) sent \(bytes.count) bytes, expected \(windowsOf(r) * H * 8)")
                }
                parts.append(bytes)
            }
            var acc = [Double](repeating: 0, count: n * H)
            var offset = [Int](repeating: 0, count: comm.size)
            for b in plan.batches.indices {
                let r = b % comm.size
                let add = { (d: UnsafeBufferPointer<Double>) in
                    PretrainedModel.addBatch(plan, b, parts: d.baseAddress! + offset[r] * H, hidden: H, into: &acc)
                }
                if r == 0 { local.withUnsafeBufferPointer(add) } else { parts[r].withUnsafeBytes { add($0.bindMemory(to: Double.self)) } }
                offset[r] += plan.batches[b].count
            }
            out = PretrainedModel.finishEmbedding(plan, acc, hidden: H)
        } else {
            try local.withUnsafeBytes { try comm.send($0, to: 0, tag: tag) }
        }
        if allRanks {
            var bytes = out.map { o in o.withUnsafeBytes { Array($0) } } ?? []
            try comm.broadcast(&bytes)
            out = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        return out
    }
}
