#if canImport(Glibc)
import Glibc
#endif

/// Settings of a masked-language-model pretraining run. Defaults follow DNABERT-2's recipe where it fits a CPU.
public struct PretrainOptions: Sendable {
    public var steps = 1000
    /// Sequences per micro-batch.
    public var batchSize = 32
    /// Micro-batches per optimizer step (effective batch = batchSize × gradAccum).
    public var gradAccum = 1
    public var learningRate = 5e-4
    /// Linear warm-up steps (then linear decay to 0); nil = 6% of the steps, as DNABERT-2 (30k of 500k).
    public var warmupSteps: Int? = nil
    public var optimizer = AdamWConfig.pretraining
    /// Global-norm gradient clipping; 0 = none.
    public var maxGradNorm = 1.0
    /// Hidden dropout; nil = the config's (0.1).
    public var dropout: Double? = nil
    public var seed: UInt64 = 0
    public var threads = 0
    /// Validation every this many steps (and at the end); 0 = only at the end.
    public var evalEvery = 100
    /// A checkpoint every this many steps (and at the end); 0 = only at the end.
    public var checkpointEvery = 500
    public var keepCheckpoints = 3
    public var data = PretrainingDataOptions()
    /// Data-parallel over MPI (launched with `mpirun -np N`): micro-batch k of step s (global index s·G + k,
    /// G = ranks × gradAccum) runs on rank k mod ranks, so the run equals one process with gradAccum G.
    public var distributed = false
    /// Distributed: compare a checksum of the weights across ranks every this many steps (0 = never).
    public var checksumEvery = 50
    public init() {}

    public func validate() throws {
        guard steps > 0 else { throw DNABertError.invalidArgument("pretrain: steps must be positive, got \(steps)") }
        guard batchSize > 0 else { throw DNABertError.invalidArgument("pretrain: batch size must be positive, got \(batchSize)") }
        guard gradAccum > 0 else { throw DNABertError.invalidArgument("pretrain: grad accumulation must be positive, got \(gradAccum)") }
        guard learningRate > 0, learningRate.isFinite else { throw DNABertError.invalidArgument("pretrain: learning rate must be positive") }
        guard maxGradNorm >= 0 else { throw DNABertError.invalidArgument("pretrain: max grad norm must be >= 0") }
        guard evalEvery >= 0, checkpointEvery >= 0, keepCheckpoints >= 0 else {
            throw DNABertError.invalidArgument("pretrain: eval/checkpoint intervals and keep count must be >= 0")
        }
        if let w = warmupSteps, w < 0 { throw DNABertError.invalidArgument("pretrain: warm-up steps must be >= 0") }
        try optimizer.validate()
        try data.validate()
    }
}

/// Pretrains a model with MLM on FASTA files: data → micro-batch gradients (accumulated in one flat buffer) →
/// clipping → AdamW. The step is kept in those phases so that a data-parallel run can all-reduce the gradient
/// buffer between them. Checkpoints hold everything needed to continue step for step (weights, AdamW moments,
/// data position, dropout counter), and a resumed run gives the same losses as an uninterrupted one.
public final class Pretrainer {
    public let pretrained: PretrainedModel
    public let options: PretrainOptions
    public let out: String
    public let data: PretrainingData
    public let optimizer: AdamW
    public let schedule: LRSchedule
    let trainable: Trainable
    let grad: UnsafeMutableBufferPointer<Float>
    let validation: [MLMBatch]
    let metrics: MetricsWriter?
    public private(set) var step = 0
    public private(set) var history: [TrainingProgress] = []
    private var elapsedBefore = 0.0
    private var tokensSeen = 0
    private let started = Clock.now()
    /// The ranks of a distributed run (`.single` otherwise); files are written and progress printed on rank 0.
    public let comm: Communicator
    public let reducer: GradientReducer
    /// Micro-batches per optimizer step over all ranks.
    public var globalMicroBatches: Int { comm.size * options.gradAccum }
    /// Token ids of this step's micro-batches as drawn, in global order (every rank draws all of them): tests
    /// compare the data order of runs with different rank counts.
    public private(set) var lastStepIds: [[Int32]] = []

    /// `resume`: continue from the newest complete checkpoint in `out` when there is one.
    /// `communicator`: the ranks of a distributed run; nil = `Communicator.world()` when `options.distributed`.
    public init(model: PretrainedModel, files: [String], out: String, options: PretrainOptions, resume: Bool = false,
                communicator: Communicator? = nil) throws {
        try options.validate()
        comm = try communicator ?? (options.distributed ? Communicator.world() : .single)
        guard let tokenizer = model.tokenizer else {
            throw DNABertError.invalidArgument("pretrain: the model needs a tokenizer")
        }
        guard model.model.layout.hasMLMHead else { throw DNABertError.invalidArgument("pretrain: the model has no MLM head") }
        guard model.model.layout.quantized.isEmpty else {
            throw DNABertError.invalidArgument("pretrain: pretraining needs a float32 model; this model is int8 (load its float32 checkpoint)")
        }
        guard tokenizer.idLimit <= model.model.config.vocabSize else {
            throw DNABertError.invalidArgument("pretrain: the tokenizer has ids up to \(tokenizer.idLimit - 1), the model \(model.model.config.vocabSize) embeddings")
        }
        self.pretrained = model
        self.options = options
        self.out = out
        var dataOptions = options.data
        dataOptions.seed = options.seed
        data = try PretrainingData(files: files, tokenizer: tokenizer, options: dataOptions)
        optimizer = try AdamW(layout: model.model.layout, config: options.optimizer)
        schedule = try LRSchedule(peak: options.learningRate, warmupSteps: options.warmupSteps ?? options.steps * 6 / 100,
                                  totalSteps: options.steps)
        trainable = try Trainable(model: model.model, dropout: options.dropout, seed: options.seed)
        grad = .allocate(capacity: max(model.model.layout.total, 1))
        reducer = GradientReducer(comm: comm, grad: grad, layout: model.model.layout)
        validation = try data.validationBatches(batchSize: options.batchSize)
        // Every rank must run the same computation: refuse different files, seeds, options or initial weights.
        try comm.requireSameSettings("\(files)|\(out)|\(resume)|\(options)|\(data.state.fingerprint)|"
            + "\(model.model.checksum)", what: "pretraining")
        var failure: Error? = nil
        if comm.isRoot && mkdir(out, 0o755) != 0 && errno != EEXIST {
            failure = DNABertError.io("cannot create '\(out)': \(String(cString: strerror(errno)))")
        }
        try comm.agree(failure, what: "creating the output folder")
        if resume, let dir = try TrainingCheckpoint.latest(out: out) {
            let state = try TrainingCheckpoint.load(directory: dir, model: model.model, optimizer: optimizer)
            guard state.schedule == schedule else {
                throw DNABertError.invalidArgument("pretrain: checkpoint '\(dir)' was made with another schedule (steps, warm-up or learning rate)")
            }
            if let d = state.data { try data.restore(d) }
            if let calls = state.extra["dropout_calls"]?.intValue { trainable.calls = UInt64(calls) }
            step = state.step
            history = state.history
            elapsedBefore = history.last?.elapsedSeconds ?? 0
            tokensSeen = history.last?.tokens ?? 0
        }
        // A resumed run rewrites the metrics from the checkpoint's history: rows written after that checkpoint
        // belong to steps that will be run again.
        if comm.isRoot {
            do {
                let m = try MetricsWriter(path: out + "/metrics.jsonl", truncate: true)
                for p in history { try m.write(p) }
                metrics = m
            } catch { metrics = nil; failure = error }
        } else {
            metrics = nil
        }
        try comm.agree(failure, what: "opening metrics.jsonl")
    }

    deinit {
        grad.deallocate()
        metrics?.close()
    }

    public var elapsedSeconds: Double { elapsedBefore + Clock.now() - started }

    /// Phase 1: the gradient of `gradAccum` micro-batches, averaged, in `grad`. Returns loss, correct, counted, tokens.
    /// Distributed: every rank draws all G = ranks × gradAccum micro-batches of the step from the global stream
    /// (so the order does not depend on the rank count) and computes those with k mod ranks = rank; the gradient
    /// buckets are all-reduced while the last local backward runs, and the figures are summed over the ranks.
    func accumulateGradient() throws -> (loss: Double, correct: Int, counted: Int, tokens: Int) {
        grad.update(repeating: 0)
        var loss = 0.0, correct = 0, counted = 0, tokens = 0
        let G = globalMicroBatches
        let scale = 1.0 / Double(G)
        lastStepIds = []
        reducer.reset()
        for k in 0..<G {
            // The dropout masks follow the global micro-batch index, as in one process.
            let index = data.state.batches
            let b = try data.nextBatch(options.batchSize)
            lastStepIds.append(b.ids)
            guard k % comm.size == comm.rank else { continue }
            trainable.calls = UInt64(index)
            traceBatch(step: step, index: index, ids: b.ids)
            trainable.reducer = k + comm.size >= G ? reducer : nil
            defer { trainable.reducer = nil }
            let r = try trainable.lossAndGradient(b, into: grad, threads: options.threads, scale: scale)
            loss += r.loss * scale
            correct += r.correct
            counted += r.counted
            tokens += b.attentionMask.reduce(0) { $0 + Int($1) }
        }
        trainable.calls = UInt64(data.state.batches)
        if comm.size > 1 {
            try reducer.finish()
            var figures = [loss, Double(correct), Double(counted), Double(tokens)]
            try comm.sum(&figures)
            return (figures[0], Int(figures[1]), Int(figures[2]), Int(figures[3]))
        }
        return (loss, correct, counted, tokens)
    }

    /// Diagnostics for the data-order tests: with DNABERT_TRACE_BATCHES=path, each rank appends
    /// "step global-index hash-of-token-ids" for every micro-batch it computes to path.rank<r>.
    private lazy var traceFile: UnsafeMutablePointer<FILE>? = {
        guard let p = getenv("DNABERT_TRACE_BATCHES") else { return nil }
        return fopen(String(cString: p) + ".rank\(comm.rank)", "a")
    }()

    private func traceBatch(step: Int, index: Int, ids: [Int32]) {
        guard let f = traceFile else { return }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for v in ids { h = (h ^ UInt64(UInt32(bitPattern: v))) &* 0x100_0000_01B3 }
        fputs("\(step) \(index) \(String(h, radix: 16))\n", f)
        fflush(f)
    }

    /// Distributed: stops every rank with an error when the weights differ across ranks.
    func checkWeightsAgree() throws {
        guard comm.size > 1 else { return }
        let r = try comm.range(Communicator.checksum(UnsafeBufferPointer(pretrained.model.parameters)))
        if r.min != r.max {
            throw DNABertError(.internal, "distributed pretraining: the weights differ across ranks at step \(step) (checksums \(String(r.min, radix: 16)) … \(String(r.max, radix: 16))); the ranks ran different computations")
        }
    }

    /// One optimizer step. Returns its progress record (without validation figures).
    @discardableResult
    public func trainStep() throws -> TrainingProgress {
        guard step < options.steps else { throw DNABertError.invalidArgument("pretrain: all \(options.steps) steps are done") }
        let g = try accumulateGradient()
        // Phase 2 (a data-parallel run all-reduces `grad` here), then phase 3: clip and update.
        let norm = options.maxGradNorm > 0
            ? try GradClip.clip(grad, maxNorm: options.maxGradNorm, threads: options.threads)
            : GradClip.globalNorm(UnsafeBufferPointer(grad), threads: options.threads)
        guard g.loss.isFinite, norm.isFinite else {
            throw DNABertError(.internal, "pretrain: the loss or gradient is not finite at step \(step + 1) (loss \(g.loss), grad norm \(norm)); lower the learning rate")
        }
        let lr = schedule.lr(at: step)
        try optimizer.update(parameters: pretrained.model.parameters, gradients: UnsafeBufferPointer(grad), lr: lr,
                             threads: options.threads)
        step += 1
        tokensSeen += g.tokens
        if options.checksumEvery > 0 && (step % options.checksumEvery == 0 || step == options.steps) { try checkWeightsAgree() }
        // Cumulative tokens over elapsed time: tokens/s and ETA are run averages.
        return TrainingProgress(step: step, totalSteps: options.steps, loss: g.loss, learningRate: lr, gradNorm: norm,
                                tokens: tokensSeen, elapsedSeconds: elapsedSeconds)
    }

    /// MLM loss and masked-token accuracy on the fixed validation batches (no dropout, no gradient).
    public func evaluate() throws -> (loss: Double, accuracy: Double) {
        let m = pretrained.model
        let V = m.config.vocabSize
        var total = 0.0, correct = 0, counted = 0
        var fo = ForwardOptions()
        fo.threads = options.threads
        // Distributed: batch i on rank i mod ranks; the sums are reduced.
        for (i, b) in validation.enumerated() where i % comm.size == comm.rank {
            var logits = try b.ids.withUnsafeBufferPointer { ids in
                try b.attentionMask.withUnsafeBufferPointer { am in
                    try m.mlmLogits(ids: ids, batch: b.batch, length: b.length, attentionMask: am, options: fo)
                }
            }
            let targets = b.labels.indices.filter { b.labels[$0] != MLMBatch.ignoreIndex }
            let ce = logits.withUnsafeMutableBufferPointer { lg in
                Loss.crossEntropy(rows: targets.count, classes: V, row: { lg.baseAddress! + targets[$0] * V },
                                  label: { Int(b.labels[targets[$0]]) }, gradient: false)
            }
            total += ce.sum
            correct += ce.correct
            counted += targets.count
        }
        if comm.size > 1 {
            var s = [total, Double(correct), Double(counted)]
            try comm.sum(&s)
            total = s[0]; correct = Int(s[1]); counted = Int(s[2])
        }
        guard counted > 0 else { return (.nan, .nan) }
        return (total / Double(counted), Double(correct) / Double(counted))
    }

    /// Writes a checkpoint of the current step into `out/checkpoint-<step>` (keeping the newest few).
    /// Distributed: rank 0 writes, every rank returns the folder (or every rank throws).
    @discardableResult
    public func saveCheckpoint() throws -> String {
        var result = "", failure: Error? = nil
        if comm.isRoot {
            do { result = try writeCheckpoint() } catch { failure = error }
        }
        try comm.agree(failure, what: "writing the checkpoint")
        return comm.isRoot ? result : out + "/checkpoint-\(step)"
    }

    private func writeCheckpoint() throws -> String {
        let state = TrainerState(step: step, schedule: schedule, optimizer: options.optimizer, data: data.state,
                                 history: history, extra: .object([("dropout_calls", .int(Int64(trainable.calls)))]))
        return try TrainingCheckpoint.save(out: out, model: pretrained.model, tokenizer: pretrained.tokenizer,
                                           optimizer: optimizer, state: state, keepLast: options.keepCheckpoints)
    }

    /// One step with the run's bookkeeping: validation and checkpoint when due, history and metrics appended.
    /// `stopping` forces a checkpoint (the caller is about to stop).
    @discardableResult
    public func advance(stopping: Bool = false) throws -> TrainingProgress {
        var p = try trainStep()
        let last = step == options.steps
        if last || (options.evalEvery > 0 && step % options.evalEvery == 0) {
            let v = try evaluate()
            p.validationLoss = v.loss
            p.validationAccuracy = v.accuracy
        }
        history.append(p)
        var failure: Error? = nil
        do { try metrics?.write(p) } catch { failure = error }
        try comm.agree(failure, what: "writing metrics.jsonl")
        if last || stopping || (options.checkpointEvery > 0 && step % options.checkpointEvery == 0) {
            metrics?.sync()
            try saveCheckpoint()
        }
        if last {
            if comm.isRoot { do { try pretrained.save(directory: out + "/model") } catch { failure = error } }
            try comm.agree(failure, what: "saving the model")
        }
        return p
    }

    /// Runs to `options.steps`: validation and checkpoints on schedule, metrics appended to out/metrics.jsonl,
    /// the final model written to out/model. `progress` returning false stops cleanly after a checkpoint
    /// (throws `.cancelled`). Returns the metric history (resumed runs include the steps before the resume).
    @discardableResult
    public func run(progress: ((TrainingProgress) -> Bool)? = nil) throws -> [TrainingProgress] {
        while step < options.steps {
            let p = try advance()
            // Distributed: the callback runs on every rank; one rank's stop stops all.
            if let progress, try comm.any(!progress(p)) {
                if step < options.steps && !(options.checkpointEvery > 0 && step % options.checkpointEvery == 0) {
                    try saveCheckpoint()
                }
                throw DNABertError.cancelled
            }
        }
        return history
    }
}
