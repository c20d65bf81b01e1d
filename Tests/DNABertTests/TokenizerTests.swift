import Testing
@testable import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// Fixtures and paths shared by the tokenizer tests. Expected values come from Hugging Face `tokenizers`
/// (tools/reference/make_tokenizer_fixtures.py), never from our own code.
enum TokenizerFixtures {
    static let testsDir: String = {
        let f = "\(#filePath)"
        return FileIO.directoryOf(f)
    }()
    static let packageRoot = FileIO.directoryOf(FileIO.directoryOf(testsDir))

    static var fixtureDir: String { testsDir + "/Fixtures/tokenizer" }

    /// The real DNABERT-2 tokenizer.json (the repository's copy in examples/data/dnabert2).
    static let dnabertPath = TestData.dnabert2Tokenizer

    static func load(_ name: String) throws -> JSONValue {
        let bytes = try FileIO.read(fixtureDir + "/" + name)
        return try JSON.parse(bytes: bytes)
    }

    struct Case {
        var name: String
        var text: String
        var addSpecial: Bool
        var maxLength: Int
        var ids: [Int32]
        var offsets: [Int64]
    }

    static func cases(_ v: JSONValue?) -> [Case] {
        (v?.arrayValue ?? []).map { c in
            Case(name: c["name"]?.stringValue ?? "?", text: c["text"]?.stringValue ?? "",
                 addSpecial: c["add_special"]?.boolValue ?? true, maxLength: Int(c["max_length"]?.intValue ?? 0),
                 ids: (c["ids"]?.arrayValue ?? []).map { Int32($0.intValue ?? -99) },
                 offsets: (c["offsets"]?.arrayValue ?? []).map { $0.intValue ?? -99 })
        }
    }

    static func options(_ c: Case) -> EncodeOptions {
        var o = EncodeOptions()
        o.addSpecialTokens = c.addSpecial
        o.maxLength = c.maxLength
        return o
    }

    static let dnabert: Tokenizer? = try? Tokenizer(contentsOfFile: dnabertPath)
    static let dnabertCases: [Case] = (try? load("dnabert2_cases.json")).map { cases($0["cases"]) } ?? []
}

@Suite struct TokenizerHFParityTests {
    @Test func loadsRealTokenizer() throws {
        let t = try Tokenizer(contentsOfFile: TokenizerFixtures.dnabertPath)
        let fx = try TokenizerFixtures.load("dnabert2_cases.json")
        #expect(t.vocabSize == Int(fx["vocab_size"]?.intValue ?? -1))
        #expect(t.unkId == 0 && t.clsId == 1 && t.sepId == 2 && t.padId == 3 && t.maskId == 4)
        #expect(t.id(forToken: "A") == 5 && t.token(forId: 8) == "T")
        #expect(t.merges.count == 4087)
        #expect((0...4).allSatisfy { t.isSpecial(Int32($0)) } && !t.isSpecial(5))
        #expect(t.model.monotone)
    }

    @Test func dnabertEncodingsMatchHuggingFace() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        let cases = TokenizerFixtures.dnabertCases
        #expect(cases.count > 300)
        for c in cases {
            let e = t.encode(c.text, options: TokenizerFixtures.options(c))
            #expect(e.ids == c.ids, "\(c.name)")
            #expect(e.offsets == c.offsets, "\(c.name) offsets")
        }
    }

    @Test func noOffsetsGivesSameIds() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        for c in TokenizerFixtures.dnabertCases {
            var o = TokenizerFixtures.options(c)
            o.withOffsets = false
            let e = t.encode(c.text, options: o)
            #expect(e.ids == c.ids, "\(c.name)")
            #expect(e.offsets.isEmpty)
        }
    }

    @Test func customTokenizersMatchHuggingFace() throws {
        let fx = try TokenizerFixtures.load("custom_cases.json")
        let list = try #require(fx.arrayValue)
        #expect(list.count == 4)
        for entry in list {
            let name = entry["name"]?.stringValue ?? "?"
            for key in ["hf_json", "source_json"] {
                let t = try Tokenizer(json: try #require(entry[key]?.stringValue))
                #expect(t.vocabSize == Int(entry["vocab_size"]?.intValue ?? -1), "\(name) \(key)")
                for pair in entry["token_ids"]?.arrayValue ?? [] {
                    let tok = pair.arrayValue?[0].stringValue ?? "", id = Int32(pair.arrayValue?[1].intValue ?? -1)
                    #expect(t.id(forToken: tok) == id, "\(name) token \(tok)")
                    #expect(t.token(forId: id) == tok, "\(name) id \(id)")
                }
                let cases = TokenizerFixtures.cases(entry["cases"])
                #expect(cases.count > 100)
                for c in cases {
                    let e = t.encode(c.text, options: TokenizerFixtures.options(c))
                    #expect(e.ids == c.ids, "\(c.name) (\(key)) text '\(c.text)'")
                    #expect(e.offsets == c.offsets, "\(c.name) (\(key)) offsets")
                }
                // Save -> load gives the same encodings. DNABERT_TOKENIZER_SAVE_DIR: also write the file for
                // the Python check that HF loads it (make_tokenizer_fixtures.py --check-saved-dir).
                if let d = getenv("DNABERT_TOKENIZER_SAVE_DIR") {
                    try t.save(to: String(cString: d) + "/custom_\(name)_\(key).json")
                }
                let again = try Tokenizer(json: t.jsonString())
                for c in cases {
                    #expect(again.encode(c.text, options: TokenizerFixtures.options(c)).ids == c.ids, "\(c.name) after save")
                }
            }
        }
    }

    @Test func unicodeClassesMatchHuggingFaceWhitespace() throws {
        let fx = try TokenizerFixtures.load("unicode_classes.json")
        func ranges(_ k: String) -> [(UInt32, UInt32)] {
            (fx[k]?.arrayValue ?? []).map { (UInt32($0.arrayValue?[0].intValue ?? 0), UInt32($0.arrayValue?[1].intValue ?? 0)) }
        }
        let word = ranges("word"), space = ranges("space")
        #expect(word.count > 500 && space.count >= 8)
        var expected = [CharClass](repeating: .other, count: 0x110000)
        for (a, b) in word { for c in a...b { expected[Int(c)] = .word } }
        for (a, b) in space { for c in a...b { expected[Int(c)] = .space } }
        var mismatches: [String] = []
        for c in UInt32(0)..<0x110000 where !(0xD800..<0xE000).contains(c) {
            let got = UnicodeClass.classify(c)
            if got != expected[Int(c)] && mismatches.count < 20 {
                mismatches.append("U+\(String(c, radix: 16)) ours \(got) HF \(expected[Int(c)])")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }
}

@Suite struct TokenizerBehaviourTests {
    @Test func saveLoadRoundTripAndDnabertStyleFactory() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        let dir = "/tmp/dnabert-tok-test-\(getpid())"
        mkdir(dir, 0o755)
        defer { unlink(dir + "/a.json"); unlink(dir + "/b.json"); rmdir(dir) }
        try t.save(to: dir + "/a.json")
        let loaded = try Tokenizer(contentsOfFile: dir + "/a.json")
        // The factory rebuilt from the real merges must be the real tokenizer (DNABERT-2's layout).
        let built = try Tokenizer.dnabertStyle(alphabet: ["A", "C", "G", "T"], merges: t.merges)
        try built.save(to: dir + "/b.json")
        let builtLoaded = try Tokenizer(contentsOfFile: dir + "/b.json")
        for u in [loaded, built, builtLoaded] {
            #expect(u.vocabSize == t.vocabSize)
            for id in Int32(0)..<Int32(t.vocabSize) { #expect(u.token(forId: id) == t.token(forId: id)) }
            for c in TokenizerFixtures.dnabertCases {
                let e = u.encode(c.text, options: TokenizerFixtures.options(c))
                #expect(e.ids == c.ids && e.offsets == c.offsets, "\(c.name)")
            }
        }
        #expect(loaded.jsonString() == t.jsonString())
        // For the Python check (HF loads our files): DNABERT_TOKENIZER_SAVE_DIR=dir writes copies there.
        if let d = getenv("DNABERT_TOKENIZER_SAVE_DIR") {
            try built.save(to: String(cString: d) + "/dnabert_factory.json")
            try t.save(to: String(cString: d) + "/dnabert_resaved.json")
        }
    }

    @Test func mergesAsArrays() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        var text = t.jsonString(pretty: false)
        // Rewrite "a b" merges as ["a","b"] arrays.
        let root = try JSON.parse(text)
        guard case var .object(top) = root, let mi = top.firstIndex(where: { $0.0 == "model" }),
              case var .object(model) = top[mi].1, let gi = model.firstIndex(where: { $0.0 == "merges" }),
              let merges = model[gi].1.arrayValue else { Issue.record("bad json"); return }
        model[gi].1 = .array(merges.map { m in
            let p = (m.stringValue ?? "").split(separator: " ").map { JSONValue.string(String($0)) }
            return .array(p)
        })
        top[mi].1 = .object(model)
        text = JSON.serialize(.object(top))
        let u = try Tokenizer(json: text)
        #expect(u.merges.count == t.merges.count)
        for c in TokenizerFixtures.dnabertCases.prefix(120) {
            #expect(u.encode(c.text, options: TokenizerFixtures.options(c)).ids == c.ids, "\(c.name)")
        }
    }

    /// Vocabularies with ids ≥ 2^16 use the general merge table: pad DNABERT-2's vocabulary with tokens that
    /// can never be produced and check the HF encodings are unchanged.
    @Test func largeVocabularyUsesGeneralTable() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        let root = try JSON.parse(t.jsonString(pretty: false))
        guard case var .object(top) = root, let mi = top.firstIndex(where: { $0.0 == "model" }),
              case var .object(model) = top[mi].1, let vi = model.firstIndex(where: { $0.0 == "vocab" }),
              case var .object(vocab) = model[vi].1 else { Issue.record("bad json"); return }
        for i in 0..<70_000 { vocab.append(("pad-\(i)", .int(Int64(4096 + i)))) }
        model[vi].1 = .object(vocab)
        top[mi].1 = .object(model)
        let u = try Tokenizer(json: JSON.serialize(.object(top)))
        #expect(u.vocabSize == 74_096)
        #expect(!u.model.tables.compact)
        for c in TokenizerFixtures.dnabertCases {
            let e = u.encode(c.text, options: TokenizerFixtures.options(c))
            #expect(e.ids == c.ids && e.offsets == c.offsets, "\(c.name)")
        }
    }

    @Test func decodeInvertsEncodeOnCleanDNA() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        for c in TokenizerFixtures.dnabertCases where c.name.contains("kbp") {
            let e = t.encode(c.text)
            #expect(try t.decode(e.ids) == c.text)
            #expect(try t.decode(e.ids, skipSpecialTokens: false) == "[CLS]" + c.text + "[SEP]")
        }
        #expect(throws: DNABertError.self) { try t.decode([5, 4096]) }
        #expect(throws: DNABertError.self) { try t.decode([-1]) }
    }

    @Test func batchEqualsSingle() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        let texts = TokenizerFixtures.dnabertCases.map { Array($0.text.utf8) }
        var o = EncodeOptions()
        o.maxLength = 64
        let single = texts.map { b in b.withUnsafeBufferPointer { t.encode($0, options: o) } }
        for threads in [1, 2, 3] {
            let batch = withBuffers(texts) { t.encodeBatch($0, options: o, threads: threads) }
            #expect(batch.count == single.count)
            for (a, b) in zip(batch, single) { #expect(a.ids == b.ids && a.offsets == b.offsets) }
        }
    }

    @Test func uppercaseOption() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        var o = EncodeOptions()
        o.uppercase = true
        for c in TokenizerFixtures.dnabertCases where c.name.hasSuffix("kbp") || c.name == "short" || c.name == "mask_inside" {
            let lower = String(decoding: c.text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
            let e = t.encode(lower, options: o)
            #expect(e.ids == c.ids && e.offsets == c.offsets, "\(c.name)")
        }
    }

    @Test func truncationAndMaxTokens() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        let text = "ACGTACGTAAAAGGGGCCCCTTTTACGATCGATCGA"
        var o = EncodeOptions()
        let full = t.encode(text, options: o)
        #expect(full.ids.count <= t.maxTokens(forLength: text.utf8.count, options: o))
        for ml in [1, 2, 3, 5] {
            o.maxLength = ml
            let e = t.encode(text, options: o)
            // Below the number of specials we keep only the specials (documented choice).
            #expect(e.ids == [1] + Array(full.ids[1..<(1 + max(ml - 2, 0))]) + [2])
            #expect(e.ids.count <= t.maxTokens(forLength: text.utf8.count, options: o))
        }
        for ml in [Int.max, Int.max - 1, -1, Int.min] {
            o.maxLength = ml
            #expect(t.encode(text, options: o).ids == full.ids)
            #expect(t.maxTokens(forLength: text.utf8.count, options: o) >= full.ids.count)
        }
        #expect(t.maxTokens(forLength: -5, options: EncodeOptions()) == 2)
    }

    @Test func invalidUTF8AndControlBytesNeverTrap() throws {
        let t = try #require(TokenizerFixtures.dnabert)
        let bytes: [UInt8] = [0xFF, 65, 0xC3, 0x28, 0, 67, 0xE2, 0x82, 71, 0xF0, 0x9F, 0x98, 0x80, 84, 0xED, 0xA0, 0x80, 0xC3]
        let e = bytes.withUnsafeBufferPointer { t.encode($0) }
        // 0xFF→[UNK]; A; 0xC3→[UNK]; '('; NUL; C; E2 82→2×[UNK]; G; 😀 one [UNK]; T; ED A0 80 → 3×[UNK]; C3 → [UNK]
        #expect(e.ids.first == 1 && e.ids.last == 2)
        #expect(e.offsets.count == 2 * e.ids.count)
        #expect(e.ids.filter { $0 == 5 }.count == 1)
        var covered = 0
        for i in 1..<(e.ids.count - 1) { covered += Int(e.offsets[2 * i + 1] - e.offsets[2 * i]) }
        #expect(covered == bytes.count)
        // Random bytes: offsets stay in bounds and ordered.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let n = Int.random(in: 0..<300, using: &rng)
            let r = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let e = r.withUnsafeBufferPointer { t.encode($0) }
            var last: Int64 = 0
            for i in 1..<(e.ids.count - 1) {
                #expect(e.offsets[2 * i] >= last && e.offsets[2 * i + 1] > e.offsets[2 * i] && e.offsets[2 * i + 1] <= Int64(n))
                last = e.offsets[2 * i + 1]
            }
        }
    }
}

func withBuffers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeBufferPointer<UInt8>]) -> R) -> R {
    var ptrs: [UnsafeMutablePointer<UInt8>] = []
    var bufs: [UnsafeBufferPointer<UInt8>] = []
    for a in arrays {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(a.count, 1))
        p.initialize(from: a, count: a.count)
        ptrs.append(p)
        bufs.append(UnsafeBufferPointer(start: p, count: a.count))
    }
    defer { for p in ptrs { p.deallocate() } }
    return body(bufs)
}
