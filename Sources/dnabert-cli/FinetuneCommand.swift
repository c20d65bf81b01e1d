import ArgumentParser
import DNABert
#if canImport(Glibc)
import Glibc
#endif

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a model for sequence classification (LoRA by default, or --full).",
        discussion: """
        Data: GUE-style CSV/TSV with a header naming `sequence` and `label` columns. Labels are inferred: integers \
        are classes, other text are class names, `0;2` lists are multi-label, decimals are regression \
        (--problem-type overrides). Dev/test files use the training file's label mapping.
        Writes to OUT: the adapter in Hugging Face PEFT format (adapter_config.json, adapter_model.safetensors) or, \
        with --full, a complete model folder; dnabert_classifier.json; metrics.jsonl (every step); loss.svg; \
        the classifier is also saved after every dev evaluation that improves on the best so far; \
        test_predictions.csv and test_metrics.json when --test is given.
        """)

    @Option(name: .long, help: "Pretrained model folder (config.json, model.safetensors, tokenizer.json).")
    var model: String
    @Option(name: .long, help: "Training CSV/TSV.")
    var train: String
    @Option(name: .long, help: "Dev CSV/TSV: evaluated every epoch (or --eval-every steps); the best is kept.")
    var dev: String?
    @Option(name: .long, help: "Test CSV/TSV: evaluated at the end with the kept parameters.")
    var test: String?
    @Option(name: .long, help: "Output folder.")
    var out: String
    @Option(name: .long, help: "LoRA rank (0 = full fine-tuning).")
    var loraR = 8
    @Option(name: .long, help: "LoRA alpha (scaling alpha / r).")
    var loraAlpha = 32.0
    @Option(name: .long, help: "LoRA dropout.")
    var loraDropout = 0.05
    @Option(name: .long, help: "Comma-separated LoRA targets: Wqkv, attention.output.dense, gated_layers, wo.")
    var loraTargets = "Wqkv,attention.output.dense"
    @Flag(name: .long, help: "Full fine-tuning (every weight trains) instead of LoRA.")
    var full = false
    @Option(name: .long, help: "Pooling: cls (DNABERT-2's pooler) or mean.")
    var pooling = "cls"
    @Option(name: .long, help: "single_label_classification, multi_label_classification or regression (default: inferred).")
    var problemType: String?
    @Option(name: .long, help: "Passes over the training data.")
    var epochs = 3.0
    @Option(name: .long, help: "Optimizer steps instead of --epochs (0 = use epochs).")
    var maxSteps = 0
    @Option(name: .long, help: "Sequences per micro-batch.")
    var batchSize = 32
    @Option(name: .long, help: "Micro-batches per step.")
    var gradAccum = 1
    @Option(name: .long, help: "Peak learning rate (default 5e-4 with LoRA, 3e-5 full).")
    var lr: Double?
    @Option(name: .long, help: "Warm-up steps (default min(50, 10% of the steps)).")
    var warmup: Int?
    @Option(name: .long, help: "Dev evaluation every N steps (default: once per epoch).")
    var evalEvery = 0
    @Option(name: .long, help: "Tokens per sequence incl. [CLS]/[SEP] (default: the longest training sequence, ≤ 512).")
    var maxLength = 0
    @Option(name: .long, help: "Keep the best dev checkpoint by: loss, accuracy, f1, mcc, precision, recall, pearson, spearman, r2.")
    var selectBy = "loss"
    @Flag(name: .long, help: "Weight the loss by inverse class frequency.")
    var classWeights = false
    @Flag(name: .long, help: ArgumentHelp("Strand-symmetric task (sequences from either strand): train on a random strand of each example and score by the mean of both strands' probabilities.",
                                          discussion: "Not for strand-specific tasks (oriented promoters, splice sites, start codons)."))
    var reverseComplement = false
    @Option(name: .long, help: "Hidden and classifier dropout (default: the config's).")
    var dropout: Double?
    @Option(name: .long, help: "Weight decay.")
    var weightDecay = 0.01
    @Option(name: .long, help: "Worker threads (0 = all cores).")
    var threads = 0
    @Option(name: .long, help: "Random seed (adapters, head, shuffling, dropout).")
    var seed: UInt64 = 0
    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false
    @Option(name: .long, help: "Base model precision: fp32, or int8 (QLoRA-style: LoRA and head in float32 on a frozen int8 base).")
    var precision: String?

    func run() throws {
        let base = try PretrainedModel.load(directory: model, precision: precision)
        let problem: ProblemType? = try problemType.map {
            guard let p = ProblemType(rawValue: $0) else {
                throw ValidationError("--problem-type must be single_label_classification, multi_label_classification or regression")
            }
            return p
        }
        let trainData = try LabelledSequences.read(path: train, problemType: problem)
        let devData = try dev.map { try LabelledSequences.read(path: $0, like: trainData) }
        let testData = try test.map { try LabelledSequences.read(path: $0, like: trainData) }
        var o = FineTuneOptions()
        o.epochs = epochs; o.maxSteps = maxSteps; o.batchSize = batchSize; o.gradAccum = gradAccum
        o.learningRate = lr ?? 0; o.warmupSteps = warmup ?? -1; o.evalEvery = evalEvery; o.maxLength = maxLength
        o.selectBy = selectBy; o.threads = threads; o.seed = seed; o.optimizer.weightDecay = weightDecay
        o.reverseComplement = reverseComplement
        // The run manages OUT (metrics.jsonl, the best classifier after each improving dev evaluation, the kept
        // classifier and loss.svg at the end, test files): the same core code as the C API, Python and R.
        o.outputDirectory = out
        o.baseModelName = model
        var lora: LoRAConfig? = nil
        if !full && loraR > 0 {
            lora = LoRAConfig(r: loraR, alpha: loraAlpha, dropout: loraDropout,
                              targets: try loraTargets.split(separator: ",").map { try LoRATarget(name: String($0)) })
        }
        let pool: Pooling
        switch pooling {
        case "cls": pool = .cls
        case "mean": pool = .mean
        default: throw ValidationError("--pooling must be cls or mean")
        }
        let ft = try FineTuning.start(base: base, train: trainData, dev: devData, options: o, lora: lora, pooling: pool,
                                      balancedClassWeights: classWeights, dropout: dropout)
        let clf = ft.classifier
        let schema = ft.schema
        if !quiet {
            let mode = lora.map { "LoRA r=\($0.r) alpha=\(formatNumber($0.alpha)) on \($0.targets.map(\.rawValue).joined(separator: ","))" } ?? "full fine-tuning"
            eprint("fine-tuning \(base.model.config.numLayers) layers × \(base.model.config.hiddenSize) hidden, \(mode): "
                   + "\(clf.trainableCount) trainable parameters; \(schema.problemType.rawValue), \(schema.numLabels) labels; "
                   + "\(trainData.count) training sequences (\(ft.stepsPerEpoch) steps/epoch, max \(clf.maxLength) tokens), "
                   + "\(ft.totalSteps) steps, lr \(ft.learningRate)"
                   + (o.reverseComplement ? "; both strands (reverse-complement augmentation and averaging)" : ""))
        }
        let bar = ProgressBar(quiet: quiet)
        var devLines: [String] = []
        try ft.run { p in
            var detail = "loss \(format2(p.progress.loss)) lr \(String(format: p.progress.learningRate)) \(Int(p.progress.tokensPerSecond)) tok/s"
            if let d = p.dev {
                let main = schema.problemType == .regression ? "pearson" : "mcc"
                detail += " | dev loss \(format3(d.loss)) \(main) \(format3(d.value(main) ?? .nan))"
                devLines.append("epoch \(format2(p.epoch)) step \(p.progress.step): dev " + Self.metricLine(d))
            }
            bar.update(stage: "fine-tuning", current: Int64(p.progress.step), total: Int64(p.progress.totalSteps),
                       elapsed: p.progress.elapsedSeconds, eta: p.progress.etaSeconds, detail: detail)
            return true
        }
        bar.finish()
        if !quiet {
            for l in devLines { eprint(l) }
            if let b = ft.best { eprint("kept the parameters of step \(b.step) (best dev \(selectBy) \(format3(b.value)))") }
        }
        // Metrics table.
        var rows: [(String, FineTuneEvaluation)] = []
        if let devData { rows.append(("dev", try clf.evaluate(devData, threads: threads))) }
        if let testData { rows.append(("test", try ft.test(testData))) }
        if !rows.isEmpty {
            let names = ["loss"] + rows[0].1.metrics.map(\.0)
            print(([String.pad("split", 6)] + names.map { String.pad($0, 10) }).joined(separator: " "))
            for (split, e) in rows {
                print(([String.pad(split, 6)] + names.map { String.pad(format4(e.value($0) ?? .nan), 10) }).joined(separator: " "))
            }
            if let e = rows.last?.1, !e.confusion.isEmpty {
                print("confusion (\(rows.last!.0); rows = true, columns = predicted):")
                for (i, r) in e.confusion.enumerated() {
                    print("  " + String.pad(schema.name(of: i), 12) + r.map { String.pad(String($0), 7) }.joined(separator: " "))
                }
            }
        }
        if !quiet { eprint("→ \(out) (\(lora == nil ? "model folder" : "PEFT adapter"), metrics.jsonl, loss.svg\(testData != nil ? ", test_predictions.csv, test_metrics.json" : ""))") }
    }

    static func metricLine(_ e: FineTuneEvaluation) -> String {
        (["loss \(format4(e.loss))"] + e.metrics.map { "\($0.0) \(format4($0.1))" }).joined(separator: ", ")
    }

}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict with a fine-tuned classifier (a LoRA adapter on its base model, or a full model folder).",
        discussion: """
        Input: FASTA/FASTQ (plain or gzip) or CSV/TSV with a `sequence` column (a `label` column, if present, is \
        scored and the metrics printed). Output CSV: id, label (the most probable class; names when trained on \
        names), prob_<k> per class (multi-label: labels with probability ≥ 0.5; regression: prediction).
        """)

    @Option(name: .long, help: "Base model folder (needed for a LoRA adapter).")
    var model: String?
    @Option(name: .long, help: "The classifier: a folder written by `dnabert finetune` (adapter or model).")
    var adapter: String
    @Option(name: .shortAndLong, help: "Output CSV (default: standard output).")
    var output: String?
    @Flag(name: .long, help: "Also write the sequence column.")
    var withSequence = false
    @Option(name: .long, help: "Sequences per batch.")
    var batchSize = 32
    @Option(name: .long, help: "Worker threads (0 = all cores).")
    var threads = 0
    @Argument(help: "Input FASTA/FASTQ/CSV.")
    var input: String
    @Option(name: .long, help: "Base model precision: fp32 or int8 (default: as stored; needs --model).")
    var precision: String?

    func run() throws {
        if precision != nil && model == nil { throw ValidationError("--precision applies to the base model: give --model too") }
        let base = try model.map { try PretrainedModel.load(directory: $0, precision: precision) }
        let clf = try SequenceClassifier.load(directory: adapter, base: base)
        let schema = try LabelSchema(problemType: clf.head.problemType, numLabels: clf.head.numLabels, labelNames: clf.labelNames)
        let data = try LabelledSequences.readInputs(path: input, schema: schema)
        let scores = try clf.predict(data.sequences, batchSize: batchSize, threads: threads)
        if let output {
            try PredictionsCSV.write(path: output, ids: data.ids, sequences: withSequence ? data.sequences : nil, schema: schema,
                                     scores: scores, truth: data.hasLabels ? data : nil)
        } else {
            let bytes = try PredictionsCSV.render(ids: data.ids, sequences: withSequence ? data.sequences : nil, schema: schema,
                                                  scores: scores, truth: data.hasLabels ? data : nil)
            _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, stdout) }
            fflush(stdout)
        }
        if data.hasLabels {
            let e = try clf.evaluate(data, batchSize: batchSize, threads: threads)
            eprint("\(data.count) labelled sequences: " + FinetuneCommand.metricLine(e))
        } else {
            eprint("\(data.count) sequences predicted" + (output.map { " → \($0)" } ?? ""))
        }
    }
}

func format3(_ v: Double) -> String {
    guard v.isFinite else { return "nan" }
    return String((v * 1000).rounded() / 1000)
}

func format4(_ v: Double) -> String {
    guard v.isFinite else { return "nan" }
    return String((v * 10000).rounded() / 10000)
}

func formatNumber(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }

extension String {
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
}
