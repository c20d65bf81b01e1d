import CDNABertABI
import DNABert
#if canImport(Glibc)
import Glibc
#endif

// C exports of fine-tuning: dnabert_dataset_*, dnabert_finetuner_*, dnabert_classifier_*.

/// The handle object of a dataset (LabelledSequences is a struct).
final class DatasetBox {
    let data: LabelledSequences
    init(_ d: LabelledSequences) { data = d }
}

private func dataset(_ h: OpaquePointer?, _ name: String = "dataset") throws -> LabelledSequences {
    try HandleRegistry.shared.object(h, as: DatasetBox.self, name: name).data
}

private func classifier(_ h: OpaquePointer?) throws -> SequenceClassifier {
    try HandleRegistry.shared.object(h, as: SequenceClassifier.self, name: "classifier")
}

private func finetuner(_ h: OpaquePointer?) throws -> FineTuner {
    try HandleRegistry.shared.object(h, as: FineTuner.self, name: "finetuner")
}

private func problemType(_ code: Int32) throws -> ProblemType? {
    switch code {
    case DNABERT_PROBLEM_AUTO: return nil
    case DNABERT_PROBLEM_SINGLE_LABEL: return .singleLabel
    case DNABERT_PROBLEM_MULTI_LABEL: return .multiLabel
    case DNABERT_PROBLEM_REGRESSION: return .regression
    default: throw DNABertError.invalidArgument("problem_type \(code) is not a DNABERT_PROBLEM_* value")
    }
}

private func problemCode(_ p: ProblemType?) -> Int32 {
    switch p {
    case .singleLabel?: return DNABERT_PROBLEM_SINGLE_LABEL
    case .multiLabel?: return DNABERT_PROBLEM_MULTI_LABEL
    case .regression?: return DNABERT_PROBLEM_REGRESSION
    case nil: return DNABERT_PROBLEM_AUTO
    }
}

@_cdecl("dnabert_dataset_read")
public func dnabert_dataset_read(_ path: UnsafePointer<CChar>?, _ like: OpaquePointer?, _ problem: Int32,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_dataset_read") {
        out?.pointee = nil
        let out = try require(out, "out")
        let p = try string(path, "path")
        let schema = try like.map { try dataset($0, "like").schema }
        if like != nil && schema == nil { throw DNABertError.invalidArgument("'like' has no labels") }
        let d = try LabelledSequences.read(path: p, schema: schema ?? nil, problemType: problemType(problem))
        out.pointee = HandleRegistry.shared.box(DatasetBox(d))
    }
}

@_cdecl("dnabert_dataset_from_arrays")
public func dnabert_dataset_from_arrays(_ seqs: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?,
                                        _ labels: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int, _ like: OpaquePointer?,
                                        _ problem: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_dataset_from_arrays") {
        out?.pointee = nil
        let out = try require(out, "out")
        guard n > 0, n < maxElements else { throw DNABertError.invalidArgument("n must be positive, got \(n)") }
        let bufs = try byteBuffers(seqs, lens, n)
        let labels = try require(labels, "labels")
        var s: [String] = [], l: [String] = []
        s.reserveCapacity(n); l.reserveCapacity(n)
        for i in 0..<n {
            guard let str = String(validating: bufs[i], as: UTF8.self) else { throw DNABertError.invalidArgument("seqs[\(i)] is not valid UTF-8") }
            s.append(str)
            l.append(try string(labels[i], "labels[\(i)]"))
        }
        let schema = try like.map { try dataset($0, "like").schema }
        if like != nil && schema == nil { throw DNABertError.invalidArgument("'like' has no labels") }
        let d = try LabelledSequences.fromArrays(sequences: s, labels: l, schema: schema ?? nil, problemType: problemType(problem))
        out.pointee = HandleRegistry.shared.box(DatasetBox(d))
    }
}

@_cdecl("dnabert_dataset_get_info")
public func dnabert_dataset_get_info(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<dnabert_dataset_info>?) -> Int32 {
    guarded("dnabert_dataset_get_info") {
        let d = try dataset(h)
        try writeResult(dnabert_dataset_info(struct_size: structSize(dnabert_dataset_info.self), n_sequences: Int64(d.count),
                                             problem_type: problemCode(d.problemType), num_labels: Int32(d.numLabels),
                                             has_label_names: d.labelNames == nil ? 0 : 1), to: out, name: "out")
    }
}

@_cdecl("dnabert_dataset_label_name")
public func dnabert_dataset_label_name(_ h: OpaquePointer?, _ index: Int32, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int,
                                       _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_dataset_label_name") {
        let d = try dataset(h)
        guard let s = d.schema, index >= 0, Int(index) < s.numLabels else {
            throw DNABertError.invalidArgument("label index \(index) is outside 0..<\(d.numLabels)")
        }
        try copyOut(s.name(of: Int(index)), buf, cap, len)
    }
}

@_cdecl("dnabert_dataset_labels")
public func dnabert_dataset_labels(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ cap: Int) -> Int32 {
    guarded("dnabert_dataset_labels") {
        let d = try dataset(h)
        guard d.hasLabels else { throw DNABertError.invalidArgument("the dataset has no labels") }
        let rows = (0..<d.count).map { d.labelRow($0) }
        let total = rows.reduce(0) { $0 + $1.count }
        guard cap >= total else { throw DNABertError(.bufferTooSmall, "labels need \(total) floats, the buffer holds \(cap)") }
        let out = try require(out, "out")
        var k = 0
        for r in rows { for v in r { out[k] = v; k += 1 } }
    }
}

@_cdecl("dnabert_dataset_free")
public func dnabert_dataset_free(_ h: OpaquePointer?) { HandleRegistry.shared.free(h, as: DatasetBox.self) }

@_cdecl("dnabert_finetune_default_params")
public func dnabert_finetune_default_params() -> dnabert_finetune_params {
    let o = FineTuneOptions(), l = LoRAConfig()
    return dnabert_finetune_params(
        struct_size: UInt32(MemoryLayout<dnabert_finetune_params>.size), lora_r: Int32(l.r), lora_alpha: l.alpha,
        lora_dropout: l.dropout, lora_targets: nil, pooling: DNABERT_POOL_AUTO, epochs: o.epochs, max_steps: 0,
        batch_size: Int32(o.batchSize), grad_accum: Int32(o.gradAccum), warmup_steps: -1, eval_every: 0, max_length: 0,
        n_threads: 0, use_class_weights: 0, learning_rate: 0, dropout: -1, max_grad_norm: o.maxGradNorm,
        weight_decay: o.optimizer.weightDecay, select_by: nil, seed: 0, reverse_complement: -1, out_dir: nil, distributed: 0)
}

struct FineTuneSetup {
    var options: FineTuneOptions
    var lora: LoRAConfig?
    var pooling: Pooling?   // nil = auto (tied to the strand rule)
    var classWeights: Bool
    var dropout: Double?
}

func finetuneSetup(_ p: UnsafePointer<dnabert_finetune_params>?) throws -> FineTuneSetup {
    let c = try readParams(p, defaults: dnabert_finetune_default_params(), name: "params")
    var o = FineTuneOptions()
    o.epochs = c.epochs
    o.maxSteps = Int(c.max_steps)
    o.batchSize = Int(c.batch_size)
    o.gradAccum = Int(c.grad_accum)
    o.warmupSteps = Int(c.warmup_steps)
    o.evalEvery = Int(c.eval_every)
    o.maxLength = Int(c.max_length)
    guard c.n_threads >= 0 else { throw DNABertError.invalidArgument("params.n_threads must be >= 0") }
    o.threads = Int(c.n_threads)
    o.learningRate = c.learning_rate
    o.maxGradNorm = c.max_grad_norm
    o.optimizer.weightDecay = c.weight_decay
    if let s = c.select_by { o.selectBy = try string(s, "params.select_by") }
    o.seed = c.seed
    o.distributed = c.distributed != 0
    guard c.reverse_complement >= -1 && c.reverse_complement <= 1 else {
        throw DNABertError.invalidArgument("params.reverse_complement must be -1 (auto), 0 or 1, got \(c.reverse_complement)")
    }
    o.reverseComplement = c.reverse_complement < 0 ? nil : c.reverse_complement == 1
    if let d = c.out_dir { o.outputDirectory = try string(d, "params.out_dir") }
    try o.validate()
    var lora: LoRAConfig? = nil
    guard c.lora_r >= 0 else { throw DNABertError.invalidArgument("params.lora_r must be >= 0 (0 = full fine-tuning)") }
    if c.lora_r > 0 {
        var l = LoRAConfig(r: Int(c.lora_r), alpha: c.lora_alpha, dropout: c.lora_dropout, targets: LoRATarget.allCases)
        if let t = c.lora_targets {
            let names = try string(t, "params.lora_targets").split(separator: ",").map(String.init)
            l.targets = try names.map { try LoRATarget(name: $0) }
        }
        lora = l
    }
    let pooling: Pooling?
    switch c.pooling {
    case DNABERT_POOL_AUTO: pooling = nil
    case DNABERT_POOL_CLS: pooling = .cls
    case DNABERT_POOL_MEAN: pooling = .mean
    default: throw DNABertError.invalidArgument("params.pooling \(c.pooling) is not DNABERT_POOL_AUTO, DNABERT_POOL_CLS or DNABERT_POOL_MEAN")
    }
    return FineTuneSetup(options: o, lora: lora, pooling: pooling, classWeights: c.use_class_weights != 0,
                         dropout: c.dropout < 0 ? nil : c.dropout)
}

func finetuneMetrics(_ p: FineTuneProgress) -> dnabert_finetune_metrics {
    let q = p.progress
    func dev(_ k: String) -> Double { p.dev?.value(k) ?? .nan }
    return dnabert_finetune_metrics(struct_size: structSize(dnabert_finetune_metrics.self), step: Int64(q.step), total_steps: Int64(q.totalSteps), epoch: p.epoch, loss: q.loss,
                                    learning_rate: q.learningRate, grad_norm: q.gradNorm ?? .nan,
                                    tokens_per_second: q.tokensPerSecond, elapsed_seconds: q.elapsedSeconds, eta_seconds: q.etaSeconds,
                                    dev_loss: p.dev?.loss ?? .nan, dev_accuracy: dev("accuracy"), dev_f1: dev("f1"), dev_mcc: dev("mcc"),
                                    dev_precision: dev("precision"), dev_recall: dev("recall"), dev_pearson: dev("pearson"),
                                    dev_spearman: dev("spearman"))
}

@_cdecl("dnabert_finetuner_create")
public func dnabert_finetuner_create(_ m: OpaquePointer?, _ train: OpaquePointer?, _ dev: OpaquePointer?,
                                     _ params: UnsafePointer<dnabert_finetune_params>?,
                                     _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_finetuner_create") {
        out?.pointee = nil
        let out = try require(out, "out")
        let base = try HandleRegistry.shared.object(m, as: PretrainedModel.self, name: "base")
        let t = try dataset(train, "train")
        let d = try dev.map { try dataset($0, "dev") }
        let s = try finetuneSetup(params)
        let ft = try FineTuning.start(base: base, train: t, dev: d, options: s.options, lora: s.lora, pooling: s.pooling,
                                      balancedClassWeights: s.classWeights, dropout: s.dropout)
        out.pointee = HandleRegistry.shared.box(ft)
    }
}

@_cdecl("dnabert_finetuner_step")
public func dnabert_finetuner_step(_ h: OpaquePointer?, _ m: UnsafeMutablePointer<dnabert_finetune_metrics>?) -> Int32 {
    guarded("dnabert_finetuner_step") {
        let ft = try finetuner(h)
        try checkResult(m, sample: finetuneMetrics(FineTuneProgress(progress: TrainingProgress(step: 0, totalSteps: 0, loss: 0, learningRate: 0),
                                                                     epoch: 0, dev: nil)), name: "metrics")
        let p = try ft.advance()
        if m != nil { try writeResult(finetuneMetrics(p), to: m, name: "metrics") }
    }
}

@_cdecl("dnabert_finetuner_run")
public func dnabert_finetuner_run(_ h: OpaquePointer?, _ cb: dnabert_finetune_callback?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    guarded("dnabert_finetuner_run") {
        let ft = try finetuner(h)
        if let cb {
            try ft.run { p in
                var m = finetuneMetrics(p)
                return cb(user, &m) == 0
            }
        } else {
            try ft.run()
        }
    }
}

@_cdecl("dnabert_finetuner_classifier")
public func dnabert_finetuner_classifier(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_finetuner_classifier") {
        out?.pointee = nil
        let out = try require(out, "out")
        out.pointee = HandleRegistry.shared.box(try finetuner(h).classifier)
    }
}

@_cdecl("dnabert_finetuner_get_info")
public func dnabert_finetuner_get_info(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<dnabert_finetuner_info>?) -> Int32 {
    guarded("dnabert_finetuner_get_info") {
        let ft = try finetuner(h)
        try writeResult(dnabert_finetuner_info(struct_size: structSize(dnabert_finetuner_info.self), step: Int64(ft.step), total_steps: Int64(ft.totalSteps), steps_per_epoch: Int64(ft.stepsPerEpoch),
                                             trainable_parameters: Int64(ft.classifier.trainableCount),
                                             max_length: Int32(ft.classifier.maxLength), learning_rate: ft.learningRate,
                                             best_step: Int64(ft.best?.step ?? -1), best_value: ft.best?.value ?? .nan),
                        to: out, name: "out")
    }
}

@_cdecl("dnabert_finetuner_free")
public func dnabert_finetuner_free(_ h: OpaquePointer?) { HandleRegistry.shared.free(h, as: FineTuner.self) }

@_cdecl("dnabert_classifier_load")
public func dnabert_classifier_load(_ m: OpaquePointer?, _ dir: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_classifier_load") {
        out?.pointee = nil
        let out = try require(out, "out")
        let base = try m.map { try HandleRegistry.shared.object($0, as: PretrainedModel.self, name: "base") }
        out.pointee = HandleRegistry.shared.box(try SequenceClassifier.load(directory: string(dir, "dir"), base: base))
    }
}

@_cdecl("dnabert_classifier_save")
public func dnabert_classifier_save(_ h: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> Int32 {
    guarded("dnabert_classifier_save") { try classifier(h).save(directory: string(dir, "dir")) }
}

@_cdecl("dnabert_classifier_get_info")
public func dnabert_classifier_get_info(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<dnabert_classifier_info>?) -> Int32 {
    guarded("dnabert_classifier_get_info") {
        let c = try classifier(h)
        try writeResult(dnabert_classifier_info(struct_size: structSize(dnabert_classifier_info.self), num_labels: Int32(c.head.numLabels), problem_type: problemCode(c.head.problemType),
                                              pooling: c.head.pooling == .cls ? DNABERT_POOL_CLS : DNABERT_POOL_MEAN,
                                              lora_r: Int32(c.lora?.r ?? 0), lora_alpha: c.lora?.alpha ?? .nan,
                                              trainable_parameters: Int64(c.trainableCount), max_length: Int32(c.maxLength),
                                              has_label_names: c.labelNames == nil ? 0 : 1,
                                              reverse_complement: c.reverseComplement ? 1 : 0), to: out, name: "out")
    }
}

@_cdecl("dnabert_classifier_label_name")
public func dnabert_classifier_label_name(_ h: OpaquePointer?, _ index: Int32, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int,
                                          _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_classifier_label_name") {
        let c = try classifier(h)
        guard index >= 0, Int(index) < c.head.numLabels else {
            throw DNABertError.invalidArgument("label index \(index) is outside 0..<\(c.head.numLabels)")
        }
        try copyOut(c.labelNames?[Int(index)] ?? String(index), buf, cap, len)
    }
}

@_cdecl("dnabert_classifier_predict")
public func dnabert_classifier_predict(_ h: OpaquePointer?, _ seqs: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?,
                                       _ n: Int, _ params: UnsafePointer<dnabert_forward_params>?,
                                       _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("dnabert_classifier_predict") {
        let c = try classifier(h)
        guard n >= 0, n < maxElements else { throw DNABertError.invalidArgument("n is out of range") }
        let threads = try forwardOptions(params).threads
        if n == 0 { return }
        let out = try require(out, "out")
        let bufs = try byteBuffers(seqs, lens, n)
        var s: [String] = []
        s.reserveCapacity(n)
        for (i, b) in bufs.enumerated() {
            guard let str = String(validating: b, as: UTF8.self) else { throw DNABertError.invalidArgument("seqs[\(i)] is not valid UTF-8") }
            s.append(str)
        }
        let scores = try c.predict(s, threads: threads)
        scores.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: scores.count) }
    }
}

@_cdecl("dnabert_classifier_logits")
public func dnabert_classifier_logits(_ h: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ mask: UnsafePointer<Int32>?, _ batch: Int,
                                      _ length: Int, _ params: UnsafePointer<dnabert_forward_params>?,
                                      _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("dnabert_classifier_logits") {
        let c = try classifier(h)
        guard batch > 0, length > 0, batch < maxElements, length < maxElements else {
            throw DNABertError.invalidArgument("batch and length must be positive")
        }
        let (n, o) = batch.multipliedReportingOverflow(by: length)
        guard !o, n < 1 << 32 else { throw DNABertError.invalidArgument("batch × length is too large") }
        let threads = try forwardOptions(params).threads
        let ids = try require(ids, "ids"), out = try require(out, "out")
        let lg = try c.logits(ids: UnsafeBufferPointer(start: ids, count: n), batch: batch, length: length,
                              attentionMask: mask.map { UnsafeBufferPointer(start: $0, count: n) }, threads: threads)
        lg.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: lg.count) }
    }
}

@_cdecl("dnabert_classifier_evaluate")
public func dnabert_classifier_evaluate(_ h: OpaquePointer?, _ data: OpaquePointer?, _ params: UnsafePointer<dnabert_forward_params>?,
                                        _ out: UnsafeMutablePointer<dnabert_eval_result>?, _ scores: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("dnabert_classifier_evaluate") {
        let c = try classifier(h), d = try dataset(data, "data")
        let threads = try forwardOptions(params).threads
        try checkResult(try require(out, "out"), sample: evalResult(nil, n: 0), name: "out")
        let e = try c.evaluate(d, threads: threads)
        try writeResult(evalResult(e, n: d.count), to: out, name: "out")
        if let scores { e.scores.withUnsafeBufferPointer { scores.update(from: $0.baseAddress!, count: e.scores.count) } }
    }
}

/// An evaluation as the C struct (figures the problem type lacks are NaN).
func evalResult(_ e: FineTuneEvaluation?, n: Int) -> dnabert_eval_result {
    func v(_ k: String) -> Double { e?.value(k) ?? .nan }
    return dnabert_eval_result(struct_size: structSize(dnabert_eval_result.self), n: Int64(n), loss: e?.loss ?? .nan,
                               accuracy: v("accuracy"), f1: v("f1"), mcc: v("mcc"), precision: v("precision"), recall: v("recall"),
                               pearson: v("pearson"), spearman: v("spearman"), mse: v("mse"), r2: v("r2"))
}

@_cdecl("dnabert_finetuner_test")
public func dnabert_finetuner_test(_ h: OpaquePointer?, _ data: OpaquePointer?, _ out: UnsafeMutablePointer<dnabert_eval_result>?) -> Int32 {
    guarded("dnabert_finetuner_test") {
        let ft = try finetuner(h), d = try dataset(data, "test")
        try checkResult(out, sample: evalResult(nil, n: 0), name: "out")
        let e = try ft.test(d)
        if out != nil { try writeResult(evalResult(e, n: d.count), to: out, name: "out") }
    }
}

private func classifierSchema(_ c: SequenceClassifier) throws -> LabelSchema {
    try LabelSchema(problemType: c.head.problemType, numLabels: c.head.numLabels, labelNames: c.labelNames)
}

@_cdecl("dnabert_classifier_dataset_from_arrays")
public func dnabert_classifier_dataset_from_arrays(_ h: OpaquePointer?, _ seqs: UnsafePointer<UnsafePointer<CChar>?>?,
                                                   _ lens: UnsafePointer<Int>?, _ labels: UnsafePointer<UnsafePointer<CChar>?>?,
                                                   _ n: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_classifier_dataset_from_arrays") {
        out?.pointee = nil
        let out = try require(out, "out")
        let schema = try classifierSchema(try classifier(h))
        guard n > 0, n < maxElements else { throw DNABertError.invalidArgument("n must be positive, got \(n)") }
        let bufs = try byteBuffers(seqs, lens, n)
        var s: [String] = []
        s.reserveCapacity(n)
        for i in 0..<n {
            guard let str = String(validating: bufs[i], as: UTF8.self) else { throw DNABertError.invalidArgument("seqs[\(i)] is not valid UTF-8") }
            s.append(str)
        }
        let d: LabelledSequences
        if let labels {
            let l = try (0..<n).map { try string(labels[$0], "labels[\($0)]") }
            d = try LabelledSequences.fromArrays(sequences: s, labels: l, schema: schema)
        } else {
            d = try LabelledSequences.unlabelled(sequences: s, schema: schema)
        }
        out.pointee = HandleRegistry.shared.box(DatasetBox(d))
    }
}

@_cdecl("dnabert_decide_labels")
public func dnabert_decide_labels(_ problem: Int32, _ scores: UnsafePointer<Float>?, _ n: Int, _ numLabels: Int32,
                                  _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("dnabert_decide_labels") {
        guard let p = try problemType(problem) else {
            throw DNABertError.invalidArgument("problem_type must be DNABERT_PROBLEM_SINGLE_LABEL or DNABERT_PROBLEM_MULTI_LABEL")
        }
        guard numLabels >= 1, numLabels <= 1 << 20 else { throw DNABertError.invalidArgument("num_labels must be in 1...2^20, got \(numLabels)") }
        guard n >= 0, n < maxElements else { throw DNABertError.invalidArgument("n is out of range") }
        let (total, o) = n.multipliedReportingOverflow(by: Int(numLabels))
        guard !o, total < maxElements else { throw DNABertError.invalidArgument("n × num_labels is too large") }
        if n == 0 { return }
        let scores = try require(scores, "scores"), out = try require(out, "out")
        let buf = UnsafeBufferPointer(start: scores, count: total)
        if let i = buf.firstIndex(where: { $0.isNaN }) { throw DNABertError.invalidArgument("scores[\(i)] is NaN") }
        let d = try Metrics.decide(problemType: p, scores: buf, numLabels: Int(numLabels))
        d.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: d.count) }
    }
}

@_cdecl("dnabert_classifier_read_dataset")
public func dnabert_classifier_read_dataset(_ h: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_classifier_read_dataset") {
        out?.pointee = nil
        let out = try require(out, "out")
        let schema = try classifierSchema(try classifier(h))
        out.pointee = HandleRegistry.shared.box(DatasetBox(try LabelledSequences.read(path: string(path, "path"), schema: schema)))
    }
}

@_cdecl("dnabert_classifier_merged_model")
public func dnabert_classifier_merged_model(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_classifier_merged_model") {
        out?.pointee = nil
        let out = try require(out, "out")
        out.pointee = HandleRegistry.shared.box(try classifier(h).mergedModel())
    }
}

@_cdecl("dnabert_classifier_free")
public func dnabert_classifier_free(_ h: OpaquePointer?) { HandleRegistry.shared.free(h, as: SequenceClassifier.self) }

// ---- prediction with a policy for long inputs (0.2.0) ----

@_cdecl("dnabert_predict_default_params")
public func dnabert_predict_default_params() -> dnabert_predict_params {
    dnabert_predict_params(struct_size: structSize(dnabert_predict_params.self), n_threads: 0, batch_size: 32, max_length: 0,
                           long_inputs: DNABERT_LONG_TRUNCATE, window_overlap: -1, window_pooling: DNABERT_WINDOW_POOL_MEAN)
}

func predictOptions(_ p: UnsafePointer<dnabert_predict_params>?) throws -> PredictOptions {
    let c = try readParams(p, defaults: dnabert_predict_default_params(), name: "params")
    var o = PredictOptions()
    guard c.n_threads >= 0 else { throw DNABertError.invalidArgument("params.n_threads must be >= 0, got \(c.n_threads)") }
    guard c.batch_size > 0 else { throw DNABertError.invalidArgument("params.batch_size must be positive, got \(c.batch_size)") }
    guard c.max_length >= 0 else { throw DNABertError.invalidArgument("params.max_length must be >= 0 (0 = the classifier's), got \(c.max_length)") }
    guard let long = LongInputPolicy(rawValue: c.long_inputs) else {
        throw DNABertError.invalidArgument("params.long_inputs must be DNABERT_LONG_TRUNCATE or DNABERT_LONG_WINDOWS, got \(c.long_inputs)")
    }
    guard let pool = WindowPooling(rawValue: c.window_pooling) else {
        throw DNABertError.invalidArgument("params.window_pooling must be DNABERT_WINDOW_POOL_MEAN or DNABERT_WINDOW_POOL_MAX, got \(c.window_pooling)")
    }
    guard c.window_overlap >= -1 else { throw DNABertError.invalidArgument("params.window_overlap must be >= 0 (or -1 = a quarter of the window), got \(c.window_overlap)") }
    o.threads = Int(c.n_threads)
    o.batchSize = Int(c.batch_size)
    o.maxLength = Int(c.max_length)
    o.longInputs = long
    o.overlap = Int(c.window_overlap)
    o.windowPooling = pool
    return o
}

@_cdecl("dnabert_classifier_predict_ex")
public func dnabert_classifier_predict_ex(_ h: OpaquePointer?, _ seqs: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?,
                                          _ n: Int, _ params: UnsafePointer<dnabert_predict_params>?,
                                          _ out: UnsafeMutablePointer<Float>?, _ report: UnsafeMutablePointer<dnabert_predict_report>?) -> Int32 {
    guarded("dnabert_classifier_predict_ex") {
        let c = try classifier(h)
        guard n >= 0, n < maxElements else { throw DNABertError.invalidArgument("n is out of range") }
        let o = try predictOptions(params)
        let sample = dnabert_predict_report(struct_size: structSize(dnabert_predict_report.self), n_long: 0, n_windows: 0,
                                            longest_tokens: 0, max_length: 0)
        try checkResult(report, sample: sample, name: "report")
        let bufs = try byteBuffers(seqs, lens, n)
        var s: [String] = []
        s.reserveCapacity(n)
        for (i, b) in bufs.enumerated() {
            guard let str = String(validating: b, as: UTF8.self) else { throw DNABertError.invalidArgument("seqs[\(i)] is not valid UTF-8") }
            s.append(str)
        }
        let out = n == 0 ? nil : try require(out, "out")
        let (scores, r) = try c.predict(s, options: o)
        if let out { scores.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: scores.count) } }
        if report != nil {
            try writeResult(dnabert_predict_report(struct_size: sample.struct_size, n_long: Int64(r.longInputs), n_windows: Int64(r.windows),
                                                   longest_tokens: Int32(clamping: r.longestTokens), max_length: Int32(clamping: r.maxLength)),
                            to: report, name: "report")
        }
    }
}
