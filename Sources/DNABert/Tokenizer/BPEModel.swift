/// The BPE model of a Hugging Face `tokenizer.json` (`"model": {"type": "BPE", ...}`): a vocabulary and a
/// ranked list of merges, applied to one pre-tokenized word at a time.
///
/// Merging follows Hugging Face's `Word::merge_all` exactly: every adjacent pair with a merge is queued by
/// (rank, position); the lowest rank wins, the leftmost position on ties; an entry is stale (skipped) when
/// its left symbol was absorbed, has no right neighbour, or the current pair no longer merges into the same
/// new id. Two queue implementations give the same pop order:
/// - a flat binary min-heap of `rank << 32 | position` keys (always correct);
/// - per-rank buckets (much faster on long words) when the merge list is *monotone*: every merge that
///   consumes a token comes after all merges that produce it. Then a merge of rank r only ever queues
///   pairs of rank > r, so all entries of rank r exist before rank r is processed, and processing a
///   rank's positions in ascending order reproduces the heap's order exactly.
final class BPEModel {
    /// token bytes -> id (model vocabulary only; added tokens live in `AddedVocabulary`). Keys are UTF-8
    /// bytes, not `String`, because Swift strings compare by canonical equivalence and Hugging Face by bytes.
    let vocab: [[UInt8]: Int32]
    /// id -> token string (nil for ids that the vocabulary skips).
    let vocabR: [String?]
    /// Merges in rank order as given.
    let merges: [(String, String)]
    let unkToken: String?
    let unkId: Int32
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?
    let fuseUnk: Bool
    let ignoreMerges: Bool

    /// Open-addressing table: key `a << 32 | b`, value `rank << 32 | newId`.
    let tables: MergeTables
    /// new id per rank (for the staleness test).
    let rankNewId: [Int32]
    /// True when the bucket queue gives the heap's order (see the type comment).
    let monotone: Bool
    /// ASCII byte -> id of that one-character token: [plain, with prefix, with suffix, with both]; -1 = none.
    let asciiIds: [Int32]

    static let emptyKey = UInt64.max

    init(vocab: [[UInt8]: Int32], merges: [(String, String)], unkToken: String?, continuingSubwordPrefix: String?,
         endOfWordSuffix: String?, fuseUnk: Bool, ignoreMerges: Bool) throws {
        self.vocab = vocab
        self.merges = merges
        self.unkToken = unkToken
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.endOfWordSuffix = endOfWordSuffix
        self.fuseUnk = fuseUnk
        self.ignoreMerges = ignoreMerges

        var maxId: Int32 = -1
        for (tok, id) in vocab {
            guard id >= 0 && Int(id) < Int(Int32.max) - 1 else {
                throw DNABertError.format("tokenizer model: vocabulary id \(id) of token '\(String(decoding: tok, as: UTF8.self))' is out of range")
            }
            maxId = max(maxId, id)
        }
        guard Int(maxId) < vocab.count * 2 + 1_000_000 else {
            throw DNABertError.format("tokenizer model: vocabulary id \(maxId) is far larger than the vocabulary size \(vocab.count)")
        }
        var r = [String?](repeating: nil, count: Int(maxId) + 1)
        for (tok, id) in vocab {
            let t = String(decoding: tok, as: UTF8.self)
            if let other = r[Int(id)] {
                throw DNABertError.format("tokenizer model: id \(id) is used by two tokens ('\(other)' and '\(t)')")
            }
            r[Int(id)] = t
        }
        vocabR = r

        if let u = unkToken {
            guard let id = vocab[Array(u.utf8)] else {
                throw DNABertError.format("tokenizer model: unk_token '\(u)' is not in the vocabulary")
            }
            unkId = id
        } else {
            unkId = -1
        }

        // Merge table.
        guard merges.count < Int(Int32.max) else { throw DNABertError.format("tokenizer model: too many merges") }
        var cap = 16
        while cap < merges.count * 2 + 16 { cap <<= 1 }
        var keys = [UInt64](repeating: BPEModel.emptyKey, count: cap)
        var vals = [UInt64](repeating: 0, count: cap)
        let mask = cap - 1
        var newIds = [Int32](repeating: 0, count: merges.count)
        var lefts = [Int32](repeating: 0, count: merges.count), rights = lefts
        let prefix = Array((continuingSubwordPrefix ?? "").utf8)
        for (rank, (a, b)) in merges.enumerated() {
            let ab = Array(a.utf8), bb = Array(b.utf8)
            guard let ia = vocab[ab] else {
                throw DNABertError.format("tokenizer model: merge \(rank) ('\(a)' '\(b)') names '\(a)', which is not in the vocabulary")
            }
            guard let ib = vocab[bb] else {
                throw DNABertError.format("tokenizer model: merge \(rank) ('\(a)' '\(b)') names '\(b)', which is not in the vocabulary")
            }
            var newTok = ab
            if !prefix.isEmpty && bb.starts(with: prefix) { newTok += bb.dropFirst(prefix.count) } else { newTok += bb }
            guard let nid = vocab[newTok] else {
                throw DNABertError.format("tokenizer model: merge \(rank) ('\(a)' '\(b)') makes '\(String(decoding: newTok, as: UTF8.self))', which is not in the vocabulary")
            }
            newIds[rank] = nid
            lefts[rank] = ia
            rights[rank] = ib
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            var slot = BPEModel.hashSlot(key, mask)
            while keys[slot] != BPEModel.emptyKey && keys[slot] != key { slot = (slot + 1) & mask }
            // A repeated pair: the later rank wins, as in Hugging Face's HashMap collect.
            keys[slot] = key
            vals[slot] = UInt64(rank) << 32 | UInt64(UInt32(nid))
        }
        rankNewId = newIds
        let n = max(merges.count, 1)
        // Key and value side by side: one cache line per probe.
        let tk = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * cap)
        for i in 0..<cap { tk[2 * i] = keys[i]; tk[2 * i + 1] = vals[i] }
        let tn = UnsafeMutablePointer<Int32>.allocate(capacity: n); tn.initialize(from: newIds, count: merges.count)
        let tl = UnsafeMutablePointer<Int32>.allocate(capacity: n); tl.initialize(from: lefts, count: merges.count)
        let tr = UnsafeMutablePointer<Int32>.allocate(capacity: n); tr.initialize(from: rights, count: merges.count)
        // Compact table when ids fit in 16 bits (DNABERT-2 and most vocabularies): one UInt64 per slot,
        // `(a << 16 | b) << 32 | rank`, half the footprint of the general table.
        let compact = r.count < 0xFFFF
        var ccap = 16
        while ccap < merges.count * 8 + 16 { ccap <<= 1 }
        let cs = UnsafeMutablePointer<UInt64>.allocate(capacity: compact ? ccap : 1)
        if compact {
            cs.initialize(repeating: UInt64.max, count: ccap)
            for i in 0..<cap where keys[i] != BPEModel.emptyKey {
                let k32 = UInt32(keys[i] >> 32) << 16 | UInt32(keys[i] & 0xFFFF)
                var slot = MergeTables.compactSlot(k32, ccap - 1)
                while cs[slot] != UInt64.max { slot = (slot + 1) & (ccap - 1) }
                cs[slot] = UInt64(k32) << 32 | (vals[i] >> 32)
            }
        }
        tables = MergeTables(slots: tk, mask: mask, compact: compact, cslots: cs, cmask: ccap - 1,
                             newId: tn, left: tl, right: tr, uniqueResults: Set(newIds).count == newIds.count)

        // Monotone check: every merge consuming token X has a rank above every merge producing X.
        var lastProducer = [Int](repeating: -1, count: r.count)
        for (rank, nid) in newIds.enumerated() { lastProducer[Int(nid)] = max(lastProducer[Int(nid)], rank) }
        var mono = true
        for slot in 0..<cap where keys[slot] != BPEModel.emptyKey {
            let rank = Int(vals[slot] >> 32)
            let ia = Int(keys[slot] >> 32), ib = Int(keys[slot] & 0xFFFF_FFFF)
            if lastProducer[ia] >= rank || lastProducer[ib] >= rank { mono = false; break }
        }
        monotone = mono

        // One-character tokens for ASCII bytes.
        var table = [Int32](repeating: -1, count: 4 * 256)
        let suffix = Array((endOfWordSuffix ?? "").utf8)
        for b in 0..<128 {
            let ch = [UInt8(b)]
            table[b] = vocab[ch] ?? -1
            table[256 + b] = vocab[prefix + ch] ?? -1
            table[512 + b] = vocab[ch + suffix] ?? -1
            table[768 + b] = vocab[prefix + ch + suffix] ?? -1
        }
        asciiIds = table
    }

    @inline(__always) static func hashSlot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    deinit {
        tables.slots.deallocate(); tables.cslots.deallocate(); tables.newId.deallocate()
        tables.left.deallocate(); tables.right.deallocate()
    }

    var vocabSize: Int { vocab.count }

    /// Encodes the word `bytes[start..<end]` (already split by the pre-tokenizer), appending ids and byte
    /// offsets (relative to `bytes`) to `out`. `charLen(i)` boundaries come from UTF-8 decoding; invalid
    /// bytes count as one unknown character each.
    func encodeWord(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ s: Scratch, _ out: inout TokenSink) {
        // Very long words in chunks, in bounded memory (LongWordEncoding.swift).
        if end - start >= 2 * BPEModel.longWordChunk && encodeLongWord(bytes, start, end, s, &out) { return }
        encodeWholeWord(bytes, start, end, s, &out)
    }

    /// `encodeWord` with the whole word in one merge loop.
    func encodeWholeWord(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ s: Scratch, _ out: inout TokenSink) {
        if start >= end { return }
        if ignoreMerges {
            if let id = vocab[Array(bytes[start..<end])] {
                out.append(id, start, end)
                return
            }
        }
        let n = end - start
        s.reserveSymbols(n)
        let ids = s.ids, lens = s.lens
        var count = 0
        var unkPending = false
        var unkLen = 0
        let hasAffix = continuingSubwordPrefix != nil || endOfWordSuffix != nil
        asciiIds.withUnsafeBufferPointer { table in
            var i = start
            while i < end {
                let b = bytes[i]
                var clen = 1
                var id: Int32 = -1
                let isFirst = i == start
                if b < 0x80 {
                    if !hasAffix {
                        id = table[Int(b)]
                    } else {
                        let isLast = i + 1 == end
                        let which = (isFirst ? 0 : (continuingSubwordPrefix != nil ? 1 : 0)) | (isLast && endOfWordSuffix != nil ? 2 : 0)
                        id = table[which * 256 + Int(b)]
                    }
                } else {
                    clen = UTF8Scan.scalarLength(bytes, i, end)
                    if clen > 0 {
                        var tok = Array(bytes[i..<(i + clen)])
                        if !isFirst, let p = continuingSubwordPrefix { tok = Array(p.utf8) + tok }
                        if i + clen == end, let sfx = endOfWordSuffix { tok += Array(sfx.utf8) }
                        id = vocab[tok] ?? -1
                    } else {
                        clen = 1 // invalid UTF-8 byte: one unknown character
                    }
                }
                if id >= 0 {
                    if unkPending {
                        ids[count] = unkId; lens[count] = Int32(unkLen); count += 1
                        unkPending = false
                    }
                    ids[count] = id; lens[count] = Int32(clen); count += 1
                } else if unkId >= 0 {
                    if unkPending && fuseUnk {
                        unkLen += clen
                    } else {
                        if unkPending {
                            ids[count] = unkId; lens[count] = Int32(unkLen); count += 1
                        }
                        unkPending = true; unkLen = clen
                    }
                }
                // No unk token: Hugging Face drops the character.
                i += clen
            }
        }
        if unkPending {
            ids[count] = unkId; lens[count] = Int32(unkLen); count += 1
        }
        if count == 0 { return }
        if count > 1 && !merges.isEmpty {
            if monotone && count >= 24 {
                mergeBuckets(count, s)
            } else {
                mergeHeap(count, s)
            }
            // Offsets are cumulative symbol lengths from the word start, as in Hugging Face (so a dropped
            // unknown character, when there is no unk token, shifts the offsets after it).
            var p = 0
            var off = start
            while p >= 0 {
                let e = off + Int(lens[p])
                out.append(ids[p], off, e)
                off = e
                p = Int(s.next[p])
            }
        } else {
            var off = start
            for p in 0..<count {
                let e = off + Int(lens[p])
                out.append(ids[p], off, e)
                off = e
            }
        }
    }

    /// Applies one queue entry (rank, pos) if it is not stale; true when merged.
    @inline(__always)
    private func applyMerge(_ rank: Int, _ pos: Int, _ s: Scratch, _ t: MergeTables) -> Bool {
        let lens = s.lens, ids = s.ids, next = s.next, prev = s.prev
        if lens[pos] == 0 { return false }
        let nx = Int(next[pos])
        if nx < 0 { return false }
        let newId = t.newId[rank]
        let a = ids[pos], b = ids[nx]
        if t.uniqueResults {
            // Each new id comes from exactly one pair, so "the pair still merges into newId" is "the pair
            // is still (left, right) of this rank".
            if a != t.left[rank] || b != t.right[rank] { return false }
        } else {
            let r2 = t.rank(a, b)
            guard r2 >= 0, t.newId[r2] == newId else { return false }
        }
        ids[pos] = newId
        lens[pos] += lens[nx]
        lens[nx] = 0
        let nn = next[nx]
        next[pos] = nn
        if nn >= 0 { prev[Int(nn)] = Int32(pos) }
        return true
    }

    private func mergeHeap(_ count: Int, _ s: Scratch) {
        s.reserveHeap(count * 2 + 8)
        let ids = s.ids, next = s.next, prev = s.prev
        for i in 0..<count { prev[i] = Int32(i - 1); next[i] = i + 1 < count ? Int32(i + 1) : -1 }
        let t = tables
        var heap = MinHeap(storage: s.heap, capacity: s.heapCapacity)
        for i in 0..<(count - 1) {
            let r = t.rank(ids[i], ids[i + 1])
            if r >= 0 { heap.pushUnordered(UInt64(r) << 32 | UInt64(i)) }
        }
        heap.heapify()
        while let top = heap.pop() {
            let rank = Int(top >> 32), pos = Int(top & 0xFFFF_FFFF)
            if !applyMerge(rank, pos, s, t) { continue }
            let pv = Int(prev[pos])
            if pv >= 0 {
                let r = t.rank(ids[pv], ids[pos])
                if r >= 0 {
                    if heap.count + 2 > heap.capacity { s.growHeap(&heap) }
                    heap.push(UInt64(r) << 32 | UInt64(pv))
                }
            }
            let nx = Int(next[pos])
            if nx >= 0 {
                let r = t.rank(ids[pos], ids[nx])
                if r >= 0 {
                    if heap.count + 2 > heap.capacity { s.growHeap(&heap) }
                    heap.push(UInt64(r) << 32 | UInt64(pos))
                }
            }
        }
    }

    /// Bucket queue for monotone merge lists: one position list per rank and a bitmap of non-empty ranks.
    /// Ranks are taken in increasing order and a merge only queues higher ranks, so one forward scan of the
    /// bitmap visits every rank that ever gets an entry.
    private func mergeBuckets(_ count: Int, _ s: Scratch) {
        let ids = s.ids, next = s.next, prev = s.prev
        for i in 0..<count { prev[i] = Int32(i - 1); next[i] = i + 1 < count ? Int32(i + 1) : -1 }
        s.prepareBuckets(merges.count)
        let t = tables
        let bucketCount = s.bucketCount, bucketCap = s.bucketCap, bucketData = s.bucketData
        let bits = s.rankBits
        @inline(__always) func enqueue(_ rank: Int, _ pos: Int) {
            let n = bucketCount[rank]
            if n == 0 { bits[rank >> 6] |= 1 << UInt64(rank & 63) }
            if n < bucketCap[rank] {
                bucketData[rank].unsafelyUnwrapped[n] = Int32(pos)
                bucketCount[rank] = n + 1
            } else {
                s.bucketAppend(rank, Int32(pos))
            }
        }
        for i in 0..<(count - 1) {
            let r = t.rank(ids[i], ids[i + 1])
            if r >= 0 { enqueue(r, i) }
        }
        let words = s.rankWords
        var w = 0
        while w < words {
            let word = bits[w]
            if word == 0 { w += 1; continue }
            let tz = word.trailingZeroBitCount
            bits[w] = word & ~(1 << UInt64(tz))
            let rank = w << 6 | tz
            let n = bucketCount[rank]
            let list = bucketData[rank].unsafelyUnwrapped
            // Sort ascending if pushes from several ranks interleaved (each run is ascending).
            var sorted = true
            var k = 1
            while k < n { if list[k - 1] > list[k] { sorted = false; break }; k += 1 }
            if !sorted { var lb = UnsafeMutableBufferPointer(start: list, count: n); lb.sort() }
            for j in 0..<n {
                let pos = Int(list[j])
                if !applyMerge(rank, pos, s, t) { continue }
                let pv = Int(prev[pos])
                if pv >= 0 { let r = t.rank(ids[pv], ids[pos]); if r >= 0 { enqueue(r, pv) } }
                let nx = Int(next[pos])
                if nx >= 0 { let r = t.rank(ids[pos], ids[nx]); if r >= 0 { enqueue(r, pos) } }
            }
            bucketCount[rank] = 0
        }
    }
}

/// The merge tables as raw pointers (owned by `BPEModel`, freed in its deinit) for the hot loops.
struct MergeTables {
    /// Open addressing, linear probing: slots[2i] = key `a << 32 | b`, slots[2i+1] = `rank << 32 | newId`.
    var slots: UnsafeMutablePointer<UInt64>
    var mask: Int
    /// Ids below 2^16: the compact table `(a << 16 | b) << 32 | rank` (UInt64.max = empty) is used instead.
    var compact: Bool
    var cslots: UnsafeMutablePointer<UInt64>
    var cmask: Int
    var newId: UnsafeMutablePointer<Int32>
    var left: UnsafeMutablePointer<Int32>
    var right: UnsafeMutablePointer<Int32>
    /// No two ranks produce the same id (then staleness is a pair comparison).
    var uniqueResults: Bool

    @inline(__always) static func compactSlot(_ k: UInt32, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(k) &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
    }

    /// Rank of the merge of pair (a, b), or -1.
    @inline(__always) func rank(_ a: Int32, _ b: Int32) -> Int {
        if compact {
            let k = UInt32(truncatingIfNeeded: a) << 16 | UInt32(truncatingIfNeeded: b) & 0xFFFF
            var slot = MergeTables.compactSlot(k, cmask)
            while true {
                let e = cslots[slot]
                if UInt32(truncatingIfNeeded: e >> 32) == k { return Int(e & 0xFFFF_FFFF) }
                if e == UInt64.max { return -1 }
                slot = (slot + 1) & cmask
            }
        }
        guard let v = lookup(a, b) else { return -1 }
        return Int(v >> 32)
    }

    /// `rank << 32 | newId` of the merge of pair (a, b), or nil.
    @inline(__always) func lookup(_ a: Int32, _ b: Int32) -> UInt64? {
        let key = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        var slot = BPEModel.hashSlot(key, mask)
        while true {
            let k = slots[2 * slot]
            if k == key { return slots[2 * slot + 1] }
            if k == BPEModel.emptyKey { return nil }
            slot = (slot + 1) & mask
        }
    }
}

/// Flat binary min-heap over UInt64 keys in caller-owned storage.
struct MinHeap {
    var storage: UnsafeMutablePointer<UInt64>
    var capacity: Int
    var count = 0

    init(storage: UnsafeMutablePointer<UInt64>, capacity: Int) {
        self.storage = storage
        self.capacity = capacity
    }

    @inline(__always) mutating func pushUnordered(_ v: UInt64) {
        storage[count] = v
        count += 1
    }

    mutating func heapify() {
        if count < 2 { return }
        var i = count / 2 - 1
        while i >= 0 { siftDown(i); i -= 1 }
    }

    @inline(__always) mutating func push(_ v: UInt64) {
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) >> 1
            let pv = storage[parent]
            if pv <= v { break }
            storage[i] = pv
            i = parent
        }
        storage[i] = v
    }

    @inline(__always) mutating func pop() -> UInt64? {
        if count == 0 { return nil }
        let top = storage[0]
        count -= 1
        if count > 0 {
            storage[0] = storage[count]
            siftDown(0)
        }
        return top
    }

    @inline(__always) mutating func siftDown(_ start: Int) {
        let v = storage[start]
        var i = start
        let n = count
        while true {
            var c = 2 * i + 1
            if c >= n { break }
            if c + 1 < n && storage[c + 1] < storage[c] { c += 1 }
            let cv = storage[c]
            if cv >= v { break }
            storage[i] = cv
            i = c
        }
        storage[i] = v
    }
}

/// Per-thread working memory for encoding, reused across words and calls.
final class Scratch {
    var symbolCapacity = 0
    var ids: UnsafeMutablePointer<Int32>
    var lens: UnsafeMutablePointer<Int32>
    var next: UnsafeMutablePointer<Int32>
    var prev: UnsafeMutablePointer<Int32>
    var heap: UnsafeMutablePointer<UInt64>
    var heapCapacity = 0
    // Buckets (one position list per rank), allocated on first use.
    var bucketData: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>
    var bucketCount: UnsafeMutablePointer<Int>
    var bucketCap: UnsafeMutablePointer<Int>
    var bucketRanks = 0
    /// One bit per rank with a non-empty bucket (all zero between words).
    var rankBits: UnsafeMutablePointer<UInt64>
    var rankWords = 0
    /// A copy of the input when it must be changed (upper-casing).
    var text: [UInt8] = []

    init() {
        ids = .allocate(capacity: 1); lens = .allocate(capacity: 1)
        next = .allocate(capacity: 1); prev = .allocate(capacity: 1)
        heap = .allocate(capacity: 1)
        bucketData = .allocate(capacity: 1); bucketCount = .allocate(capacity: 1); bucketCap = .allocate(capacity: 1)
        rankBits = .allocate(capacity: 1)
    }

    deinit {
        ids.deallocate(); lens.deallocate(); next.deallocate(); prev.deallocate()
        heap.deallocate()
        for r in 0..<bucketRanks { bucketData[r]?.deallocate() }
        bucketData.deallocate(); bucketCount.deallocate(); bucketCap.deallocate()
        rankBits.deallocate()
    }

    func reserveSymbols(_ n: Int) {
        if n <= symbolCapacity { return }
        let c = max(n, symbolCapacity * 2, 64)
        ids.deallocate(); lens.deallocate(); next.deallocate(); prev.deallocate()
        ids = .allocate(capacity: c); lens = .allocate(capacity: c)
        next = .allocate(capacity: c); prev = .allocate(capacity: c)
        symbolCapacity = c
    }

    func reserveHeap(_ n: Int) {
        if n <= heapCapacity { return }
        let c = max(n, heapCapacity * 2, 64)
        heap.deallocate()
        heap = .allocate(capacity: c)
        heapCapacity = c
    }

    func growHeap(_ h: inout MinHeap) {
        let c = max(heapCapacity * 2, 64)
        let nh = UnsafeMutablePointer<UInt64>.allocate(capacity: c)
        nh.update(from: heap, count: h.count)
        heap.deallocate()
        heap = nh
        heapCapacity = c
        h.storage = nh
        h.capacity = c
    }

    func prepareBuckets(_ ranks: Int) {
        if bucketRanks >= ranks { return }
        let d = UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>.allocate(capacity: ranks)
        let cnt = UnsafeMutablePointer<Int>.allocate(capacity: ranks)
        let cap = UnsafeMutablePointer<Int>.allocate(capacity: ranks)
        for r in 0..<ranks {
            if r < bucketRanks { d[r] = bucketData[r]; cnt[r] = 0; cap[r] = bucketCap[r] }
            else { d[r] = nil; cnt[r] = 0; cap[r] = 0 }
        }
        bucketData.deallocate(); bucketCount.deallocate(); bucketCap.deallocate()
        bucketData = d; bucketCount = cnt; bucketCap = cap
        bucketRanks = ranks
        rankBits.deallocate()
        rankWords = (ranks + 63) / 64
        rankBits = .allocate(capacity: rankWords)
        rankBits.initialize(repeating: 0, count: rankWords)
    }

    /// Approximate bytes held (to decide whether to keep this scratch for reuse).
    var retainedBytes: Int { symbolCapacity * 16 + heapCapacity * 8 + bucketBytes + text.capacity }
    var bucketBytes = 0

    @inline(__always) func bucketAppend(_ rank: Int, _ pos: Int32) {
        let n = bucketCount[rank]
        if n == bucketCap[rank] {
            let c = max(16, n * 2)
            bucketBytes += (c - n) * 4
            let nd = UnsafeMutablePointer<Int32>.allocate(capacity: c)
            if let old = bucketData[rank] { nd.update(from: old, count: n); old.deallocate() }
            bucketData[rank] = nd
            bucketCap[rank] = c
        }
        bucketData[rank]![n] = pos
        bucketCount[rank] = n + 1
    }
}

/// Where encoded tokens go: ids and (optionally) byte offsets, with an optional cap on the count.
struct TokenSink {
    var ids: [Int32] = []
    var offsets: [Int64] = []
    var withOffsets: Bool
    /// Stop accepting tokens past this many (truncation); Int.max = no limit.
    var limit: Int

    @inline(__always) mutating func append(_ id: Int32, _ start: Int, _ end: Int) {
        if ids.count >= limit { return }
        ids.append(id)
        if withOffsets { offsets.append(Int64(start)); offsets.append(Int64(end)) }
    }

    var full: Bool { ids.count >= limit }
}
