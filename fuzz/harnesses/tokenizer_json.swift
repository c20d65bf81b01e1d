// libFuzzer harness: tokenizer.json (JSON parser, TokenizerJSON, BPE model, added vocabulary, post-processor),
// then, for a file that loads, encode / decode / save-and-reload.
// Properties checked on accepted files: every id names a token; offsets are ordered and inside the input;
// the saved JSON reloads and encodes the same ids.
import DNABert

private let samples: [String] = [
    "ACGTNACGTTGCAACGGTACCAGT", "acgtn ACGT\tGGCC\nTTAA", "[CLS] ACGT [SEP] [MASK]", "", " ", "NNNNNNNN",
    "ÄCGT\u{00A0}é日本", "A",
]

private func check(_ tok: Tokenizer, _ text: [UInt8], _ opt: EncodeOptions) -> [Int32] {
    let enc = text.withUnsafeBufferPointer { tok.encode($0, options: opt) }
    // Ids need not lie below vocabSize: like Hugging Face, vocabSize counts tokens and a file may leave gaps
    // in its ids (see fuzz/regressions/tokenizer_json/sparse-vocab-ids.json). Every id must name a token.
    for id in enc.ids { Fuzz.require(id >= 0 && tok.token(forId: id) != nil, "id \(id) names no token") }
    if opt.maxLength > 0 && !enc.ids.isEmpty {
        // Truncation keeps at most maxLength tokens unless only the special tokens remain.
        let content = enc.ids.filter { !tok.isSpecial($0) }.count
        Fuzz.require(enc.ids.count <= opt.maxLength || content == 0, "\(enc.ids.count) tokens > maxLength \(opt.maxLength)")
    }
    if opt.withOffsets {
        Fuzz.require(enc.offsets.count == 2 * enc.ids.count, "offsets count")
        var i = 0
        while i < enc.offsets.count {
            let s = enc.offsets[i], e = enc.offsets[i + 1]
            Fuzz.require(s >= 0 && s <= e && e <= Int64(text.count), "offset (\(s), \(e)) for \(text.count) bytes")
            i += 2
        }
    }
    _ = try? tok.decode(enc.ids, skipSpecialTokens: true)
    _ = try? tok.decode(enc.ids, skipSpecialTokens: false)
    return enc.ids
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size)
    guard let tok = Fuzz.attempt("tokenizer.json", { try Tokenizer(jsonBytes: bytes) }) else { return 0 }
    var opt = EncodeOptions()
    var texts = samples.map { Array($0.utf8) }
    texts.append(Array(UnsafeBufferPointer(start: data, count: min(size, 256))))
    var ids: [[Int32]] = []
    for t in texts {
        opt.maxLength = 0; opt.uppercase = false; opt.addSpecialTokens = true; opt.withOffsets = true
        ids.append(check(tok, t, opt))
        opt.maxLength = 3; opt.uppercase = true; opt.addSpecialTokens = t.count % 2 == 0
        _ = check(tok, t, opt)
    }
    _ = tok.id(forToken: "[UNK]")
    _ = tok.token(forId: 0)
    _ = tok.token(forId: Int32(tok.vocabSize))
    // Save and reload: what the library writes it must read back, with the same behaviour.
    let saved = tok.jsonString(pretty: false)
    let again: Tokenizer
    do { again = try Tokenizer(json: saved) } catch {
        Fuzz.require(false, "a loaded tokenizer saves JSON it cannot load: \(error)")
        return 0
    }
    Fuzz.require(again.vocabSize == tok.vocabSize, "vocab size changes on reload")
    for (t, want) in zip(texts, ids) {
        var o = EncodeOptions()
        o.withOffsets = false
        let got = t.withUnsafeBufferPointer { again.encode($0, options: o) }.ids
        Fuzz.require(got == want, "reloaded tokenizer encodes differently")
    }
    return 0
}
