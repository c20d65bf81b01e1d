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
    var loraTargets = "Wqkv,attention.output.dense,gated_layers,wo"
    @Flag(name: .long, help: "Full fine-tuning (every weight trains) instead of LoRA.")
    var full = false
    @Option(name: .long, help: "Pooling: auto (mean for a strand-symmetric run, cls otherwise), mean or cls (DNABERT-2's pooler).")
    var pooling = "auto"
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
                                          discussion: "Not for strand-specific tasks (oriented promoters, splice sites, start codons). Default: auto, on when the training sequences' 3-mer counts are strand-symmetric (sequences from a random strand); see --no-reverse-complement."))
    var reverseComplement = false
    @Flag(name: .long, help: "Never strand-symmetric (overrides the automatic choice).")
    var noReverseComplement = false
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
    @Flag(name: .long, help: "Data-parallel over MPI: `mpirun -np N dnabert finetune --distributed ...` (N ranks × --grad-accum micro-batches per step; dev evaluation sharded; rank 0 writes).")
    var distributed = false
    @Option(name: .long, help: "Base model precision: fp32, or int8 (QLoRA-style: LoRA and head in float32 on a frozen int8 base).")
    var precision: String?

    func run() throws {
        let comm = distributed ? try Communicator.world() : .single
        // Distributed: an error on one rank ends every rank (MPI_Abort) instead of leaving them in a collective.
        do { try finetune(comm: comm) } catch {
            if comm.size > 1 && !comm.failedOnAllRanks { comm.abort("\(error)") }
            throw error
        }
    }

    func finetune(comm: Communicator) throws {
        let quiet = self.quiet || !comm.isRoot
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
        if reverseComplement && noReverseComplement {
            throw ValidationError("--reverse-complement and --no-reverse-complement exclude each other")
        }
        o.reverseComplement = reverseComplement ? true : (noReverseComplement ? false : nil)
        o.distributed = distributed
        // The run manages OUT (metrics.jsonl, the best classifier after each improving dev evaluation, the kept
        // classifier and loss.svg at the end, test files): the same core code as the C API, Python and R.
        o.outputDirectory = out
        o.baseModelName = model
        var lora: LoRAConfig? = nil
        if !full && loraR > 0 {
            lora = LoRAConfig(r: loraR, alpha: loraAlpha, dropout: loraDropout,
                              targets: try loraTargets.split(separator: ",").map { try LoRATarget(name: String($0)) })
        }
        let pool: Pooling?
        switch pooling {
        case "auto": pool = nil
        case "cls": pool = .cls
        case "mean": pool = .mean
        default: throw ValidationError("--pooling must be auto, mean or cls")
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
                   + "\(ft.totalSteps) steps, lr \(ft.learningRate); \(clf.head.pooling == .cls ? "[CLS]" : "mean") pooling"
                   + (pool == nil ? " (auto)" : "")
                   + (ft.classifier.reverseComplement ? "; both strands (reverse-complement augmentation and averaging)" : ""))
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
        guard comm.isRoot else { return }
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
    @Option(name: .long, help: "Tokens per input incl. [CLS]/[SEP] (default: the classifier's training length).")
    var maxLength: Int?
    @Option(name: .long, help: "Inputs longer than the max length: truncate (keep the first tokens, with a warning) or windows (score overlapping windows and pool).")
    var longInputs = "truncate"
    @Option(name: .long, help: "Tokens shared by consecutive windows (default: a quarter of the window).")
    var windowOverlap: Int?
    @Option(name: .long, help: "Pooling of the windows' scores: mean or max.")
    var windowPooling = "mean"
    @Argument(help: "Input FASTA/FASTQ/CSV.")
    var input: String
    @Option(name: .long, help: "Base model precision: fp32 or int8 (default: as stored; needs --model).")
    var precision: String?

    func validate() throws {
        if !["truncate", "windows"].contains(longInputs) { throw ValidationError("--long-inputs must be truncate or windows") }
        if !["mean", "max"].contains(windowPooling) { throw ValidationError("--window-pooling must be mean or max") }
        if let m = maxLength, m < 3 { throw ValidationError("--max-length must be at least 3") }
        if let o = windowOverlap, o < 0 { throw ValidationError("--window-overlap must be >= 0") }
    }

    func run() throws {
        if precision != nil && model == nil { throw ValidationError("--precision applies to the base model: give --model too") }
        let base = try model.map { try PretrainedModel.load(directory: $0, precision: precision) }
        let clf = try SequenceClassifier.load(directory: adapter, base: base)
        let schema = try LabelSchema(problemType: clf.head.problemType, numLabels: clf.head.numLabels, labelNames: clf.labelNames)
        let data = try LabelledSequences.readInputs(path: input, schema: schema)
        var po = PredictOptions()
        po.batchSize = batchSize
        po.threads = threads
        po.maxLength = maxLength ?? 0
        po.longInputs = longInputs == "windows" ? .windows : .truncate
        po.overlap = windowOverlap ?? -1
        po.windowPooling = windowPooling == "max" ? .max : .mean
        let (scores, report) = try clf.predict(data.sequences, options: po)
        if report.longInputs > 0 {
            if po.longInputs == .truncate {
                eprint("warning: \(report.longInputs) of \(data.count) sequences are longer than the classifier's \(report.maxLength) tokens "
                       + "(longest \(report.longestTokens)) and were truncated to their first \(report.maxLength) tokens; "
                       + "use --long-inputs windows to score them by sliding windows")
            } else {
                eprint("\(report.longInputs) sequences longer than \(report.maxLength) tokens scored by \(report.windows) windows in all (\(windowPooling) of the windows' scores)")
            }
        }
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
            // Metrics of the scores just written (windows included); the loss only when nothing was windowed.
            let e = report.longInputs > 0 && po.longInputs == .windows
                ? try FineTuner.evaluation(scores: scores, data, numLabels: clf.head.numLabels)
                : try clf.evaluate(data, batchSize: batchSize, threads: threads)
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
