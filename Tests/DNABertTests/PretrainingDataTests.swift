#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import DNABert

@Suite struct PretrainingDataTests {
    static let tokenizer: Tokenizer? = try? Tokenizer(contentsOfFile: TestData.dnabert2Tokenizer)
    /// H. pylori and S. aureus from the repository; with DNABERT_DATA, V. cholerae (two chromosomes in one
    /// file) as well, so that several records of one file are covered too.
    static let genomeFiles = ["hpylori_sjm180.fasta.gz", "saureus_n315.fasta.gz"].compactMap { TestData.genome($0) }
    static let sharedGenomeFiles = genomeFiles + [TestData.genome("vcholerae_o395.fasta.gz")].compactMap { $0 }

    static func revcomp(_ s: [UInt8]) -> [UInt8] {
        s.reversed().map { b -> UInt8 in
            switch b { case 65: return 84; case 84: return 65; case 67: return 71; case 71: return 67; default: return b }
        }
    }

    /// A NUL-terminated copy for `occurrences` (DNA has no NUL byte).
    static func cString(_ s: [UInt8]) -> [CChar] { s.map { CChar(bitPattern: $0) } + [0] }

    /// Every start position of `needle` in `hay` (glibc's strstr).
    static func occurrences(_ needle: [UInt8], in hay: [CChar]) -> [Int] {
        guard !needle.isEmpty else { return [] }
        var out: [Int] = []
        let n = cString(needle)
        hay.withUnsafeBufferPointer { hb in
            n.withUnsafeBufferPointer { nb in
                var from = UnsafePointer(hb.baseAddress!)
                while let p = strstr(from, nb.baseAddress!) {
                    out.append(hb.baseAddress!.distance(to: p))
                    from = UnsafePointer(p + 1)
                }
            }
        }
        return out
    }

    /// The genome as the test reads it itself: (file, record name, upper-case bases).
    static func readGenomes(_ files: [String]) throws -> [(String, String, [UInt8])] {
        var out: [(String, String, [UInt8])] = []
        for f in files {
            for r in try FASTAReader.readAll(path: f) {
                out.append((f, r.name, r.sequence.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }))
            }
        }
        return out
    }

    @Test func realGenomeWindowsAreRealSubstringsFromTheRightRegions() throws {
        try checkRealGenomeWindows(Self.genomeFiles, records: 2)
    }

    @Test(TestData.needs("genomes/vcholerae_o395.fasta.gz"))
    func realGenomeWindowsSeveralRecordsPerFile() throws {
        try checkRealGenomeWindows(Self.sharedGenomeFiles, records: 4)   // + V. cholerae chromosomes I and II
    }

    func checkRealGenomeWindows(_ files: [String], records: Int) throws {
        let tok = try #require(Self.tokenizer)
        var opt = PretrainingDataOptions()
        opt.sequenceLength = 64
        opt.validationWindows = 40
        opt.seed = 17
        let data = try PretrainingData(files: files, tokenizer: tok, options: opt)
        let genomes = try Self.readGenomes(files)
        #expect(data.records.count == genomes.count)
        #expect(genomes.count == records)
        let rcs = genomes.map { Self.cString(Self.revcomp($0.2)) }, fwd = genomes.map { Self.cString($0.2) }
        // The held-out tail, computed here: the last ceil(5%) of each record.
        let trainEnd = genomes.map { $0.2.count - Int((Double($0.2.count) * 0.05).rounded(.up)) }
        let total = Double(trainEnd.reduce(0, +))

        var perRecord = [Int](repeating: 0, count: genomes.count)
        var reversed = 0, full = 0
        let n = 300
        for _ in 0..<n {
            let w = try data.nextWindow()
            #expect(w.ids.first == tok.clsId && w.ids.last == tok.sepId && w.ids.count <= 64)
            if w.ids.count == 64 { full += 1 }
            let text = Array(try tok.decode(w.ids).utf8)
            #expect(text.allSatisfy { $0 == 65 || $0 == 67 || $0 == 71 || $0 == 84 }, "no N when dropping")
            // Some occurrence (forward, or on the reverse strand for a reverse-complemented window) lies wholly in
            // a training region.
            var found = -1
            for (k, g) in genomes.enumerated() {
                let L = g.2.count
                let ok = w.reversed ? Self.occurrences(text, in: rcs[k]).contains(where: { L - $0 <= trainEnd[k] })
                                    : Self.occurrences(text, in: fwd[k]).contains(where: { $0 + text.count <= trainEnd[k] })
                if ok { found = k; break }
            }
            #expect(found >= 0, "window \(w.record):\(w.start) reversed=\(w.reversed) is not a substring of a training region")
            if found >= 0 { perRecord[found] += 1 }
            if w.reversed { reversed += 1 }
        }
        func within5Sigma(_ c: Int, _ p: Double, _ what: String) {
            let sd = (Double(n) * p * (1 - p)).squareRoot()
            #expect(abs(Double(c) - Double(n) * p) < 5 * sd, "\(what): \(c) of \(n), expected \(Double(n) * p)")
        }
        within5Sigma(reversed, 0.5, "reverse-complemented")
        for k in genomes.indices { within5Sigma(perRecord[k], Double(trainEnd[k]) / total, "record \(genomes[k].1)") }
        #expect(full >= n * 95 / 100, "windows of 64 × 6 bp give 62 tokens almost always (\(full) of \(n))")

        // Validation windows: only from the held-out tails, forward strand.
        #expect(data.validationWindows.count == 40)
        for w in data.validationWindows {
            let text = Array(try tok.decode(w.ids).utf8)
            var ok = false
            for k in genomes.indices where Self.occurrences(text, in: fwd[k]).contains(where: { $0 >= trainEnd[k] }) { ok = true }
            #expect(ok, "validation window \(w.record):\(w.start) is not inside a held-out tail")
        }
    }

    static func writeFASTA(_ records: [(String, String)]) throws -> String {
        var path = Array("/tmp/dnabert-pretrain-XXXXXX.fa".utf8CString)
        let fd = path.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 3) }
        guard fd >= 0 else { throw DNABertError.io("mkstemps") }
        close(fd)
        let p = String(cString: path.map { UInt8(bitPattern: $0) } + [])
        var text = ""
        for (name, seq) in records {
            text += ">\(name)\n"
            var i = seq.startIndex
            while i < seq.endIndex {
                let j = seq.index(i, offsetBy: 60, limitedBy: seq.endIndex) ?? seq.endIndex
                text += seq[i..<j] + "\n"
                i = j
            }
        }
        try FileIO.writeAtomically(p, string: text)
        return p
    }

    static func randomDNA(_ n: Int, _ r: inout TestRandom, nEvery: Int = 0) -> String {
        let acgt: [Character] = ["A", "C", "G", "T", "a", "c", "g", "t"]
        var s = ""
        for i in 0..<n { s.append(nEvery > 0 && i % nEvery == nEvery - 1 ? "N" : acgt[r.int(8)]) }
        return s
    }

    @Test func windowsWithNAreDroppedOrKept() throws {
        let tok = try #require(Self.tokenizer)
        var r = TestRandom(5)
        // Record a: clean; record b: an N every 50 bases (every 120-bp window has one).
        let path = try Self.writeFASTA([("a", Self.randomDNA(3000, &r)), ("b", Self.randomDNA(3000, &r, nEvery: 50))])
        defer { unlink(path) }
        var opt = PretrainingDataOptions()
        opt.sequenceLength = 20
        opt.validationWindows = 4
        let drop = try PretrainingData(files: [path], tokenizer: tok, options: opt)
        var fromB = 0
        for _ in 0..<200 {
            let w = try drop.nextWindow()
            #expect(w.record == 0)
            let text = try tok.decode(w.ids)
            #expect(!text.contains("N"))
        }
        opt.dropWindowsWithN = false
        let keep = try PretrainingData(files: [path], tokenizer: tok, options: opt)
        var sawN = false
        for _ in 0..<200 {
            let w = try keep.nextWindow()
            if w.record == 1 { fromB += 1 }
            let text = try tok.decode(w.ids)
            if w.ids.contains(where: { $0 == tok.unkId }) || text.contains("N") { sawN = true }
        }
        #expect(fromB > 60 && sawN)
        // Lower case in the file is upper-cased.
        #expect(drop.bases(ofRecord: 0)?.allSatisfy { $0 == 65 || $0 == 67 || $0 == 71 || $0 == 84 } == true)
        // Only N-containing data and dropping: an error, not a hang.
        let allN = try Self.writeFASTA([("n", Self.randomDNA(2000, &r, nEvery: 7))])
        defer { unlink(allN) }
        opt.dropWindowsWithN = true
        opt.maxAttempts = 50
        opt.validationWindows = 0
        let bad = try PretrainingData(files: [allN], tokenizer: tok, options: opt)
        #expect(throws: DNABertError.self) { try bad.nextBatch(2) }
        #expect(bad.state.windows == 0 && bad.state.batches == 0)
    }

    @Test func batchesAreDeterministicAndResumeExactly() throws {
        let tok = try #require(Self.tokenizer)
        var r = TestRandom(8)
        let path = try Self.writeFASTA([("x", Self.randomDNA(5000, &r)), ("y", Self.randomDNA(800, &r)), ("z", Self.randomDNA(100, &r))])
        defer { unlink(path) }
        var opt = PretrainingDataOptions()
        opt.sequenceLength = 32
        opt.validationWindows = 10
        opt.seed = 99
        let a = try PretrainingData(files: [path], tokenizer: tok, options: opt)
        let b = try PretrainingData(files: [path], tokenizer: tok, options: opt)
        var saved: JSONValue = .null
        var fromA: [MLMBatch] = []
        for i in 0..<6 {
            if i == 3 { saved = try JSON.parse(JSON.serialize(a.state.json)) }
            let x = try a.nextBatch(4), y = try b.nextBatch(4)
            #expect(x.ids == y.ids && x.labels == y.labels && x.attentionMask == y.attentionMask)
            #expect(x.batch == 4 && x.length == 32 && x.ids.count == 128)
            #expect(x.targetCount > 0)
            // Padding: mask 0 exactly where the id is [PAD], and never a target there.
            for j in 0..<x.ids.count where x.attentionMask[j] == 0 {
                #expect(x.ids[j] == tok.padId && x.labels[j] == -100)
            }
            fromA.append(x)
        }
        let c = try PretrainingData(files: [path], tokenizer: tok, options: opt)
        try c.restore(PretrainingData.State(json: saved))
        for i in 3..<6 {
            let z = try c.nextBatch(4)
            #expect(z.ids == fromA[i].ids && z.labels == fromA[i].labels)
        }
        #expect(c.state == a.state)
        // Another seed gives other batches; a state of other options is refused.
        var opt2 = opt
        opt2.seed = 100
        let d = try PretrainingData(files: [path], tokenizer: tok, options: opt2)
        #expect(try d.nextBatch(4).ids != fromA[0].ids)
        #expect(throws: DNABertError.self) { try d.restore(PretrainingData.State(json: saved)) }
        // Validation batches are fixed.
        let v1 = try a.validationBatches(batchSize: 4), v2 = try c.validationBatches(batchSize: 4)
        #expect(v1.count == 3 && v1.last?.batch == 2)
        #expect(v1.map(\.ids) == v2.map(\.ids) && v1.map(\.labels) == v2.map(\.labels))
        // The short record "z" (100 bp, shorter than a window) still yields windows, padded.
        #expect(throws: DNABertError.self) { try a.nextBatch(0) }
    }

    @Test func separateValidationFiles() throws {
        let tok = try #require(Self.tokenizer)
        var r = TestRandom(21)
        let trainSeq = Self.randomDNA(4000, &r), valSeq = Self.randomDNA(2000, &r)
        let train = try Self.writeFASTA([("t", trainSeq)]), val = try Self.writeFASTA([("v", valSeq)])
        defer { unlink(train); unlink(val) }
        var opt = PretrainingDataOptions()
        opt.sequenceLength = 24
        opt.validationFiles = [val]
        opt.validationWindows = 12
        let data = try PretrainingData(files: [train], tokenizer: tok, options: opt)
        #expect(data.records[0].trainLength == 4000)
        let tUp = Array(trainSeq.uppercased().utf8), vUp = Self.cString(Array(valSeq.uppercased().utf8))
        let tF = Self.cString(tUp), tR = Self.cString(Self.revcomp(tUp))
        for w in data.validationWindows {
            let text = Array(try tok.decode(w.ids).utf8)
            #expect(!Self.occurrences(text, in: vUp).isEmpty)
        }
        for _ in 0..<50 {
            let w = try data.nextWindow()
            let text = Array(try tok.decode(w.ids).utf8)
            #expect(!Self.occurrences(text, in: tF).isEmpty || !Self.occurrences(text, in: tR).isEmpty)
        }
        #expect(throws: DNABertError.self) { try PretrainingData(files: [], tokenizer: tok) }
        #expect(throws: DNABertError.self) { try PretrainingData(files: ["/nonexistent.fa"], tokenizer: tok) }
        var badOpt = PretrainingDataOptions()
        badOpt.validationFraction = 1
        #expect(throws: DNABertError.self) { try PretrainingData(files: [train], tokenizer: tok, options: badOpt) }
    }
}
