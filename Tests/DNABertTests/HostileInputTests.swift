import Testing
@testable import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// Regression tests for issue 12: inputs a hostile caller or file can send. Each test failed (or crashed,
/// hung, or corrupted the heap) before its fix.
@Suite struct HostileInputTests {
    // MARK: 1 — BPE trainer corpus layout

    /// The corpus layout written by hand: barrier, each word of ≥ 2 bases (cut at non-ACGT bytes and every
    /// `wordLength` bases), barrier after each word.
    private func naiveLayout(_ s: String, wordLength: Int) -> [UInt32] {
        let barrier = UInt32(BPETrainer.barrier) | (1 << 16)
        let id: [UInt8: UInt32] = [65: 0, 67: 1, 71: 2, 84: 3]
        var out: [UInt32] = [barrier]
        var run: [UInt32] = []
        func flush() { if run.count >= 2 { out += run; out.append(barrier) }; run = [] }
        for b in s.utf8 {
            if let v = id[b] {
                run.append(v | (1 << 16))
                if run.count == wordLength { flush() }
            } else { flush() }
        }
        flush()
        return out
    }

    @Test(arguments: ["ACGTNA", "ACGT A", "ACGTNNNNA", "A", "AN", "NA", "ANA", "ACGTACGTA", "ACNGTNANCA", "AANAANA"])
    func corpusFillStaysInsideItsSizing(_ s: String) throws {
        var o = BPETrainerOptions()
        o.vocabSize = 20
        for wordLength in [2, 3, 4, BPETrainer.defaultWordLength] {
            let bytes = Array(s.utf8)
            let map: [Int32] = (0..<256).map { c in
                switch UInt8(c) { case 65: return 0; case 67: return 1; case 71: return 2; case 84: return 3; default: return -1 }
            }
            let expected = naiveLayout(s, wordLength: wordLength)
            bytes.withUnsafeBufferPointer { p in
                let slots = BPETrainer.corpusSlots([p], map: map, wordLength: wordLength)
                #expect(slots == expected.count, "\(s) wordLength \(wordLength)")
                // Canary cells after the sized area must survive the fill.
                let canary: UInt32 = 0xDEAD_BEEF
                var cells = [UInt32](repeating: canary, count: slots + 8)
                let n = cells.withUnsafeMutableBufferPointer {
                    BPETrainer.fillCorpus([p], map: map, wordLength: wordLength,
                                          into: UnsafeMutableBufferPointer(rebasing: $0[0..<slots]))
                }
                #expect(n == slots)
                #expect(Array(cells[0..<slots]) == expected, "\(s) wordLength \(wordLength)")
                #expect(cells[slots...].allSatisfy { $0 == canary }, "fill wrote past its \(slots) cells for \(s)")
            }
        }
        // End to end (AddressSanitizer reports the old overflow here).
        _ = try Array(s.utf8).withUnsafeBufferPointer { p -> TrainedBPE? in
            do { return try BPETrainer.train(sequences: [p], options: o) } catch let e as DNABertError where e.kind == .invalidArgument { return nil }
        }
    }

    // MARK: 3 — pickle containers released without recursion

    /// A 10⁶-deep chain of lists built top down (each level fetched back from the memo and grown), which the
    /// depth limit never sees. Releasing it recursively overflowed the stack.
    @Test func deepListChainIsReleasedWithoutRecursion() throws {
        var b: [UInt8] = [0x80, 2, 0x7D, 0x5D, 0x71, 1, 0x71, 0, 0x85, 0x62]
        let level: [UInt8] = [0x68, 0, 0x5D, 0x71, 0, 0x61, 0x85, 0x62]
        b.reserveCapacity(b.count + 8 * 1_000_000 + 1)
        for _ in 0..<1_000_000 { b += level }
        b.append(0x2E)
        try b.withUnsafeBytes { raw in
            var u = Unpickler(bytes: raw, what: "deep chain")
            let v = try u.load()
            guard case .dict = v else { Issue.record("top-level value is a \(v.kindName)"); return }
            u.release()
        }
        // Dropped without release() as well (an error path): the containers still go one at a time.
        try b.withUnsafeBytes { raw in
            var u = Unpickler(bytes: raw, what: "deep chain")
            _ = try u.load()
        }
    }

    // MARK: 9 — non-regular files

    @Test func wholeFileReadsRefuseDevicesAndFIFOs() throws {
        signal(SIGPIPE, SIG_IGN)   // the FIFO's writer must not be killed if a reader gives up early
        let dir = try Self.tempDir()
        defer { Self.removeTree(dir) }
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in ["/dev/zero", fifo] {
            do { _ = try FileIO.read(path); Issue.record("read \(path)") } catch let e as DNABertError { #expect(e.kind == .io, "\(e.message)") }
            do { _ = try Tokenizer(contentsOfFile: path); Issue.record("tokenizer from \(path)") } catch let e as DNABertError { #expect(e.kind == .io) }
        }
        // Streams refuse devices but read FIFOs (a pipe of FASTA is ordinary input).
        do { _ = try FASTAReader(path: "/dev/zero"); Issue.record("FASTA from /dev/zero") } catch let e as DNABertError { #expect(e.kind == .io) }
        // A reader that reads before any writer has connected sees end-of-file at once, and a writer whose reader
        // has gone loses its text, so a one-shot writer raced the reader's retries (and lost under load). Here the
        // writer waits in a blocking open for each of the reader's attempts and offers the text every time; one
        // attempt finds it connected. At the end, reader-side opens wake the writer until it has seen the stop flag.
        final class Flag: @unchecked Sendable {
            let fifo: String
            private var stop = false, exited = false
            private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
            init(_ f: String) { fifo = f; pthread_mutex_init(lock, nil) }
            deinit { pthread_mutex_destroy(lock); lock.deallocate() }
            private func locked<T>(_ f: () -> T) -> T { pthread_mutex_lock(lock); defer { pthread_mutex_unlock(lock) }; return f() }
            var done: Bool { get { locked { stop } } set { locked { stop = newValue } } }
            var writerExited: Bool { get { locked { exited } } set { locked { exited = newValue } } }
        }
        let flag = Flag(fifo)
        signal(SIGPIPE, SIG_IGN)
        var writer = pthread_t()
        pthread_create(&writer, nil, { arg in
            let flag = Unmanaged<Flag>.fromOpaque(arg!).takeRetainedValue()
            let text = ">r1\nACGT\nAC\n>r2\nGG\n"
            while !flag.done {
                let fd = open(flag.fifo, O_WRONLY)
                if fd >= 0 {
                    _ = text.withCString { write(fd, $0, strlen($0)) }
                    close(fd)
                }
            }
            flag.writerExited = true
            return nil
        }, Unmanaged.passRetained(flag).toOpaque())
        var records: [FASTARecord] = []
        for _ in 0..<2000 {
            records = try FASTAReader.readAll(path: fifo)
            if !records.isEmpty { break }
            usleep(1_000)
        }
        flag.done = true
        while !flag.writerExited {
            let fd = open(fifo, O_RDONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            usleep(1_000)
        }
        pthread_join(writer, nil)
        // Two quick rounds of the writer may reach one read: the first record pair is what counts.
        #expect(records.prefix(2).map(\.name) == ["r1", "r2"])
        #expect(records.first?.sequence == Array("ACGTAC".utf8))
    }

    // MARK: 10, 11, 12 — folder saves

    static func tempDir() throws -> String {
        var t = Array("/tmp/dnabert-hostile-XXXXXX".utf8CString)
        guard let p = mkdtemp(&t) else { throw DNABertError.io("mkdtemp") }
        return String(cString: p)
    }

    static func removeTree(_ path: String) { _ = system("rm -rf '\(path)'") }

    static func text(_ path: String) -> String? { (try? FileIO.read(path)).map { String(decoding: $0, as: UTF8.self) } }

    @Test func folderSaveKeepsForeignEntriesAndLeavesNoStaging() throws {
        let root = try Self.tempDir()
        defer { Self.removeTree(root) }
        let dir = root + "/out"
        try FileIO.makeDirectories(dir + "/sub")
        try FileIO.writeAtomically(dir + "/keep.txt", string: "mine")
        try FileIO.writeAtomically(dir + "/sub/deep.txt", string: "deep")
        try FileIO.writeAtomically(dir + "/a.txt", string: "old a")
        #expect(symlink("keep.txt", dir + "/alias") == 0)
        let f = try AtomicFolder(dir)
        try FileIO.writeAtomically(f.path("a.txt"), string: "new a")
        try FileIO.writeAtomically(f.path("b.txt"), string: "new b")
        // Until commit, the folder is the old one.
        #expect(Self.text(dir + "/a.txt") == "old a" && !FileIO.exists(dir + "/b.txt"))
        try f.commit()
        #expect(Self.text(dir + "/a.txt") == "new a" && Self.text(dir + "/b.txt") == "new b")
        #expect(Self.text(dir + "/keep.txt") == "mine" && Self.text(dir + "/sub/deep.txt") == "deep")
        #expect(AtomicFolder.isLink(dir + "/alias") == "keep.txt")
        #expect(AtomicFolder.entries(root) == ["out"], "left over: \(AtomicFolder.entries(root))")
    }

    @Test func abandonedFolderSaveLeavesTheOldFolder() throws {
        let root = try Self.tempDir()
        defer { Self.removeTree(root) }
        let dir = root + "/out"
        try FileIO.makeDirectories(dir)
        try FileIO.writeAtomically(dir + "/a.txt", string: "old")
        do {
            let f = try AtomicFolder(dir)
            try FileIO.writeAtomically(f.path("a.txt"), string: "half-written new")
            // dropped without commit (an error in the middle of a save)
        }
        #expect(Self.text(dir + "/a.txt") == "old")
        #expect(AtomicFolder.entries(root) == ["out"])
    }

    @Test func savesRefuseNonRegularTargets() throws {
        let root = try Self.tempDir()
        defer { Self.removeTree(root) }
        let fifo = root + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: DNABertError.self) { try FileIO.writeAtomically(fifo, string: "x") }
        #expect(throws: DNABertError.self) { _ = try AtomicFolder(fifo) }
        try FileIO.writeAtomically(root + "/file", string: "x")
        #expect(throws: DNABertError.self) { _ = try AtomicFolder(root + "/file") }
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
    }

    @Test func concurrentFolderSavesAllSucceed() throws {
        let root = try Self.tempDir()
        defer { Self.removeTree(root) }
        let dir = root + "/out"
        var failures = [Int](repeating: 0, count: 4)
        failures.withUnsafeMutableBufferPointer { fp in
            Parallel.forEach(4, threads: 4) { t in
                for i in 0..<25 {
                    do {
                        let f = try AtomicFolder(dir)
                        try FileIO.writeAtomically(f.path("a.txt"), string: "\(t)-\(i)")
                        try FileIO.writeAtomically(f.path("b.txt"), string: "\(t)-\(i)")
                        try f.commit()
                    } catch { fp[t] += 1 }
                }
            }
        }
        #expect(failures == [0, 0, 0, 0])
        // Whichever save came last, its two files belong together.
        #expect(Self.text(dir + "/a.txt") != nil && Self.text(dir + "/a.txt") == Self.text(dir + "/b.txt"))
        #expect(AtomicFolder.entries(root) == ["out"], "left over: \(AtomicFolder.entries(root))")
    }

    // MARK: 13 — added tokens

    /// Leftmost-longest matching written the obvious way.
    private func naiveMatches(_ text: [UInt8], _ tokens: [[UInt8]]) -> [(Int, Int, Int)] {
        var out: [(Int, Int, Int)] = []
        var i = 0
        while i < text.count {
            var best = -1, bestLen = 0
            for (k, t) in tokens.enumerated() where t.count > bestLen && i + t.count <= text.count && Array(text[i..<(i + t.count)]) == t {
                // first token with this content wins among duplicates
                if best >= 0 && tokens[best] == t { continue }
                best = k; bestLen = t.count
            }
            if best >= 0 { out.append((i, i + bestLen, best)); i += bestLen } else { i += 1 }
        }
        return out
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func addedTokenTrieMatchesNaiveLeftmostLongest(seed: Int) {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(n)) }
        let alphabet = Array("<>ab".utf8)
        var tokens: [[UInt8]] = []
        for _ in 0..<(5 + next(30)) { tokens.append((0..<(1 + next(5))).map { _ in alphabet[next(alphabet.count)] }) }
        let added = tokens.enumerated().map { AddedToken(content: String(decoding: $0.element, as: UTF8.self), id: Int32($0.offset), special: false) }
        let m = TokenMatcher(added, normalized: false)
        let text = (0..<400).map { _ in alphabet[next(alphabet.count)] }
        var got: [(Int, Int, Int)] = []
        text.withUnsafeBufferPointer { b in
            var from = 0
            while let (s, e, t) = m.next(b, from: from, hi: b.count) { got.append((s, e, t)); from = e }
        }
        let want = naiveMatches(text, tokens)
        #expect(got.count == want.count)
        for (x, y) in zip(got, want) {
            #expect(x.0 == y.0 && x.1 == y.1 && tokens[x.2] == tokens[y.2], "\(x) vs \(y)")
        }
    }

    // MARK: allocation checks

    @Test func impossibleAllocationsThrowOutOfMemory() {
        for count in [Int.max / 2, 1 << 50] {
            do { _ = try Memory.array(repeating: Float(0), count: count, what: "test"); Issue.record("allocated \(count)") }
            catch let e as DNABertError { #expect(e.kind == .outOfMemory, "\(e.message)") } catch { Issue.record("\(error)") }
            do { _ = try CheckedBuffer<Float>(count: count, what: "test"); Issue.record("allocated \(count)") }
            catch let e as DNABertError { #expect(e.kind == .outOfMemory, "\(e.message)") } catch { Issue.record("\(error)") }
        }
        let b = try? CheckedBuffer<Float>(count: 1000, what: "small")
        #expect(b?.count == 1000 && Int(bitPattern: b?.buffer.baseAddress) % Memory.alignment == 0)
    }
}

// MARK: 16 — long words in chunks

@Suite struct LongWordEncodingTests {
    static let dnabert2: Tokenizer? = {
        let root = FileIO.directoryOf(FileIO.directoryOf(FileIO.directoryOf("\(#filePath)")))
        return try? Tokenizer(contentsOfFile: root + "/examples/data/dnabert2/tokenizer.json")
    }()

    /// Random DNA, homopolymers, short tandem repeats and mixtures: chunked encoding with tiny chunks (so
    /// there are hundreds of junctions, many of them repaired) must equal whole-word encoding exactly.
    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7])
    func chunkedEqualsWhole(seed: Int) throws {
        let tok = try #require(Self.dnabert2)
        let model = tok.model
        var state = UInt64(seed + 1) &* 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(n)) }
        let acgt = Array("ACGT".utf8)
        var text: [UInt8] = []
        while text.count < 60_000 {
            switch next(6) {
            case 0: text += [UInt8](repeating: acgt[next(4)], count: 1 + next(300))              // homopolymer
            case 1: let unit = (0..<(2 + next(5))).map { _ in acgt[next(4)] }
                    for _ in 0..<(1 + next(80)) { text += unit }                                   // tandem repeat
            case 2: text.append(UInt8(ascii: "N"))                                                 // unknown character
            default: for _ in 0..<(1 + next(2000)) { text.append(acgt[next(4)]) }                  // random DNA
            }
        }
        let s = Scratch()
        try text.withUnsafeBufferPointer { b in
            var whole = TokenSink(withOffsets: true, limit: Int.max)
            model.encodeWholeWord(b, 0, b.count, s, &whole)
            for chunk in [7, 64, 1000] {
                var chunked = TokenSink(withOffsets: true, limit: Int.max)
                let done = model.encodeLongWord(b, 0, b.count, s, &chunked, chunk: chunk)
                if !done {
                    // Gave up (repair reached the previous cut): nothing may have been emitted.
                    #expect(chunked.ids.isEmpty)
                    continue
                }
                let common: Int = min(chunked.ids.count, whole.ids.count)
                let firstDifference: Int = (0..<common).first { (i: Int) -> Bool in chunked.ids[i] != whole.ids[i] } ?? common
                #expect(chunked.ids == whole.ids, "seed \(seed) chunk \(chunk): first difference at \(firstDifference)")
                #expect(chunked.offsets == whole.offsets)
            }
            // At least the largest chunk size must have been usable on this text.
            var big = TokenSink(withOffsets: false, limit: Int.max)
            let bigDone: Bool = model.encodeLongWord(b, 0, b.count, s, &big, chunk: 5000)
            #expect(bigDone)
            #expect(big.ids == whole.ids)
        }
    }
}
