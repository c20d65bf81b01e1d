/// Linear warm-up from 0 to `peak` over `warmupSteps`, then linear decay to 0 at `totalSteps`: Hugging Face
/// `get_linear_schedule_with_warmup`. `lr(at: k)` is the rate of the update made after k updates (so the
/// first update of a warm-up uses rate 0, as with HF's LambdaLR stepped after each optimizer step).
public struct LRSchedule: Sendable, Equatable {
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Double, warmupSteps: Int, totalSteps: Int) throws {
        guard peak >= 0, peak.isFinite else { throw DNABertError.invalidArgument("LR schedule: peak learning rate must be finite and >= 0, got \(peak)") }
        guard warmupSteps >= 0 else { throw DNABertError.invalidArgument("LR schedule: warm-up steps must be >= 0, got \(warmupSteps)") }
        guard totalSteps > 0 else { throw DNABertError.invalidArgument("LR schedule: total steps must be positive, got \(totalSteps)") }
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The multiplier of `peak` after `step` updates.
    public func factor(at step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
    }

    public func lr(at step: Int) -> Double { peak * factor(at: step) }

    public var json: JSONValue {
        .object([("type", .string("linear")), ("peak_lr", .double(peak)), ("warmup_steps", .int(Int64(warmupSteps))),
                 ("total_steps", .int(Int64(totalSteps)))])
    }

    public init(json: JSONValue) throws {
        guard let p = json["peak_lr"]?.doubleValue, let w = json["warmup_steps"]?.intValue, let t = json["total_steps"]?.intValue,
              let wi = Int(exactly: w), let ti = Int(exactly: t) else {
            throw DNABertError.format("LR schedule: expected peak_lr, warmup_steps and total_steps")
        }
        if let type = json["type"]?.stringValue, type != "linear" {
            throw DNABertError.format("LR schedule: unknown type '\(type)'")
        }
        do { try self.init(peak: p, warmupSteps: wi, totalSteps: ti) } catch let e as DNABertError { throw DNABertError.format(e.message) }
    }
}
