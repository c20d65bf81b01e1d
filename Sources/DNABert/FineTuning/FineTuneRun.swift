/// Run management of a fine-tuning run in an output folder — the one implementation behind the CLI's `finetune
/// --out`, the C API's `dnabert_finetune_params.out_dir`, Python's `finetune(out=...)` and R's `out =`:
///  - metrics.jsonl: one line per optimizer step, the record pretraining writes (`TrainingProgress.json`, keys in
///    `MetricNames.record`) with the dev figures of an evaluated step under `dev`;
///  - the classifier, saved (atomically, by `SequenceClassifier.save`) after every dev evaluation that improves on
///    the best so far and before that step's metrics line is written: once a line with a new best is on disk,
///    so is that classifier, and a run killed at any point leaves its best classifier so far;
///  - at the end of the run the kept classifier (the best dev parameters, or the last without dev) and loss.svg;
///  - on request, test_metrics.json and test_predictions.csv for a test set.
public final class FineTuneRunFolder {
    public let directory: String
    /// Written into adapter_config.json as base_model_name_or_path.
    public let baseModelName: String?
    private let metrics: MetricsWriter

    /// Creates `directory` if needed and starts a new metrics.jsonl (an earlier run's is replaced).
    public init(directory: String, baseModelName: String? = nil) throws {
        guard !directory.isEmpty else { throw DNABertError.invalidArgument("fine-tune: the output folder name is empty") }
        try FileIO.makeDirectories(directory)
        self.directory = directory
        self.baseModelName = baseModelName
        metrics = try MetricsWriter(path: directory + "/metrics.jsonl", format: .jsonl, truncate: true)
    }

    deinit { metrics.close() }

    /// After each step: the classifier first when this step's dev evaluation is a new best, then the metrics line.
    func record(_ p: FineTuneProgress, newBest: Bool, classifier: SequenceClassifier) throws {
        if newBest { try classifier.save(directory: directory, baseModelName: baseModelName) }
        try metrics.write(p.progress, extra: p.dev.map(FineTuneRunFolder.json))
    }

    /// At the end of a run: the kept classifier and the loss curve.
    func finish(classifier: SequenceClassifier, history: [TrainingProgress]) throws {
        metrics.sync()
        try classifier.save(directory: directory, baseModelName: baseModelName)
        try FileIO.writeAtomically(directory + "/loss.svg", string: LossCurveSVG.render(history))
    }

    /// test_metrics.json (n, loss and the figures) and test_predictions.csv (id, decided label, scores, true label).
    func writeTest(_ e: FineTuneEvaluation, data: LabelledSequences, schema: LabelSchema) throws {
        try PredictionsCSV.write(path: directory + "/test_predictions.csv", ids: data.ids, schema: schema, scores: e.scores,
                                 truth: data.hasLabels ? data : nil)
        guard case .object(let members) = FineTuneRunFolder.json(e) else { return }
        let record = JSONValue.object([("n", .int(Int64(data.count)))] + members)
        try FileIO.writeAtomically(directory + "/test_metrics.json", string: JSON.serialize(record, indent: 2) + "\n")
    }

    /// An evaluation as JSON: "loss" then the figures by their `MetricNames` names (null when not finite).
    public static func json(_ e: FineTuneEvaluation) -> JSONValue {
        func v(_ x: Double) -> JSONValue { x.isFinite ? .double(x) : .null }
        return .object([(MetricNames.loss, v(e.loss))] + e.metrics.map { (MetricNames.canonical($0.0), v($0.1)) })
    }
}
