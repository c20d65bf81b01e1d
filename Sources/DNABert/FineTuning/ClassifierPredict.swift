/// Prediction on raw sequences, with an explicit policy for inputs longer than the classifier's token length.
///
/// Why: a classifier trained on 200 bp windows sees only the first ~53 tokens of a 1 kbp input when it is
/// truncated; that must never happen silently. `predict` reports how many inputs were too long (the bindings
/// warn once per call), and `.windows` scores every window of such an input and pools the windows' scores.

/// What to do with a sequence that has more tokens than the classifier's `max_length`.
public enum LongInputPolicy: Int32, Sendable {
    /// Keep the first `max_length` tokens ([CLS]/[SEP] included), as the classifier was trained (counted in
    /// `PredictReport.longInputs` so the caller can warn).
    case truncate = 0
    /// Score overlapping windows of `max_length` tokens (each with its own [CLS]/[SEP]) and pool their scores.
    case windows = 1
}

/// How the windows' scores of one sequence become its score.
public enum WindowPooling: Int32, Sendable {
    /// The mean of the windows' probabilities (or regression outputs): a calibrated average over the sequence.
    case mean = 0
    /// The largest window probability per label (or output): "is there a positive window anywhere". Class
    /// probabilities then need not sum to 1.
    case max = 1
}

public struct PredictOptions: Sendable, Equatable {
    /// Sequences (windows) per forward pass.
    public var batchSize = 32
    /// Tokens per input, [CLS]/[SEP] included; 0 = the classifier's training length (512 when none recorded).
    public var maxLength = 0
    public var longInputs = LongInputPolicy.truncate
    /// Tokens shared by consecutive windows; -1 = a quarter of the window.
    public var overlap = -1
    public var windowPooling = WindowPooling.mean
    public var threads = 0
    public init() {}
}

/// What `predict` did with the inputs' lengths.
public struct PredictReport: Sendable, Equatable {
    /// Inputs with more tokens than `maxLength` allows (truncated, or scored by windows).
    public var longInputs = 0
    /// Windows scored per strand (equals the number of inputs when none was windowed).
    public var windows = 0
    /// Tokens of the longest input ([CLS]/[SEP] included).
    public var longestTokens = 0
    /// The token length used.
    public var maxLength = 0
    public init() {}
}

extension SequenceClassifier {
    /// Scores for raw sequences (N × numLabels: softmax / sigmoid probabilities or regression outputs), and a
    /// report of the inputs that were longer than the token length. Sequences are upper-cased; a
    /// strand-symmetric classifier averages both strands' (pooled) scores.
    public func predict(_ sequences: [String], options: PredictOptions) throws -> (scores: [Float], report: PredictReport) {
        guard let tokenizer = base.tokenizer else { throw DNABertError.invalidArgument("predict: the base model has no tokenizer") }
        guard options.batchSize > 0 else { throw DNABertError.invalidArgument("predict: batch size must be positive, got \(options.batchSize)") }
        guard options.maxLength >= 0 else { throw DNABertError.invalidArgument("predict: max length must be >= 0 (0 = the classifier's), got \(options.maxLength)") }
        guard options.threads >= 0 else { throw DNABertError.invalidArgument("predict: threads must be >= 0") }
        let ml = options.maxLength > 0 ? options.maxLength : (maxLength > 0 ? maxLength : 512)
        let prefix = tokenizer.post.prefix, suffix = tokenizer.post.suffix
        let width = ml - prefix.count - suffix.count
        guard ml >= 3, width >= 1 else {
            throw DNABertError.invalidArgument("predict: max length must be at least 3 and leave room beside the special tokens, got \(ml)")
        }
        let overlap = options.overlap < 0 ? width / 4 : options.overlap
        guard overlap < width else {
            throw DNABertError.invalidArgument("predict: overlap must be in 0..<\(width) (max length − special tokens), got \(overlap)")
        }
        var report = PredictReport()
        report.maxLength = ml
        if sequences.isEmpty { return ([], report) }
        var enc = EncodeOptions()
        enc.addSpecialTokens = false
        enc.uppercase = true
        enc.withOffsets = false
        let pad = tokenizer.id(forToken: "[PAD]") ?? 0
        let C = head.numLabels

        func strand(_ seqs: [String]) throws -> [Float] {
            let tokens = EncodedExamples.encode(seqs, tokenizer: tokenizer, options: enc, threads: options.threads)
            var ids: [[Int32]] = []
            ids.reserveCapacity(tokens.count)
            var owner: [Int] = []     // window → sequence
            for (i, t) in tokens.enumerated() {
                report.longestTokens = max(report.longestTokens, t.count + prefix.count + suffix.count)
                if t.count <= width {
                    ids.append(prefix + t + suffix)
                    owner.append(i)
                    continue
                }
                report.longInputs += 1
                switch options.longInputs {
                case .truncate:
                    ids.append(prefix + t[0..<width] + suffix)
                    owner.append(i)
                case .windows:
                    for s in PretrainedModel.windowStarts(tokens: t.count, width: width, overlap: overlap) {
                        ids.append(prefix + t[s..<(s + width)] + suffix)
                        owner.append(i)
                    }
                }
            }
            report.windows = ids.count
            let windowScores = try FineTuner.scoresAndLoss(self, EncodedExamples(ids: ids, labels: []), batchSize: options.batchSize,
                                                           threads: options.threads, padId: pad, withLoss: false).0
            if ids.count == seqs.count { return windowScores }
            var out = [Float](repeating: options.windowPooling == .max ? -.infinity : 0, count: seqs.count * C)
            var count = [Int](repeating: 0, count: seqs.count)
            for (w, i) in owner.enumerated() {
                count[i] += 1
                for j in 0..<C {
                    let v = windowScores[w * C + j]
                    if options.windowPooling == .max { out[i * C + j] = Swift.max(out[i * C + j], v) } else { out[i * C + j] += v }
                }
            }
            if options.windowPooling == .mean {
                for i in 0..<seqs.count { for j in 0..<C { out[i * C + j] /= Float(count[i]) } }
            }
            return out
        }

        let forward = try strand(sequences)
        guard reverseComplement else { return (forward, report) }
        let saved = report
        let reverse = try strand(sequences.map(ReverseComplement.of))
        report = saved   // the reverse strand's lengths differ at most by tokenization; report the forward strand's
        return (zip(forward, reverse).map { ($0 + $1) / 2 }, report)
    }
}
