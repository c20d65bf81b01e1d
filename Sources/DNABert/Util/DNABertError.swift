/// The one error type of the core. `kind` maps one-to-one onto the C API's DNABERT_ERR_* codes;
/// `message` is what a user sees (C last-error, Python exception, R stop()), so it names the file,
/// tensor, or argument at fault.
public struct DNABertError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Int32, Sendable {
        case invalidArgument = -1
        case io = -2
        case format = -3
        case bufferTooSmall = -4
        case outOfMemory = -5
        case cancelled = -6
        case unsupported = -7
        case notFound = -8
        case `internal` = -9
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func invalidArgument(_ m: String) -> DNABertError { .init(.invalidArgument, m) }
    public static func io(_ m: String) -> DNABertError { .init(.io, m) }
    public static func format(_ m: String) -> DNABertError { .init(.format, m) }
    public static func unsupported(_ m: String) -> DNABertError { .init(.unsupported, m) }
    public static func notFound(_ m: String) -> DNABertError { .init(.notFound, m) }
    public static let cancelled = DNABertError(.cancelled, "cancelled by the progress callback")
}
