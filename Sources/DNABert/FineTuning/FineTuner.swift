#if canImport(Glibc)
import Glibc
#endif

extension LabelledSequences {
    /// Sequences with labels given in memory, labels as they would appear in a CSV `label` column (class index,
    /// class name, `0;2` for multi-label, a number for regression), parsed by the same rules as `read`.
    public static func fromArrays(sequences: [String], labels: [String], ids: [String]? = nil, schema: LabelSchema? = nil,
                                  problemType: ProblemType? = nil, numLabels: Int? = nil,
                                  name: String = "<memory>") throws -> LabelledSequences {
        guard !sequences.isEmpty else { throw DNABertError.invalidArgument("\(name): no sequences") }
        guard labels.count == sequences.count else {
            throw DNABertError.invalidArgument("\(name): \(labels.count) labels for \(sequences.count) sequences")
        }
        if let ids, ids.count != sequences.count {
            throw DNABertError.invalidArgument("\(name): \(ids.count) ids for \(sequences.count) sequences")
        }
        for (i, s) in sequences.enumerated() where s.isEmpty {
            throw DNABertError.invalidArgument("\(name): sequence \(i + 1) is empty")
        }
        var out = LabelledSequences(path: name, sequences: sequences, ids: ids ?? (1...sequences.count).map(String.init),
                                    schema: schema, hasLabels: false, classLabels: [], multiLabels: [], targets: [])
        try parseLabels(labels.map(trim), lines: Array(1...sequences.count), path: name, schema: schema,
                        problemType: problemType, numLabels: numLabels, into: &out)
        out.hasLabels = true
        return out
    }

    /// Sequences without labels, carrying a label mapping (e.g. a loaded classifier's, for predictions that are
    /// reported by label name).
    public static func unlabelled(sequences: [String], schema: LabelSchema?, name: String = "<memory>") throws -> LabelledSequences {
        guard !sequences.isEmpty else { throw DNABertError.invalidArgument("\(name): no sequences") }
        for (i, s) in sequences.enumerated() where s.isEmpty {
            throw DNABertError.invalidArgument("\(name): sequence \(i + 1) is empty")
        }
        return LabelledSequences(path: name, sequences: sequences, ids: (1...sequences.count).map(String.init),
                                 schema: schema, hasLabels: false, classLabels: [], multiLabels: [], targets: [])
    }

    /// The label row of example `i` as the classifier's loss takes it: [class] (single-label), a 0/1 indicator
    /// (multi-label) or [target] (regression).
    public func labelRow(_ i: Int) -> [Float] {
        switch problemType {
        case .singleLabel?: return [Float(classLabels[i])]
        case .multiLabel?:
            var r = [Float](repeating: 0, count: numLabels)
            for k in multiLabels[i] where k >= 0 && k < numLabels { r[k] = 1 }
            return r
        case .regression?: return [Float(targets[i])]
        case nil: return []
        }
    }
}

/// Settings of a fine-tuning run. Defaults follow DNABERT-2's GUE recipe (AdamW, weight decay 0.01, warm-up 50
/// steps, batch 32, best checkpoint by dev loss) with a learning rate suited to the mode.
public struct FineTuneOptions: Sendable {
    public var epochs = 3.0
    /// > 0: this many optimizer steps instead of `epochs`.
    public var maxSteps = 0
    public var batchSize = 32
    public var gradAccum = 1
    /// Peak learning rate; 0 = 3e-5 for full fine-tuning (DNABERT-2's) and 1e-3 for LoRA (adapters start at
    /// zero and need larger steps; 1e-3 chosen on the bundled tasks' dev sets, see the README).
    public var learningRate = 0.0
    /// Linear warm-up steps; < 0 = min(50, 10% of the steps).
    public var warmupSteps = -1
    public var optimizer = AdamWConfig.fineTuning
    public var maxGradNorm = 1.0
    /// Dev evaluation every N steps; 0 = once per epoch. Always at the end.
    public var evalEvery = 0
    /// What "best" means on dev: "loss" (lowest) or a metric name (highest): accuracy, f1, mcc, precision,
    /// recall; pearson, spearman, r2 for regression.
    public var selectBy = "loss"
    /// Tokens per sequence including [CLS]/[SEP]; longer sequences are truncated. 0 = the longest training
    /// sequence's token count, at most 512.
    public var maxLength = 0
    /// Strand-symmetric task (sequences from either strand): each training example is reverse-complemented
    /// with probability 1/2 every time it is drawn, and the classifier scores a sequence by the mean of both
    /// strands' probabilities (`SequenceClassifier.reverseComplement`). Not for strand-specific tasks such as
    /// oriented promoters or splice sites. nil (default) = auto: on when the training sequences are strand-symmetric
    /// in composition (`FineTuning.strandAsymmetry` below `FineTuning.strandSymmetricThreshold`), as sequences
    /// drawn from a random strand are, off otherwise (oriented windows: start codons, splice sites, promoters).
    public var reverseComplement: Bool? = nil
    public var threads = 0
    public var seed: UInt64 = 0
    /// An output folder managed by the run (`FineTuneRunFolder`): metrics.jsonl, the best classifier saved after
    /// each improving dev evaluation, the kept classifier and loss.svg at the end, test files by `test(_:)`.
    public var outputDirectory: String? = nil
    /// The base model's name or path, recorded in a saved adapter's adapter_config.json.
    public var baseModelName: String? = nil
    /// Data-parallel over MPI (`mpirun -np N`): micro-batch k of a step runs on rank k mod N (N ranks × gradAccum
    /// g compute what one process computes with gradAccum N·g); dev evaluation is sharded; rank 0 writes.
    public var distributed = false
    public init() {}

    public func validate() throws {
        guard epochs > 0 || maxSteps > 0, epochs.isFinite, epochs <= 100_000 else {
            throw DNABertError.invalidArgument("fine-tune: epochs must be in (0, 100000], got \(epochs)")
        }
        guard maxSteps >= 0, maxSteps <= 1 << 40 else { throw DNABertError.invalidArgument("fine-tune: max steps must be in 0...2^40") }
        guard batchSize > 0, batchSize <= 1 << 16 else { throw DNABertError.invalidArgument("fine-tune: batch size must be in 1...65536, got \(batchSize)") }
        guard gradAccum > 0, gradAccum <= 1 << 16 else { throw DNABertError.invalidArgument("fine-tune: grad accumulation must be positive") }
        guard learningRate >= 0, learningRate.isFinite, learningRate < 10 else { throw DNABertError.invalidArgument("fine-tune: learning rate must be in [0, 10)") }
        guard maxGradNorm >= 0, maxGradNorm.isFinite else { throw DNABertError.invalidArgument("fine-tune: max grad norm must be >= 0") }
        guard evalEvery >= 0 else { throw DNABertError.invalidArgument("fine-tune: eval interval must be >= 0") }
        guard maxLength == 0 || (maxLength >= 3 && maxLength <= 1 << 20) else {
            throw DNABertError.invalidArgument("fine-tune: max length must be 0 (auto) or in 3...\(1 << 20), got \(maxLength)")
        }
        guard FineTuneEvaluation.selectable.contains(selectBy) else {
            throw DNABertError.invalidArgument("fine-tune: cannot select by '\(selectBy)'; choose one of \(FineTuneEvaluation.selectable.joined(separator: ", "))")
        }
        try optimizer.validate()
    }
}

/// Loss and GUE-style metrics of a classifier on a labelled data set.
public struct FineTuneEvaluation: Sendable {
    public var loss: Double
    /// accuracy, f1, mcc, precision, recall (classification; macro averages) or pearson, spearman, mse, mae, r2.
    public var metrics: [(String, Double)]
    /// N × numLabels: class probabilities (softmax), label probabilities (sigmoid) or regression outputs.
    public var scores: [Float]
    /// Single-label confusion matrix (rows = true class), else empty.
    public var confusion: [[Int]]

    public static let selectable = MetricNames.selectable

    public func value(_ name: String) -> Double? {
        name == "loss" ? loss : metrics.first { $0.0 == name }?.1
    }
}

/// One step's record of a fine-tuning run; `dev` is set when the dev set was evaluated after this step.
public struct FineTuneProgress: Sendable {
    public var progress: TrainingProgress
    public var epoch: Double
    public var dev: FineTuneEvaluation?
    public init(progress: TrainingProgress, epoch: Double, dev: FineTuneEvaluation? = nil) {
        self.progress = progress
        self.epoch = epoch
        self.dev = dev
    }
}

/// Tokenized examples, sorted or shuffled into batches.
struct EncodedExamples {
    var ids: [[Int32]]
    /// The reverse complements' tokens (strand-symmetric classifiers), else nil.
    var rcIds: [[Int32]]? = nil
    var labels: [[Float]]
    var count: Int { ids.count }

    init(_ data: LabelledSequences, tokenizer: Tokenizer, maxLength: Int, bothStrands: Bool, threads: Int) {
        self.init(sequences: data.sequences, tokenizer: tokenizer, maxLength: maxLength, bothStrands: bothStrands, threads: threads)
        labels = data.hasLabels ? (0..<data.count).map { data.labelRow($0) } : []
    }

    init(sequences: [String], tokenizer: Tokenizer, maxLength: Int, bothStrands: Bool, threads: Int) {
        var o = EncodeOptions()
        o.uppercase = true
        o.withOffsets = false
        o.maxLength = maxLength
        ids = EncodedExamples.encode(sequences, tokenizer: tokenizer, options: o, threads: threads)
        if bothStrands {
            rcIds = EncodedExamples.encode(sequences.map(ReverseComplement.of), tokenizer: tokenizer, options: o, threads: threads)
        }
        labels = []
    }

    /// The same examples on the other strand (nil when the reverse complements were not encoded).
    var reversed: EncodedExamples? {
        rcIds.map { EncodedExamples(ids: $0, labels: labels) }
    }

    static func encode(_ seqs: [String], tokenizer: Tokenizer, options: EncodeOptions, threads: Int) -> [[Int32]] {
        var out: [[Int32]] = []
        out.reserveCapacity(seqs.count)
        var start = 0
        // In chunks, so the UTF-8 copies stay small.
        while start < seqs.count {
            let end = min(seqs.count, start + 4096)
            // One contiguous UTF-8 arena per chunk, viewed per sequence.
            var arena: [UInt8] = []
            var spans: [(Int, Int)] = []
            for s in seqs[start..<end] { let a = Array(s.utf8); spans.append((arena.count, a.count)); arena += a }
            arena.withUnsafeBufferPointer { ab in
                let views = spans.map { UnsafeBufferPointer(rebasing: ab[$0.0..<($0.0 + $0.1)]) }
                for e in tokenizer.encodeBatch(views, options: options, threads: threads) { out.append(e.ids) }
            }
            start = end
        }
        return out
    }

    /// A padded batch of the given examples (padded to the longest; pad id 0 with mask 0).
    /// `reverse[r]`: take row r from the reverse-complement encodings.
    func batch(_ idx: ArraySlice<Int>, padId: Int32, reverse: [Bool]? = nil) -> ClassificationBatch {
        func row(_ r: Int, _ i: Int) -> [Int32] {
            if let reverse, reverse[r], let rcIds { return rcIds[i] }
            return ids[i]
        }
        let L = idx.enumerated().map { row($0.offset, $0.element).count }.max() ?? 1
        var flat = [Int32](repeating: padId, count: idx.count * L)
        var mask = [Int32](repeating: 0, count: idx.count * L)
        var lab: [Float] = []
        for (r, i) in idx.enumerated() {
            for (j, t) in row(r, i).enumerated() { flat[r * L + j] = t; mask[r * L + j] = 1 }
            if !labels.isEmpty { lab += labels[i] }
        }
        return ClassificationBatch(ids: flat, attentionMask: mask, batch: idx.count, length: L, labels: lab)
    }
}

/// Fine-tunes a `SequenceClassifier` on labelled sequences: shuffled mini-batches padded to their longest
/// sequence → gradient of the trainable buffer (accumulated over micro-batches) → clipping → AdamW with linear
/// warm-up and decay; dev evaluation on schedule keeping the best parameters (restored at the end).
public final class FineTuner {
    public let classifier: SequenceClassifier
    public let options: FineTuneOptions
    public let schema: LabelSchema
    public let stepsPerEpoch: Int
    public let totalSteps: Int
    public let learningRate: Double
    public let schedule: LRSchedule
    public let optimizer: AdamW
    let train: EncodedExamples
    let dev: EncodedExamples?
    let devData: LabelledSequences?
    let grad: UnsafeMutableBufferPointer<Float>
    /// Distributed: sums `grad` over the ranks. Full fine-tuning: bucket by bucket (head, layers last to first,
    /// embeddings) while the backward of the last local micro-batch runs, as pretraining does; LoRA: the small
    /// adapter buffer in one bucket after the backward.
    let reducer: GradientReducer
    let padId: Int32
    private var order: [Int] = []
    private var cursor = 0
    private var epochIndex = 0
    private var rng: Xoshiro256
    public private(set) var step = 0
    public private(set) var history: [FineTuneProgress] = []
    /// Step and dev value of the best evaluation so far.
    public private(set) var best: (step: Int, value: Double, evaluation: FineTuneEvaluation)? = nil
    private var bestParameters: [Float]? = nil
    private var tokensSeen = 0
    private let started = Clock.now()
    /// The managed output folder (options.outputDirectory), if any; only on rank 0 of a distributed run.
    public let runFolder: FineTuneRunFolder?
    /// The ranks of a distributed run (`.single` otherwise).
    public let comm: Communicator
    /// Micro-batches per optimizer step over all ranks.
    public var globalMicroBatches: Int { comm.size * options.gradAccum }

    public init(classifier: SequenceClassifier, train: LabelledSequences, dev: LabelledSequences? = nil,
                options: FineTuneOptions, communicator: Communicator? = nil) throws {
        try options.validate()
        comm = try communicator ?? (options.distributed ? Communicator.world() : .single)
        guard let tokenizer = classifier.base.tokenizer else {
            throw DNABertError.invalidArgument("fine-tune: the base model has no tokenizer")
        }
        guard train.hasLabels, let schema = train.schema else { throw DNABertError.invalidArgument("fine-tune: the training data has no labels") }
        guard schema.problemType == classifier.head.problemType, schema.numLabels == classifier.head.numLabels else {
            throw DNABertError.invalidArgument("fine-tune: the data is \(schema.problemType.rawValue) with \(schema.numLabels) labels, the classifier \(classifier.head.problemType.rawValue) with \(classifier.head.numLabels)")
        }
        if let dev {
            guard dev.hasLabels, dev.schema == schema else {
                throw DNABertError.invalidArgument("fine-tune: the dev data's labels differ from the training data's (read it with the training set's schema)")
            }
        }
        if !MetricNames.applies(options.selectBy, to: schema.problemType) {
            throw DNABertError.invalidArgument("fine-tune: '\(options.selectBy)' is not a metric of \(schema.problemType.rawValue)")
        }
        self.classifier = classifier
        self.options = options
        self.schema = schema
        var maxLen = options.maxLength
        let both = FineTuning.strandSymmetric(train, options: options)
        var encodedTrain: EncodedExamples? = nil
        if maxLen == 0 {
            // The untruncated encodings (of both strands when both are used) give the length; they are the
            // training set unless some exceed 512.
            let full = EncodedExamples(train, tokenizer: tokenizer, maxLength: 0, bothStrands: both, threads: options.threads)
            let longest = (full.ids + (full.rcIds ?? [])).map(\.count).max() ?? 3
            maxLen = min(512, max(3, longest))
            if longest <= maxLen { encodedTrain = full }
        }
        classifier.maxLength = maxLen
        classifier.reverseComplement = both
        if classifier.labelNames == nil { classifier.labelNames = schema.labelNames }
        self.train = encodedTrain ?? EncodedExamples(train, tokenizer: tokenizer, maxLength: maxLen, bothStrands: both, threads: options.threads)
        self.dev = dev.map { EncodedExamples($0, tokenizer: tokenizer, maxLength: maxLen, bothStrands: both, threads: options.threads) }
        devData = dev
        padId = tokenizer.id(forToken: "[PAD]") ?? 0
        let perStep = options.batchSize * options.gradAccum * comm.size
        stepsPerEpoch = max(1, (train.count + perStep - 1) / perStep)
        totalSteps = options.maxSteps > 0 ? options.maxSteps : max(1, Int((Double(stepsPerEpoch) * options.epochs).rounded(.up)))
        learningRate = options.learningRate > 0 ? options.learningRate : (classifier.lora == nil ? 3e-5 : 1e-3)
        let warm = options.warmupSteps >= 0 ? options.warmupSteps : min(50, totalSteps / 10)
        schedule = try LRSchedule(peak: learningRate, warmupSteps: warm, totalSteps: totalSteps)
        optimizer = try AdamW(layout: classifier.layout, config: options.optimizer)
        try comm.requireSameSettings("\(options)|\(train.count)|\(Communicator.fingerprint(self.train.ids))|\(dev?.count ?? -1)|"
            + "\(Communicator.checksum(UnsafeBufferPointer(classifier.parameters)))|"
            + "\(classifier.base.model.checksum)", what: "fine-tuning")
        var folder: FineTuneRunFolder? = nil, failure: Error? = nil
        if comm.isRoot {
            do { folder = try options.outputDirectory.map { try FineTuneRunFolder(directory: $0, baseModelName: options.baseModelName) } }
            catch { failure = error }
        }
        try comm.agree(failure, what: "creating the output folder")
        let n = max(classifier.layout.total, 1)
        var raw: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&raw, 64, n * 4) == 0, let p = raw else {
            throw DNABertError(.outOfMemory, "fine-tune: cannot allocate the gradient buffer")
        }
        grad = UnsafeMutableBufferPointer(start: p.bindMemory(to: Float.self, capacity: n), count: classifier.layout.total)
        reducer = GradientReducer(comm: comm, grad: grad, layout: classifier.lora == nil ? classifier.layout : nil)
        rng = Xoshiro256(seed: options.seed ^ 0xF17E_70E5)
        runFolder = folder
        shuffle()
    }

    deinit { free(grad.baseAddress) }

    private func shuffle() {
        order = Array(0..<train.count)
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        cursor = 0
    }

    func nextBatch() -> ClassificationBatch {
        if cursor >= order.count { epochIndex += 1; shuffle() }
        let end = min(order.count, cursor + options.batchSize)
        let reverse = train.rcIds == nil ? nil : (cursor..<end).map { _ in (rng.next() >> 63) == 1 }
        let b = train.batch(order[cursor..<end], padId: padId, reverse: reverse)
        cursor = end
        return b
    }

    public var epoch: Double { Double(step) / Double(stepsPerEpoch) }

    var elapsedSeconds: Double { Clock.now() - started }

    /// One optimizer step (grad_accum micro-batches). The returned record has no dev figures.
    @discardableResult
    public func trainStep() throws -> FineTuneProgress {
        guard step < totalSteps else { throw DNABertError.invalidArgument("fine-tune: all \(totalSteps) steps are done") }
        if let g = grad.baseAddress { memset(g, 0, grad.count * 4) }
        var loss = 0.0, tokens = 0
        // Distributed: every rank draws all G micro-batches (the order does not depend on the rank count) and
        // computes those with k mod ranks = rank; dropout masks follow the global micro-batch index.
        let G = globalMicroBatches
        reducer.reset()
        for k in 0..<G {
            let b = nextBatch()
            guard k % comm.size == comm.rank else { continue }
            classifier.calls = UInt64(step * G + k)
            // Full fine-tuning: the backward of this rank's last micro-batch starts the buckets' allreduces.
            classifier.reducer = classifier.lora == nil && k + comm.size >= G ? reducer : nil
            defer { classifier.reducer = nil }
            let r = try classifier.lossAndGradient(b, into: grad, threads: options.threads, scale: 1 / Double(G))
            loss += r.loss / Double(G)
            tokens += b.attentionMask.reduce(0) { $0 + Int($1) }
        }
        classifier.calls = UInt64((step + 1) * G)
        if comm.size > 1 {
            try reducer.finish()
            var f = [loss, Double(tokens)]
            try comm.sum(&f)
            loss = f[0]; tokens = Int(f[1])
        }
        tokensSeen += tokens
        let norm = options.maxGradNorm > 0
            ? try GradClip.clip(grad, maxNorm: options.maxGradNorm, threads: options.threads)
            : GradClip.globalNorm(UnsafeBufferPointer(grad), threads: options.threads)
        guard loss.isFinite, norm.isFinite else {
            throw DNABertError(.internal, "fine-tune: the loss or gradient is not finite at step \(step + 1) (loss \(loss)); lower the learning rate")
        }
        let lr = schedule.lr(at: step)
        try optimizer.update(parameters: classifier.parameters, gradients: UnsafeBufferPointer(grad), lr: lr, threads: options.threads)
        step += 1
        let p = TrainingProgress(step: step, totalSteps: totalSteps, loss: loss, learningRate: lr, gradNorm: norm,
                                 tokens: tokensSeen, elapsedSeconds: elapsedSeconds)
        return FineTuneProgress(progress: p, epoch: epoch, dev: nil)
    }

    /// Loss and metrics of the classifier on labelled data (no dropout), in batches sorted by length.
    public func evaluate(_ data: LabelledSequences) throws -> FineTuneEvaluation {
        guard let tokenizer = classifier.base.tokenizer else { throw DNABertError.invalidArgument("evaluate: the base model has no tokenizer") }
        let enc = EncodedExamples(data, tokenizer: tokenizer, maxLength: classifier.maxLength, bothStrands: classifier.reverseComplement,
                                  threads: options.threads)
        return try FineTuner.evaluate(classifier, enc, data, batchSize: max(options.batchSize, 32), threads: options.threads, padId: padId)
    }

    static func evaluate(_ clf: SequenceClassifier, _ enc: EncodedExamples, _ data: LabelledSequences, batchSize: Int,
                         threads: Int, padId: Int32, comm: Communicator = .single) throws -> FineTuneEvaluation {
        guard data.hasLabels, let schema = data.schema else { throw DNABertError.invalidArgument("evaluate: the data has no labels") }
        guard schema.problemType == clf.head.problemType, schema.numLabels == clf.head.numLabels else {
            throw DNABertError.invalidArgument("evaluate: the data is \(schema.problemType.rawValue) with \(schema.numLabels) labels, the classifier \(clf.head.problemType.rawValue) with \(clf.head.numLabels)")
        }
        let (scores, lossSum) = try scoresAndLoss(clf, enc, batchSize: batchSize, threads: threads, padId: padId, withLoss: true,
                                                  comm: comm)
        return try evaluation(scores: scores, data, numLabels: clf.head.numLabels, loss: lossSum / Double(max(enc.count, 1)))
    }

    /// Metrics of given scores (N × numLabels, as `predict` returns them) against labelled data.
    public static func evaluation(scores: [Float], _ data: LabelledSequences, numLabels C: Int, loss: Double = .nan) throws -> FineTuneEvaluation {
        guard data.hasLabels, let schema = data.schema else { throw DNABertError.invalidArgument("evaluate: the data has no labels") }
        guard scores.count == data.count * C else {
            throw DNABertError.invalidArgument("evaluate: \(scores.count) scores for \(data.count) sequences × \(C) labels")
        }
        var metrics: [(String, Double)] = []
        var confusion: [[Int]] = []
        switch schema.problemType {
        case .singleLabel:
            let pred = try Metrics.decide(problemType: .singleLabel, scores: scores, numLabels: C).map { Int($0) }
            let m = try Metrics.classification(predicted: pred, truth: data.classLabels, numClasses: C)
            metrics = m.dictionary
            confusion = m.confusion
        case .multiLabel:
            let flat = try Metrics.decide(problemType: .multiLabel, scores: scores, numLabels: C)
            let p = (0..<data.count).map { i in (0..<C).map { flat[i * C + $0] == 1 } }
            let t = try Metrics.indicators(data.multiLabels, numLabels: C)
            metrics = try Metrics.multiLabel(predicted: p, truth: t).dictionary
        case .regression:
            metrics = try Metrics.regression(predicted: scores.map(Double.init), truth: data.targets).dictionary
        }
        // One spelling for MCC across the APIs ("mcc"; GUE's scripts say matthews_correlation).
        metrics = metrics.map { (MetricNames.canonical($0.0), $0.1) }
        return FineTuneEvaluation(loss: loss, metrics: metrics, scores: scores, confusion: confusion)
    }

    /// Scores (probabilities / outputs) in the original order, batches sorted by length; and the summed loss.
    /// With reverse-complement encodings: the mean of both strands' scores, and the mean of their losses.
    /// Distributed (`comm`): batch j on rank j mod ranks; scores (zero where another rank computed, so the sum is
    /// exact) and losses are summed over the ranks.
    static func scoresAndLoss(_ clf: SequenceClassifier, _ enc: EncodedExamples, batchSize: Int, threads: Int, padId: Int32,
                              withLoss: Bool, comm: Communicator = .single) throws -> ([Float], Double) {
        if let rc = enc.reversed {
            var forward = enc
            forward.rcIds = nil
            let (a, la) = try scoresAndLoss(clf, forward, batchSize: batchSize, threads: threads, padId: padId, withLoss: withLoss, comm: comm)
            let (b, lb) = try scoresAndLoss(clf, rc, batchSize: batchSize, threads: threads, padId: padId, withLoss: withLoss, comm: comm)
            return (zip(a, b).map { ($0 + $1) / 2 }, (la + lb) / 2)
        }
        let C = clf.head.numLabels
        let sorted = (0..<enc.count).sorted { enc.ids[$0].count < enc.ids[$1].count }
        var scores = [Float](repeating: 0, count: enc.count * C)
        var lossSum = 0.0
        var at = 0, j = -1
        while at < sorted.count {
            let end = min(sorted.count, at + batchSize)
            let idx = sorted[at..<end]
            j += 1
            guard j % comm.size == comm.rank else { at = end; continue }
            let b = enc.batch(idx, padId: padId)
            var lg: [Float]
            if withLoss && !enc.labels.isEmpty {
                let r = try clf.evaluate(b, threads: threads)
                lossSum += r.loss * Double(idx.count)
                lg = r.logits
            } else {
                lg = try b.ids.withUnsafeBufferPointer { ids in
                    try b.attentionMask.withUnsafeBufferPointer { am in
                        try clf.logits(ids: ids, batch: b.batch, length: b.length, attentionMask: am, threads: threads)
                    }
                }
            }
            clf.probabilities(&lg, rows: idx.count)
            for (r, i) in idx.enumerated() {
                for j in 0..<C { scores[i * C + j] = lg[r * C + j] }
            }
            at = end
        }
        if comm.size > 1 {
            try scores.withUnsafeMutableBufferPointer { try comm.sum($0) }
            var l = [lossSum]
            try comm.sum(&l)
            lossSum = l[0]
        }
        return (scores, lossSum)
    }

    /// One step with the run's bookkeeping: dev evaluation when due (recording the best parameters).
    @discardableResult
    public func advance() throws -> FineTuneProgress {
        var p = try trainStep()
        let last = step == totalSteps
        let every = options.evalEvery > 0 ? options.evalEvery : stepsPerEpoch
        var newBest = false
        if let dev, let devData, last || step % every == 0 {
            let e = try FineTuner.evaluate(classifier, dev, devData, batchSize: max(options.batchSize, 32), threads: options.threads, padId: padId,
                                           comm: comm)
            p.dev = e
            p.progress.validationLoss = e.loss
            p.progress.validationAccuracy = e.value("accuracy")
            if let v = e.value(options.selectBy), v.isFinite {
                let better = best.map { options.selectBy == "loss" ? v < $0.value : v > $0.value } ?? true
                if better {
                    best = (step, v, e)
                    bestParameters = Array(classifier.parameters)
                    newBest = true
                }
            }
        }
        history.append(p)
        var failure: Error? = nil
        do { try runFolder?.record(p, newBest: newBest, classifier: classifier) } catch { failure = error }
        try comm.agree(failure, what: "writing the run folder")
        return p
    }

    /// Runs to the last step; then, when a dev set was given, restores the best parameters. `progress`
    /// returning false stops early (throws `.cancelled`; the classifier keeps the best parameters so far).
    @discardableResult
    public func run(progress: ((FineTuneProgress) -> Bool)? = nil) throws -> [FineTuneProgress] {
        while step < totalSteps {
            let p = try advance()
            if let progress, try comm.any(!progress(p)) {
                restoreBest()
                throw DNABertError.cancelled
            }
        }
        restoreBest()
        classifier.releaseScratch()
        var failure: Error? = nil
        do { try runFolder?.finish(classifier: classifier, history: history.map(\.progress)) } catch { failure = error }
        try comm.agree(failure, what: "saving the classifier")
        return history
    }

    /// Loss and figures of the classifier as it is now (after `run`: the kept parameters) on `data`, read with the
    /// training data's label mapping; with an output folder also test_metrics.json and test_predictions.csv.
    public func test(_ data: LabelledSequences) throws -> FineTuneEvaluation {
        guard data.hasLabels, data.schema == schema else {
            throw DNABertError.invalidArgument("fine-tune: the test data's labels differ from the training data's (read it with the training set's schema)")
        }
        let e = try classifier.evaluate(data, batchSize: max(options.batchSize, 32), threads: options.threads)
        try runFolder?.writeTest(e, data: data, schema: schema)
        return e
    }

    /// Puts the best dev parameters (if any) into the classifier.
    public func restoreBest() {
        guard let bp = bestParameters, bp.count == classifier.parameters.count, let dst = classifier.parameters.baseAddress else { return }
        bp.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: bp.count) }
    }
}

extension SequenceClassifier {
    /// Logits → probabilities in place: softmax per row (single-label), sigmoid (multi-label); regression
    /// outputs are left as they are.
    public func probabilities(_ lg: inout [Float], rows: Int) {
        let C = head.numLabels
        switch head.problemType {
        case .singleLabel:
            for r in 0..<rows {
                var mx = lg[r * C]
                for j in 1..<C where lg[r * C + j] > mx { mx = lg[r * C + j] }
                var s = 0.0
                for j in 0..<C { s += Glibc.exp(Double(lg[r * C + j] - mx)) }
                for j in 0..<C { lg[r * C + j] = Float(Glibc.exp(Double(lg[r * C + j] - mx)) / s) }
            }
        case .multiLabel:
            for i in 0..<(rows * C) { lg[i] = Float(1 / (1 + Glibc.exp(-Double(lg[i])))) }
        case .regression:
            break
        }
    }

    /// Scores for raw sequences: N × numLabels probabilities (softmax / sigmoid) or regression outputs.
    /// Sequences are upper-cased and truncated to `maxLength` tokens (or `maxLength` here when given); see
    /// `predict(_:options:)` for sliding windows over longer inputs and the count of truncated ones.
    public func predict(_ sequences: [String], batchSize: Int = 32, maxLength: Int? = nil, threads: Int = 0) throws -> [Float] {
        // One path for every caller (ClassifierPredict.swift): truncation here, windows on request there.
        var o = PredictOptions()
        o.batchSize = batchSize
        if let maxLength {
            guard maxLength >= 3 else { throw DNABertError.invalidArgument("predict: max length must be at least 3, got \(maxLength)") }
            o.maxLength = maxLength
        }
        o.threads = threads
        return try predict(sequences, options: o).scores
    }

    /// Loss and metrics on labelled data (see `FineTuner.evaluate`).
    public func evaluate(_ data: LabelledSequences, batchSize: Int = 32, threads: Int = 0) throws -> FineTuneEvaluation {
        guard let tokenizer = base.tokenizer else { throw DNABertError.invalidArgument("evaluate: the base model has no tokenizer") }
        let enc = EncodedExamples(data, tokenizer: tokenizer, maxLength: maxLength > 0 ? maxLength : 512,
                                  bothStrands: reverseComplement, threads: threads)
        return try FineTuner.evaluate(self, enc, data, batchSize: batchSize, threads: threads, padId: tokenizer.id(forToken: "[PAD]") ?? 0)
    }
}

extension EncodedExamples {
    init(ids: [[Int32]], labels: [[Float]]) {
        self.ids = ids
        self.labels = labels
    }
}

/// The one-call entry point used by the C API and the CLI.
public enum FineTuning {
    /// Strand asymmetry of a set of sequences: sum over 3-mers w of |count(w) - count(revcomp(w))| divided by the
    /// number of 3-mers (ACGT only; case folded). About 0 for sequences taken from a random strand (every 3-mer is
    /// as frequent as its reverse complement), clearly positive for oriented windows: 0.013 on coding_200 against
    /// 0.157 (gene_start_300) and 0.164 (splice_400).
    public static func strandAsymmetry(_ data: LabelledSequences) -> Double {
        var counts = [Int](repeating: 0, count: 64)
        var total = 0
        for s in data.sequences {
            var code = 0, valid = 0
            for b in s.utf8 {
                let c: Int
                switch b | 0x20 {
                case 0x61: c = 0   // a
                case 0x63: c = 1   // c
                case 0x67: c = 2   // g
                case 0x74: c = 3   // t
                default: valid = 0; continue
                }
                code = ((code << 2) | c) & 63
                valid += 1
                if valid >= 3 { counts[code] += 1; total += 1 }
            }
        }
        guard total > 0 else { return 1 }
        var diff = 0
        for w in 0..<64 {
            // reverse complement of a 3-mer code: complement = 3 - base, order reversed
            let a = w >> 4, b = (w >> 2) & 3, c = w & 3
            let rc = ((3 - c) << 4) | ((3 - b) << 2) | (3 - a)
            diff += abs(counts[w] - counts[rc])
        }
        return Double(diff) / Double(total)
    }
    /// Below this strand asymmetry, `FineTuneOptions.reverseComplement == nil` (auto) fine-tunes strand-symmetric.
    public static let strandSymmetricThreshold = 0.05

    /// Whether a run on `train` with `options` is strand-symmetric: `options.reverseComplement` when set, else the
    /// auto rule (strand asymmetry below `strandSymmetricThreshold`).
    public static func strandSymmetric(_ train: LabelledSequences, options: FineTuneOptions) -> Bool {
        options.reverseComplement ?? (strandAsymmetry(train) < strandSymmetricThreshold)
    }

    /// The pooling of `pooling: nil` (auto), tied to the strand rule: mean pooling for a strand-symmetric run,
    /// DNABERT-2's [CLS] pooler for an oriented one. Chosen on the three tasks' dev sets with the defaults
    /// (README "Defaults"): [CLS] was better on the oriented gene_start_300 and splice_400 (dev MCC 0.735 against
    /// 0.716, 0.452 against 0.383), mean on the strand-symmetric coding_200 (0.758 against 0.750).
    public static func autoPooling(strandSymmetric: Bool) -> Pooling { strandSymmetric ? .mean : .cls }

    /// A fine-tuning run of a new classifier on `base` whose head matches the training labels: LoRA with `lora`,
    /// full fine-tuning with nil. `balancedClassWeights`: single-label loss weights N / (K · n_k) (0 for a class
    /// absent from the training data).
    public static func start(base: PretrainedModel, train: LabelledSequences, dev: LabelledSequences?, options: FineTuneOptions,
                             lora: LoRAConfig?, pooling: Pooling? = nil, balancedClassWeights: Bool = false,
                             dropout: Double? = nil) throws -> FineTuner {
        guard train.hasLabels, let schema = train.schema else { throw DNABertError.invalidArgument("fine-tune: the training data has no labels") }
        // the strand decision, made once here (FineTuner keeps it) and followed by auto pooling
        let both = strandSymmetric(train, options: options)
        var options = options
        options.reverseComplement = both
        let pooling = pooling ?? autoPooling(strandSymmetric: both)
        var weights: [Double]? = nil
        if balancedClassWeights {
            guard schema.problemType == .singleLabel else {
                throw DNABertError.invalidArgument("fine-tune: class weights apply to single-label classification only")
            }
            var counts = [Int](repeating: 0, count: schema.numLabels)
            for y in train.classLabels where y >= 0 && y < counts.count { counts[y] += 1 }
            weights = counts.map { $0 == 0 ? 0 : Double(train.count) / (Double(schema.numLabels) * Double($0)) }
        }
        let head = ClassifierHead(numLabels: schema.numLabels, problemType: schema.problemType, pooling: pooling,
                                  dropout: dropout, classWeights: weights)
        let clf = try SequenceClassifier(base: base, head: head, lora: lora, dropout: dropout, seed: options.seed)
        clf.labelNames = schema.labelNames
        return try FineTuner(classifier: clf, train: train, dev: dev, options: options)
    }
}
