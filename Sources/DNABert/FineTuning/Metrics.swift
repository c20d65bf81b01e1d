/// Evaluation metrics for fine-tuned sequence classifiers and regressors, defined exactly as scikit-learn
/// and SciPy define them (the GUE benchmark reports sklearn's numbers), so figures are comparable with
/// DNABERT-2's published ones. All sums are accumulated in `Int` (counts) or `Double`.

/// Single-label classification metrics. See `Metrics.classification` for the definitions.
public struct ClassificationMetrics: Sendable, Equatable {
    /// Fraction of samples whose predicted class equals the true class.
    public var accuracy: Double
    /// Macro F1 (sklearn `f1_score(average="macro", zero_division=0)`).
    public var f1: Double
    /// Matthews correlation coefficient, multi-class form (sklearn `matthews_corrcoef`).
    public var mcc: Double
    /// Macro precision (sklearn `precision_score(average="macro", zero_division=0)`).
    public var precision: Double
    /// Macro recall (sklearn `recall_score(average="macro", zero_division=0)`).
    public var recall: Double
    /// `confusion[t][p]` = number of samples of true class `t` predicted as `p`; `numClasses` × `numClasses`.
    public var confusion: [[Int]]
    /// Number of samples.
    public var count: Int

    public var numClasses: Int { confusion.count }

    /// The scalar metrics as (name, value) pairs in a fixed order, names as in DNABERT-2's GUE scripts.
    public var dictionary: [(String, Double)] {
        [("accuracy", accuracy), ("f1", f1), ("matthews_correlation", mcc), ("precision", precision), ("recall", recall)]
    }
}

/// Regression metrics. See `Metrics.regression` for the definitions.
public struct RegressionMetrics: Sendable, Equatable {
    /// Pearson correlation (scipy `pearsonr`); NaN when either input is constant or has fewer than 2 values.
    public var pearson: Double
    /// Spearman rank correlation with average ranks for ties (scipy `spearmanr`); NaN like `pearson`.
    public var spearman: Double
    /// Mean squared error (sklearn `mean_squared_error`).
    public var mse: Double
    /// Mean absolute error (sklearn `mean_absolute_error`).
    public var mae: Double
    /// Coefficient of determination (sklearn `r2_score`, `force_finite=True`); NaN for a single sample.
    public var r2: Double
    /// Number of samples.
    public var count: Int

    public var dictionary: [(String, Double)] {
        [("pearson", pearson), ("spearman", spearman), ("mse", mse), ("mae", mae), ("r2", r2)]
    }

    // NaN-aware: two results are equal when every field is equal or both NaN.
    public static func == (a: RegressionMetrics, b: RegressionMetrics) -> Bool {
        func same(_ x: Double, _ y: Double) -> Bool { x == y || (x.isNaN && y.isNaN) }
        return a.count == b.count && same(a.pearson, b.pearson) && same(a.spearman, b.spearman)
            && same(a.mse, b.mse) && same(a.mae, b.mae) && same(a.r2, b.r2)
    }
}

/// Multi-label classification metrics. See `Metrics.multiLabel` for the definitions.
public struct MultiLabelMetrics: Sendable, Equatable {
    /// Subset (exact-match) accuracy: fraction of samples whose whole predicted label set equals the true set.
    public var accuracy: Double
    /// Macro F1 over all labels (sklearn `f1_score(average="macro", zero_division=0)` on indicator matrices).
    public var f1: Double
    /// Macro precision over all labels.
    public var precision: Double
    /// Macro recall over all labels.
    public var recall: Double
    /// MCC of the flattened N×K indicator matrices (sklearn `matthews_corrcoef(truth.ravel(), pred.ravel())`).
    public var mcc: Double
    /// Number of labels K.
    public var numLabels: Int
    /// Number of samples N.
    public var count: Int

    public var dictionary: [(String, Double)] {
        [("accuracy", accuracy), ("f1", f1), ("matthews_correlation", mcc), ("precision", precision), ("recall", recall)]
    }
}

public enum Metrics {
    /// Single-label classification metrics from predicted and true class indices.
    ///
    /// Definitions (as scikit-learn 1.x with `labels=None`, `zero_division=0`):
    /// - the confusion matrix C is K×K, rows = true class, columns = predicted class;
    /// - `accuracy` = trace(C) / N;
    /// - per class k: tp = C[k][k], predicted = column sum, true = row sum; precision = tp/predicted,
    ///   recall = tp/true, F1 = 2·tp/(true + predicted), each 0 when its denominator is 0;
    /// - macro precision/recall/F1 = unweighted mean over the classes that occur in `truth` or `predicted`
    ///   (sklearn's `unique_labels(y_true, y_pred)`); classes of 0..<K that occur in neither are skipped;
    /// - `mcc` = (c·N − Σ t_k p_k) / sqrt((N² − Σ p_k²)(N² − Σ t_k²)) with c = trace(C), t = row sums,
    ///   p = column sums; 0 when the denominator is 0 (e.g. all predictions in one class).
    ///
    /// - Parameter numClasses: K; nil = 1 + the largest index seen. Throws `.invalidArgument` for lengths that
    ///   differ, empty input, or an index outside 0..<K.
    public static func classification(predicted: [Int], truth: [Int], numClasses: Int? = nil) throws -> ClassificationMetrics {
        guard predicted.count == truth.count else {
            throw DNABertError.invalidArgument("classification metrics: \(predicted.count) predictions but \(truth.count) true labels")
        }
        guard !truth.isEmpty else { throw DNABertError.invalidArgument("classification metrics: no samples") }
        let seenMax = max(predicted.max() ?? 0, truth.max() ?? 0)
        let k = numClasses ?? max(seenMax + 1, 1)
        guard k >= 1 else { throw DNABertError.invalidArgument("classification metrics: numClasses must be at least 1, got \(k)") }
        guard k <= LabelSchema.maxLabels else {
            throw DNABertError.invalidArgument("classification metrics: numClasses \(k) is too large (at most \(LabelSchema.maxLabels))")
        }
        var conf = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for i in 0..<truth.count {
            let t = truth[i], p = predicted[i]
            guard t >= 0 && t < k else {
                throw DNABertError.invalidArgument("classification metrics: true label \(t) at index \(i) is outside 0..<\(k)")
            }
            guard p >= 0 && p < k else {
                throw DNABertError.invalidArgument("classification metrics: predicted label \(p) at index \(i) is outside 0..<\(k)")
            }
            conf[t][p] += 1
        }
        return compute(conf)
    }

    /// Metrics from a confusion matrix (rows = true class), with the definitions of `classification`.
    /// Throws `.invalidArgument` when it is not square, has a negative count, or sums to 0.
    public static func fromConfusion(_ confusion: [[Int]]) throws -> ClassificationMetrics {
        let k = confusion.count
        guard k >= 1, confusion.allSatisfy({ $0.count == k }) else {
            throw DNABertError.invalidArgument("classification metrics: the confusion matrix must be square and non-empty")
        }
        guard confusion.allSatisfy({ $0.allSatisfy { $0 >= 0 } }) else {
            throw DNABertError.invalidArgument("classification metrics: the confusion matrix has a negative count")
        }
        guard k <= LabelSchema.maxLabels else {
            throw DNABertError.invalidArgument("classification metrics: \(k) classes is too many (at most \(LabelSchema.maxLabels))")
        }
        var total = 0
        for row in confusion {
            for c in row {
                let (s, o) = total.addingReportingOverflow(c)
                guard !o && s <= Int.max / 4 else {
                    throw DNABertError.invalidArgument("classification metrics: the confusion matrix counts are too large")
                }
                total = s
            }
        }
        guard total > 0 else { throw DNABertError.invalidArgument("classification metrics: no samples") }
        return compute(confusion)
    }

    private static func compute(_ conf: [[Int]]) -> ClassificationMetrics {
        let k = conf.count
        var rowSum = [Int](repeating: 0, count: k), colSum = [Int](repeating: 0, count: k)
        var correct = 0
        for t in 0..<k {
            for p in 0..<k {
                rowSum[t] += conf[t][p]
                colSum[p] += conf[t][p]
            }
            correct += conf[t][t]
        }
        let n = rowSum.reduce(0, +)
        var precSum = 0.0, recSum = 0.0, f1Sum = 0.0
        var present = 0
        for c in 0..<k where rowSum[c] > 0 || colSum[c] > 0 {
            present += 1
            let tp = Double(conf[c][c])
            precSum += colSum[c] > 0 ? tp / Double(colSum[c]) : 0
            recSum += rowSum[c] > 0 ? tp / Double(rowSum[c]) : 0
            f1Sum += 2 * tp / Double(rowSum[c] + colSum[c])
        }
        let denomMacro = Double(max(present, 1))
        return ClassificationMetrics(
            accuracy: Double(correct) / Double(n),
            f1: f1Sum / denomMacro,
            mcc: mcc(rowSums: rowSum, colSums: colSum, correct: correct),
            precision: precSum / denomMacro,
            recall: recSum / denomMacro,
            confusion: conf,
            count: n)
    }

    /// sklearn's multi-class MCC from the row sums (true), column sums (predicted) and the trace.
    static func mcc(rowSums t: [Int], colSums p: [Int], correct: Int) -> Double {
        let n = Double(t.reduce(0, +))
        var tp = 0.0, pp = 0.0, tt = 0.0
        for i in 0..<t.count {
            let a = Double(t[i]), b = Double(p[i])
            tp += a * b; pp += b * b; tt += a * a
        }
        let cov = Double(correct) * n - tp
        let covP = n * n - pp
        let covT = n * n - tt
        let d = covP * covT
        if d == 0 { return 0 }
        return cov / d.squareRoot()
    }

    /// Regression metrics from predictions and targets.
    ///
    /// Definitions: `mse` = mean((y − ŷ)²); `mae` = mean(|y − ŷ|); `r2` = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², where a
    /// constant target gives 1 if the predictions are exact and 0 otherwise (sklearn `force_finite=True`), and
    /// a single sample gives NaN (sklearn: "not well-defined with less than two samples");
    /// `pearson` = Σ(x − x̄)(y − ȳ) / (‖x − x̄‖ ‖y − ȳ‖) clipped to [−1, 1], NaN when either side is constant
    /// or has fewer than 2 values (scipy returns NaN for constant input); `spearman` = pearson of the ranks,
    /// ties receiving the average of their ranks (scipy `rankdata(method="average")`).
    /// NaN in the inputs propagates to NaN results (no throw), so a diverged model still gets a report.
    ///
    /// Throws `.invalidArgument` for lengths that differ or empty input.
    public static func regression(predicted: [Double], truth: [Double]) throws -> RegressionMetrics {
        guard predicted.count == truth.count else {
            throw DNABertError.invalidArgument("regression metrics: \(predicted.count) predictions but \(truth.count) targets")
        }
        guard !truth.isEmpty else { throw DNABertError.invalidArgument("regression metrics: no samples") }
        let n = Double(truth.count)
        var se = 0.0, ae = 0.0, mean = 0.0
        for i in 0..<truth.count {
            let d = truth[i] - predicted[i]
            se += d * d
            ae += abs(d)
            mean += truth[i]
        }
        mean /= n
        var ssTot = 0.0
        for y in truth { ssTot += (y - mean) * (y - mean) }
        let r2: Double
        if ssTot.isNaN || se.isNaN || truth.count < 2 { r2 = .nan }
        else if ssTot == 0 { r2 = se == 0 ? 1 : 0 }
        else { r2 = 1 - se / ssTot }
        let hasNaN = predicted.contains { $0.isNaN } || truth.contains { $0.isNaN }
        return RegressionMetrics(
            pearson: hasNaN ? .nan : pearson(predicted, truth),
            spearman: hasNaN ? .nan : pearson(ranks(predicted), ranks(truth)),
            mse: se / n, mae: ae / n, r2: r2, count: truth.count)
    }

    /// Pearson correlation as scipy computes it (centre, normalise, dot, clip); NaN for constant input.
    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = x.count
        guard n >= 2, n == y.count else { return .nan }
        if x.allSatisfy({ $0 == x[0] }) || y.allSatisfy({ $0 == y[0] }) { return .nan }
        var mx = 0.0, my = 0.0
        for i in 0..<n { mx += x[i]; my += y[i] }
        mx /= Double(n); my /= Double(n)
        var sxx = 0.0, syy = 0.0, sxy = 0.0
        for i in 0..<n {
            let a = x[i] - mx, b = y[i] - my
            sxx += a * a; syy += b * b; sxy += a * b
        }
        let d = sxx.squareRoot() * syy.squareRoot()
        if d == 0 { return .nan }
        return min(1, max(-1, sxy / d))
    }

    /// 1-based ranks with ties given their average rank (scipy `rankdata(method="average")`). No NaN allowed.
    static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] || (x[$0] == x[$1] && $0 < $1) }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i + 1
            while j < order.count && x[order[j]] == x[order[i]] { j += 1 }
            let avg = Double(i + 1 + j) / 2   // mean of ranks i+1 ... j
            for m in i..<j { r[order[m]] = avg }
            i = j
        }
        return r
    }

    /// Multi-label metrics from N×K predicted and true indicator matrices.
    ///
    /// Definitions (sklearn on indicator matrices, `zero_division=0`): `accuracy` is subset accuracy (a sample
    /// counts only when all K indicators match); per label k, with tp/fp/fn counted down column k, precision =
    /// tp/(tp+fp), recall = tp/(tp+fn), F1 = 2tp/(2tp+fp+fn), each 0 when its denominator is 0; macro = plain
    /// mean over ALL K labels (also labels that never occur, which then score 0); `mcc` is the binary MCC of
    /// the N·K flattened indicators. (With K = 1 this scores the one label; sklearn would instead read an N×1
    /// column as a binary problem and macro-average over its classes 0 and 1.)
    ///
    /// Throws `.invalidArgument` for row counts or row lengths that differ, empty input, or K = 0.
    public static func multiLabel(predicted: [[Bool]], truth: [[Bool]]) throws -> MultiLabelMetrics {
        guard predicted.count == truth.count else {
            throw DNABertError.invalidArgument("multi-label metrics: \(predicted.count) prediction rows but \(truth.count) true rows")
        }
        guard let k = truth.first?.count else { throw DNABertError.invalidArgument("multi-label metrics: no samples") }
        guard k > 0 else { throw DNABertError.invalidArgument("multi-label metrics: rows have no labels") }
        var tp = [Int](repeating: 0, count: k), fp = tp, fn = tp
        var exact = 0
        for i in 0..<truth.count {
            let t = truth[i], p = predicted[i]
            guard t.count == k, p.count == k else {
                throw DNABertError.invalidArgument("multi-label metrics: row \(i) has \(p.count) predicted and \(t.count) true labels, expected \(k)")
            }
            var same = true
            for j in 0..<k {
                if t[j] != p[j] { same = false }
                if t[j] && p[j] { tp[j] += 1 } else if p[j] { fp[j] += 1 } else if t[j] { fn[j] += 1 }
            }
            if same { exact += 1 }
        }
        var precSum = 0.0, recSum = 0.0, f1Sum = 0.0
        var tpAll = 0, fpAll = 0, fnAll = 0
        for j in 0..<k {
            let a = Double(tp[j])
            if tp[j] + fp[j] > 0 { precSum += a / Double(tp[j] + fp[j]) }
            if tp[j] + fn[j] > 0 { recSum += a / Double(tp[j] + fn[j]) }
            if 2 * tp[j] + fp[j] + fn[j] > 0 { f1Sum += 2 * a / Double(2 * tp[j] + fp[j] + fn[j]) }
            tpAll += tp[j]; fpAll += fp[j]; fnAll += fn[j]
        }
        let total = truth.count * k
        let tnAll = total - tpAll - fpAll - fnAll
        // Binary confusion of the flattened indicators: classes 0 (absent) and 1 (present).
        let rows = [tnAll + fpAll, fnAll + tpAll], cols = [tnAll + fnAll, fpAll + tpAll]
        return MultiLabelMetrics(
            accuracy: Double(exact) / Double(truth.count),
            f1: f1Sum / Double(k), precision: precSum / Double(k), recall: recSum / Double(k),
            mcc: mcc(rowSums: rows, colSums: cols, correct: tnAll + tpAll),
            numLabels: k, count: truth.count)
    }

    /// Indicator matrix (N×`numLabels`) from per-sample label index lists, e.g. `LabelledSequences.multiLabels`.
    /// Throws `.invalidArgument` for an index outside 0..<numLabels.
    public static func indicators(_ labels: [[Int]], numLabels: Int) throws -> [[Bool]] {
        guard numLabels > 0 else { throw DNABertError.invalidArgument("multi-label indicators: numLabels must be positive") }
        var out = [[Bool]](repeating: [Bool](repeating: false, count: numLabels), count: labels.count)
        for (i, row) in labels.enumerated() {
            for l in row {
                guard l >= 0 && l < numLabels else {
                    throw DNABertError.invalidArgument("multi-label indicators: label \(l) of sample \(i) is outside 0..<\(numLabels)")
                }
                out[i][l] = true
            }
        }
        return out
    }
}

extension Metrics {
    /// Index of the largest score in each row of an N × k row-major matrix (the first on ties, like
    /// numpy's argmax). Throws `.invalidArgument` when the count is not a multiple of k.
    public static func argmax(_ scores: [Float], numLabels k: Int) throws -> [Int] {
        guard k >= 1, scores.count % k == 0 else {
            throw DNABertError.invalidArgument("argmax: \(scores.count) scores is not a whole number of rows of \(k)")
        }
        var out = [Int](repeating: 0, count: scores.count / k)
        for i in 0..<out.count {
            var best = i * k
            for j in (i * k + 1)..<(i * k + k) where scores[j] > scores[best] { best = j }
            out[i] = best - i * k
        }
        return out
    }

    /// Scores a model's outputs against labelled data, picking the metrics by the problem type:
    /// single-label → `classification` of the argmax; multi-label → `multiLabel` of `score ≥ threshold`;
    /// regression → `regression` of the outputs. `scores` is N × numLabels row-major (probabilities or
    /// logits for single-label, probabilities for multi-label with the default threshold, the N outputs for
    /// regression). Returns the named values in a fixed order (`ClassificationMetrics.dictionary` etc.).
    /// Throws `.invalidArgument` when `truth` has no labels or the sizes disagree.
    public static func evaluate(scores: [Float], truth: LabelledSequences, threshold: Float = 0.5) throws -> [(String, Double)] {
        guard truth.hasLabels, let schema = truth.schema else {
            throw DNABertError.invalidArgument("evaluate: '\(truth.path)' has no labels")
        }
        let n = truth.count, k = schema.numLabels
        guard scores.count == n * k else {
            throw DNABertError.invalidArgument("evaluate: \(scores.count) scores for \(n) sequences × \(k) labels of '\(truth.path)'")
        }
        switch schema.problemType {
        case .singleLabel:
            let pred = try decide(problemType: .singleLabel, scores: scores, numLabels: k).map { Int($0) }
            return try classification(predicted: pred, truth: truth.classLabels, numClasses: k).dictionary
        case .multiLabel:
            let flat = try decide(problemType: .multiLabel, scores: scores, numLabels: k, threshold: threshold)
            let pred = (0..<n).map { i in (0..<k).map { flat[i * k + $0] == 1 } }
            return try multiLabel(predicted: pred, truth: indicators(truth.multiLabels, numLabels: k)).dictionary
        case .regression:
            return try regression(predicted: scores.map { Double($0) }, truth: truth.targets).dictionary
        }
    }
}

/// The one table of metric names: the keys of every metrics.jsonl line (pretraining and fine-tuning write the same
/// record, `TrainingProgress.json`; fine-tuning adds its dev figures under `dev`), the names of evaluation figures
/// (what `FineTuneEvaluation.value`, `select_by`, test_metrics.json and the bindings use) and which way is better.
public enum MetricNames {
    /// Keys of a metrics.jsonl / metrics.csv record, in order.
    public static let step = "step", totalSteps = "total_steps", loss = "loss", learningRate = "lr", gradNorm = "grad_norm"
    public static let tokens = "tokens", tokensPerSecond = "tokens_per_second", elapsedSeconds = "elapsed_seconds"
    public static let etaSeconds = "eta_seconds", validationLoss = "val_loss", validationAccuracy = "val_accuracy"
    /// Fine-tuning's dev evaluation (an object of `evaluation` names) in a metrics.jsonl line.
    public static let dev = "dev"
    public static let record = [step, totalSteps, loss, learningRate, gradNorm, tokens, tokensPerSecond, elapsedSeconds,
                                etaSeconds, validationLoss, validationAccuracy]

    /// Classification figures (single- and multi-label; macro averages) and regression figures, in report order.
    public static let classification = ["accuracy", "f1", "mcc", "precision", "recall"]
    public static let regression = ["pearson", "spearman", "mse", "mae", "r2"]
    /// What a run can keep its best dev checkpoint by: "loss" (lowest) or a figure (highest).
    public static let selectable = ["loss"] + classification + ["pearson", "spearman", "r2"]

    /// The table's name of a figure reported under another name (scikit-learn's `matthews_correlation`).
    public static func canonical(_ name: String) -> String { name == "matthews_correlation" ? "mcc" : name }
    /// True when a lower value is better (losses and errors).
    public static func lowerIsBetter(_ name: String) -> Bool { ["loss", "mse", "mae"].contains(name) }
    /// True when `name` is a figure of the problem type.
    public static func applies(_ name: String, to problem: ProblemType) -> Bool {
        name == "loss" || (problem == .regression ? regression : classification).contains(name)
    }
}

extension Metrics {
    /// The label decision used everywhere (CLI predictions, the C API's dnabert_decide_labels, the bindings): on N × k
    /// scores, single-label → the argmax class per row (first on ties; N entries); multi-label → 1 where the score is
    /// ≥ `threshold` (0.5), else 0 (N × k entries). Regression has no decision. A NaN never wins over a number after
    /// it (comparisons with NaN are false), and is never ≥ the threshold.
    public static func decide(problemType: ProblemType, scores: UnsafeBufferPointer<Float>, numLabels k: Int,
                              threshold: Float = 0.5) throws -> [Int32] {
        guard k >= 1, scores.count % k == 0 else {
            throw DNABertError.invalidArgument("decide: \(scores.count) scores is not a whole number of rows of \(k)")
        }
        switch problemType {
        case .singleLabel:
            let n = scores.count / k
            var out = [Int32](repeating: 0, count: n)
            for i in 0..<n {
                var best = i * k
                for j in (i * k + 1)..<(i * k + k) where scores[j] > scores[best] { best = j }
                out[i] = Int32(best - i * k)
            }
            return out
        case .multiLabel:
            return scores.map { $0 >= threshold ? 1 : 0 }
        case .regression:
            throw DNABertError.invalidArgument("decide: regression outputs have no label decision")
        }
    }

    public static func decide(problemType: ProblemType, scores: [Float], numLabels k: Int, threshold: Float = 0.5) throws -> [Int32] {
        try scores.withUnsafeBufferPointer { try decide(problemType: problemType, scores: $0, numLabels: k, threshold: threshold) }
    }
}
