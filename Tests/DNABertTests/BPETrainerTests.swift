import Testing
@testable import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// The textbook trainer: recount every adjacent pair of every word after each merge (overlapping pairs
/// count, as in Hugging Face), take the highest count (ties: smaller left id, then smaller right id), skip
/// pairs whose string already is a token or is longer than maxLen, merge left to right without overlap.
private func naiveTrain(words: [[UInt8]], alphabet: [UInt8], vocabSize: Int, minFrequency: Int, maxLen: Int) -> [(String, String)] {
    var idOf = [Int](repeating: -1, count: 256)
    for (i, c) in alphabet.enumerated() { idOf[Int(c)] = i }
    var ws: [[Int]] = words.map { $0.map { idOf[Int($0)] } }
    var strings: [[UInt8]] = alphabet.map { [$0] }
    var merges: [(String, String)] = []
    let target = vocabSize - 5 - alphabet.count
    while merges.count < target {
        var counts: [Int: Int] = [:]
        for w in ws where w.count >= 2 {
            for i in 0..<(w.count - 1) {
                let a = w[i], b = w[i + 1]
                if maxLen > 0 && strings[a].count + strings[b].count > maxLen { continue }
                counts[a << 16 | b, default: 0] += 1
            }
        }
        let existing = Set(strings)
        var best = -1, bestCount = 0
        for (key, c) in counts where (c > bestCount || (c == bestCount && key < best))
            && !existing.contains(strings[key >> 16] + strings[key & 0xFFFF]) {
            best = key; bestCount = c
        }
        if best < 0 || bestCount < max(1, minFrequency) { break }
        let a = best >> 16, b = best & 0xFFFF
        let x = strings.count
        strings.append(strings[a] + strings[b])
        merges.append((String(decoding: strings[a], as: UTF8.self), String(decoding: strings[b], as: UTF8.self)))
        for wi in 0..<ws.count {
            var out: [Int] = []
            let w = ws[wi]
            var i = 0
            while i < w.count {
                if i + 1 < w.count && w[i] == a && w[i + 1] == b { out.append(x); i += 2 } else { out.append(w[i]); i += 1 }
            }
            ws[wi] = out
        }
    }
    return merges
}

private struct LCG {
    var s: UInt64
    mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Random DNA with repeats: motifs, homopolymer runs, and mutated copies, so that merges go deep and
/// self-pairs (A,A), (AA,AA) and ties occur.
private func randomWords(seed: UInt64, count: Int, maxLength: Int, letters: [UInt8]) -> [[UInt8]] {
    var g = LCG(s: seed)
    var motifs: [[UInt8]] = []
    for _ in 0..<6 { motifs.append((0..<(2 + g.below(6))).map { _ in letters[g.below(letters.count)] }) }
    var words: [[UInt8]] = []
    for _ in 0..<count {
        var w: [UInt8] = []
        let target = 1 + g.below(maxLength)
        while w.count < target {
            switch g.below(4) {
            case 0: w += motifs[g.below(motifs.count)]
            case 1: w += [UInt8](repeating: letters[g.below(letters.count)], count: 1 + g.below(7))
            default: w.append(letters[g.below(letters.count)])
            }
        }
        words.append(Array(w.prefix(target)))
    }
    return words
}

private func train(words: [[UInt8]], _ o: BPETrainerOptions) throws -> TrainedBPE {
    // Words joined by a byte that cuts words under every policy.
    var flat: [UInt8] = []
    for w in words { flat += w; flat.append(UInt8(ascii: "-")) }
    return try flat.withUnsafeBufferPointer { try BPETrainer.train(sequences: [$0], options: o) }
}

private func same(_ x: [(String, String)], _ y: [(String, String)]) -> Bool {
    x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
}

private func firstDifference(_ x: [(String, String)], _ y: [(String, String)]) -> Int {
    for i in 0..<min(x.count, y.count) where x[i].0 != y[i].0 || x[i].1 != y[i].1 { return i }
    return min(x.count, y.count)
}

@Suite struct BPETrainerTests {
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func matchesNaiveTrainer(seed: Int) throws {
        let acgt: [UInt8] = Array("ACGT".utf8)
        let words = randomWords(seed: UInt64(seed), count: 150, maxLength: seed % 2 == 0 ? 12 : 60, letters: acgt)
        var o = BPETrainerOptions()
        o.vocabSize = 5 + 4 + 120
        o.minFrequency = seed % 3 == 0 ? 3 : 1
        o.maxTokenLength = seed % 4 == 1 ? 6 : 0
        o.wordLength = 1000
        o.threads = seed % 2 + 1
        o.parallelMergeThreshold = seed % 4 == 3 ? 1 : 50   // exercise the threaded merge path on small lists
        o.initialListMaxSymbols = seed % 3 == 1 ? 0 : 1 << 27   // and the scan instead of initial lists
        let got = try train(words: words, o)
        let want = naiveTrain(words: words, alphabet: acgt, vocabSize: o.vocabSize, minFrequency: o.minFrequency, maxLen: o.maxTokenLength)
        #expect(got.alphabet == ["A", "C", "G", "T"])
        #expect(want.count > 20)
        let firstDiff: Int = firstDifference(got.merges, want)
        #expect(same(got.merges, want), "seed \(seed): first difference at merge \(firstDiff)")
    }

    @Test func threadedMergesEqualSerial() throws {
        let words = randomWords(seed: 77, count: 3000, maxLength: 300, letters: Array("ACGT".utf8))
        var o = BPETrainerOptions()
        o.vocabSize = 600
        o.threads = 1
        let serial = try train(words: words, o)
        for (threads, threshold, scan) in [(2, 1, false), (3, 1, true), (2, 500, false), (4, 64, true), (1, 1, true)] {
            o.threads = threads
            o.parallelMergeThreshold = threshold
            o.initialListMaxSymbols = scan ? 0 : 1 << 27
            let par = try train(words: words, o)
            #expect(same(serial.merges, par.merges), "threads \(threads) threshold \(threshold): first difference at \(firstDifference(serial.merges, par.merges))")
        }
        #expect(serial.merges.count == 600 - 9)
    }

    @Test func homopolymerAndPeriodicRuns() throws {
        // Overlapping pairs: "AAAAAAA" has 6 (A,A) pairs but merging gives AA AA AA A; "ATATATA" etc.
        let texts: [String] = ["AAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "ATATATATATATATA", "CCCGCCCGCCCGCCCG", "AA", "GGGGGGGGGGGGT"]
        let words: [[UInt8]] = texts.map { Array($0.utf8) }
        var o = BPETrainerOptions()
        o.vocabSize = 40
        o.minFrequency = 1
        let got = try train(words: words, o)
        let want = naiveTrain(words: words, alphabet: Array("ACGT".utf8), vocabSize: 40, minFrequency: 1, maxLen: 0)
        #expect(same(got.merges, want))
    }

    @Test func wordCuttingAndPolicies() throws {
        // wordLength cuts a record every N bases; non-ACGT bytes cut words (split) or are letters (keep).
        let seq: [UInt8] = Array("ACGTNACGTTTacgtRAC GTACGTAACCGGTTNNNACGTA".utf8)
        var o = BPETrainerOptions()
        o.vocabSize = 60
        o.minFrequency = 1
        o.wordLength = 5
        let got = try seq.withUnsafeBufferPointer { try BPETrainer.train(sequences: [$0], options: o) }
        // Independent word cutting for the naive trainer: upper-case, cut at non-ACGT, then every 5.
        var words: [[UInt8]] = []
        for piece in seq.split(whereSeparator: { !"ACGTacgt".utf8.contains($0) }) {
            let up = piece.map { $0 >= 97 ? $0 - 32 : $0 }
            var i = 0
            while i < up.count { words.append(Array(up[i..<min(i + 5, up.count)])); i += 5 }
        }
        #expect(same(got.merges, naiveTrain(words: words, alphabet: Array("ACGT".utf8), vocabSize: 60, minFrequency: 1, maxLen: 0)))

        o.casePolicy = .keep
        o.nonACGT = .keep
        o.wordLength = 1000
        let kept = try seq.withUnsafeBufferPointer { try BPETrainer.train(sequences: [$0], options: o) }
        #expect(kept.alphabet == ["A", "C", "G", "N", "R", "T", "a", "c", "g", "t"])
        let words2 = seq.split(separator: UInt8(ascii: " ")).map(Array.init)
        #expect(same(kept.merges, naiveTrain(words: words2, alphabet: Array("ACGNRTacgt".utf8), vocabSize: 60, minFrequency: 1, maxLen: 0)))
    }

    @Test func stopsAtMinFrequencyAndValidates() throws {
        var o = BPETrainerOptions()
        o.vocabSize = 100
        o.minFrequency = 2
        let got = try train(words: [Array("ACGT".utf8), Array("ACGA".utf8)], o)
        // Only (A,C) occurs twice; after it (AC,G) occurs twice; then nothing reaches 2.
        #expect(same(got.merges, [("A", "C"), ("AC", "G")]))
        // No bases at all is a user error (an empty file), not an alphabet-only tokenizer.
        #expect(throws: DNABertError.self) { try train(words: [], o) }

        for bad in [{ (o: inout BPETrainerOptions) in o.vocabSize = 8 }, { $0.vocabSize = 70_000 }, { $0.maxTokenLength = 1 },
                    { $0.wordLength = 1 }, { $0.threads = -1 }, { $0.maxBases = -5 }, { $0.minFrequency = -1 }] {
            var b = BPETrainerOptions()
            bad(&b)
            do {
                _ = try train(words: [Array("ACGT".utf8)], b)
                Issue.record("options not rejected")
            } catch let e as DNABertError {
                #expect(e.kind == .invalidArgument)
            }
        }
        // Alphabet larger than the vocabulary allows.
        var k = BPETrainerOptions()
        k.vocabSize = 10
        k.nonACGT = .keep
        #expect(throws: DNABertError.self) { try train(words: [Array("ACGTNRY".utf8)], k) }
        #expect(throws: DNABertError.self) { try BPETrainer.train(files: ["/nonexistent.fa"], options: BPETrainerOptions()) }
    }

    @Test func cancellation() throws {
        let words = randomWords(seed: 9, count: 200, maxLength: 200, letters: Array("ACGT".utf8))
        var o = BPETrainerOptions()
        o.vocabSize = 400
        o.minFrequency = 1
        var flat: [UInt8] = []
        for w in words { flat += w; flat.append(UInt8(ascii: "-")) }
        var stages: [String] = []
        do {
            _ = try flat.withUnsafeBufferPointer { buf in
                try BPETrainer.train(sequences: [buf], options: o) { p in
                    stages.append(p.stage)
                    return p.stage != "merging"
                }
            }
            Issue.record("not cancelled")
        } catch let e as DNABertError {
            #expect(e.kind == .cancelled)
        }
        #expect(stages.contains("merging"))
    }

    /// Same words, same settings as Hugging Face's BpeTrainer (tools/reference/make_trainer_fixture.py):
    /// the merges must be identical, rank for rank. On the repository's H. pylori genome (examples/data).
    @Test func matchesHuggingFaceTrainer() throws {
        try matchHuggingFace(fixture: "hf_bpe_trainer_hpylori.json")
    }

    /// The same on E. coli (not in the repository: DNABERT_DATA/genomes).
    @Test(TestData.needs("genomes/ecoli_k12_mg1655.fasta.gz"))
    func matchesHuggingFaceTrainerEcoli() throws {
        try matchHuggingFace(fixture: "hf_bpe_trainer_ecoli.json")
    }

    func matchHuggingFace(fixture name: String) throws {
        let fixture = try JSON.parse(String(decoding: try FileIO.read(FASTATestPaths.fixtures + "/" + name), as: UTF8.self))
        let file = try #require(fixture["file"]?.stringValue), bases = try #require(fixture["bases"]?.intValue)
        let word = try #require(fixture["word_length"]?.intValue), vocab = try #require(fixture["vocab_size"]?.intValue)
        let minFreq = try #require(fixture["min_frequency"]?.intValue), hfMerges = try #require(fixture["merges"]?.arrayValue)
        let path = try #require(TestData.genome(file))
        let want: [(String, String)] = hfMerges.compactMap { m in
            guard let p = m.arrayValue, p.count == 2, let a = p[0].stringValue, let b = p[1].stringValue else { return nil }
            return (a, b)
        }
        let record = try FASTAReader(path: path).next()
        let seq = Array(record?.sequence.prefix(Int(bases)) ?? [])
        #expect(seq.count == Int(bases))
        var o = BPETrainerOptions()
        o.vocabSize = Int(vocab)
        o.minFrequency = Int(minFreq)
        o.wordLength = Int(word)
        let got = try seq.withUnsafeBufferPointer { try BPETrainer.train(sequences: [$0], options: o) }
        #expect(got.alphabet == fixture["alphabet"]?.arrayValue?.compactMap(\.stringValue))
        #expect(want.count == Int(vocab) - 9)
        #expect(same(got.merges, want), "first difference at merge \(firstDifference(got.merges, want))")
    }

    @Test func filesEqualInMemorySequences() throws {
        let words = randomWords(seed: 5, count: 40, maxLength: 400, letters: Array("ACGTacgtN".utf8))
        let dir = FASTATestPaths.tempDir()
        var fa: [UInt8] = [], fq: [UInt8] = []
        for (i, w) in words.enumerated() {
            if i % 2 == 0 {
                fa += Array(">r\(i) x\n".utf8)
                var j = 0
                while j < w.count { fa += w[j..<min(j + 60, w.count)]; fa.append(0x0A); j += 60 }
            } else {
                fq += Array("@r\(i)\n".utf8) + w + Array("\n+\n".utf8) + [UInt8](repeating: 73, count: w.count) + [0x0A]
            }
        }
        try FileIO.writeAtomically(dir + "/a.fa.gz", gzipBytes(fa))
        try FileIO.writeAtomically(dir + "/b.fq", fq)
        var o = BPETrainerOptions()
        o.vocabSize = 200
        o.wordLength = 50
        var stages = Set<String>()
        let fromFiles = try BPETrainer.train(files: [dir + "/a.fa.gz", dir + "/b.fq"], options: o) { stages.insert($0.stage); return true }
        let ordered = words.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) + words.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let fromMemory = try withBuffers(ordered) { try BPETrainer.train(sequences: $0, options: o) }
        #expect(fromFiles.merges.count > 50)
        #expect(same(fromFiles.merges, fromMemory.merges))
        #expect(stages.isSuperset(of: ["reading", "merging", "done"]))
        // maxBases counts bases across records and files in order.
        o.maxBases = 1000
        let capped = try BPETrainer.train(files: [dir + "/a.fa.gz", dir + "/b.fq"], options: o)
        var taken: [[UInt8]] = [], left = 1000
        for w in ordered where left > 0 { taken.append(Array(w.prefix(left))); left -= min(left, w.count) }
        o.maxBases = 0
        let want = try withBuffers(taken) { try BPETrainer.train(sequences: $0, options: o) }
        #expect(same(capped.merges, want.merges))
    }

    @Test func maxBasesTruncates() throws {
        var o = BPETrainerOptions()
        o.vocabSize = 30
        o.minFrequency = 1
        o.maxBases = 10
        let seq: [UInt8] = Array("ACACACACACGTGTGTGTGTGTGTGTGTGT".utf8)
        let got = try seq.withUnsafeBufferPointer { try BPETrainer.train(sequences: [$0], options: o) }
        #expect(same(got.merges, naiveTrain(words: [Array(seq[0..<10])], alphabet: Array("ACGT".utf8), vocabSize: 30, minFrequency: 1, maxLen: 0)))
    }
}

/// Measurement probe, skipped unless DNABERT_TRAIN_BENCH names an output JSON file. Trains on the first
/// DNABERT_TRAIN_FRACTION (default 0.9) of every record of the shared genomes and writes the merges and the
/// training time (in-memory training only, the reading is excluded) for bench/word_length_policy.py.
/// Other knobs: DNABERT_WORDLEN, DNABERT_VOCAB, DNABERT_THREADS, DNABERT_REPEAT, DNABERT_TRAIN_FILES (time
/// train(files:) end to end instead), DNABERT_INITIAL_LIST_MAX (0 = scan mode for the alphabet pairs).
@Suite struct BPETrainerBench {
    static func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    @Test(.enabled(if: getenv("DNABERT_TRAIN_BENCH") != nil && TestData.externalRoot != nil,
                   "measurement probe for bench/word_length_policy.py: set DNABERT_TRAIN_BENCH and DNABERT_DATA"))
    func trainOnGenomes() throws {
        let out = try #require(BPETrainerBench.env("DNABERT_TRAIN_BENCH"))
        let dir = try #require(TestData.external("genomes"))
        let fraction = Double(BPETrainerBench.env("DNABERT_TRAIN_FRACTION") ?? "0.9") ?? 0.9
        var o = BPETrainerOptions()
        if let w = BPETrainerBench.env("DNABERT_WORDLEN").flatMap({ Int($0) }) { o.wordLength = w }
        if let v = BPETrainerBench.env("DNABERT_VOCAB").flatMap({ Int($0) }) { o.vocabSize = v }
        if let t = BPETrainerBench.env("DNABERT_THREADS").flatMap({ Int($0) }) { o.threads = t }
        if let m = BPETrainerBench.env("DNABERT_INITIAL_LIST_MAX").flatMap({ Int($0) }) { o.initialListMaxSymbols = m }
        let repeats = BPETrainerBench.env("DNABERT_REPEAT").flatMap({ Int($0) }) ?? 1
        let files = ["ecoli_k12_mg1655", "saureus_n315", "hpylori_sjm180", "vcholerae_o395", "umaydis_chr01-08"]
        if BPETrainerBench.env("DNABERT_TRAIN_FILES") != nil {
            // End to end from the gzip files (all bases), reading included.
            var bestRead = Double.infinity, bestAll = Double.infinity
            for _ in 0..<repeats {
                let t0 = Clock.now()
                var n = 0
                for f in files { for r in try FASTAReader.readAll(path: dir + "/" + f + ".fasta.gz") { n += r.sequence.count } }
                let t1 = Clock.now()
                _ = try BPETrainer.train(files: files.map { dir + "/" + $0 + ".fasta.gz" }, options: o)
                bestRead = min(bestRead, t1 - t0)
                bestAll = min(bestAll, Clock.now() - t1)
                print("BPETrainerBench files: \(n) bases read in \(t1 - t0) s; train(files:) \(Clock.now() - t1) s")
            }
            print("BPETrainerBench files best: read \(bestRead) s, train(files:) \(bestAll) s")
            return
        }
        var seqs: [[UInt8]] = []
        for f in files {
            for r in try FASTAReader.readAll(path: dir + "/" + f + ".fasta.gz") {
                seqs.append(Array(r.sequence[0..<Int(Double(r.sequence.count) * fraction)]))
            }
        }
        var best = Double.infinity
        var result = TrainedBPE(alphabet: [], merges: [])
        for _ in 0..<repeats {
            let t0 = Clock.now()
            result = try withBuffers(seqs) { try BPETrainer.train(sequences: $0, options: o) }
            best = min(best, Clock.now() - t0)
        }
        let bases = seqs.reduce(0) { $0 + $1.count }
        print("BPETrainerBench: \(bases) bases, wordLength \(o.wordLength), vocab \(o.vocabSize), threads \(o.threads): \(result.merges.count) merges in \(best) s (best of \(repeats))")
        let json = JSONValue.object([
            ("seconds", .double(best)), ("bases", .int(Int64(bases))), ("word_length", .int(Int64(o.wordLength))),
            ("alphabet", .array(result.alphabet.map { .string($0) })),
            ("merges", .array(result.merges.map { .array([.string($0.0), .string($0.1)]) })),
        ])
        try FileIO.writeAtomically(out, string: JSON.serialize(json))
    }
}

/// Runs `body` with stable pointers to every array's storage.
func withBuffers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeBufferPointer<UInt8>]) throws -> R) rethrows -> R {
    var ptrs: [UnsafeBufferPointer<UInt8>] = []
    func go(_ i: Int) throws -> R {
        if i == arrays.count { return try body(ptrs) }
        return try arrays[i].withUnsafeBufferPointer { b in
            ptrs.append(b)
            return try go(i + 1)
        }
    }
    return try go(0)
}
