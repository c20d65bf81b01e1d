/// Post-processors: wrap one encoded sequence in special tokens (only single sequences are encoded here;
/// the pair template is kept verbatim for saving). Special tokens get offsets (0, 0), as in Hugging Face.
///
/// Supported: `TemplateProcessing` (special_tokens entries may hold several ids), `BertProcessing`
/// (`[cls] $A [sep]`), `RobertaProcessing` with `trim_offsets: false` (`<s> $A </s>`), and null.
struct PostProcessor {
    /// Special ids before and after the sequence in the single template.
    var prefix: [Int32] = []
    var suffix: [Int32] = []
    /// The JSON as read (null for none), written back unchanged on save.
    var json: JSONValue = .null

    var specialCount: Int { prefix.count + suffix.count }

    static func parse(_ v: JSONValue?, idOf: (String) -> Int32?, isValidId: (Int64) -> Bool) throws -> PostProcessor {
        guard let v, !v.isNull else { return PostProcessor() }
        guard let type = v["type"]?.stringValue else {
            throw DNABertError.format("tokenizer post_processor: missing string field 'type'")
        }
        var p = PostProcessor(json: v)
        func pairField(_ name: String) throws -> Int32 {
            guard let a = v[name]?.arrayValue, a.count == 2, let tok = a[0].stringValue, let id = a[1].intValue else {
                throw DNABertError.format("tokenizer post_processor \(type): field '\(name)' must be [token, id]")
            }
            guard isValidId(id) else {
                throw DNABertError.format("tokenizer post_processor \(type): id \(id) of '\(tok)' is not in the vocabulary")
            }
            return Int32(id)
        }
        switch type {
        case "BertProcessing":
            p.prefix = [try pairField("cls")]
            p.suffix = [try pairField("sep")]
        case "RobertaProcessing":
            if v["trim_offsets"]?.boolValue ?? true {
                throw DNABertError.unsupported("tokenizer post_processor RobertaProcessing with trim_offsets true is not supported")
            }
            p.prefix = [try pairField("cls")]
            p.suffix = [try pairField("sep")]
        case "TemplateProcessing":
            guard let single = v["single"]?.arrayValue else {
                throw DNABertError.format("tokenizer post_processor TemplateProcessing: missing array 'single'")
            }
            guard v["pair"]?.arrayValue != nil else {
                throw DNABertError.format("tokenizer post_processor TemplateProcessing: missing array 'pair'")
            }
            guard let specials = v["special_tokens"]?.objectValue else {
                throw DNABertError.format("tokenizer post_processor TemplateProcessing: missing object 'special_tokens'")
            }
            var map: [String: [Int32]] = [:]
            for (key, entry) in specials {
                guard let ids = entry["ids"]?.arrayValue else {
                    throw DNABertError.format("tokenizer post_processor TemplateProcessing: special token '\(key)' has no 'ids' array")
                }
                var out: [Int32] = []
                for idv in ids {
                    guard let id = idv.intValue, isValidId(id) else {
                        throw DNABertError.format("tokenizer post_processor TemplateProcessing: special token '\(key)' has an id that is not in the vocabulary")
                    }
                    out.append(Int32(id))
                }
                map[key] = out
            }
            var seen = 0
            for piece in single {
                if let sp = piece["SpecialToken"] {
                    guard let name = sp["id"]?.stringValue else {
                        throw DNABertError.format("tokenizer post_processor TemplateProcessing: SpecialToken without string 'id'")
                    }
                    guard let ids = map[name] else {
                        throw DNABertError.format("tokenizer post_processor TemplateProcessing: '\(name)' is missing from special_tokens")
                    }
                    if seen == 0 { p.prefix += ids } else { p.suffix += ids }
                } else if let sq = piece["Sequence"] {
                    guard sq["id"]?.stringValue == "A" else {
                        throw DNABertError.format("tokenizer post_processor TemplateProcessing: the single template may only use sequence $A")
                    }
                    seen += 1
                } else {
                    throw DNABertError.format("tokenizer post_processor TemplateProcessing: unknown template piece")
                }
            }
            guard seen == 1 else {
                throw DNABertError.unsupported("tokenizer post_processor TemplateProcessing: the single template must use $A exactly once")
            }
        default:
            throw DNABertError.unsupported("tokenizer post_processor '\(type)' is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, null)")
        }
        _ = idOf
        return p
    }

    /// `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1` with the given special tokens.
    static func dnabertTemplate(cls: (String, Int32), sep: (String, Int32)) -> JSONValue {
        func special(_ name: String, _ type: Int64) -> JSONValue {
            .object([("SpecialToken", .object([("id", .string(name)), ("type_id", .int(type))]))])
        }
        func seq(_ name: String, _ type: Int64) -> JSONValue {
            .object([("Sequence", .object([("id", .string(name)), ("type_id", .int(type))]))])
        }
        func entry(_ name: String, _ id: Int32) -> JSONValue {
            .object([("id", .string(name)), ("ids", .array([.int(Int64(id))])), ("tokens", .array([.string(name)]))])
        }
        return .object([
            ("type", .string("TemplateProcessing")),
            ("single", .array([special(cls.0, 0), seq("A", 0), special(sep.0, 0)])),
            ("pair", .array([special(cls.0, 0), seq("A", 0), special(sep.0, 0), seq("B", 1), special(sep.0, 1)])),
            ("special_tokens", .object([(cls.0, entry(cls.0, cls.1)), (sep.0, entry(sep.0, sep.1))])),
        ])
    }
}
