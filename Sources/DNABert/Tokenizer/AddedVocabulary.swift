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

/// Leftmost-longest matching of the added tokens: a byte trie, so building costs the total pattern bytes
/// and each text position costs at most the longest pattern's length.
///
/// Why a trie: the first version kept, per first byte, a list sorted by length and checked duplicates by a
/// linear scan of that list — 10,000 tokens sharing a first byte took 12.5 s to load (quadratic) and every
/// text position tried every one of them.
struct TokenMatcher {
    /// Trie edges: node * 256 + byte → child node. Node 0 is the root.
    private var edges: [Int: Int32] = [:]
    /// Per node: the index of the added token ending there, or -1.
    private var terminal: [Int32] = [-1]
    private(set) var isEmpty = true
    /// 1 where some pattern starts with that byte.
    private var first = [UInt8](repeating: 0, count: 256)

    init(_ tokens: [AddedToken], normalized: Bool) {
        for (i, t) in tokens.enumerated() where t.normalized == normalized {
            let b = Array(t.content.utf8)
            if b.isEmpty { continue }
            var node = 0
            for c in b {
                let key = node << 8 | Int(c)
                if let next = edges[key] {
                    node = Int(next)
                } else {
                    let next = terminal.count
                    terminal.append(-1)
                    edges[key] = Int32(next)
                    node = next
                }
            }
            // The first token with this content wins (as before: duplicates were skipped).
            if terminal[node] < 0 { terminal[node] = Int32(i) }
            first[Int(b[0])] = 1
            isEmpty = false
        }
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
            var node = 0, j = i
            var best = -1, bestEnd = i
            while j < hi, let next = edges[node << 8 | Int(b[j])] {
                node = Int(next)
                j += 1
                if terminal[node] >= 0 { best = Int(terminal[node]); bestEnd = j }
            }
            if best >= 0 { return (i, bestEnd, best) }
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
