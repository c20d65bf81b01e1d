/// Added tokens (`added_tokens` in tokenizer.json): matched in the raw text *before* pre-tokenization, so
/// "ACG[MASK]TT" yields the [MASK] id between the two DNA pieces.
///
/// As in Hugging Face: tokens with `normalized: false` are matched first on the raw input, then tokens with
/// `normalized: true` in the remaining pieces (our only normalizer is the identity, so both passes see the
/// same bytes). Matching is leftmost-longest, non-overlapping; `single_word` rejects a match touching a word
/// character on either side; `lstrip`/`rstrip` extend a match over the whitespace beside it (within the
/// current piece). An added token whose content is in the model vocabulary takes the model's id; others get
/// ids after the model's, in file order (the ids written in the file are not trusted, as in Hugging Face).
struct AddedToken: Equatable {
    var content: String
    var id: Int32
    var special: Bool
    var singleWord = false
    var lstrip = false
    var rstrip = false
    var normalized = false
}

struct TokenMatcher {
    /// Patterns (UTF-8 bytes) with the index of their added token, longest first per first byte.
    private var byFirstByte: [[(bytes: [UInt8], token: Int)]] = Array(repeating: [], count: 256)
    private(set) var isEmpty = true
    /// 1 where some pattern starts with that byte.
    private var first = [UInt8](repeating: 0, count: 256)

    init(_ tokens: [AddedToken], normalized: Bool) {
        for (i, t) in tokens.enumerated() where t.normalized == normalized {
            let b = Array(t.content.utf8)
            if b.isEmpty { continue }
            if byFirstByte[Int(b[0])].contains(where: { $0.bytes == b }) { continue }
            byFirstByte[Int(b[0])].append((b, i))
            first[Int(b[0])] = 1
            isEmpty = false
        }
        for k in 0..<256 { byFirstByte[k].sort { $0.bytes.count > $1.bytes.count } }
    }

    /// Leftmost-longest match starting at or after `from` and ending by `hi`: (start, end, token index).
    @inline(__always)
    func next(_ b: UnsafeBufferPointer<UInt8>, from: Int, hi: Int) -> (Int, Int, Int)? {
        var i = from
        while i < hi {
            // Skip bytes that start no pattern (all of them, in DNA).
            let skip = first.withUnsafeBufferPointer { f -> Int in
                var j = i
                while j < hi && f[Int(b[j])] == 0 { j += 1 }
                return j
            }
            i = skip
            if i >= hi { break }
            let cands = byFirstByte[Int(b[i])]
            do {
                for c in cands where i + c.bytes.count <= hi {
                    var ok = true
                    var k = 1
                    while k < c.bytes.count { if b[i + k] != c.bytes[k] { ok = false; break }; k += 1 }
                    if ok { return (i, i + c.bytes.count, c.token) }
                }
            }
            i += 1
        }
        return nil
    }
}

final class AddedVocabulary {
    let tokens: [AddedToken]
    let rawMatcher: TokenMatcher
    let normalizedMatcher: TokenMatcher
    let byId: [Int32: Int]
    let byContent: [[UInt8]: Int]

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens
        rawMatcher = TokenMatcher(tokens, normalized: false)
        normalizedMatcher = TokenMatcher(tokens, normalized: true)
        var bi: [Int32: Int] = [:], bc: [[UInt8]: Int] = [:]
        for (i, t) in tokens.enumerated() {
            if bi[t.id] == nil { bi[t.id] = i }
            let k = Array(t.content.utf8)
            if bc[k] == nil { bc[k] = i }
        }
        byId = bi
        byContent = bc
    }

    var isEmpty: Bool { rawMatcher.isEmpty && normalizedMatcher.isEmpty }

    /// Splits `b[lo..<hi]`: calls `token(id, start, end)` for added-token matches and `gap(start, end)` for the
    /// text between them, in order (Hugging Face's `find_matches`). Returns false if a callback asked to stop.
    func split(_ b: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, _ matcher: TokenMatcher,
               token: (Int32, Int, Int) -> Bool, gap: (Int, Int) -> Bool) -> Bool {
        if matcher.isEmpty || lo >= hi { return lo < hi ? gap(lo, hi) : true }
        var startOffset = lo
        var from = lo
        while let (ms, me, ti) = matcher.next(b, from: from, hi: hi) {
            from = me
            let t = tokens[ti]
            var start = ms, stop = me
            if t.singleWord {
                let before = UTF8Scan.scalarBefore(b, lo, ms)
                let startSpace = before.map { UnicodeClass.classify($0.0) != .word } ?? true
                var stopSpace = true
                if me < hi {
                    let n = UTF8Scan.scalarLength(b, me, hi)
                    if n > 0 { stopSpace = UnicodeClass.classify(UTF8Scan.decode(b, me, n)) != .word }
                }
                if !startSpace || !stopSpace { continue }
            }
            if t.lstrip {
                var j = ms
                while let (v, n) = UTF8Scan.scalarBefore(b, lo, j), UnicodeClass.classify(v) == .space { j -= n }
                start = max(j, startOffset)
            }
            if t.rstrip {
                var j = me
                while j < hi {
                    let n = UTF8Scan.scalarLength(b, j, hi)
                    if n == 0 || UnicodeClass.classify(UTF8Scan.decode(b, j, n)) != .space { break }
                    j += n
                }
                stop = j
            }
            if startOffset < start { if !gap(startOffset, start) { return false } }
            if !token(t.id, start, stop) { return false }
            startOffset = stop
        }
        if startOffset < hi { return gap(startOffset, hi) }
        return true
    }
}
