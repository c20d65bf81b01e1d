/// Encoding of very long words (a chromosome without separators is one word) in bounded memory.
///
/// Why: the merge loop keeps four 32-bit arrays per symbol plus its queue, about 24 bytes per base; a 200 MB
/// word cost 4.2 GB. Here the word is encoded in chunks of `longWordChunk` bases, each one with the ordinary
/// merge loop, so the loop's memory is bounded by the chunk and only the tokens themselves grow with the word.
///
/// Why the result is exact: a token sequence is the BPE encoding of its text exactly when every two adjacent
/// tokens are *compatible* — encoding the two tokens' text alone gives back those two tokens (the property the
/// backtracking BPE encoders rely on). Each chunk's encoding is valid inside; so the concatenation is the
/// encoding of the whole word when every junction pair is compatible. A junction that is not (merges would
/// have crossed the cut) is repaired by re-encoding the last tokens before the cut together with the next
/// chunk, doubling the amount until the new junction is compatible. Cuts fall only between two characters that
/// are one-character tokens themselves. The tests compare this against whole-word encoding with tiny chunks.
/// If repair would reach back past the previous cut (a megabase of one repeated unit), the word is encoded
/// whole instead, as before.
extension BPEModel {
    /// Bases per chunk; words at least twice this long are chunked.
    static let longWordChunk = 1 << 20
    /// Tokens of the previous chunk re-encoded with the next one.
    static let longWordOverlap = 64

    /// Whether chunked encoding applies to this model: no affixes (a chunk's first character would get the
    /// word-start form), merges used, and an unknown token (so every character yields or joins a token and
    /// offsets are byte positions).
    var canChunkWords: Bool {
        continuingSubwordPrefix == nil && endOfWordSuffix == nil && !ignoreMerges && unkId >= 0
    }

    /// Encodes `bytes[start..<end]` chunk by chunk into `out`; false (and `out` unchanged) when it had to give up.
    func encodeLongWord(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ s: Scratch,
                        _ out: inout TokenSink, chunk: Int = BPEModel.longWordChunk) -> Bool {
        guard canChunkWords, chunk >= 2 else { return false }
        let firstToken = out.ids.count
        let oneChar: (UInt8) -> Bool = { b in b < 0x80 && self.asciiIds[Int(b)] >= 0 }
        @inline(__always) func validCut(_ q: Int) -> Bool { oneChar(bytes[q - 1]) && oneChar(bytes[q]) }
        func nextCut(_ from: Int) -> Int {
            var q = min(end, from + chunk)
            while q < end && !validCut(q) { q += 1 }
            return q
        }
        /// Tokens of bytes[a..<b] as (id, byte length) lists.
        func encodeChunk(_ a: Int, _ b: Int) -> (ids: [Int32], lens: [Int32]) {
            var sink = TokenSink(withOffsets: true, limit: Int.max)
            encodeWholeWord(bytes, a, b, s, &sink)
            var lens = [Int32](repeating: 0, count: sink.ids.count)
            for i in 0..<lens.count { lens[i] = Int32(sink.offsets[2 * i + 1] - sink.offsets[2 * i]) }
            return (sink.ids, lens)
        }
        /// Do tokens `a` (ending at `cut`, `la` bytes) and `b` (starting there, `lb` bytes) stay two tokens?
        func compatible(_ a: Int32, _ la: Int, _ b: Int32, _ lb: Int, at cut: Int) -> Bool {
            var sink = TokenSink(withOffsets: false, limit: 3)
            encodeWholeWord(bytes, cut - la, cut + lb, s, &sink)
            return sink.ids.count == 2 && sink.ids[0] == a && sink.ids[1] == b
        }
        func giveUp() -> Bool {
            out.ids.removeSubrange(firstToken...)
            if out.withOffsets { out.offsets.removeSubrange((2 * firstToken)...) }
            return false
        }

        var cut = nextCut(start)
        var pending = encodeChunk(start, cut)
        var pendingStart = start
        while cut < end && !out.full {
            let cut2 = nextCut(cut)
            var redo = cut
            var dropped = 0
            func drop(_ k: Int) {
                for _ in 0..<k {
                    redo -= Int(pending.lens.removeLast())
                    pending.ids.removeLast()
                }
                dropped += k
            }
            // Start the next chunk 64 tokens back: a cut inside a token is then almost always repaired on the
            // first try, instead of costing a second encoding of the whole next chunk.
            drop(max(0, min(BPEModel.longWordOverlap, pending.ids.count - 1)))
            var next = encodeChunk(redo, cut2)
            while let a = pending.ids.last, let b = next.ids.first,
                  !compatible(a, Int(pending.lens.last!), b, Int(next.lens.first!), at: redo) {
                // Re-encode more of the pending chunk's tail together with the next chunk (double the overlap).
                let more = max(dropped, 4)
                if more >= pending.ids.count { return giveUp() }
                drop(more)
                next = encodeChunk(redo, cut2)
            }
            var off = pendingStart
            for (id, len) in zip(pending.ids, pending.lens) {
                out.append(id, off, off + Int(len))
                off += Int(len)
            }
            pending = next
            pendingStart = redo
            cut = cut2
        }
        var off = pendingStart
        for (id, len) in zip(pending.ids, pending.lens) {
            out.append(id, off, off + Int(len))
            off += Int(len)
        }
        return true
    }
}
