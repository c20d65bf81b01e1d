/// A small, strict JSON reader and writer.
///
/// Why our own: the core avoids Foundation (smaller static library, no ICU), and files such as
/// `tokenizer.json` or `config.json` come from users, so the parser must reject hostile input
/// (deep nesting, bad escapes, truncation) with a clear message instead of trapping.
/// Objects keep their key order, so a file we load and save again keeps its layout.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.int(x), .double(y)), let (.double(y), .int(x)): return Double(x) == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Value of `key` in an object (first occurrence); nil for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        if case let .object(members) = self {
            for (k, v) in members where k == key { return v }
        }
        return nil
    }

    public var isNull: Bool { if case .null = self { return true }; return false }
    public var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    public var boolValue: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    public var objectValue: [(String, JSONValue)]? { if case let .object(o) = self { return o }; return nil }
    /// Integral numbers only (a JSON `3.0` counts; `3.5` does not).
    public var intValue: Int64? {
        switch self {
        case let .int(i): return i
        case let .double(d) where d.rounded() == d && abs(d) < 9.0e15: return Int64(d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }
}

/// Error thrown for malformed JSON; `offset` is the byte position of the problem.
public struct JSONError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let offset: Int
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

public enum JSON {
    /// Deepest nesting accepted; deeper input is rejected rather than exhausting the stack.
    public static let maxDepth = 256

    public static func parse(_ text: String) throws -> JSONValue {
        var copy = text
        return try copy.withUTF8 { try parse(bytes: UnsafeRawBufferPointer($0)) }
    }

    public static func parse(bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse(bytes: $0) }
    }

    public static func parse(bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var p = JSONParser(bytes: bytes.bindMemory(to: UInt8.self))
        p.skipWhitespace()
        let v = try p.parseValue(depth: 0)
        p.skipWhitespace()
        if p.pos != p.bytes.count { throw p.error("unexpected trailing characters") }
        return v
    }

    /// Serialise. `indent` > 0 pretty-prints with that many spaces per level.
    public static func serialize(_ value: JSONValue, indent: Int = 0) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        write(value, into: &out, indent: indent, level: 0)
        return String(decoding: out, as: UTF8.self)
    }

    static func write(_ v: JSONValue, into out: inout [UInt8], indent: Int, level: Int) {
        func newline(_ lvl: Int) {
            guard indent > 0 else { return }
            out.append(10)
            out.append(contentsOf: repeatElement(32, count: indent * lvl))
        }
        switch v {
        case .null: out.append(contentsOf: Array("null".utf8))
        case let .bool(b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case let .int(i): out.append(contentsOf: Array(String(i).utf8))
        case let .double(d):
            if d.isFinite {
                if d.rounded() == d && abs(d) < 1e15 { out.append(contentsOf: Array((String(Int64(d)) + ".0").utf8)) }
                else { out.append(contentsOf: Array(String(d).utf8)) }
            } else { out.append(contentsOf: Array("null".utf8)) }
        case let .string(s): writeString(s, into: &out)
        case let .array(a):
            if a.isEmpty { out.append(contentsOf: [91, 93]); return }
            out.append(91)
            for (i, e) in a.enumerated() {
                if i > 0 { out.append(44); if indent == 0 { } }
                newline(level + 1)
                write(e, into: &out, indent: indent, level: level + 1)
            }
            newline(level)
            out.append(93)
        case let .object(o):
            if o.isEmpty { out.append(contentsOf: [123, 125]); return }
            out.append(123)
            for (i, (k, e)) in o.enumerated() {
                if i > 0 { out.append(44) }
                newline(level + 1)
                writeString(k, into: &out)
                out.append(58)
                if indent > 0 { out.append(32) }
                write(e, into: &out, indent: indent, level: level + 1)
            }
            newline(level)
            out.append(125)
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(34)
        for b in s.utf8 {
            switch b {
            case 34: out.append(contentsOf: [92, 34])
            case 92: out.append(contentsOf: [92, 92])
            case 10: out.append(contentsOf: [92, 110])
            case 13: out.append(contentsOf: [92, 114])
            case 9: out.append(contentsOf: [92, 116])
            case 8: out.append(contentsOf: [92, 98])
            case 12: out.append(contentsOf: [92, 102])
            case 0..<32:
                out.append(contentsOf: [92, 117, 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(34)
    }
}

struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func error(_ msg: String) -> JSONError { JSONError(message: msg, offset: pos) }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            let c = bytes[pos]
            if c == 32 || c == 10 || c == 13 || c == 9 { pos += 1 } else { break }
        }
    }

    mutating func expect(_ literal: StaticString) throws {
        let n = literal.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw error("unexpected end of input") }
        let lit = UnsafeBufferPointer(start: literal.utf8Start, count: n)
        for i in 0..<n where bytes[pos + i] != lit[i] { throw error("invalid literal") }
        pos += n
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < JSON.maxDepth else { throw error("nesting deeper than \(JSON.maxDepth) levels") }
        guard pos < bytes.count else { throw error("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var members: [(String, JSONValue)] = []
            skipWhitespace()
            if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard pos < bytes.count else { throw error("unexpected end of input in object") }
                guard bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
                pos += 1
                skipWhitespace()
                let v = try parseValue(depth: depth + 1)
                members.append((key, v))
                skipWhitespace()
                guard pos < bytes.count else { throw error("unexpected end of input in object") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            pos += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard pos < bytes.count else { throw error("unexpected end of input in array") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw error("unexpected character")
        }
    }

    mutating func parseNumber() throws -> JSONValue {
        let start = pos
        var isInteger = true
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let digitsStart = pos
        while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1 }
        guard pos > digitsStart else { throw error("invalid number") }
        if pos - digitsStart > 1 && bytes[digitsStart] == 48 { throw error("leading zero in number") }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            let f = pos
            while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1 }
            guard pos > f else { throw error("invalid number") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            let e = pos
            while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1 }
            guard pos > e else { throw error("invalid number exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if isInteger, let i = Int64(text) { return .int(i) }
        guard let d = Double(text) else { throw JSONError(message: "invalid number", offset: start) }
        return .double(d)
    }

    mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 97...102: d = UInt32(c - 87)
            case 65...70: d = UInt32(c - 55)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    mutating func parseString() throws -> String {
        pos += 1 // opening quote
        let start = pos
        // Fast path: no escapes.
        while pos < bytes.count {
            let c = bytes[pos]
            if c == 34 {
                let s = try validUTF8(start, pos)
                pos += 1
                return s
            }
            if c == 92 { break }
            if c < 32 { throw error("control character in string") }
            pos += 1
        }
        var out: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        while pos < bytes.count {
            let c = bytes[pos]
            if c == 34 {
                pos += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
                return s
            }
            if c < 32 { throw error("control character in string") }
            if c != 92 { out.append(c); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { break }
            let e = bytes[pos]
            pos += 1
            switch e {
            case 34: out.append(34)
            case 92: out.append(92)
            case 47: out.append(47)
            case 98: out.append(8)
            case 102: out.append(12)
            case 110: out.append(10)
            case 114: out.append(13)
            case 116: out.append(9)
            case 117:
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard pos + 6 <= bytes.count, bytes[pos] == 92, bytes[pos + 1] == 117 else {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    pos += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw error("invalid low surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw error("unpaired low surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid code point") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    func validUTF8(_ a: Int, _ b: Int) throws -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes[a..<b])
        var ascii = true
        for c in slice where c >= 128 { ascii = false; break }
        if ascii { return String(decoding: slice, as: UTF8.self) }
        guard let s = String(validating: slice, as: UTF8.self) else { throw JSONError(message: "invalid UTF-8 in string", offset: a) }
        return s
    }
}
