/// Embedding shared out over the ranks of a data-parallel job: record i is embedded on rank i mod ranks, and
/// rank 0 collects the rows back in input order. A record's embedding does not depend on which records share
/// its forward passes (windows are packed without padding), so the result equals a one-process run bit for
/// bit (tested). Ranks with no record (fewer records than ranks) take part with nothing to send.
public enum DistributedEmbedding {
    /// Every rank passes the same `sequences`. Returns [n, hidden] on rank 0 (on every rank when `allRanks`),
    /// nil on the others.
    public static func embed(_ model: PretrainedModel, _ sequences: [UnsafeBufferPointer<UInt8>], options: EmbedOptions,
                             comm: Communicator, allRanks: Bool = false,
                             progress: ((Int, Int) -> Bool)? = nil) throws -> [Float]? {
        let n = sequences.count, H = model.model.config.hiddenSize
        guard comm.size > 1 else { return try model.embed(sequences, options: options, progress: progress) }
        try comm.requireSameSettings("\(n)|\(options.maxLength)|\(options.overlap)|\(options.pooling)|\(options.uppercase)|"
            + "\(Communicator.checksum(UnsafeBufferPointer(model.model.parameters)))", what: "embedding")
        let mine = stride(from: comm.rank, to: n, by: comm.size).map { $0 }
        var local: [Float] = []
        var failure: Error? = nil
        do { local = try model.embed(mine.map { sequences[$0] }, options: options, progress: progress) } catch { failure = error }
        try comm.agree(failure, what: "embedding")
        let tag: Int32 = 0x454D
        var out: [Float]? = nil
        if comm.isRoot {
            var all = [Float](repeating: 0, count: n * H)
            func place(_ rows: UnsafeBufferPointer<Float>, rank: Int) throws {
                let idx = Array(stride(from: rank, to: n, by: comm.size))
                guard rows.count == idx.count * H else {
                    throw DNABertError(.internal, "distributed embedding: rank \(rank) sent \(rows.count) floats, expected \(idx.count * H)")
                }
                for (j, i) in idx.enumerated() {
                    for h in 0..<H { all[i * H + h] = rows[j * H + h] }
                }
            }
            try local.withUnsafeBufferPointer { try place($0, rank: 0) }
            for r in 1..<comm.size {
                let bytes = try comm.receive(from: r, tag: tag)
                try bytes.withUnsafeBytes { try place($0.bindMemory(to: Float.self), rank: r) }
            }
            out = all
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
