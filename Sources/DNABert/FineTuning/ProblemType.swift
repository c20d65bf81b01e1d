/// What the labels are (Hugging Face's `problem_type` strings).
public enum ProblemType: String, Sendable, CaseIterable {
    /// One class per sequence; cross-entropy.
    case singleLabel = "single_label_classification"
    /// Any subset of the labels per sequence; binary cross-entropy on each.
    case multiLabel = "multi_label_classification"
    /// Real targets; mean squared error.
    case regression
}
