/// One masked-language-modelling batch, row-major `[batch, length]`.
/// `labels` holds the original token id at the positions the loss is taken on and -100 elsewhere
/// (PyTorch's `ignore_index`); `attentionMask` is 1 for real tokens, 0 for padding.
public struct MLMBatch: Sendable {
    public var ids: [Int32]
    public var attentionMask: [Int32]
    public var labels: [Int32]
    public var batch: Int
    public var length: Int

    /// Label value of positions that are not prediction targets.
    public static let ignoreIndex: Int32 = -100

    public init(ids: [Int32], attentionMask: [Int32], labels: [Int32], batch: Int, length: Int) {
        self.ids = ids
        self.attentionMask = attentionMask
        self.labels = labels
        self.batch = batch
        self.length = length
    }

    /// Number of target positions (labels != -100).
    public var targetCount: Int { labels.reduce(0) { $0 + ($1 == MLMBatch.ignoreIndex ? 0 : 1) } }

    /// Throws `.invalidArgument` unless the three arrays have batch × length entries.
    public func validate() throws {
        guard batch > 0, length > 0 else {
            throw DNABertError.invalidArgument("MLM batch: batch and length must be positive, got \(batch) × \(length)")
        }
        let (n, overflow) = batch.multipliedReportingOverflow(by: length)
        guard !overflow, ids.count == n, attentionMask.count == n, labels.count == n else {
            throw DNABertError.invalidArgument("MLM batch: ids/attentionMask/labels must each have \(batch) × \(length) entries, got \(ids.count)/\(attentionMask.count)/\(labels.count)")
        }
    }
}
