#if canImport(Glibc)
import Glibc
#endif

/// One progress report of a training run (what the progress callback, the metrics log and the checkpoint's
/// history hold). Optional fields are nil when not measured at this step (validation runs every N steps).
public struct TrainingProgress: Sendable, Equatable {
    /// Optimizer updates done, of `totalSteps`.
    public var step: Int
    public var totalSteps: Int
    /// Mean training loss of the step's batch (masked-token cross-entropy for pretraining).
    public var loss: Double
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double?
    /// Tokens processed so far and throughput (non-padding tokens per second, averaged over the run).
    public var tokens: Int
    public var tokensPerSecond: Double
    public var elapsedSeconds: Double
    /// Estimated seconds to `totalSteps` at the average step time so far.
    public var etaSeconds: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?

    public init(step: Int, totalSteps: Int, loss: Double, learningRate: Double, gradNorm: Double? = nil, tokens: Int = 0,
                elapsedSeconds: Double = 0, validationLoss: Double? = nil, validationAccuracy: Double? = nil) {
        self.step = step
        self.totalSteps = totalSteps
        self.loss = loss
        self.learningRate = learningRate
        self.gradNorm = gradNorm
        self.tokens = tokens
        self.elapsedSeconds = elapsedSeconds
        self.tokensPerSecond = elapsedSeconds > 0 ? Double(tokens) / elapsedSeconds : 0
        self.etaSeconds = TrainingProgress.eta(step: step, totalSteps: totalSteps, elapsedSeconds: elapsedSeconds)
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
    }

    /// Remaining time at the average step time so far (0 when done or nothing measured yet).
    public static func eta(step: Int, totalSteps: Int, elapsedSeconds: Double) -> Double {
        guard step > 0, totalSteps > step, elapsedSeconds > 0 else { return 0 }
        return elapsedSeconds / Double(step) * Double(totalSteps - step)
    }

    // MARK: JSON

    public var json: JSONValue {
        func opt(_ x: Double?) -> JSONValue { x.map { $0.isFinite ? .double($0) : .null } ?? .null }
        // The keys of the one metric-name table (pretraining and fine-tuning write this record).
        typealias K = MetricNames
        return .object([
            (K.step, .int(Int64(step))), (K.totalSteps, .int(Int64(totalSteps))),
            (K.loss, opt(loss)), (K.learningRate, opt(learningRate)), (K.gradNorm, opt(gradNorm)),
            (K.tokens, .int(Int64(tokens))), (K.tokensPerSecond, opt(tokensPerSecond)),
            (K.elapsedSeconds, opt(elapsedSeconds)), (K.etaSeconds, opt(etaSeconds)),
            (K.validationLoss, opt(validationLoss)), (K.validationAccuracy, opt(validationAccuracy)),
        ])
    }

    public init(json: JSONValue) throws {
        guard let s = json["step"]?.intValue, let t = json["total_steps"]?.intValue, let st = Int(exactly: s), let tt = Int(exactly: t) else {
            throw DNABertError.format("training progress: expected integer 'step' and 'total_steps'")
        }
        func num(_ k: String) -> Double? { json[k]?.doubleValue }
        step = st
        totalSteps = tt
        loss = num("loss") ?? .nan
        learningRate = num("lr") ?? 0
        gradNorm = num("grad_norm")
        tokens = Int(json["tokens"]?.intValue ?? 0)
        tokensPerSecond = num("tokens_per_second") ?? 0
        elapsedSeconds = num("elapsed_seconds") ?? 0
        etaSeconds = num("eta_seconds") ?? 0
        validationLoss = num("val_loss")
        validationAccuracy = num("val_accuracy")
    }

    // MARK: CSV

    public static let csvHeader = MetricNames.record.joined(separator: ",")

    /// One CSV row (empty cells for missing values; shortest round-trip decimals).
    public var csvRow: String {
        func f(_ x: Double?) -> String { x.map { $0.isFinite ? "\($0)" : "" } ?? "" }
        return [String(step), String(totalSteps), f(loss), f(learningRate), f(gradNorm), String(tokens), f(tokensPerSecond),
                f(elapsedSeconds), f(etaSeconds), f(validationLoss), f(validationAccuracy)].joined(separator: ",")
    }
}

/// Appends one line per report to a metrics file: JSON Lines (`.jsonl`) or CSV (header written once, when
/// the file is new or empty). Each line goes out in one `write` call with O_APPEND, so a crash loses at most
/// the line being written and never interleaves lines.
public final class MetricsWriter {
    public enum Format: Sendable { case jsonl, csv }
    public let path: String
    public let format: Format
    private var fd: Int32

    /// Opens (creating) `path`; the format follows the extension (`.csv`, else JSON Lines) unless given.
    /// `truncate` starts a new file instead of appending.
    public init(path: String, format: Format? = nil, truncate: Bool = false) throws {
        self.path = path
        self.format = format ?? (path.hasSuffix(".csv") ? .csv : .jsonl)
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw DNABertError.io("cannot open metrics file '\(path)': \(FileIO.errnoString())") }
        if self.format == .csv {
            var st = stat()
            if fstat(fd, &st) == 0 && st.st_size == 0 { try writeLine(TrainingProgress.csvHeader) }
        }
    }

    deinit { close() }

    public func write(_ p: TrainingProgress) throws {
        try writeLine(format == .csv ? p.csvRow : JSON.serialize(p.json))
    }

    /// JSON Lines: the record with `extra` (an object, e.g. dev metrics) nested under "dev"; CSV ignores `extra`.
    public func write(_ p: TrainingProgress, extra: JSONValue?) throws {
        guard format == .jsonl, let extra, case .object(var members) = p.json else { return try write(p) }
        members.append((MetricNames.dev, extra))
        try writeLine(JSON.serialize(.object(members)))
    }

    private func writeLine(_ s: String) throws {
        guard fd >= 0 else { throw DNABertError.io("metrics file '\(path)' is closed") }
        var bytes = Array(s.utf8)
        bytes.append(10)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DNABertError.io("cannot write metrics file '\(path)': \(FileIO.errnoString())")
            }
            off += n
        }
    }

    /// Flushes to disk.
    public func sync() { if fd >= 0 { _ = fsync(fd) } }

    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}
