import CDNABertABI
import DNABert

// C exports of MLM pretraining: dnabert_pretrain_default_params, dnabert_trainer_*.

@_cdecl("dnabert_pretrain_default_params")
public func dnabert_pretrain_default_params() -> dnabert_pretrain_params {
    let o = PretrainOptions()
    return dnabert_pretrain_params(
        struct_size: UInt32(MemoryLayout<dnabert_pretrain_params>.size), steps: Int32(o.steps), batch_size: Int32(o.batchSize),
        grad_accum: Int32(o.gradAccum), seq_len: Int32(o.data.sequenceLength), warmup_steps: -1, eval_every: Int32(o.evalEvery),
        checkpoint_every: Int32(o.checkpointEvery), keep_checkpoints: Int32(o.keepCheckpoints),
        validation_windows: Int32(o.data.validationWindows), drop_windows_with_n: o.data.dropWindowsWithN ? 1 : 0,
        reverse_complement: o.data.reverseComplement ? 1 : 0, resume: 0, n_threads: 0, learning_rate: o.learningRate,
        dropout: -1, max_grad_norm: o.maxGradNorm, beta1: o.optimizer.beta1, beta2: o.optimizer.beta2, eps: o.optimizer.eps,
        weight_decay: o.optimizer.weightDecay, seed: 0, distributed: 0)
}

func pretrainOptions(_ p: UnsafePointer<dnabert_pretrain_params>?) throws -> (PretrainOptions, resume: Bool) {
    let c = try readParams(p, defaults: dnabert_pretrain_default_params(), name: "params")
    var o = PretrainOptions()
    o.steps = Int(c.steps); o.batchSize = Int(c.batch_size); o.gradAccum = Int(c.grad_accum)
    o.data.sequenceLength = Int(c.seq_len)
    o.warmupSteps = c.warmup_steps < 0 ? nil : Int(c.warmup_steps)
    o.evalEvery = Int(c.eval_every); o.checkpointEvery = Int(c.checkpoint_every); o.keepCheckpoints = Int(c.keep_checkpoints)
    o.data.validationWindows = Int(c.validation_windows)
    o.data.dropWindowsWithN = c.drop_windows_with_n != 0
    o.data.reverseComplement = c.reverse_complement != 0
    guard c.n_threads >= 0 else { throw DNABertError.invalidArgument("params.n_threads must be >= 0") }
    o.threads = Int(c.n_threads)
    o.learningRate = c.learning_rate
    o.dropout = c.dropout < 0 ? nil : c.dropout
    o.maxGradNorm = c.max_grad_norm
    o.optimizer = AdamWConfig(beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weight_decay)
    o.seed = c.seed
    o.distributed = c.distributed != 0
    try o.validate()
    return (o, c.resume != 0)
}

func metrics(_ p: TrainingProgress) -> dnabert_pretrain_metrics {
    dnabert_pretrain_metrics(struct_size: structSize(dnabert_pretrain_metrics.self), step: Int64(p.step), total_steps: Int64(p.totalSteps), tokens: Int64(p.tokens), loss: p.loss,
                          learning_rate: p.learningRate, grad_norm: p.gradNorm ?? .nan,
                          tokens_per_second: p.tokensPerSecond, elapsed_seconds: p.elapsedSeconds, eta_seconds: p.etaSeconds,
                          validation_loss: p.validationLoss ?? .nan, validation_accuracy: p.validationAccuracy ?? .nan)
}

private func trainer(_ h: OpaquePointer?) throws -> Pretrainer {
    try HandleRegistry.shared.object(h, as: Pretrainer.self, name: "trainer")
}

@_cdecl("dnabert_trainer_create")
public func dnabert_trainer_create(_ m: OpaquePointer?, _ files: UnsafePointer<UnsafePointer<CChar>?>?, _ nFiles: Int,
                                   _ outDir: UnsafePointer<CChar>?, _ params: UnsafePointer<dnabert_pretrain_params>?,
                                   _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_trainer_create") {
        out?.pointee = nil
        let out = try require(out, "out")
        let model = try HandleRegistry.shared.object(m, as: PretrainedModel.self, name: "model")
        guard nFiles > 0, nFiles < 1 << 20 else { throw DNABertError.invalidArgument("n_files must be positive, got \(nFiles)") }
        let files = try require(files, "files")
        var paths: [String] = []
        for i in 0..<nFiles { paths.append(try string(files[i], "files[\(i)]")) }
        let dir = try string(outDir, "out_dir")
        let (o, resume) = try pretrainOptions(params)
        out.pointee = HandleRegistry.shared.box(try Pretrainer(model: model, files: paths, out: dir, options: o, resume: resume))
    }
}

@_cdecl("dnabert_trainer_step")
public func dnabert_trainer_step(_ t: OpaquePointer?, _ m: UnsafeMutablePointer<dnabert_pretrain_metrics>?) -> Int32 {
    guarded("dnabert_trainer_step") {
        let tr = try trainer(t)
        try checkResult(m, sample: metrics(TrainingProgress(step: 0, totalSteps: 0, loss: 0, learningRate: 0)), name: "metrics")
        let p = try tr.advance()
        if m != nil { try writeResult(metrics(p), to: m, name: "metrics") }
    }
}

@_cdecl("dnabert_trainer_evaluate")
public func dnabert_trainer_evaluate(_ t: OpaquePointer?, _ loss: UnsafeMutablePointer<Double>?,
                                     _ accuracy: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded("dnabert_trainer_evaluate") {
        let r = try trainer(t).evaluate()
        loss?.pointee = r.loss
        accuracy?.pointee = r.accuracy
    }
}

@_cdecl("dnabert_trainer_save_checkpoint")
public func dnabert_trainer_save_checkpoint(_ t: OpaquePointer?) -> Int32 {
    guarded("dnabert_trainer_save_checkpoint") { _ = try trainer(t).saveCheckpoint() }
}

@_cdecl("dnabert_trainer_run")
public func dnabert_trainer_run(_ t: OpaquePointer?, _ cb: dnabert_pretrain_callback?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    guarded("dnabert_trainer_run") {
        let tr = try trainer(t)
        try tr.run { p in
            guard let cb else { return true }
            var m = metrics(p)
            return cb(user, &m) == 0
        }
    }
}

@_cdecl("dnabert_trainer_free")
public func dnabert_trainer_free(_ t: OpaquePointer?) {
    HandleRegistry.shared.free(t, as: Pretrainer.self)
}
