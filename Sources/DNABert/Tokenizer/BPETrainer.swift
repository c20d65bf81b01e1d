import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Byte-pair-encoding trainer for DNA (the DNABERT-2 recipe, after Hugging Face's BpeTrainer).
///
/// Records are cut into words of `wordLength` bases (and at non-ACGT bytes); pairs never cross a word
/// boundary. The whole corpus is one array of 32-bit cells (16-bit symbol | 16-bit token length) with a
/// barrier cell between words; a merged token keeps its length in its first and last cell, so the neighbours
/// of any token are found in O(1) without prev/next links (4 bytes per base instead of 12). Every pair owns
/// the ascending list of positions where it was formed; a merge visits only that list, validates each entry
/// lazily (stale entries are skipped), and gathers the count changes of the neighbouring pairs in dense
/// per-merge scratch tables, so the hash table and the max-heap are touched once per changed pair per merge,
/// not once per occurrence. Long lists are cut at word barriers and merged by several threads.
///
/// Counting is the Hugging Face definition: every adjacent pair counts, overlapping ones included ("AAA" has
/// (A,A) twice); merging applies non-overlapping occurrences left to right. Ties in count go to the pair
/// with the smaller (left id, right id), ids being the alphabet in byte order then merges in creation order,
/// as in Hugging Face, so on the same words both trainers produce the same merges. A merge whose string
/// already exists as a token (e.g. (A, AT) after (AA, T)) is skipped, so every merge adds exactly one token.
public enum BPETrainer {
    /// Default word length in bases (see `BPETrainerOptions.wordLength`).
    public static let defaultWordLength = 10_000
    /// Tokens never grow beyond this many bases, whatever `maxTokenLength` says (lengths are 16-bit).
    public static let maxTokenBases = 65535
    /// Largest supported vocabulary (symbols are 16-bit).
    public static let maxVocabSize = 65000
    static let specialCount = 5
    static let barrier: UInt16 = 0xFFFF
    static let dead: UInt16 = 0xFFFE

    /// Trains on FASTA/FASTQ files (plain or gzip). The reading stage is reported as "reading".
    public static func train(files: [String], options: BPETrainerOptions,
                             progress: ((TrainProgress) -> Bool)? = nil) throws -> TrainedBPE {
        try validate(options)
        guard !files.isEmpty else { throw DNABertError.invalidArgument("BPE training needs at least one input file") }
        let start = Clock.now()
        var corpus: [UInt8] = []
        var total: Int64 = 0
        reading: for (i, f) in files.enumerated() {
            let reader = try FASTAReader(path: f)
            while let rec = try reader.next() {
                var n = rec.sequence.count
                if options.maxBases > 0 {
                    let left = options.maxBases - total
                    if left <= 0 { break reading }
                    n = Int(min(Int64(n), left))
                }
                corpus.append(contentsOf: rec.sequence[0..<n])
                corpus.append(0x0A)   // a separator under every policy: words never span records
                total += Int64(n)
            }
            if let progress {
                let el = Clock.now() - start
                if !progress(TrainProgress(stage: "reading", current: Int64(i + 1), total: Int64(files.count),
                                           elapsedSeconds: el, etaSeconds: -1)) {
                    throw DNABertError.cancelled
                }
            }
        }
        return try corpus.withUnsafeBufferPointer { buf in
            try trainCore([buf], options: options, progress: progress, start: start)
        }
    }

    /// Trains on in-memory sequences (any bytes; see `NonACGTPolicy`).
    public static func train(sequences: [UnsafeBufferPointer<UInt8>], options: BPETrainerOptions,
                             progress: ((TrainProgress) -> Bool)? = nil) throws -> TrainedBPE {
        try validate(options)
        var parts: [UnsafeBufferPointer<UInt8>] = []
        var total: Int64 = 0
        for s in sequences {
            var n = s.count
            if options.maxBases > 0 {
                let left = options.maxBases - total
                if left <= 0 { break }
                n = Int(min(Int64(n), left))
            }
            if n > 0, let base = s.baseAddress { parts.append(UnsafeBufferPointer(start: base, count: n)) }
            total += Int64(n)
        }
        return try trainCore(parts, options: options, progress: progress, start: Clock.now())
    }

    static func validate(_ o: BPETrainerOptions) throws {
        if o.vocabSize < specialCount + 4 {
            throw DNABertError.invalidArgument("vocabSize \(o.vocabSize) is too small: it must be at least 9 (5 special tokens + A C G T)")
        }
        if o.vocabSize > maxVocabSize {
            throw DNABertError.invalidArgument("vocabSize \(o.vocabSize) is too large: at most \(maxVocabSize) is supported")
        }
        if o.minFrequency < 0 { throw DNABertError.invalidArgument("minFrequency must be >= 0, got \(o.minFrequency)") }
        if o.maxTokenLength < 0 || o.maxTokenLength == 1 {
            throw DNABertError.invalidArgument("maxTokenLength must be 0 (unlimited) or at least 2, got \(o.maxTokenLength)")
        }
        if o.wordLength < 2 { throw DNABertError.invalidArgument("wordLength must be at least 2 bases, got \(o.wordLength)") }
        if o.threads < 0 { throw DNABertError.invalidArgument("threads must be >= 0 (0 = all cores), got \(o.threads)") }
        if o.maxBases < 0 { throw DNABertError.invalidArgument("maxBases must be >= 0 (0 = all), got \(o.maxBases)") }
    }

    /// The byte → symbol map for the policies and the bytes present: symbols are the alphabet's indices.
    static func alphabet(histogram: [Int64], options o: BPETrainerOptions) -> (letters: [UInt8], map: [Int32]) {
        var allowed = [Bool](repeating: false, count: 256)
        let core: [UInt8] = Array("ACGT".utf8)
        let iupac: [UInt8] = Array("NRYSWKMBDHVU".utf8)
        for c in core { allowed[Int(c)] = true }
        if o.nonACGT == .keep { for c in iupac { allowed[Int(c)] = true } }
        // fold[byte] = the letter it stands for, or 0 when it cuts words.
        var fold = [UInt8](repeating: 0, count: 256)
        for c in 0..<256 where allowed[c] {
            fold[c] = UInt8(c)
            let lower = c + 32
            fold[lower] = o.casePolicy == .upper ? UInt8(c) : UInt8(lower)
        }
        var present = Set<UInt8>(core)
        for c in 0..<256 where histogram[c] > 0 && fold[c] != 0 { present.insert(fold[c]) }
        let letters = present.sorted()
        var idOf = [Int32](repeating: -1, count: 256)
        for (i, l) in letters.enumerated() { idOf[Int(l)] = Int32(i) }
        var map = [Int32](repeating: -1, count: 256)
        for c in 0..<256 where fold[c] != 0 { map[c] = idOf[Int(fold[c])] }
        return (letters, map)
    }

    // MARK: - the corpus layout

    /// Calls `word(part, range)` for every word of the corpus in order: a maximal run of mapped bytes,
    /// cut every `wordLength` bases; runs of one base carry no pair and are skipped.
    ///
    /// Why one walker: the sizing pass and the fill pass once had their own loops, and the fill wrote a
    /// lone base after a separator one cell past the buffer the sizing pass had counted ("ACGTNA").
    /// Both passes now see the same words by construction.
    @inline(__always)
    static func forEachWord(_ parts: [UnsafeBufferPointer<UInt8>], map: [Int32], wordLength: Int,
                            _ word: (Int, Range<Int>) -> Void) {
        map.withUnsafeBufferPointer { mp in
            for (pi, p) in parts.enumerated() {
                var start = 0, run = 0
                for i in 0..<p.count {
                    if mp[Int(p[i])] >= 0 {
                        if run == 0 { start = i }
                        run += 1
                        if run == wordLength { word(pi, start..<(i + 1)); run = 0 }
                    } else {
                        if run >= 2 { word(pi, start..<i) }
                        run = 0
                    }
                }
                if run >= 2 { word(pi, start..<p.count) }
            }
        }
    }

    /// Cells the corpus needs: a leading barrier, then each word followed by a barrier.
    static func corpusSlots(_ parts: [UnsafeBufferPointer<UInt8>], map: [Int32], wordLength: Int) -> Int {
        var slots = 1
        forEachWord(parts, map: map, wordLength: wordLength) { _, r in slots += r.count + 1 }
        return slots
    }

    /// Writes the corpus cells into `cell` (never past its end) and returns how many were written.
    static func fillCorpus(_ parts: [UnsafeBufferPointer<UInt8>], map: [Int32], wordLength: Int,
                           into cell: UnsafeMutableBufferPointer<UInt32>) -> Int {
        let one: UInt32 = 1 << 16
        let barrierCell = UInt32(barrier) | one
        guard cell.count > 0 else { return 0 }
        var w = 0
        cell[w] = barrierCell; w += 1
        var overflow = false
        map.withUnsafeBufferPointer { mp in
            forEachWord(parts, map: map, wordLength: wordLength) { pi, r in
                guard !overflow, r.count + 1 <= cell.count - w else { overflow = true; return }
                let p = parts[pi]
                for i in r { cell[w] = UInt32(truncatingIfNeeded: mp[Int(p[i])]) | one; w += 1 }
                cell[w] = barrierCell; w += 1
            }
        }
        return overflow ? -1 : w
    }

    // MARK: - the trainer proper

    static func trainCore(_ parts: [UnsafeBufferPointer<UInt8>], options o: BPETrainerOptions,
                          progress: ((TrainProgress) -> Bool)?, start: Double) throws -> TrainedBPE {
        let threads = Parallel.threads(o.threads)
        func report(_ stage: String, _ cur: Int64, _ total: Int64, _ eta: Double) throws {
            guard let progress else { return }
            if !progress(TrainProgress(stage: stage, current: cur, total: total,
                                       elapsedSeconds: Clock.now() - start, etaSeconds: eta)) {
                throw DNABertError.cancelled
            }
        }

        // 1. Which bytes occur (for the alphabet under the `keep` policies).
        var chunks: [UnsafeBufferPointer<UInt8>] = []
        for p in parts {
            var s = 0
            while s < p.count {
                let e = min(p.count, s + (4 << 20))
                chunks.append(UnsafeBufferPointer(rebasing: p[s..<e]))
                s = e
            }
        }
        var hists = [[Int64]](repeating: [Int64](repeating: 0, count: 256), count: chunks.count)
        hists.withUnsafeMutableBufferPointer { hs in
            Parallel.forEach(chunks.count, threads: threads) { i in
                var h = [Int64](repeating: 0, count: 256)
                h.withUnsafeMutableBufferPointer { hp in
                    for c in chunks[i] { hp[Int(c)] += 1 }
                }
                hs[i] = h
            }
        }
        var histogram = [Int64](repeating: 0, count: 256)
        for h in hists { for c in 0..<256 { histogram[c] += h[c] } }
        let (letters, map) = alphabet(histogram: histogram, options: o)
        let k = letters.count
        var usable: Int64 = 0
        for c in 0..<256 where map[c] >= 0 { usable += histogram[c] }
        guard usable > 0 else {
            throw DNABertError.invalidArgument("no bases to train on: the input holds no sequence letters (empty files, or only characters the non-ACGT policy drops)")
        }
        if o.vocabSize < specialCount + k {
            throw DNABertError.invalidArgument("vocabSize \(o.vocabSize) is smaller than the 5 special tokens plus the alphabet of \(k) letters (\(String(decoding: letters, as: UTF8.self)))")
        }
        let targetMerges = o.vocabSize - specialCount - k
        let maxLen = o.maxTokenLength == 0 ? maxTokenBases : min(o.maxTokenLength, maxTokenBases)
        let wordLength = o.wordLength
        let minFreq = Int64(max(1, o.minFrequency))
        try report("counting", 0, 1, -1)

        // 2. Lay the words out: [barrier] word [barrier] word ... [barrier]; one-base words carry no pair.
        let slots = corpusSlots(parts, map: map, wordLength: wordLength)
        guard slots < Int(Int32.max) else {
            throw DNABertError.invalidArgument("the training corpus is too large (\(slots) symbols); limit it with maxBases (at most about 2 Gbp)")
        }
        guard let cellRaw = malloc(slots * 4) else {
            throw DNABertError(.outOfMemory, "cannot allocate \(slots * 4) bytes for the BPE training corpus")
        }
        defer { free(cellRaw) }
        // cell = symbol | length << 16; one load gives both (the merge loop is bound by cache misses).
        let cell = cellRaw.assumingMemoryBound(to: UInt32.self)
        let n = fillCorpus(parts, map: map, wordLength: wordLength, into: UnsafeMutableBufferPointer(start: cell, count: slots))
        guard n == slots else {
            throw DNABertError(.internal, "BPE corpus layout: sized \(slots) cells, filled \(n)")
        }

        // 3. Initial pair counts and position lists, in parallel over ranges; lists come out sorted.
        let kk = k * k
        let ranges = Parallel.ranges(n - 1, parts: max(1, min(threads * 4, (n >> 16) + 1)))
        var rangeCounts = [[Int64]](repeating: [Int64](repeating: 0, count: kk), count: ranges.count)
        let ku16 = UInt16(k)
        rangeCounts.withUnsafeMutableBufferPointer { rc in
            Parallel.forEach(ranges.count, threads: threads) { r in
                var cnt = [Int64](repeating: 0, count: kk)
                cnt.withUnsafeMutableBufferPointer { cp in
                    for i in ranges[r] {
                        let s0 = UInt16(truncatingIfNeeded: cell[i]), s1 = UInt16(truncatingIfNeeded: cell[i + 1])
                        if s0 < ku16 && s1 < ku16 { cp[Int(s0) * k + Int(s1)] += 1 }
                    }
                }
                rc[r] = cnt
            }
        }
        // Above `initialListMaxSymbols` the initial pairs get no lists (4 bytes per base saved): a merge of
        // one scans the corpus for it instead (a sequential pass, done at most once per alphabet pair).
        let deferInitialLists = n > o.initialListMaxSymbols
        var initialLists = [BPETrainerPosList](repeating: BPETrainerPosList(), count: kk)
        var offsets = [[Int]](repeating: [Int](repeating: 0, count: kk), count: ranges.count)
        var totals = [Int](repeating: 0, count: kk)
        for pr in 0..<kk {
            var total = 0
            for r in 0..<ranges.count { offsets[r][pr] = total; total += Int(rangeCounts[r][pr]) }
            totals[pr] = total
            if deferInitialLists {
                initialLists[pr].deferred = true
            } else if total > 0 {
                initialLists[pr] = BPETrainerPosList(exactCapacity: total)
                guard initialLists[pr].ptr != nil else {
                    for j in 0...pr { initialLists[j].release() }
                    throw DNABertError(.outOfMemory, "cannot allocate the BPE pair position lists")
                }
                initialLists[pr].count = total
            }
        }
        let listPtrs = initialLists.map { $0.ptr }
        if !deferInitialLists { offsets.withUnsafeBufferPointer { offs in
            Parallel.forEach(ranges.count, threads: threads) { r in
                var at = offs[r]
                at.withUnsafeMutableBufferPointer { ap in
                    for i in ranges[r] {
                        let s0 = UInt16(truncatingIfNeeded: cell[i]), s1 = UInt16(truncatingIfNeeded: cell[i + 1])
                        if s0 < ku16 && s1 < ku16 {
                            let pr = Int(s0) * k + Int(s1)
                            listPtrs[pr].unsafelyUnwrapped[ap[pr]] = Int32(truncatingIfNeeded: i)
                            ap[pr] += 1
                        }
                    }
                }
            }
        } }

        // 4. Pair table, heap, tokens.
        var pairCount: [Int64] = []
        var pairList: [BPETrainerPosList] = []
        var index = BPETrainerPairIndex(capacity: 1 << 12)
        var heap = BPETrainerHeap()
        defer { for i in 0..<pairList.count { pairList[i].release() } }
        for pr in 0..<kk {
            let c = totals[pr]
            if Int64(c) >= minFreq {
                let key = UInt32(pr / k) << 16 | UInt32(pr % k)
                index.insert(key, Int32(pairCount.count))
                pairCount.append(Int64(c))
                pairList.append(initialLists[pr])
                heap.push(BPETrainerHeapEntry(count: Int64(c), key: key))
            } else {
                initialLists[pr].release()
            }
        }
        let vocabCap = k + targetMerges
        var tokLen = [Int](repeating: 1, count: k)
        tokLen.reserveCapacity(vocabCap)
        var tokBytes: [[UInt8]] = letters.map { [$0] }
        var existing = Set<[UInt8]>(tokBytes)
        var merges: [(Int, Int)] = []
        var banned = Set<UInt32>()

        // Per-merge scratch, indexed by the neighbour's token id.
        // Big merges (most of the work: the first few hundred lists hold millions of positions) are cut at
        // word barriers into 4 pieces per thread, each with its own scratch, taken by the threads from a
        // shared counter (a thread slowed down by another process on its core does less of the work);
        // small merges run inline.
        // (Each piece has vocabulary-sized scratch tables, hence the caps.)
        let workers = max(1, min(threads, 16))
        let pieces = workers == 1 ? 1 : min(workers * 4, 16)
        let scratches = (0..<pieces).map { _ in BPETrainerScratch(size: vocabCap) }
        let scratch = scratches[0]
        defer { for sc in scratches { sc.release() } }
        try report("merging", 0, Int64(targetMerges), -1)
        let mergeStart = Clock.now()
        var lastReport = mergeStart

        while merges.count < targetMerges {
            guard let top = heap.pop() else { break }
            let idx = Int(index.find(top.key))
            if idx < 0 { continue }
            let c = pairCount[idx]
            if c != top.count {
                if c >= minFreq { heap.push(BPETrainerHeapEntry(count: c, key: top.key)) }
                continue
            }
            if c < minFreq { break }
            if banned.contains(top.key) { continue }
            let a = Int(top.key >> 16), b = Int(top.key & 0xFFFF)
            let text = tokBytes[a] + tokBytes[b]
            if existing.contains(text) { banned.insert(top.key); continue }
            let x = k + merges.count
            existing.insert(text)
            tokBytes.append(text)
            let newTokLen = tokLen[a] + tokLen[b]
            tokLen.append(newTokLen)
            merges.append((a, b))

            if pairList[idx].deferred {
                pairList[idx] = try collectPositions(of: a, b, cell: cell, count: n, threads: threads)
            }
            if a == b && !pairList[idx].isSorted() { pairList[idx].sort() }
            let list = pairList[idx]
            // Lists are ascending by construction (initial scan in order, new lists filled in merge order);
            // the check keeps a violated invariant from ever becoming a data race.
            let splits = workers > 1 && list.count >= o.parallelMergeThreshold && list.isSorted()
                ? splitAtWords(list, parts: pieces, cell: cell) : [0, list.count]
            tokLen.withUnsafeBufferPointer { tl in
                if splits.count == 2 {
                    applyMerge(list: list, from: 0, to: list.count, a: a, b: b, x: x, cell: cell, tokLen: tl, maxLen: maxLen, s: scratch)
                } else {
                    let nextPiece = Atomic<Int>(0)
                    let count = splits.count - 1
                    Parallel.forEach(min(workers, count), threads: workers) { _ in
                        while true {
                            let t = nextPiece.add(1, ordering: .relaxed).oldValue
                            if t >= count { break }
                            applyMerge(list: list, from: splits[t], to: splits[t + 1], a: a, b: b, x: x, cell: cell,
                                       tokLen: tl, maxLen: maxLen, s: scratches[t])
                        }
                    }
                }
            }
            for t in 1..<(splits.count - 1) { scratch.absorb(scratches[t]) }
            if scratches.contains(where: { $0.outOfMemory }) {
                throw DNABertError(.outOfMemory, "out of memory while training BPE (position lists)")
            }

            // Fold the per-merge changes into the pair table.
            pairCount[idx] = 0
            pairList[idx].release()
            for t in 0..<scratch.decLeftTouched.count {
                let l = Int(scratch.decLeftTouched[t])
                let d = scratch.decLeft[l]
                scratch.decLeft[l] = 0; scratch.decLeftMark[l] = 0
                let j = Int(index.find(UInt32(l) << 16 | UInt32(a)))
                if j >= 0 && j != idx { pairCount[j] -= d }
            }
            scratch.decLeftTouched.removeAll(keepingCapacity: true)
            for t in 0..<scratch.decRightTouched.count {
                let r = Int(scratch.decRightTouched[t])
                let d = scratch.decRight[r]
                scratch.decRight[r] = 0; scratch.decRightMark[r] = 0
                let j = Int(index.find(UInt32(b) << 16 | UInt32(r)))
                if j >= 0 && j != idx { pairCount[j] -= d }
            }
            scratch.decRightTouched.removeAll(keepingCapacity: true)
            for t in 0..<scratch.leftTouched.count {
                let l = Int(scratch.leftTouched[t])
                let cnt = scratch.leftCount[l]
                scratch.leftCount[l] = 0; scratch.leftMark[l] = 0
                let key = UInt32(l) << 16 | UInt32(x)
                if cnt >= minFreq {
                    index.insert(key, Int32(pairCount.count))
                    pairCount.append(cnt)
                    scratch.leftList[l].shrinkToFit()
                    pairList.append(scratch.leftList[l])
                    heap.push(BPETrainerHeapEntry(count: cnt, key: key))
                } else {
                    scratch.leftList[l].release()
                }
                scratch.leftList[l] = BPETrainerPosList()
            }
            scratch.leftTouched.removeAll(keepingCapacity: true)
            for t in 0..<scratch.rightTouched.count {
                let r = Int(scratch.rightTouched[t])
                let cnt = scratch.rightCount[r]
                scratch.rightCount[r] = 0; scratch.rightMark[r] = 0
                let key = UInt32(x) << 16 | UInt32(r)
                if cnt >= minFreq {
                    index.insert(key, Int32(pairCount.count))
                    pairCount.append(cnt)
                    scratch.rightList[r].shrinkToFit()
                    pairList.append(scratch.rightList[r])
                    heap.push(BPETrainerHeapEntry(count: cnt, key: key))
                } else {
                    scratch.rightList[r].release()
                }
                scratch.rightList[r] = BPETrainerPosList()
            }
            scratch.rightTouched.removeAll(keepingCapacity: true)

            if progress != nil && (merges.count & 15) == 0 {
                let t = Clock.now()
                if t - lastReport > 0.1 || merges.count == targetMerges {
                    lastReport = t
                    let done = Double(merges.count)
                    let eta = (t - mergeStart) / done * Double(targetMerges - merges.count)
                    try report("merging", Int64(merges.count), Int64(targetMerges), eta)
                }
            }
        }
        try report("done", Int64(merges.count), Int64(targetMerges), 0)

        let names = tokBytes.map { String(decoding: $0, as: UTF8.self) }
        return TrainedBPE(alphabet: Array(names[0..<k]), merges: merges.map { (names[$0.0], names[$0.1]) })
    }

    /// The ascending positions of pair (a, b) of single-symbol tokens, found by scanning the corpus.
    static func collectPositions(of a: Int, _ b: Int, cell: UnsafeMutablePointer<UInt32>, count n: Int,
                                 threads: Int) throws -> BPETrainerPosList {
        let ranges = Parallel.ranges(n - 1, parts: max(1, min(threads * 4, (n >> 16) + 1)))
        var parts = [BPETrainerPosList](repeating: BPETrainerPosList(), count: ranges.count)
        let a16 = UInt16(a), b16 = UInt16(b)
        parts.withUnsafeMutableBufferPointer { ps in
            Parallel.forEach(ranges.count, threads: threads) { r in
                var list = BPETrainerPosList()
                for p in ranges[r] {
                    let c = cell[p]
                    if UInt16(truncatingIfNeeded: c) == a16
                        && UInt16(truncatingIfNeeded: cell[p + Int(c >> 16)]) == b16 {
                        list.append(Int32(truncatingIfNeeded: p))
                    }
                }
                ps[r] = list
            }
        }
        var total = BPETrainerPosList(exactCapacity: parts.reduce(0) { $0 + $1.count })
        for i in 0..<parts.count {
            total.append(contentsOf: parts[i])
            parts[i].release()
        }
        if total.outOfMemory || (total.ptr == nil && total.count > 0) {
            total.release()
            throw DNABertError(.outOfMemory, "out of memory while training BPE (position lists)")
        }
        return total
    }

    /// Cuts a (sorted) position list into `parts` index ranges whose positions lie in different words, so
    /// threads never touch the same word. Returns the boundaries [0, …, count].
    static func splitAtWords(_ list: BPETrainerPosList, parts: Int, cell: UnsafeMutablePointer<UInt32>) -> [Int] {
        guard let lp = list.ptr else { return [0, list.count] }
        var cuts = [0]
        for t in 1..<parts {
            var i = max(list.count * t / parts, cuts[cuts.count - 1] + 1)
            while i < list.count {
                // A barrier strictly between the previous position and this one separates their words.
                let lo = Int(lp[i - 1]), hi = Int(lp[i])
                var k = lo + 1
                while k < hi && UInt16(truncatingIfNeeded: cell[k]) != barrier { k += 1 }
                if hi > lo && k < hi { break }
                i += 1
            }
            if i >= list.count { break }
            cuts.append(i)
        }
        cuts.append(list.count)
        return cuts
    }

    /// Applies merge (a, b) → x at every valid position of `list` (in list order) and records, in `s`, the
    /// count changes of the neighbouring pairs plus the positions of the pairs that now contain x.
    @inline(__always)
    static func applyMerge(list: BPETrainerPosList, from: Int, to: Int, a: Int, b: Int, x: Int,
                           cell: UnsafeMutablePointer<UInt32>,
                           tokLen: UnsafeBufferPointer<Int>, maxLen: Int, s: BPETrainerScratch) {
        guard let lp = list.ptr else { return }
        let a16 = UInt16(a), b16 = UInt16(b), x16 = UInt16(x)
        let lenA = tokLen[a], lenB = tokLen[b]
        let newLen = lenA + lenB
        let leftCount = s.leftCount, rightCount = s.rightCount
        // Positions are scattered over the corpus: per block, touch all cells first with independent,
        // branch-free loads (many cache misses in flight at once), so the merge pass then hits cache.
        var blockStart = from
        while blockStart < to {
            let blockEnd = min(to, blockStart + 1024)
            var acc: UInt32 = 0
            for j in blockStart..<blockEnd { acc &+= cell[Int(lp[j])] }
            s.sink &+= acc
            for j in blockStart..<blockEnd {
                let p = Int(lp[j])
                let cp = cell[p]
                if UInt16(truncatingIfNeeded: cp) != a16 { continue }
                let q = p + Int(cp >> 16)
                let cq = cell[q]
                if UInt16(truncatingIfNeeded: cq) != b16 { continue }
                let r = q + Int(cq >> 16)
                // Left neighbour: pair (L, a) disappears, (L, x) appears.
                let cl = cell[p - 1]
                if UInt16(truncatingIfNeeded: cl) != barrier {
                    let l = p - Int(cl >> 16)
                    let L = Int(UInt16(truncatingIfNeeded: cell[l]))
                    let lenL = tokLen[L]
                    if lenL + lenA <= maxLen {
                        if L == x {
                            rightCount[a] -= 1   // (x, a) formed earlier in this merge
                        } else {
                            s.bumpDecLeft(L)
                        }
                    }
                    if lenL + newLen <= maxLen {
                        leftCount[L] += 1
                        s.touchLeft(L)
                        s.leftList[L].append(Int32(truncatingIfNeeded: l))
                    }
                }
                // Right neighbour: pair (b, R) disappears, (x, R) appears.
                let sr = UInt16(truncatingIfNeeded: cell[r])
                if sr != barrier {
                    let R = Int(sr)
                    let lenR = tokLen[R]
                    if lenB + lenR <= maxLen {
                        if R == x {
                            leftCount[b] -= 1    // (b, x) formed earlier in this merge
                        } else {
                            s.bumpDecRight(R)
                        }
                    }
                    if newLen + lenR <= maxLen {
                        if R == x {
                            leftCount[x] += 1
                            s.touchLeft(x)
                            s.leftList[x].append(Int32(truncatingIfNeeded: p))
                        } else {
                            rightCount[R] += 1
                            s.touchRight(R)
                            s.rightList[R].append(Int32(truncatingIfNeeded: p))
                        }
                    }
                }
                let tag = UInt32(truncatingIfNeeded: newLen) << 16
                cell[p] = UInt32(x16) | tag
                cell[q] = UInt32(dead) | tag
                cell[p + newLen - 1] = UInt32(dead) | tag
            }
            blockStart = blockEnd
        }
    }
}

/// Dense per-merge scratch tables indexed by token id: count deltas of the pairs that lose an occurrence
/// ((L, a) on the left, (b, R) on the right) and counts/positions of the new pairs (L, x) and (x, R).
final class BPETrainerScratch {
    let size: Int
    let decLeft: UnsafeMutablePointer<Int64>, decRight: UnsafeMutablePointer<Int64>
    let leftCount: UnsafeMutablePointer<Int64>, rightCount: UnsafeMutablePointer<Int64>
    let decLeftMark: UnsafeMutablePointer<UInt8>, decRightMark: UnsafeMutablePointer<UInt8>
    let leftMark: UnsafeMutablePointer<UInt8>, rightMark: UnsafeMutablePointer<UInt8>
    let leftList: UnsafeMutablePointer<BPETrainerPosList>, rightList: UnsafeMutablePointer<BPETrainerPosList>
    var decLeftTouched: [Int32] = [], decRightTouched: [Int32] = []
    /// Keeps the cache-warming loads of `applyMerge` from being optimised away.
    var sink: UInt32 = 0
    var leftTouched: [Int32] = [], rightTouched: [Int32] = []

    init(size: Int) {
        self.size = size
        func counts() -> UnsafeMutablePointer<Int64> {
            let p = UnsafeMutablePointer<Int64>.allocate(capacity: size); p.initialize(repeating: 0, count: size); return p
        }
        func marks() -> UnsafeMutablePointer<UInt8> {
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: size); p.initialize(repeating: 0, count: size); return p
        }
        func lists() -> UnsafeMutablePointer<BPETrainerPosList> {
            let p = UnsafeMutablePointer<BPETrainerPosList>.allocate(capacity: size)
            p.initialize(repeating: BPETrainerPosList(), count: size); return p
        }
        decLeft = counts(); decRight = counts(); leftCount = counts(); rightCount = counts()
        decLeftMark = marks(); decRightMark = marks(); leftMark = marks(); rightMark = marks()
        leftList = lists(); rightList = lists()
    }

    /// Adds another thread's changes to this scratch (its positions come after ours, keeping lists sorted)
    /// and clears it.
    func absorb(_ o: BPETrainerScratch) {
        for i in o.decLeftTouched {
            let k = Int(i)
            decLeft[k] += o.decLeft[k]; o.decLeft[k] = 0; o.decLeftMark[k] = 0
            if decLeftMark[k] == 0 { decLeftMark[k] = 1; decLeftTouched.append(i) }
        }
        for i in o.decRightTouched {
            let k = Int(i)
            decRight[k] += o.decRight[k]; o.decRight[k] = 0; o.decRightMark[k] = 0
            if decRightMark[k] == 0 { decRightMark[k] = 1; decRightTouched.append(i) }
        }
        for i in o.leftTouched {
            let k = Int(i)
            leftCount[k] += o.leftCount[k]; o.leftCount[k] = 0; o.leftMark[k] = 0
            touchLeft(k)
            leftList[k].append(contentsOf: o.leftList[k])
            o.leftList[k].release()
        }
        for i in o.rightTouched {
            let k = Int(i)
            rightCount[k] += o.rightCount[k]; o.rightCount[k] = 0; o.rightMark[k] = 0
            touchRight(k)
            rightList[k].append(contentsOf: o.rightList[k])
            o.rightList[k].release()
        }
        o.decLeftTouched.removeAll(keepingCapacity: true)
        o.decRightTouched.removeAll(keepingCapacity: true)
        o.leftTouched.removeAll(keepingCapacity: true)
        o.rightTouched.removeAll(keepingCapacity: true)
    }

    var outOfMemory: Bool {
        for i in leftTouched where leftList[Int(i)].outOfMemory { return true }
        for i in rightTouched where rightList[Int(i)].outOfMemory { return true }
        return false
    }

    @inline(__always) func bumpDecLeft(_ i: Int) {
        decLeft[i] += 1
        if decLeftMark[i] == 0 { decLeftMark[i] = 1; decLeftTouched.append(Int32(truncatingIfNeeded: i)) }
    }
    @inline(__always) func bumpDecRight(_ i: Int) {
        decRight[i] += 1
        if decRightMark[i] == 0 { decRightMark[i] = 1; decRightTouched.append(Int32(truncatingIfNeeded: i)) }
    }
    @inline(__always) func touchLeft(_ i: Int) {
        if leftMark[i] == 0 { leftMark[i] = 1; leftTouched.append(Int32(truncatingIfNeeded: i)) }
    }
    @inline(__always) func touchRight(_ i: Int) {
        if rightMark[i] == 0 { rightMark[i] = 1; rightTouched.append(Int32(truncatingIfNeeded: i)) }
    }

    func release() {
        for i in 0..<size { leftList[i].release(); rightList[i].release() }
        decLeft.deallocate(); decRight.deallocate(); leftCount.deallocate(); rightCount.deallocate()
        decLeftMark.deallocate(); decRightMark.deallocate(); leftMark.deallocate(); rightMark.deallocate()
        leftList.deallocate(); rightList.deallocate()
    }
}
