import Testing
@testable import DNABert

/// Hostile or unsupported tokenizer.json files must throw a DNABertError of the right kind, never trap.
@Suite struct TokenizerJSONTests {
    static func minimal(model: String = #""type":"BPE","unk_token":"[UNK]","vocab":{"[UNK]":0,"A":1,"C":2,"AC":3},"merges":["A C"]"#,
                        extra: String = "") -> String {
        #"{"version":"1.0","added_tokens":[{"id":0,"content":"[UNK]","special":true}],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null\#(extra),"model":{\#(model)}}"#
    }

    @Test func minimalLoads() throws {
        let t = try Tokenizer(json: Self.minimal())
        #expect(t.encode("ACA").ids == [3, 1])
        #expect(t.encode("AC[UNK]x").ids == [3, 0, 0])
    }

    static let formatErrors: [String] = [
        "",
        "   ",
        "{",
        "[]",
        "null",
        #"{"model":1}"#,
        minimal().dropLast(5).description,
        minimal(model: #""type":"BPE","vocab":{"A":1},"merges":["A C"]"#),                 // merge names unknown token
        minimal(model: #""type":"BPE","vocab":{"A":1,"C":2},"merges":["A C"]"#),           // merge result unknown
        minimal(model: #""type":"BPE","vocab":{"A":1,"C":1},"merges":[]"#),                // duplicate id
        minimal(model: #""type":"BPE","vocab":{"A":-1},"merges":[]"#),                     // negative id
        minimal(model: #""type":"BPE","vocab":{"A":99999999999},"merges":[]"#),            // huge id
        minimal(model: #""type":"BPE","vocab":{"A":2000000000},"merges":[]"#),             // sparse huge id
        minimal(model: #""type":"BPE","vocab":{"A":"1"},"merges":[]"#),                    // wrong type
        minimal(model: #""type":"BPE","vocab":{"A":1.5},"merges":[]"#),
        minimal(model: #""type":"BPE","vocab":[],"merges":[]"#),
        minimal(model: #""type":"BPE","merges":[]"#),                                      // missing vocab
        minimal(model: #""type":"BPE","vocab":{"A":1}"#),                                  // missing merges
        minimal(model: #""type":"BPE","vocab":{"A":1,"C":2,"AC":3},"merges":["A  C"]"#),   // bad merge string
        minimal(model: #""type":"BPE","vocab":{"A":1,"C":2,"AC":3},"merges":["AC"]"#),
        minimal(model: #""type":"BPE","vocab":{"A":1,"C":2,"AC":3},"merges":[["A"]]"#),
        minimal(model: #""type":"BPE","vocab":{"A":1,"C":2,"AC":3},"merges":[[1,2]]"#),
        minimal(model: #""type":"BPE","vocab":{"A":1,"A":2},"merges":[]"#),                // duplicate key
        minimal(model: #""type":"BPE","unk_token":"[UNK]","vocab":{"A":1},"merges":[]"#),  // unk not in vocab
        minimal(model: #""type":3,"vocab":{"A":1},"merges":[]"#),
        minimal(model: #""type":"BPE","fuse_unk":"yes","vocab":{"A":1},"merges":[]"#),
        minimal(extra: #","added_tokens":[{"id":0}]"#).replacingFirstAddedTokens(),
        #"{"added_tokens":[{"content":"x"}],"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
        #"{"added_tokens":{},"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
        #"{"pre_tokenizer":{"kind":"Whitespace"},"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
        #"{"post_processor":{"type":"BertProcessing","sep":["[SEP]",7],"cls":["[CLS]",0]},"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
        #"{"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{}},"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
        #"{"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"x":{"ids":[-5]}}},"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
        // sparse ids: the added token's new id collides with a model id
        #"{"added_tokens":[{"id":5,"content":"<x>"}],"model":{"type":"BPE","vocab":{"A":0,"B":1,"C":3},"merges":[]}}"#,
    ]

    @Test(arguments: formatErrors)
    func malformedThrowsFormat(_ text: String) {
        do {
            _ = try Tokenizer(json: text)
            Issue.record("accepted: \(text.prefix(200))")
        } catch let e as DNABertError {
            #expect(e.kind == .format, "\(e.message)")
        } catch {
            Issue.record("wrong error type \(error)")
        }
    }

    static let unsupported: [String] = [
        minimal(model: #""type":"WordPiece","vocab":{"A":1},"merges":[]"#),
        minimal(model: #""type":"BPE","dropout":0.1,"vocab":{"A":1},"merges":[]"#),
        minimal(model: #""type":"BPE","byte_fallback":true,"vocab":{"A":1},"merges":[]"#),
        #"{"normalizer":{"type":"NFKC"},"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
        #"{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
        #"{"post_processor":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#,
    ]

    @Test(arguments: unsupported)
    func unsupportedThrowsUnsupported(_ text: String) {
        do {
            _ = try Tokenizer(json: text)
            Issue.record("accepted: \(text)")
        } catch let e as DNABertError {
            #expect(e.kind == .unsupported, "\(e.message)")
        } catch {
            Issue.record("wrong error type \(error)")
        }
    }

    @Test func deepNestingAndTruncationThrow() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: DNABertError.self) { try Tokenizer(json: #"{"model":"# + deep + "}") }
        let real = try FileIO.read(TokenizerFixtures.dnabertPath)
        for cut in [1, 10, 100, 1000, real.count / 2, real.count - 2] {
            let part = Array(real[0..<cut])
            #expect(throws: DNABertError.self) { try part.withUnsafeBytes { try Tokenizer(jsonBytes: $0) } }
        }
        #expect(throws: DNABertError.self) { try Tokenizer(contentsOfFile: "/nonexistent/tokenizer.json") }
        do { _ = try Tokenizer(contentsOfFile: "/nonexistent/tokenizer.json") } catch let e as DNABertError { #expect(e.kind == .io) }
    }

    @Test func dnabertStyleRejectsBadMerges() {
        #expect(throws: DNABertError.self) { try Tokenizer.dnabertStyle(alphabet: ["A", "C"], merges: [("A", "G")]) }
        #expect(throws: DNABertError.self) { try Tokenizer.dnabertStyle(alphabet: ["A", "A"], merges: []) }
        #expect(throws: DNABertError.self) { try Tokenizer.dnabertStyle(alphabet: ["A", "C"], merges: [("A", "C"), ("A", "C")]) }
    }
}

extension String {
    /// Replaces the first added_tokens array of `minimal()` by the second one given in `extra` (an entry without content).
    fileprivate func replacingFirstAddedTokens() -> String {
        #"{"added_tokens":[{"id":0}],"model":{"type":"BPE","vocab":{"A":0},"merges":[]}}"#
    }
}
