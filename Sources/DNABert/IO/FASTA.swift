#if canImport(Glibc)
import Glibc
#endif

/// One FASTA/FASTQ record. `name` is the first word after '>' (or '@'), `description` the rest of the header
/// line; `sequence` holds the residues with all line breaks and whitespace removed, bytes as in the file.
/// `quality` is empty for FASTA.
public struct FASTARecord: Sendable, Equatable {
    public var name: String
    public var description: String
    public var sequence: [UInt8]
    public var quality: [UInt8]

    public init(name: String, description: String = "", sequence: [UInt8], quality: [UInt8] = []) {
        self.name = name
        self.description = description
        self.sequence = sequence
        self.quality = quality
    }
}

/// Streaming FASTA / FASTQ reader for plain or gzip files (detected from the content, not the name).
///
/// Rules: any line ending (\n, \r\n, \r); blank lines and leading whitespace are ignored; whitespace inside
/// sequence lines is dropped. A header is a line whose first non-blank byte is '>' (FASTA) or, in a file whose
/// first non-blank byte is '@', a FASTQ record (header, sequence lines, '+' line, quality of the same length;
/// multi-line records allowed). Sequence data before the first header is returned as one record with an empty
/// name (so a bare sequence file is readable). An empty file has zero records. Records of any length are read
/// without per-line allocation.
public final class FASTAReader {
    private let stream: ByteStream
    private let buffer: UnsafeMutablePointer<UInt8>
    private let capacity = 1 << 20
    private var pos = 0, end = 0
    private var eof = false
    private var first = true
    private var isFASTQ = false
    public var path: String { stream.path }

    public init(path: String) throws {
        stream = try ByteStream(path: path)
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// Reads every record of a file.
    public static func readAll(path: String) throws -> [FASTARecord] {
        let r = try FASTAReader(path: path)
        var out: [FASTARecord] = []
        while let rec = try r.next() { out.append(rec) }
        return out
    }

    @inline(__always) private func refill() throws -> Bool {
        if pos < end { return true }
        if eof { return false }
        let n = try stream.read(into: buffer, capacity: capacity)
        pos = 0; end = n
        if n == 0 { eof = true; return false }
        return true
    }

    /// Skips whitespace; returns the next byte without consuming it, nil at the end.
    private func peekNonBlank() throws -> UInt8? {
        while try refill() {
            while pos < end {
                let c = buffer[pos]
                if c > 0x20 { return c }
                pos += 1
            }
        }
        return nil
    }

    /// Consumes the rest of the line (through its terminator) and appends it to `line`.
    private func readLine(into line: inout [UInt8]) throws {
        while try refill() {
            var i = pos
            while i < end && buffer[i] != 0x0A && buffer[i] != 0x0D { i += 1 }
            line.append(contentsOf: UnsafeBufferPointer(start: buffer + pos, count: i - pos))
            if i < end { pos = i + 1; return }
            pos = end
        }
    }

    /// Appends non-blank bytes of the following lines until a line starting with `stop` (left unread) or the end.
    private func readResidues(into seq: inout [UInt8], stop: UInt8) throws {
        var atLineStart = true
        while try refill() {
            var i = pos
            let e = end
            while i < e {
                let c = buffer[i]
                if c <= 0x20 {
                    if c == 0x0A || c == 0x0D { atLineStart = true }
                    i += 1
                    continue
                }
                if atLineStart {
                    if c == stop { pos = i; return }
                    atLineStart = false
                }
                var j = i + 1
                while j < e && buffer[j] > 0x20 { j += 1 }
                seq.append(contentsOf: UnsafeBufferPointer(start: buffer + i, count: j - i))
                i = j
            }
            pos = e
        }
    }

    private static func splitHeader(_ bytes: [UInt8]) -> (String, String) {
        var i = 0
        let n = bytes.count
        while i < n && bytes[i] <= 0x20 { i += 1 }
        var j = i
        while j < n && bytes[j] > 0x20 { j += 1 }
        var k = j
        while k < n && bytes[k] <= 0x20 { k += 1 }
        var e = n
        while e > k && bytes[e - 1] <= 0x20 { e -= 1 }
        return (String(decoding: bytes[i..<j], as: UTF8.self), String(decoding: bytes[k..<e], as: UTF8.self))
    }

    /// The next record, or nil at the end of the file.
    public func next() throws -> FASTARecord? {
        guard let c = try peekNonBlank() else { return nil }
        if first {
            first = false
            isFASTQ = c == UInt8(ascii: "@")
            if !isFASTQ && c != UInt8(ascii: ">") {
                var seq: [UInt8] = []
                try readResidues(into: &seq, stop: UInt8(ascii: ">"))
                return FASTARecord(name: "", sequence: seq)
            }
        }
        let marker = isFASTQ ? UInt8(ascii: "@") : UInt8(ascii: ">")
        guard c == marker else {
            throw DNABertError.format("malformed \(isFASTQ ? "FASTQ" : "FASTA") file '\(path)': expected a header line starting with '\(Character(Unicode.Scalar(marker)))'")
        }
        pos += 1
        var header: [UInt8] = []
        try readLine(into: &header)
        let (name, description) = FASTAReader.splitHeader(header)
        var seq: [UInt8] = []
        if !isFASTQ {
            try readResidues(into: &seq, stop: marker)
            return FASTARecord(name: name, description: description, sequence: seq)
        }
        try readResidues(into: &seq, stop: UInt8(ascii: "+"))
        guard try peekNonBlank() == UInt8(ascii: "+") else {
            throw DNABertError.format("truncated FASTQ record '\(name)' in '\(path)': no '+' line")
        }
        var plusLine: [UInt8] = []
        try readLine(into: &plusLine)
        var qual: [UInt8] = []
        qual.reserveCapacity(seq.count)
        // Quality bytes may be '@' or '+', so read exactly as many as the sequence has.
        while qual.count < seq.count {
            guard try refill() else {
                throw DNABertError.format("truncated FASTQ record '\(name)' in '\(path)': quality shorter than the sequence")
            }
            while pos < end && qual.count < seq.count {
                let q = buffer[pos]
                if q > 0x20 { qual.append(q) }
                pos += 1
            }
        }
        return FASTARecord(name: name, description: description, sequence: seq, quality: qual)
    }
}
