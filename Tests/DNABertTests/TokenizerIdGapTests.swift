import Foundation
import Testing
@testable import DNABert

/// A tokenizer.json may leave gaps in its ids (found by the tokenizer_json fuzzer): the tokenizer can then emit
/// ids at or above its token count, and a model sized by the token count would be indexed out of its table.
@Suite struct TokenizerIdGapTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fuzz/regressions/tokenizer_json/sparse-vocab-ids.json").standardized.path

    /// The largest id in the file, read with Foundation's JSON parser (independent of the library's).
    static func largestId() throws -> Int {
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
        let vocab = (obj["model"] as! [String: Any])["vocab"] as! [String: Int]
        let added = (obj["added_tokens"] as! [[String: Any]]).map { $0["id"] as! Int }
        return max(vocab.values.max()!, added.max()!)
    }

    @Test func idLimitCoversTheLargestId() throws {
        let tok = try Tokenizer(contentsOfFile: Self.file)
        let top = try Self.largestId()
        #expect(tok.idLimit == top + 1)
        #expect(tok.vocabSize < tok.idLimit, "the fixture must have gaps")
    }

    @Test func aModelSmallerThanTheIdsIsRefused() throws {
        let tok = try Tokenizer(contentsOfFile: Self.file)
        var c = ModelConfig()
        c.hiddenSize = 32; c.numHeads = 2; c.numLayers = 1; c.intermediateSize = 64
        c.vocabSize = tok.vocabSize            // enough rows for the token count, not for the ids
        #expect(throws: DNABertError.self) { _ = try PretrainedModel.random(config: c, tokenizer: tok, seed: 1) }
        c.vocabSize = try Self.largestId() + 1
        _ = try PretrainedModel.random(config: c, tokenizer: tok, seed: 1)
    }
}
