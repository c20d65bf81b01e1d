/// Pre-tokenizers: split text into the words that the BPE model encodes one at a time.
///
/// - `Whitespace`: Hugging Face's regex `\w+|[^\w\s]+` (Oniguruma, Unicode-aware): maximal runs of word
///   characters and maximal runs of "other" characters; whitespace separates and is dropped.
///   \w = Alphabetic ∪ Mark ∪ Decimal_Number ∪ Connector_Punctuation ∪ Join_Control; \s = White_Space,
///   with Unicode 16 assignments (checked against HF over every code point in the tests).
/// - `WhitespaceSplit`: maximal runs of non-White_Space characters.
/// - `Sequence` of those two collapses to the finer one (Whitespace splits everything WhitespaceSplit does).
/// - none: the whole piece is one word.
///
/// Bytes that are not valid UTF-8 count as one "other" character each (never word, never space); the BPE
/// model then maps them to the unknown token. Hugging Face only accepts valid text, so this is our rule.
enum PreTokenizerKind: Equatable {
    case none
    case whitespace
    case whitespaceSplit
}

enum CharClass: UInt8 {
    case word = 0
    case space = 1
    case other = 2
}

enum UnicodeClass {
    /// Class of each ASCII byte; 255 marks a non-ASCII lead byte.
    static let ascii: [UInt8] = (0..<256).map { b -> UInt8 in
        if b >= 128 { return 255 }
        return classify(UInt32(b)).rawValue
    }

    static func classify(_ v: UInt32) -> CharClass {
        guard let u = Unicode.Scalar(v) else { return .other }
        let p = u.properties
        if p.isWhitespace { return .space }
        // Hugging Face's Oniguruma knows Unicode 16; characters new in 17.0 are unassigned (not \w) there.
        if let age = p.age, age.major >= 17 { return .other }
        if p.isAlphabetic || p.isJoinControl { return .word }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return .word
        default: return .other
        }
    }
}

enum UTF8Scan {
    /// Length (1-4) of the valid UTF-8 scalar at `i`, or 0 when the bytes there are not valid UTF-8.
    @inline(__always)
    static func scalarLength(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let c0 = b[i]
        if c0 < 0x80 { return 1 }
        @inline(__always) func cont(_ j: Int) -> Bool { j < end && b[j] & 0xC0 == 0x80 }
        switch c0 {
        case 0xC2...0xDF:
            return cont(i + 1) ? 2 : 0
        case 0xE0...0xEF:
            guard i + 2 < end, cont(i + 1), cont(i + 2) else { return 0 }
            let c1 = b[i + 1]
            if c0 == 0xE0 && c1 < 0xA0 { return 0 }      // overlong
            if c0 == 0xED && c1 >= 0xA0 { return 0 }     // surrogate
            return 3
        case 0xF0...0xF4:
            guard i + 3 < end, cont(i + 1), cont(i + 2), cont(i + 3) else { return 0 }
            let c1 = b[i + 1]
            if c0 == 0xF0 && c1 < 0x90 { return 0 }      // overlong
            if c0 == 0xF4 && c1 >= 0x90 { return 0 }     // above U+10FFFF
            return 4
        default:
            return 0
        }
    }

    /// Decodes the valid scalar of `len` bytes at `i`.
    @inline(__always)
    static func decode(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ len: Int) -> UInt32 {
        switch len {
        case 1: return UInt32(b[i])
        case 2: return UInt32(b[i] & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F)
        case 3: return UInt32(b[i] & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F)
        default:
            return UInt32(b[i] & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6 | UInt32(b[i + 3] & 0x3F)
        }
    }

    /// (class, length) of the character at `i`; invalid bytes are (.other, 1).
    @inline(__always)
    static func charAt(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, _ table: UnsafePointer<UInt8>) -> (CharClass, Int) {
        let c = table[Int(b[i])]
        if c != 255 { return (CharClass(rawValue: c)!, 1) }
        let n = scalarLength(b, i, end)
        if n == 0 { return (.other, 1) }
        return (UnicodeClass.classify(decode(b, i, n)), n)
    }

    /// The scalar just before `i` (start of the piece at `lo`), or nil; used by the added-token rules.
    static func scalarBefore(_ b: UnsafeBufferPointer<UInt8>, _ lo: Int, _ i: Int) -> (UInt32, Int)? {
        if i <= lo { return nil }
        var j = i - 1
        while j > lo && b[j] & 0xC0 == 0x80 && i - j < 4 { j -= 1 }
        let n = scalarLength(b, j, i)
        if n == i - j { return (decode(b, j, n), n) }
        return (0xFFFD, 1) // an invalid byte: neither word nor space
    }
}

extension PreTokenizerKind {
    /// Calls `word(start, end)` for each word of `bytes[lo..<hi]`, in order. Stops early when `word` returns false.
    @inline(__always)
    func forEachWord(_ bytes: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, _ word: (Int, Int) -> Bool) {
        if lo >= hi { return }
        if self == .none { _ = word(lo, hi); return }
        let splitOnly = self == .whitespaceSplit
        UnicodeClass.ascii.withUnsafeBufferPointer { tb in
            let table = tb.baseAddress!
            var i = lo
            var wordStart = -1
            var wordClass = CharClass.space
            while i < hi {
                var (cls, n) = UTF8Scan.charAt(bytes, i, hi, table)
                if splitOnly && cls != .space { cls = .other }
                if cls != wordClass {
                    if wordStart >= 0 { if !word(wordStart, i) { return } }
                    wordStart = cls == .space ? -1 : i
                    wordClass = cls
                }
                i += n
            }
            if wordStart >= 0 { _ = word(wordStart, hi) }
        }
    }
}
