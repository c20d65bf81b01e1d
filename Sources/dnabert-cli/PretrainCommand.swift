import ArgumentParser
import DNABert
#if canImport(Glibc)
import Glibc
#endif

struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain a model with masked-language modelling on FASTA files (resumable).",
        discussion: """
        Writes OUT/checkpoint-<step>/ (model + optimizer + data position; the newest few are kept), OUT/metrics.jsonl, \
        OUT/loss.svg and, at the end, OUT/model/ (config.json, model.safetensors, tokenizer.json). \
        --resume continues from the newest complete checkpoint, step for step as if never stopped.
        """)

    @Option(name: .long, help: "A preset (tiny, small, base = DNABERT-2-117M), a config.json, or a model folder to continue from.")
    var config = "small"
    @Option(name: .long, help: "tokenizer.json (required unless --config is a model folder with one).")
    var tokenizer: String?
    @Option(name: .long, help: "Output folder.")
    var out: String
    @Option(name: .long, help: "Optimizer steps.")
    var steps = 1000
    @Option(name: .long, help: "Sequences per micro-batch.")
    var batchSize = 32
    @Option(name: .long, help: "Micro-batches per step.")
    var gradAccum = 1
    @Option(name: .long, help: "Tokens per sequence, [CLS]/[SEP] included.")
    var seqLen = 128
    @Option(name: .long, help: "Peak learning rate.")
    var lr = 5e-4
    @Option(name: .long, help: "Warm-up steps (default: 6% of --steps).")
    var warmup: Int?
    @Option(name: .long, help: "Hidden dropout (default: the config's).")
    var dropout: Double?
    @Option(name: .long, help: "Gradient clipping norm (0 = none).")
    var maxGradNorm = 1.0
    @Option(name: .long, help: "Validation every N steps.")
    var evalEvery = 100
    @Option(name: .long, help: "Checkpoint every N steps.")
    var checkpointEvery = 500
    @Option(name: .long, help: "Checkpoints to keep.")
    var keep = 3
    @Option(name: .long, help: "Validation windows (held out from the end of each record).")
    var validationWindows = 256
    @Flag(name: .long, help: "Keep windows that contain N (default: drop them).")
    var keepN = false
    @Flag(name: .long, help: "No reverse-complement augmentation.")
    var noReverseComplement = false
    @Flag(name: .long, help: "Continue from the newest checkpoint in --out.")
    var resume = false
    @Option(name: .long, help: "Worker threads (0 = all cores).")
    var threads = 0
    @Option(name: .long, help: "Random seed (weights, data, masks, dropout).")
    var seed: UInt64 = 0
    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false
    @Flag(name: .long, help: "Data-parallel over MPI: launch as `mpirun -np N dnabert pretrain --distributed ...` (N ranks × --grad-accum micro-batches per step; rank 0 writes).")
    var distributed = false
    @Argument(help: "FASTA files (plain or gzip).")
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one FASTA file") }
    }

    func run() throws {
        let model: PretrainedModel
        if FileIO.exists(config + "/config.json") {
            model = try PretrainedModel.load(directory: config)
        } else {
            guard let tokenizer else { throw ValidationError("--tokenizer is required with --config \(config)") }
            let tok = try Tokenizer(contentsOfFile: tokenizer)
            var cfg = try ModelConfig.named(config)
            if ModelConfig.preset(config) != nil { cfg.vocabSize = tok.idLimit }
            model = try PretrainedModel.random(config: cfg, tokenizer: tok, seed: seed)
        }
        var o = PretrainOptions()
        o.steps = steps; o.batchSize = batchSize; o.gradAccum = gradAccum; o.learningRate = lr; o.warmupSteps = warmup
        o.dropout = dropout; o.maxGradNorm = maxGradNorm; o.evalEvery = evalEvery; o.checkpointEvery = checkpointEvery
        o.keepCheckpoints = keep; o.threads = threads; o.seed = seed
        o.data.sequenceLength = seqLen
        o.data.validationWindows = validationWindows
        o.data.dropWindowsWithN = !keepN
        o.data.reverseComplement = !noReverseComplement
        o.distributed = distributed
        let comm = distributed ? try Communicator.world() : .single
        // Distributed: an error on one rank ends every rank (MPI_Abort) instead of leaving them in a collective.
        do { try train(model: model, options: o, comm: comm) } catch {
            if comm.size > 1 && !comm.failedOnAllRanks { comm.abort("\(error)") }
            throw error
        }
    }

    func train(model: PretrainedModel, options o: PretrainOptions, comm: Communicator) throws {
        let quiet = self.quiet || !comm.isRoot
        let trainer = try Pretrainer(model: model, files: files, out: out, options: o, resume: resume, communicator: comm)
        let c = model.model.config
        if !quiet {
            if comm.size > 1 { eprint("data-parallel over \(comm.size) ranks (global batch \(comm.size) × \(gradAccum) micro-batches)") }
            eprint("pretraining \(c.numLayers) layers × \(c.hiddenSize) hidden (\(model.model.layout.total) parameters), "
                   + "\(steps) steps of \(batchSize * gradAccum) × \(seqLen) tokens" + (trainer.step > 0 ? ", resuming at step \(trainer.step)" : ""))
        }
        let bar = ProgressBar(quiet: quiet)
        defer { bar.finish() }
        let history = try trainer.run { p in
            var detail = "loss \(format2(p.loss)) lr \(String(format: p.learningRate)) \(Int(p.tokensPerSecond)) tok/s"
            if let v = p.validationLoss, let a = p.validationAccuracy { detail += " | val loss \(format2(v)) acc \(format2(a * 100))%" }
            bar.update(stage: "training", current: Int64(p.step), total: Int64(p.totalSteps), elapsed: p.elapsedSeconds,
                       eta: p.etaSeconds, detail: detail)
            return true
        }
        if comm.isRoot { try FileIO.writeAtomically(out + "/loss.svg", string: LossCurveSVG.render(history)) }
        if comm.size > 1, getenv("DNABERT_MPI_STATS") != nil { try reportCommunication(trainer, comm: comm) }
        if !quiet, let last = history.last {
            eprint("\ndone: loss \(format2(last.loss))" + (last.validationLoss.map { ", validation loss \(format2($0))" } ?? "")
                   + (last.validationAccuracy.map { ", masked-token accuracy \(format2($0 * 100))%" } ?? "")
                   + " → \(out)/model, \(out)/metrics.jsonl, \(out)/loss.svg")
        }
    }
}

/// DNABERT_MPI_STATS (bench/bench_distributed.py): the gradient allreduce's time during the run (started during
/// the backward, and the part waited for after it) and a blocking allreduce of the same buffer timed alone.
func reportCommunication(_ trainer: Pretrainer, comm: Communicator) throws {
    let n = trainer.pretrained.model.layout.total
    let buf = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
    defer { buf.deallocate() }
    buf.update(repeating: 1)
    try comm.barrier()
    try comm.sum(buf)
    let reps = 5
    try comm.barrier()
    let t0 = Clock.now()
    for _ in 0..<reps { try comm.sum(buf) }
    let alone = (Clock.now() - t0) / Double(reps)
    let steps = max(1, trainer.history.count)
    if comm.isRoot {
        eprint("mpi-stats: ranks \(comm.size) gradient_bytes \(n * 4) allreduce_alone_s \(alone) "
               + "overlapped_comm_s_per_step \(trainer.reducer.communicationSeconds / Double(steps)) "
               + "waited_s_per_step \(trainer.reducer.waitSeconds / Double(steps)) steps \(steps)")
    }
}

func format2(_ v: Double) -> String {
    guard v.isFinite else { return "\(v)" }
    let r = (v * 100).rounded() / 100
    return String(r)
}

extension String {
    init(format v: Double) { self = v == 0 ? "0" : (abs(v) < 1e-3 ? String(Double(Int(v * 1e7)) / 1e7) : String(Double(Int(v * 1e5)) / 1e5)) }
}
