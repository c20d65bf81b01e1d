#if canImport(Glibc)
import Glibc
#endif

/// The kind of supervised task, spelled as Hugging Face's `config.problem_type`.
public enum ProblemType: String, Sendable, CaseIterable {
    /// One class per sequence (softmax + cross-entropy). GUE's tasks.
    case singleLabel = "single_label_classification"
    /// Any subset of K labels per sequence (sigmoid + binary cross-entropy).
    case multiLabel = "multi_label_classification"
    /// One real-valued target per sequence (MSE).
    case regression
}

/// What the labels of a data set mean: the problem type, how many labels, and optional class names.
/// Read it from the training file and pass it when reading dev/test/prediction files so that they use the
/// same class indices.
public struct LabelSchema: Sendable, Equatable {
    public let problemType: ProblemType
    /// Number of classes (single-label), of labels (multi-label), or 1 (regression).
    public let numLabels: Int
    /// Class names by index when the file had non-numeric labels (sorted by their UTF-8 bytes, like Python's
    /// `sorted()`), nil when the labels were integer indices.
    public let labelNames: [String]?
    private let nameIndex: [String: Int]
    /// The largest supported label count (keeps K×K confusion matrices and N×K indicator matrices sane).
    public static let maxLabels = 4096

    /// Throws `.invalidArgument` when `numLabels` < 1, regression with `numLabels` ≠ 1, or `labelNames` whose
    /// count differs from `numLabels` or that repeat a name.
    public init(problemType: ProblemType, numLabels: Int, labelNames: [String]? = nil) throws {
        guard numLabels >= 1 && numLabels <= LabelSchema.maxLabels else {
            throw DNABertError.invalidArgument("label schema: numLabels must be in 1...\(LabelSchema.maxLabels), got \(numLabels)")
        }
        if problemType == .regression {
            guard numLabels == 1 else { throw DNABertError.invalidArgument("label schema: regression has 1 target, not \(numLabels)") }
            guard labelNames == nil else { throw DNABertError.invalidArgument("label schema: regression has no class names") }
        }
        var index: [String: Int] = [:]
        if let names = labelNames {
            guard names.count == numLabels else {
                throw DNABertError.invalidArgument("label schema: \(names.count) class names for \(numLabels) labels")
            }
            for (i, n) in names.enumerated() {
                guard index.updateValue(i, forKey: n) == nil else {
                    throw DNABertError.invalidArgument("label schema: class name '\(n)' appears twice")
                }
            }
        }
        self.problemType = problemType
        self.numLabels = numLabels
        self.labelNames = labelNames
        self.nameIndex = index
    }

    /// The class index of a name, nil if unknown (always nil without names).
    public func index(ofName name: String) -> Int? { nameIndex[name] }

    /// The printable name of class `index`: its name if the schema has names, else the number.
    public func name(of index: Int) -> String {
        if let names = labelNames, index >= 0 && index < names.count { return names[index] }
        return String(index)
    }

    public static func == (a: LabelSchema, b: LabelSchema) -> Bool {
        a.problemType == b.problemType && a.numLabels == b.numLabels && a.labelNames == b.labelNames
    }
}

/// Sequences with (optional) labels, read from a GUE-style CSV/TSV or, for prediction input, FASTA/FASTQ.
///
/// CSV rules: the first non-blank line is a header naming the columns; `sequence` and `label` (or `labels`)
/// are found by name, case-insensitively, in any order, and an `id` (or `name`) column, if any, gives the
/// record ids (otherwise ids are the 1-based data row numbers). Other columns are ignored. RFC 4180 quoting
/// (fields in double quotes may contain the delimiter, line breaks and doubled quotes `""`), LF, CRLF or CR line
/// ends, an optional UTF-8 byte-order mark, an optional final line break; blank lines are skipped; spaces
/// around fields are trimmed. Tab-separated when the name ends in `.tsv`/`.tsv.gz` or the header has tabs and
/// no commas. gzip-compressed files are read transparently. Every data row must have as many fields as the
/// header. Sequences are kept as written (no case change); an empty sequence is an error.
///
/// Labels, when the problem type is not given, are inferred from the whole column:
/// any `;` → multi-label (`0;2`; an empty field = no labels); all integers → single-label class indices
/// (numLabels = largest + 1, or the `numLabels` argument if larger); all finite numbers → regression; otherwise
/// single-label class names, mapped to indices in sorted order and kept in `schema.labelNames`.
/// Pass `problemType` to override (e.g. integer regression targets, or multi-label data without any `;`).
/// Pass the training set's `schema` when reading dev/test data: the same problem type, count and names are
/// used, and a class index out of range or an unknown class name is an error.
///
/// All errors are `DNABertError` naming the file and line: `.io` (missing/unreadable file), `.format`
/// (empty file, no header, no sequence/label column, ragged row, bad quoting, a label that does not parse),
/// `.invalidArgument` (inconsistent arguments, a label outside the given schema).
public struct LabelledSequences: Sendable {
    public var path: String
    public var sequences: [String]
    /// Record ids: the `id`/`name` column, FASTA/FASTQ record names, or the 1-based row number.
    public var ids: [String]
    /// Nil only for prediction input without labels read without a schema.
    public var schema: LabelSchema?
    /// Whether labels were read (always true for `read`).
    public var hasLabels: Bool
    /// Single-label class index per sequence (empty for other problem types or without labels).
    public var classLabels: [Int]
    /// Multi-label: sorted, de-duplicated label indices per sequence (empty otherwise).
    public var multiLabels: [[Int]]
    /// Regression targets (empty otherwise).
    public var targets: [Double]

    public var count: Int { sequences.count }
    public var problemType: ProblemType? { schema?.problemType }
    public var numLabels: Int { schema?.numLabels ?? 0 }
    public var labelNames: [String]? { schema?.labelNames }

    /// Reads a labelled CSV/TSV for training or evaluation (see the type's documentation for the rules).
    /// - Parameters:
    ///   - schema: the training set's schema, for dev/test files; nil = infer from this file.
    ///   - problemType: force the problem type (must agree with `schema` when both are given).
    ///   - numLabels: single/multi-label: at least this many labels (must agree with `schema` when both given).
    public static func read(path: String, schema: LabelSchema? = nil, problemType: ProblemType? = nil,
                            numLabels: Int? = nil) throws -> LabelledSequences {
        let table = try DelimitedTable(path: path)
        return try build(table, requireLabels: true, schema: schema, problemType: problemType, numLabels: numLabels)
    }

    /// Reads a dev/test file with the label mapping of `train`.
    public static func read(path: String, like train: LabelledSequences) throws -> LabelledSequences {
        guard let s = train.schema else {
            throw DNABertError.invalidArgument("cannot read '\(path)' like '\(train.path)': that data set has no labels")
        }
        return try read(path: path, schema: s)
    }

    /// Reads sequences to predict: FASTA/FASTQ (plain or gzip; detected from the first non-blank byte, '>' or
    /// '@'; record names become ids) or a CSV/TSV with a `sequence` column whose `label` column is optional.
    /// Labels, when present and not all empty, are parsed as in `read` (with `schema` if given) and
    /// `hasLabels` is true, so the predictions can be scored.
    public static func readInputs(path: String, schema: LabelSchema? = nil) throws -> LabelledSequences {
        if try sniffFASTA(path: path) {
            let reader = try FASTAReader(path: path)
            var seqs: [String] = [], ids: [String] = []
            while let rec = try reader.next() {
                guard !rec.sequence.isEmpty else {
                    throw DNABertError.format("'\(path)': record \(seqs.count + 1) ('\(rec.name)') has an empty sequence")
                }
                seqs.append(String(decoding: rec.sequence, as: UTF8.self))
                ids.append(rec.name.isEmpty ? String(seqs.count) : rec.name)
            }
            guard !seqs.isEmpty else { throw DNABertError.format("'\(path)' contains no sequences") }
            return LabelledSequences(path: path, sequences: seqs, ids: ids, schema: schema, hasLabels: false,
                                     classLabels: [], multiLabels: [], targets: [])
        }
        let table = try DelimitedTable(path: path)
        return try build(table, requireLabels: false, schema: schema, problemType: nil, numLabels: nil)
    }

    /// True when the first non-blank byte (after a UTF-8 BOM, after gunzip) is '>' or '@'.
    public static func sniffFASTA(path: String) throws -> Bool {
        let stream = try ByteStream(path: path)
        let cap = 1 << 16
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        defer { buf.deallocate() }
        var first = true
        while true {
            let n = try stream.read(into: buf, capacity: cap)
            if n == 0 { return false }
            var i = 0
            if first && n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF { i = 3 }
            first = false
            while i < n {
                let c = buf[i]
                if c > 0x20 { return c == UInt8(ascii: ">") || c == UInt8(ascii: "@") }
                i += 1
            }
        }
    }

    private static func build(_ table: DelimitedTable, requireLabels: Bool, schema: LabelSchema?,
                              problemType: ProblemType?, numLabels: Int?) throws -> LabelledSequences {
        let path = table.path
        if let s = schema {
            if let p = problemType, p != s.problemType {
                throw DNABertError.invalidArgument("reading '\(path)': problem type \(p.rawValue) disagrees with the given schema's \(s.problemType.rawValue)")
            }
            if let k = numLabels, k != s.numLabels {
                throw DNABertError.invalidArgument("reading '\(path)': numLabels \(k) disagrees with the given schema's \(s.numLabels)")
            }
        }
        if let k = numLabels, k < 1 || k > LabelSchema.maxLabels {
            throw DNABertError.invalidArgument("reading '\(path)': numLabels must be in 1...\(LabelSchema.maxLabels), got \(k)")
        }
        let names = table.header.map { asciiLowercase(trim($0)) }
        let seqCol = names.firstIndex(of: "sequence")
        let labelCol = names.firstIndex(of: "label") ?? names.firstIndex(of: "labels")
        let idCol = names.firstIndex(of: "id") ?? names.firstIndex(of: "name")
        guard let seqCol else {
            let shown = table.header.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            if table.header.count == 2 {
                let why = looksLikeSequence(trim(table.header[0])) || looksLikeSequence(trim(table.header[1]))
                    ? "no header row (the first line looks like data: \(shown))" : "no 'sequence' column in the header (columns: \(shown))"
                throw DNABertError.format("'\(path)' line \(table.headerLine): \(why); the first line must name the columns, e.g. `sequence\(table.delimiterName)label`")
            }
            throw DNABertError.format("'\(path)' line \(table.headerLine): no 'sequence' column in the header (columns: \(shown))")
        }
        if requireLabels && labelCol == nil {
            throw DNABertError.format("'\(path)' line \(table.headerLine): no 'label' column in the header (columns: \(table.header.map { "'\($0)'" }.joined(separator: ", ")))")
        }
        var seqs: [String] = [], ids: [String] = [], raw: [String] = [], lines: [Int] = []
        while let (fields, line) = try table.next() {
            guard fields.count == table.header.count else {
                throw DNABertError.format("'\(path)' line \(line): \(fields.count) field\(fields.count == 1 ? "" : "s"), but the header has \(table.header.count)")
            }
            let s = trim(fields[seqCol])
            guard !s.isEmpty else { throw DNABertError.format("'\(path)' line \(line): empty sequence") }
            seqs.append(s)
            ids.append(idCol.map { trim(fields[$0]) } ?? String(seqs.count))
            if let labelCol { raw.append(trim(fields[labelCol])) }
            lines.append(line)
        }
        guard !seqs.isEmpty else { throw DNABertError.format("'\(path)' has a header but no data rows") }
        var out = LabelledSequences(path: path, sequences: seqs, ids: ids, schema: schema, hasLabels: false,
                                    classLabels: [], multiLabels: [], targets: [])
        if labelCol == nil || (!requireLabels && raw.allSatisfy { $0.isEmpty }) { return out }
        try parseLabels(raw, lines: lines, path: path, schema: schema, problemType: problemType,
                        numLabels: numLabels, into: &out)
        out.hasLabels = true
        return out
    }

    static func parseLabels(_ raw: [String], lines: [Int], path: String, schema: LabelSchema?,
                                     problemType: ProblemType?, numLabels: Int?, into out: inout LabelledSequences) throws {
        // Inference looks at the non-empty labels; an empty one is then reported where it is.
        let nonEmpty = raw.filter { !$0.isEmpty }
        let allInts = nonEmpty.allSatisfy { Int($0) != nil }
        let type: ProblemType
        if let s = schema { type = s.problemType }
        else if let p = problemType { type = p }
        else if raw.contains(where: { $0.utf8.contains(UInt8(ascii: ";")) }) { type = .multiLabel }
        else if allInts { type = .singleLabel }
        else if nonEmpty.allSatisfy({ finiteDouble($0) != nil }) { type = .regression }
        else { type = .singleLabel }
        func at(_ i: Int) -> String { "'\(path)' line \(lines[i])" }

        switch type {
        case .regression:
            if schema == nil, let k = numLabels, k != 1 {
                throw DNABertError.invalidArgument("reading '\(path)': regression has 1 target, not numLabels \(k)")
            }
            var t: [Double] = []
            t.reserveCapacity(raw.count)
            for (i, r) in raw.enumerated() {
                guard let v = finiteDouble(r) else {
                    throw DNABertError.format("\(at(i)): regression target '\(r)' is not a finite number")
                }
                t.append(v)
            }
            out.targets = t
            out.schema = try schema ?? LabelSchema(problemType: .regression, numLabels: 1)

        case .singleLabel:
            let useNames = schema.map { $0.labelNames != nil } ?? !allInts
            var labels: [Int] = []
            labels.reserveCapacity(raw.count)
            if useNames {
                let s = try schema ?? namesSchema(.singleLabel, raw.filter { !$0.isEmpty }, numLabels: numLabels, path: path)
                for (i, r) in raw.enumerated() {
                    guard !r.isEmpty else { throw DNABertError.format("\(at(i)): empty label") }
                    guard let k = s.index(ofName: r) else {
                        throw DNABertError.invalidArgument("\(at(i)): unknown class name '\(r)' (known: \(known(s)))")
                    }
                    labels.append(k)
                }
                out.schema = s
            } else {
                var maxLabel = -1
                for (i, r) in raw.enumerated() {
                    guard !r.isEmpty else {
                        throw DNABertError.format("\(at(i)): empty label (for multi-label rows without labels, read with problem type \(ProblemType.multiLabel.rawValue))")
                    }
                    guard let k = Int(r) else {
                        throw DNABertError.format("\(at(i)): label '\(r)' is not an integer class index")
                    }
                    try checkIndex(k, schema: schema, at: at(i))
                    maxLabel = max(maxLabel, k)
                    labels.append(k)
                }
                try checkCount(maxLabel, numLabels, path)
                out.schema = try schema ?? LabelSchema(problemType: .singleLabel, numLabels: max(maxLabel + 1, numLabels ?? 1))
            }
            out.classLabels = labels

        case .multiLabel:
            let parts: [[String]] = raw.map { r in
                r.split(separator: ";", omittingEmptySubsequences: false).map { trim(String($0)) }.filter { !$0.isEmpty }
            }
            let allInts = parts.allSatisfy { $0.allSatisfy { Int($0) != nil } }
            let useNames = schema.map { $0.labelNames != nil } ?? !allInts
            let s: LabelSchema?
            if useNames { s = try schema ?? namesSchema(.multiLabel, parts.flatMap { $0 }, numLabels: numLabels, path: path) }
            else { s = schema }
            var labels: [[Int]] = []
            labels.reserveCapacity(raw.count)
            var maxLabel = -1
            for (i, p) in parts.enumerated() {
                var row: [Int] = []
                for item in p {
                    let k: Int
                    if useNames, let s {
                        guard let j = s.index(ofName: item) else {
                            throw DNABertError.invalidArgument("\(at(i)): unknown label name '\(item)' (known: \(known(s)))")
                        }
                        k = j
                    } else {
                        guard let j = Int(item) else {
                            throw DNABertError.format("\(at(i)): label '\(item)' in '\(raw[i])' is not an integer label index")
                        }
                        try checkIndex(j, schema: s, at: at(i))
                        k = j
                    }
                    maxLabel = max(maxLabel, k)
                    row.append(k)
                }
                row.sort()
                var dedup: [Int] = []
                for k in row where dedup.last != k { dedup.append(k) }
                labels.append(dedup)
            }
            out.multiLabels = labels
            if s == nil { try checkCount(maxLabel, numLabels, path) }
            out.schema = try s ?? LabelSchema(problemType: .multiLabel, numLabels: max(maxLabel + 1, numLabels ?? 1))
        }
    }

    private static func checkIndex(_ k: Int, schema: LabelSchema?, at: String) throws {
        guard k >= 0 else { throw DNABertError.format("\(at): negative label index \(k)") }
        if let s = schema, k >= s.numLabels {
            throw DNABertError.invalidArgument("\(at): label index \(k) is out of range for \(s.numLabels) labels")
        }
        guard k < LabelSchema.maxLabels else {
            throw DNABertError.format("\(at): label index \(k) is too large (at most \(LabelSchema.maxLabels) labels are supported)")
        }
    }

    private static func checkCount(_ maxLabel: Int, _ numLabels: Int?, _ path: String) throws {
        if let k = numLabels, k < maxLabel + 1 {
            throw DNABertError.invalidArgument("reading '\(path)': numLabels \(k) given, but the file uses label index \(maxLabel)")
        }
    }

    private static func namesSchema(_ type: ProblemType, _ names: [String], numLabels: Int?, path: String) throws -> LabelSchema {
        var unique = Array(Set(names))
        unique.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard !unique.isEmpty else { throw DNABertError.format("'\(path)': every label is empty") }
        guard unique.count <= LabelSchema.maxLabels else {
            throw DNABertError.format("'\(path)': \(unique.count) distinct class names (at most \(LabelSchema.maxLabels) are supported); pass the problem type if the labels are numbers")
        }
        if let k = numLabels, k != unique.count {
            throw DNABertError.invalidArgument("reading '\(path)': numLabels \(k) given, but the file names \(unique.count) classes")
        }
        return try LabelSchema(problemType: type, numLabels: unique.count, labelNames: unique)
    }

    private static func known(_ s: LabelSchema) -> String {
        guard let names = s.labelNames else { return "" }
        let shown = names.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > 10 ? shown + ", ... (\(names.count) in all)" : shown
    }

    private static func finiteDouble(_ s: String) -> Double? {
        guard let v = Double(s), v.isFinite else { return nil }
        return v
    }

    private static func looksLikeSequence(_ s: String) -> Bool {
        guard s.utf8.count >= 8 else { return false }
        return s.utf8.allSatisfy { c in
            switch c | 0x20 {
            case UInt8(ascii: "a"), UInt8(ascii: "c"), UInt8(ascii: "g"), UInt8(ascii: "t"), UInt8(ascii: "n"), UInt8(ascii: "u"): return true
            default: return false
            }
        }
    }
}

/// Trims ASCII spaces and tabs (and stray CR/LF, any byte ≤ 0x20) at both ends (CSV fields, label and LoRA
/// target names).
@inline(__always) func trim(_ s: String) -> String {
    let u = s.utf8
    guard let f = u.first, let l = u.last, f <= 0x20 || l <= 0x20 else { return s }
    var a = u.startIndex, b = u.endIndex
    while a < b && u[a] <= 0x20 { a = u.index(after: a) }
    while b > a && u[u.index(before: b)] <= 0x20 { b = u.index(before: b) }
    return String(decoding: u[a..<b], as: UTF8.self)
}

fileprivate func asciiLowercase(_ s: String) -> String {
    String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
}

/// An RFC 4180 reader over a whole (possibly gzip) file: the header, then one record per `next()`.
final class DelimitedTable {
    let path: String
    let delimiter: UInt8
    private(set) var header: [String] = []
    private(set) var headerLine = 1
    private let bytes: [UInt8]
    private var pos = 0
    private var line = 1            // 1-based line of `pos`
    private var scratch: [UInt8] = []

    var delimiterName: String { delimiter == 0x09 ? "<tab>" : "," }

    init(path: String) throws {
        self.path = path
        var data = try DelimitedTable.readAll(path)
        if data.count >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF { data.removeFirst(3) }
        bytes = data
        let lower = asciiLowercase(path)
        if lower.hasSuffix(".tsv") || lower.hasSuffix(".tsv.gz") {
            delimiter = 0x09
        } else {
            // The first non-blank line decides: tabs and no commas → TSV.
            var i = 0
            while i < data.count && data[i] <= 0x20 { i += 1 }
            var tabs = false, commas = false
            while i < data.count && data[i] != 0x0A && data[i] != 0x0D {
                if data[i] == 0x09 { tabs = true } else if data[i] == 0x2C { commas = true }
                i += 1
            }
            delimiter = tabs && !commas ? 0x09 : 0x2C
        }
        guard let (h, l) = try next() else { throw DNABertError.format("'\(path)' is empty") }
        header = h
        headerLine = l
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let stream = try ByteStream(path: path)
        var out: [UInt8] = []
        let cap = 1 << 20
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        defer { buf.deallocate() }
        while true {
            let n = try stream.read(into: buf, capacity: cap)
            if n == 0 { break }
            out.append(contentsOf: UnsafeBufferPointer(start: buf, count: n))
        }
        return out
    }

    /// Consumes one line end (LF, CRLF or CR) at `pos`, if there is one.
    @inline(__always) private func skipLineEnd() {
        let n = bytes.count
        if pos < n && bytes[pos] == 0x0D {
            pos += 1
            if pos < n && bytes[pos] == 0x0A { pos += 1 }
            line += 1
        } else if pos < n && bytes[pos] == 0x0A {
            pos += 1
            line += 1
        }
    }

    /// The next non-blank record and the line it starts on, nil at the end.
    func next() throws -> ([String], Int)? {
        let n = bytes.count
        let delim = delimiter
        // Skip blank (empty or spaces-only) lines.
        while true {
            guard pos < n else { return nil }
            var i = pos
            while i < n && (bytes[i] == 0x20 || (bytes[i] == 0x09 && delim != 0x09)) { i += 1 }
            if i == n { pos = n; return nil }
            if bytes[i] == 0x0A || bytes[i] == 0x0D { pos = i; skipLineEnd(); continue }
            break
        }
        let startLine = line
        var fields: [String] = []
        while true {
            // Leading spaces before a quote are allowed ("a, "b"").
            var q = pos
            while q < n && bytes[q] == 0x20 { q += 1 }
            if q < n && bytes[q] == 0x22 {
                let quoteLine = line
                pos = q + 1
                scratch.removeAll(keepingCapacity: true)
                while true {
                    var j = pos
                    while j < n && bytes[j] != 0x22 {
                        if bytes[j] == 0x0A || (bytes[j] == 0x0D && (j + 1 >= n || bytes[j + 1] != 0x0A)) { line += 1 }
                        j += 1
                    }
                    guard j < n else {
                        throw DNABertError.format("'\(path)' line \(quoteLine): unterminated quoted field")
                    }
                    scratch.append(contentsOf: bytes[pos..<j])
                    if j + 1 < n && bytes[j + 1] == 0x22 {   // "" → "
                        scratch.append(0x22)
                        pos = j + 2
                        continue
                    }
                    pos = j + 1
                    break
                }
                while pos < n && bytes[pos] == 0x20 { pos += 1 }
                if pos < n && bytes[pos] != delim && bytes[pos] != 0x0A && bytes[pos] != 0x0D {
                    throw DNABertError.format("'\(path)' line \(line): unexpected character '\(Character(Unicode.Scalar(bytes[pos])))' after a closing quote (a quote inside a quoted field must be doubled)")
                }
                fields.append(String(decoding: scratch, as: UTF8.self))
            } else {
                var j = pos
                while j < n && bytes[j] != delim && bytes[j] != 0x0A && bytes[j] != 0x0D { j += 1 }
                fields.append(String(decoding: bytes[pos..<j], as: UTF8.self))
                pos = j
            }
            if pos < n && bytes[pos] == delim {
                pos += 1
                continue
            }
            skipLineEnd()
            return (fields, startLine)
        }
    }
}

/// Writes predictions as CSV.
///
/// Columns: `id`, then `sequence` if sequences are given, then `true_label` if `truth` has labels, then
/// - single-label: `label` (the argmax class, by name when the schema has names) and `prob_0` … `prob_{K-1}`;
/// - multi-label: `labels` (`;`-joined labels whose probability ≥ `threshold`, possibly empty) and
///   `prob_0` … `prob_{K-1}`;
/// - regression: `prediction`.
/// Fields are quoted when they contain a comma, a quote or a line break. Numbers use Swift's shortest
/// round-trip form. The file is replaced atomically.
public enum PredictionsCSV {
    /// - Parameters:
    ///   - scores: N × numLabels row-major: class probabilities (softmax for single-label, sigmoid per label for
    ///     multi-label) or the N regression outputs.
    ///   - truth: the labelled input, to add a `true_label` column (must have N rows).
    public static func write(path: String, ids: [String], sequences: [String]? = nil, schema: LabelSchema,
                             scores: [Float], truth: LabelledSequences? = nil, threshold: Float = 0.5) throws {
        try FileIO.writeAtomically(path, render(ids: ids, sequences: sequences, schema: schema, scores: scores, truth: truth,
                                                threshold: threshold, path: path))
    }

    /// The CSV bytes `write` would write.
    public static func render(ids: [String], sequences: [String]? = nil, schema: LabelSchema, scores: [Float],
                              truth: LabelledSequences? = nil, threshold: Float = 0.5, path: String = "<output>") throws -> [UInt8] {
        let n = ids.count, k = schema.numLabels
        guard scores.count == n * k else {
            throw DNABertError.invalidArgument("writing predictions '\(path)': \(scores.count) scores for \(n) sequences × \(k) labels")
        }
        if let s = sequences, s.count != n {
            throw DNABertError.invalidArgument("writing predictions '\(path)': \(s.count) sequences for \(n) ids")
        }
        let withTruth = truth?.hasLabels == true
        if let t = truth, withTruth {
            guard t.count == n else {
                throw DNABertError.invalidArgument("writing predictions '\(path)': truth has \(t.count) rows for \(n) ids")
            }
            guard t.problemType == schema.problemType else {
                throw DNABertError.invalidArgument("writing predictions '\(path)': truth is \(t.problemType?.rawValue ?? "unlabelled"), the schema \(schema.problemType.rawValue)")
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(n * (16 + k * 12 + (sequences == nil ? 0 : 256)))
        func field(_ s: String) {
            if s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
                out.append(0x22)
                for c in s.utf8 {
                    if c == 0x22 { out.append(0x22) }
                    out.append(c)
                }
                out.append(0x22)
            } else {
                out.append(contentsOf: s.utf8)
            }
        }
        func comma() { out.append(0x2C) }
        // The one label decision (argmax / score >= threshold), shared with the C API and the bindings.
        let decided = schema.problemType == .regression ? [] : try Metrics.decide(problemType: schema.problemType, scores: scores,
                                                                                   numLabels: k, threshold: threshold)
        var head = ["id"]
        if sequences != nil { head.append("sequence") }
        if withTruth { head.append("true_label") }
        switch schema.problemType {
        case .singleLabel: head.append("label")
        case .multiLabel: head.append("labels")
        case .regression: head.append("prediction")
        }
        if schema.problemType != .regression { for j in 0..<k { head.append("prob_\(j)") } }
        for (i, h) in head.enumerated() { if i > 0 { comma() }; field(h) }
        out.append(0x0A)

        for i in 0..<n {
            field(ids[i])
            if let s = sequences { comma(); field(s[i]) }
            if let t = truth, withTruth {
                comma()
                switch schema.problemType {
                case .singleLabel: field(i < t.classLabels.count ? schema.name(of: t.classLabels[i]) : "")
                case .multiLabel: field(i < t.multiLabels.count ? t.multiLabels[i].map { schema.name(of: $0) }.joined(separator: ";") : "")
                case .regression: field(i < t.targets.count ? "\(t.targets[i])" : "")
                }
            }
            comma()
            let row = scores[(i * k)..<(i * k + k)]
            switch schema.problemType {
            case .singleLabel:
                field(schema.name(of: Int(decided[i])))
            case .multiLabel:
                field((0..<k).filter { decided[i * k + $0] == 1 }.map { schema.name(of: $0) }.joined(separator: ";"))
            case .regression:
                field("\(row[i * k])")
            }
            if schema.problemType != .regression {
                for j in 0..<k { comma(); out.append(contentsOf: "\(row[i * k + j])".utf8) }
            }
            out.append(0x0A)
        }
        return out
    }
}

extension LabelSchema {
    /// The label entries of a Hugging Face `config.json`, as `PretrainedConfig.to_dict()` writes them:
    /// `id2label` (string keys "0"…; names, or HF's defaults `LABEL_i` when the schema has none), `label2id`,
    /// and `problem_type`. Merge them into the model's config object when saving a fine-tuned model.
    public var configEntries: [(String, JSONValue)] {
        let names = (0..<numLabels).map { labelNames?[$0] ?? "LABEL_\($0)" }
        return [
            ("id2label", .object(names.enumerated().map { (String($0.offset), .string($0.element)) })),
            ("label2id", .object(names.enumerated().map { ($0.element, .int(Int64($0.offset))) })),
            ("problem_type", .string(problemType.rawValue)),
        ]
    }

    /// Reads the schema from a Hugging Face `config.json` object: the number of labels from `id2label`
    /// (or `num_labels`, else HF's default 2), names from `id2label` unless they are all HF's defaults
    /// `LABEL_i`, the problem type from `problem_type`, or when absent as `transformers` decides from the
    /// config alone: 1 label → regression, otherwise single-label. Throws `.format` for a malformed entry.
    public init(config: JSONValue) throws {
        var k: Int? = nil
        var names: [String]? = nil
        if let m = config["id2label"], !m.isNull {
            guard let members = m.objectValue, !members.isEmpty else {
                throw DNABertError.format("config.json: 'id2label' must be a non-empty object")
            }
            var byIndex = [String?](repeating: nil, count: members.count)
            for (key, v) in members {
                guard let i = Int(key), i >= 0, i < members.count, byIndex[i] == nil, let name = v.stringValue else {
                    throw DNABertError.format("config.json: 'id2label' must map \"0\"…\"\(members.count - 1)\" once each to strings (bad entry '\(key)')")
                }
                byIndex[i] = name
            }
            let all = byIndex.compactMap { $0 }
            k = all.count
            names = all.enumerated().allSatisfy({ $0.element == "LABEL_\($0.offset)" }) ? nil : all
        } else if let n = config["num_labels"], !n.isNull {
            guard let v = n.intValue, v >= 1, v <= 1 << 16 else {
                throw DNABertError.format("config.json: 'num_labels' must be a positive integer")
            }
            k = Int(v)
        }
        let count = k ?? 2
        let type: ProblemType
        if let p = config["problem_type"], !p.isNull {
            guard let s = p.stringValue, let t = ProblemType(rawValue: s) else {
                throw DNABertError.format("config.json: unknown 'problem_type' \(JSON.serialize(p))")
            }
            type = t
        } else {
            type = count == 1 ? .regression : .singleLabel
        }
        do {
            try self.init(problemType: type, numLabels: count, labelNames: type == .regression ? nil : names)
        } catch let e as DNABertError {
            throw DNABertError.format("config.json: \(e.message)")
        }
    }
}
