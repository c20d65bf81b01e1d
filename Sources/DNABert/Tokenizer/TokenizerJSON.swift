/// Reading and writing Hugging Face `tokenizer.json` (tokenizers v1 format) for BPE tokenizers.
///
/// Kept verbatim for saving (and never applied implicitly): `truncation`, `padding`, `decoder` (our decode
/// concatenates tokens), the pre-tokenizer and post-processor objects. Rebuilt on saving: `added_tokens`
/// and `model` (vocab ordered by id; merges as "a b" strings unless a token contains a space, then as
/// ["a", "b"] arrays — both forms load in Hugging Face >= 0.20, strings in all versions).
struct TokenizerParts {
    var model: BPEModel
    var added: [AddedToken]
    var preTokenizer: PreTokenizerKind
    var preTokenizerJSON: JSONValue
    var post: PostProcessor
    var truncation: JSONValue
    var padding: JSONValue
    var decoder: JSONValue
}

enum TokenizerJSON {
    static func parse(_ root: JSONValue) throws -> TokenizerParts {
        guard root.objectValue != nil else { throw DNABertError.format("tokenizer.json: the top level is not a JSON object") }

        // Normalizer: identity only.
        if let n = root["normalizer"], !n.isNull {
            let type = n["type"]?.stringValue ?? "?"
            if type == "Sequence", let list = n["normalizers"]?.arrayValue, list.isEmpty {
                // An empty sequence is the identity.
            } else {
                throw DNABertError.unsupported("tokenizer.json: normalizer '\(type)' is not supported (only null)")
            }
        }

        // Pre-tokenizer.
        let preJSON = root["pre_tokenizer"] ?? .null
        let pre = try parsePreTokenizer(preJSON)

        // Model.
        guard let m = root["model"], m.objectValue != nil else { throw DNABertError.format("tokenizer.json: missing object 'model'") }
        if let t = m["type"] {
            guard let ts = t.stringValue else { throw DNABertError.format("tokenizer.json: model 'type' is not a string") }
            guard ts == "BPE" else { throw DNABertError.unsupported("tokenizer.json: model type '\(ts)' is not supported (only BPE)") }
        }
        if let d = m["dropout"], !d.isNull {
            guard let p = d.doubleValue else { throw DNABertError.format("tokenizer.json: model 'dropout' is not a number") }
            if p != 0 { throw DNABertError.unsupported("tokenizer.json: BPE dropout (\(p)) is not supported") }
        }
        if let bf = m["byte_fallback"], !bf.isNull {
            guard let b = bf.boolValue else { throw DNABertError.format("tokenizer.json: model 'byte_fallback' is not a boolean") }
            if b { throw DNABertError.unsupported("tokenizer.json: BPE byte_fallback is not supported") }
        }
        func optString(_ k: String) throws -> String? {
            guard let v = m[k], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw DNABertError.format("tokenizer.json: model '\(k)' is not a string") }
            return s
        }
        func optBool(_ k: String) throws -> Bool {
            guard let v = m[k], !v.isNull else { return false }
            guard let b = v.boolValue else { throw DNABertError.format("tokenizer.json: model '\(k)' is not a boolean") }
            return b
        }
        guard let vocabObj = m["vocab"]?.objectValue else { throw DNABertError.format("tokenizer.json: model 'vocab' is missing or not an object") }
        var vocab: [[UInt8]: Int32] = [:]
        vocab.reserveCapacity(vocabObj.count)
        for (tok, v) in vocabObj {
            guard let id = v.intValue else { throw DNABertError.format("tokenizer.json: vocab entry '\(tok)' is not an integer id") }
            guard id >= 0 && id < Int64(Int32.max) - 1 else {
                throw DNABertError.format("tokenizer.json: vocab entry '\(tok)' has id \(id) out of range")
            }
            let key = Array(tok.utf8)
            if vocab[key] != nil { throw DNABertError.format("tokenizer.json: vocab token '\(tok)' appears twice") }
            vocab[key] = Int32(id)
        }
        guard let mergesArr = m["merges"]?.arrayValue else { throw DNABertError.format("tokenizer.json: model 'merges' is missing or not an array") }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergesArr.count)
        for (i, e) in mergesArr.enumerated() {
            if let s = e.stringValue {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw DNABertError.format("tokenizer.json: merge \(i) ('\(s)') is not two tokens separated by one space") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let a = e.arrayValue, a.count == 2, let x = a[0].stringValue, let y = a[1].stringValue {
                merges.append((x, y))
            } else {
                throw DNABertError.format("tokenizer.json: merge \(i) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        let model = try BPEModel(vocab: vocab, merges: merges, unkToken: try optString("unk_token"),
                                 continuingSubwordPrefix: try optString("continuing_subword_prefix"),
                                 endOfWordSuffix: try optString("end_of_word_suffix"),
                                 fuseUnk: try optBool("fuse_unk"), ignoreMerges: try optBool("ignore_merges"))

        // Added tokens.
        var added: [AddedToken] = []
        if let at = root["added_tokens"], !at.isNull {
            guard let arr = at.arrayValue else { throw DNABertError.format("tokenizer.json: 'added_tokens' is not an array") }
            var nextId = Int64(model.vocabSize)
            var seen: [[UInt8]: Int32] = [:]
            for (i, e) in arr.enumerated() {
                guard let content = e["content"]?.stringValue else {
                    throw DNABertError.format("tokenizer.json: added_tokens[\(i)] has no string 'content'")
                }
                guard let fileId = e["id"]?.intValue, fileId >= 0 else {
                    throw DNABertError.format("tokenizer.json: added_tokens[\(i)] ('\(content)') has no valid 'id'")
                }
                func flag(_ k: String, _ d: Bool) throws -> Bool {
                    guard let v = e[k], !v.isNull else { return d }
                    guard let b = v.boolValue else { throw DNABertError.format("tokenizer.json: added_tokens[\(i)] field '\(k)' is not a boolean") }
                    return b
                }
                let special = try flag("special", false)
                var t = AddedToken(content: content, id: 0, special: special)
                t.singleWord = try flag("single_word", false)
                t.lstrip = try flag("lstrip", false)
                t.rstrip = try flag("rstrip", false)
                t.normalized = try flag("normalized", !special)
                let key = Array(content.utf8)
                if let id = model.vocab[key] ?? seen[key] {
                    t.id = id
                } else {
                    // Hugging Face assigns new ids after the model's vocabulary, ignoring the file's id.
                    guard nextId < Int64(Int32.max) - 1 else { throw DNABertError.format("tokenizer.json: too many added tokens") }
                    if Int(nextId) < model.vocabR.count, model.vocabR[Int(nextId)] != nil {
                        throw DNABertError.format("tokenizer.json: added token '\(content)' would get id \(nextId), which the model vocabulary already uses (vocabulary ids are not contiguous)")
                    }
                    t.id = Int32(nextId)
                    nextId += 1
                }
                seen[key] = t.id
                added.append(t)
            }
        }
        let addedIds = Set(added.map { $0.id })
        let post = try PostProcessor.parse(root["post_processor"], idOf: { model.vocab[Array($0.utf8)] }, isValidId: { id in
            id >= 0 && id < Int64(Int32.max) && (addedIds.contains(Int32(id)) || (Int(id) < model.vocabR.count && model.vocabR[Int(id)] != nil))
        })
        return TokenizerParts(model: model, added: added, preTokenizer: pre, preTokenizerJSON: preJSON, post: post,
                              truncation: root["truncation"] ?? .null, padding: root["padding"] ?? .null,
                              decoder: root["decoder"] ?? .null)
    }

    static func parsePreTokenizer(_ v: JSONValue) throws -> PreTokenizerKind {
        if v.isNull { return .none }
        guard let type = v["type"]?.stringValue else { throw DNABertError.format("tokenizer.json: pre_tokenizer has no string 'type'") }
        switch type {
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "Sequence":
            guard let list = v["pretokenizers"]?.arrayValue else {
                throw DNABertError.format("tokenizer.json: Sequence pre_tokenizer has no 'pretokenizers' array")
            }
            var kind = PreTokenizerKind.none
            for p in list {
                switch try parsePreTokenizer(p) {
                case .whitespace: kind = .whitespace
                case .whitespaceSplit: if kind == .none { kind = .whitespaceSplit }
                case .none: break
                }
            }
            return kind
        default:
            throw DNABertError.unsupported("tokenizer.json: pre_tokenizer '\(type)' is not supported (Whitespace, WhitespaceSplit, Sequence of these, null)")
        }
    }

    static func serialize(_ t: Tokenizer) -> JSONValue {
        let m = t.model
        let added: [JSONValue] = t.added.tokens.map { a in
            .object([("id", .int(Int64(a.id))), ("content", .string(a.content)), ("single_word", .bool(a.singleWord)),
                     ("lstrip", .bool(a.lstrip)), ("rstrip", .bool(a.rstrip)), ("normalized", .bool(a.normalized)),
                     ("special", .bool(a.special))])
        }
        var vocab: [(String, JSONValue)] = []
        vocab.reserveCapacity(m.vocab.count)
        for (id, tok) in m.vocabR.enumerated() { if let tok { vocab.append((tok, .int(Int64(id)))) } }
        let spaced = m.merges.contains { $0.0.utf8.contains(32) || $0.1.utf8.contains(32) }
        let merges: [JSONValue] = m.merges.map { spaced ? .array([.string($0.0), .string($0.1)]) : .string($0.0 + " " + $0.1) }
        func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        let model: JSONValue = .object([
            ("type", .string("BPE")), ("dropout", .null), ("unk_token", opt(m.unkToken)),
            ("continuing_subword_prefix", opt(m.continuingSubwordPrefix)), ("end_of_word_suffix", opt(m.endOfWordSuffix)),
            ("fuse_unk", .bool(m.fuseUnk)), ("byte_fallback", .bool(false)), ("ignore_merges", .bool(m.ignoreMerges)),
            ("vocab", .object(vocab)), ("merges", .array(merges)),
        ])
        return .object([
            ("version", .string("1.0")), ("truncation", t.truncationJSON), ("padding", t.paddingJSON),
            ("added_tokens", .array(added)), ("normalizer", .null), ("pre_tokenizer", t.preTokenizerJSON),
            ("post_processor", t.post.json), ("decoder", t.decoderJSON), ("model", model),
        ])
    }
}
