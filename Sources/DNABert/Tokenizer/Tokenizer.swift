#if canImport(Glibc)
import Glibc
#endif

/// Options for `Tokenizer.encode`.
public struct EncodeOptions: Sendable {
    /// Apply the post-processor (e.g. `[CLS] x [SEP]`).
    public var addSpecialTokens = true
    /// > 0: truncate so the result has at most `maxLength` tokens including the special tokens, like Hugging
    /// Face `enable_truncation(max_length)` (longest_first, stride 0, right side): the first
    /// `maxLength - specials` content tokens are kept. When `maxLength` is smaller than the number of special
    /// tokens, no content token is kept and the result is the special tokens alone (Hugging Face 0.23 instead
    /// underflows and does not truncate at all).
    public var maxLength = 0
    /// Fold a-z to A-Z before anything else (added-token matching included); offsets are unchanged.
    public var uppercase = false
    /// Compute offsets (skip them for speed when not needed).
    public var withOffsets = true
    public init() {}
}

/// The result of encoding one sequence.
public struct Encoding: Sendable {
    public var ids: [Int32]
    /// Two per token: [start, end) byte offsets into the input; special tokens from the post-processor get (0, 0).
    public var offsets: [Int64]
    public init(ids: [Int32], offsets: [Int64]) {
        self.ids = ids
        self.offsets = offsets
    }
}

/// A Hugging Face-compatible BPE tokenizer (tokenizer.json), identical id for id and offset for offset to
/// `tokenizers` for: normalizer null; pre-tokenizer Whitespace / WhitespaceSplit / Sequence of these / null;
/// BPE (unk, fuse_unk, continuing_subword_prefix, end_of_word_suffix, ignore_merges); added tokens; the
/// TemplateProcessing / BertProcessing post-processors.
///
/// Immutable after init; `encode`, `encodeBatch` and `decode` may be called from several threads at once.
/// Input bytes may be anything: an invalid UTF-8 byte is one unknown character (→ the unk token).
///
/// Deliberate differences from Hugging Face (everything else is meant to be identical):
/// - `decode` concatenates token strings without spaces and throws for an unknown id (HF joins with spaces
///   when the decoder is null and skips unknown ids).
/// - `maxLength` below the number of special tokens keeps only the special tokens (HF 0.23 underflows and
///   does not truncate).
/// - The file's `truncation` and `padding` objects are kept for saving but never applied; use
///   `EncodeOptions.maxLength`.
/// - Stricter loading: duplicate vocabulary ids, an unk_token missing from the vocabulary, and
///   post-processor ids outside the vocabulary are `.format` errors (HF accepts them and may fail later).
/// - A single word over 1 GiB is encoded in 1 GiB pieces.
public final class Tokenizer: @unchecked Sendable {
    let model: BPEModel
    let added: AddedVocabulary
    let preTokenizer: PreTokenizerKind
    let preTokenizerJSON: JSONValue
    let post: PostProcessor
    let truncationJSON: JSONValue
    let paddingJSON: JSONValue
    let decoderJSON: JSONValue
    /// Like Hugging Face get_vocab_size(with_added_tokens: true).
    public let vocabSize: Int
    /// One more than the largest id the tokenizer can emit. A tokenizer.json may leave gaps in its ids, so this can
    /// exceed `vocabSize`; a model's embedding table must have at least this many rows.
    public let idLimit: Int
    private let specialIds: Set<Int32>
    /// Longest word given to the BPE model in one piece (see `encodeFolded`).
    static let maxWordBytes = 1 << 30
    /// Working memory reused across calls (the per-rank buckets are costly to set up for short inputs).
    let scratchPool = ScratchPool()

    init(parts p: TokenizerParts) {
        model = p.model
        added = AddedVocabulary(p.added)
        preTokenizer = p.preTokenizer
        preTokenizerJSON = p.preTokenizerJSON
        post = p.post
        truncationJSON = p.truncation
        paddingJSON = p.padding
        decoderJSON = p.decoder
        var n = p.model.vocabSize
        var extra = Set<[UInt8]>()
        for t in p.added {
            let k = Array(t.content.utf8)
            if p.model.vocab[k] == nil && extra.insert(k).inserted { n += 1 }
        }
        vocabSize = n
        idLimit = max(n, p.model.vocabR.count, (p.added.map { Int($0.id) }.max() ?? -1) + 1)
        specialIds = Set(p.added.filter { $0.special }.map { $0.id })
    }

    /// Loads a tokenizer.json file. Throws `.io` (cannot read), `.format` (malformed), `.unsupported`.
    public convenience init(contentsOfFile path: String) throws {
        let bytes = try FileIO.read(path)
        do {
            try self.init(parts: bytes.withUnsafeBytes { try Tokenizer.parseParts($0) })
        } catch let e as DNABertError {
            throw DNABertError(e.kind, "\(path): \(e.message)")
        }
    }

    public convenience init(jsonBytes: UnsafeRawBufferPointer) throws {
        self.init(parts: try Tokenizer.parseParts(jsonBytes))
    }

    public convenience init(json: String) throws {
        var copy = json
        let parts = try copy.withUTF8 { try Tokenizer.parseParts(UnsafeRawBufferPointer($0)) }
        self.init(parts: parts)
    }

    static func parseParts(_ bytes: UnsafeRawBufferPointer) throws -> TokenizerParts {
        if bytes.isEmpty { throw DNABertError.format("tokenizer.json is empty") }
        let root: JSONValue
        do { root = try JSON.parse(bytes: bytes) } catch let e as JSONError {
            throw DNABertError.format("tokenizer.json: \(e.description)")
        }
        return try TokenizerJSON.parse(root)
    }

    /// DNABERT-2-style tokenizer from trained BPE: specials [UNK],[CLS],[SEP],[PAD],[MASK] = ids 0-4
    /// (added_tokens, special), then `alphabet`, then one token per merge in rank order; Whitespace
    /// pre-tokenizer, TemplateProcessing "[CLS] $A [SEP]" / pair "[CLS] $A [SEP] $B:1 [SEP]:1",
    /// normalizer null, decoder null, unk [UNK]. Throws `.invalidArgument` for a duplicate token, a merge
    /// naming an unknown token, or a merge whose result already exists.
    public static func dnabertStyle(alphabet: [String], merges: [(String, String)]) throws -> Tokenizer {
        let specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
        var vocab: [[UInt8]: Int32] = [:]
        var next: Int32 = 0
        func add(_ s: String, _ what: String) throws {
            guard !s.isEmpty else { throw DNABertError.invalidArgument("dnabertStyle: empty token (\(what))") }
            let k = Array(s.utf8)
            guard vocab[k] == nil else { throw DNABertError.invalidArgument("dnabertStyle: token '\(s)' (\(what)) is already in the vocabulary") }
            vocab[k] = next
            next += 1
        }
        for s in specials { try add(s, "special token") }
        for a in alphabet { try add(a, "alphabet") }
        for (i, (a, b)) in merges.enumerated() {
            guard vocab[Array(a.utf8)] != nil, vocab[Array(b.utf8)] != nil else {
                throw DNABertError.invalidArgument("dnabertStyle: merge \(i) ('\(a)', '\(b)') names a token not in the vocabulary")
            }
            try add(a + b, "result of merge \(i)")
        }
        let model: BPEModel
        do {
            model = try BPEModel(vocab: vocab, merges: merges, unkToken: "[UNK]", continuingSubwordPrefix: nil,
                                 endOfWordSuffix: nil, fuseUnk: false, ignoreMerges: false)
        } catch let e as DNABertError {
            throw DNABertError.invalidArgument("dnabertStyle: \(e.message)")
        }
        let added = specials.enumerated().map { AddedToken(content: $0.element, id: Int32($0.offset), special: true) }
        var post = PostProcessor()
        post.prefix = [1]
        post.suffix = [2]
        post.json = PostProcessor.dnabertTemplate(cls: ("[CLS]", 1), sep: ("[SEP]", 2))
        return Tokenizer(parts: TokenizerParts(
            model: model, added: added, preTokenizer: .whitespace, preTokenizerJSON: .object([("type", .string("Whitespace"))]),
            post: post, truncation: .null, padding: .null, decoder: .null))
    }

    // MARK: - Saving

    /// Hugging Face tokenizers v1 JSON that `Tokenizer.from_file` loads.
    public func jsonString(pretty: Bool = true) -> String {
        JSON.serialize(TokenizerJSON.serialize(self), indent: pretty ? 2 : 0)
    }

    /// Writes `jsonString()` atomically (temporary file, fsync, rename).
    public func save(to path: String) throws {
        try FileIO.writeAtomically(path, string: jsonString())
    }

    // MARK: - Vocabulary

    public func id(forToken token: String) -> Int32? {
        let k = Array(token.utf8)
        if let i = added.byContent[k] { return added.tokens[i].id }
        return model.vocab[k]
    }

    public func token(forId id: Int32) -> String? {
        if let i = added.byId[id] { return added.tokens[i].content }
        guard id >= 0 && Int(id) < model.vocabR.count else { return nil }
        return model.vocabR[Int(id)]
    }

    public var unkId: Int32? { model.unkId >= 0 ? model.unkId : nil }
    public var clsId: Int32? { id(forToken: "[CLS]") ?? (post.prefix.count == 1 ? post.prefix[0] : nil) }
    public var sepId: Int32? { id(forToken: "[SEP]") ?? (post.suffix.count == 1 ? post.suffix[0] : nil) }
    public var padId: Int32? { id(forToken: "[PAD]") }
    public var maskId: Int32? { id(forToken: "[MASK]") }

    /// True for ids of added tokens marked special (what `decode(skipSpecialTokens:)` drops).
    public func isSpecial(_ id: Int32) -> Bool { specialIds.contains(id) }

    /// Merges in rank order.
    public var merges: [(String, String)] { model.merges }

    /// Number of special tokens the post-processor adds to one sequence.
    public var specialTokenCount: Int { post.specialCount }

    /// Upper bound on the number of ids `encode` returns for `n` input bytes (every token covers ≥ 1 byte).
    public func maxTokens(forLength n: Int, options: EncodeOptions) -> Int {
        let specials = options.addSpecialTokens ? post.specialCount : 0
        var content = max(n, 0)
        if options.maxLength > 0 { content = min(content, max(options.maxLength - specials, 0)) }
        let (total, overflow) = content.addingReportingOverflow(specials)
        return overflow ? Int.max : total
    }

    // MARK: - Encoding

    public func encode(_ bytes: UnsafeBufferPointer<UInt8>, options: EncodeOptions = .init()) -> Encoding {
        let s = scratchPool.take()
        defer { scratchPool.give(s) }
        return encode(bytes, options: options, scratch: s)
    }

    public func encode(_ s: String, options: EncodeOptions = .init()) -> Encoding {
        var copy = s
        return copy.withUTF8 { encode($0, options: options) }
    }

    /// Encodes many sequences on `threads` threads (0 = all cores); results in input order.
    public func encodeBatch(_ seqs: [UnsafeBufferPointer<UInt8>], options: EncodeOptions = .init(), threads: Int = 0) -> [Encoding] {
        var results = [Encoding](repeating: Encoding(ids: [], offsets: []), count: seqs.count)
        if seqs.isEmpty { return results }
        let t = min(Parallel.threads(threads), seqs.count)
        let chunks = t == 1 ? 1 : min(seqs.count, t * 8)
        let ranges = Parallel.ranges(seqs.count, parts: chunks)
        results.withUnsafeMutableBufferPointer { out in
            let outp = out
            Parallel.forEach(ranges.count, threads: t) { c in
                let scratch = self.scratchPool.take()
                for i in ranges[c] { outp[i] = self.encode(seqs[i], options: options, scratch: scratch) }
                self.scratchPool.give(scratch)
            }
        }
        return results
    }

    func encode(_ input: UnsafeBufferPointer<UInt8>, options: EncodeOptions, scratch s: Scratch) -> Encoding {
        if options.uppercase {
            var hasLower = false
            for b in input where b >= 97 && b <= 122 { hasLower = true; break }
            if hasLower {
                s.text.removeAll(keepingCapacity: true)
                s.text.append(contentsOf: input)
                s.text.withUnsafeMutableBufferPointer { t in
                    for i in 0..<t.count where t[i] >= 97 && t[i] <= 122 { t[i] -= 32 }
                }
                return s.text.withUnsafeBufferPointer { encodeFolded($0, options, s) }
            }
        }
        return encodeFolded(input, options, s)
    }

    private func encodeFolded(_ b: UnsafeBufferPointer<UInt8>, _ options: EncodeOptions, _ s: Scratch) -> Encoding {
        let specials = options.addSpecialTokens
        var contentLimit = Int.max
        if options.maxLength > 0 { contentLimit = max(options.maxLength - (specials ? post.specialCount : 0), 0) }
        var sink = TokenSink(withOffsets: options.withOffsets, limit: Int.max)
        let estimate = min(b.count, contentLimit == Int.max ? b.count : contentLimit) / 3 + 8
        sink.ids.reserveCapacity(estimate)
        if options.withOffsets { sink.offsets.reserveCapacity(2 * estimate) }
        if specials { for id in post.prefix { sink.append(id, 0, 0) } }
        let (limit, overflow) = sink.ids.count.addingReportingOverflow(contentLimit)
        sink.limit = overflow ? Int.max : limit
        if contentLimit > 0 {
            let model = self.model, pre = self.preTokenizer, added = self.added
            @inline(__always) func words(_ lo: Int, _ hi: Int) -> Bool {
                pre.forEachWord(b, lo, hi) { ws, we in
                    if we - ws <= Tokenizer.maxWordBytes {
                        model.encodeWord(b, ws, we, s, &sink)
                    } else {
                        // Positions are 32-bit inside the merge loop: a word over 1 GiB is encoded in
                        // 1 GiB pieces cut at character boundaries (Hugging Face would take it whole).
                        var a = ws
                        while a < we && !sink.full {
                            var e = min(we, a + Tokenizer.maxWordBytes)
                            while e < we && e > a + 1 && b[e] & 0xC0 == 0x80 { e -= 1 }
                            model.encodeWord(b, a, e, s, &sink)
                            a = e
                        }
                    }
                    return !sink.full
                }
                return !sink.full
            }
            if added.isEmpty {
                _ = words(0, b.count)
            } else {
                let tokenCB: (Int32, Int, Int) -> Bool = { id, st, en in sink.append(id, st, en); return !sink.full }
                _ = added.split(b, 0, b.count, added.rawMatcher, token: tokenCB, gap: { lo, hi in
                    added.split(b, lo, hi, added.normalizedMatcher, token: tokenCB, gap: words)
                })
            }
        }
        sink.limit = Int.max
        if specials { for id in post.suffix { sink.append(id, 0, 0) } }
        return Encoding(ids: sink.ids, offsets: sink.offsets)
    }

    // MARK: - Decoding

    /// Concatenates the token strings (no spaces: this is DNA). Throws `.invalidArgument` for an id outside
    /// the vocabulary.
    public func decode(_ ids: UnsafeBufferPointer<Int32>, skipSpecialTokens: Bool = true) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 6)
        for (i, id) in ids.enumerated() {
            if skipSpecialTokens && specialIds.contains(id) { continue }
            guard let t = token(forId: id) else {
                throw DNABertError.invalidArgument("id \(id) at position \(i) (0-based) is not in the vocabulary (size \(vocabSize))")
            }
            out.append(contentsOf: t.utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) throws -> String {
        try ids.withUnsafeBufferPointer { try decode($0, skipSpecialTokens: skipSpecialTokens) }
    }
}

/// A few idle `Scratch` objects behind a mutex. Large ones (after a chromosome-length input) are dropped
/// rather than kept, so a tokenizer does not hold on to hundreds of MB.
final class ScratchPool: @unchecked Sendable {
    private var idle: [Scratch] = []
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    static let maxIdle = 8
    static let maxKeptBytes = 8 << 20

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func take() -> Scratch {
        pthread_mutex_lock(mutex)
        let s = idle.popLast()
        pthread_mutex_unlock(mutex)
        return s ?? Scratch()
    }

    func give(_ s: Scratch) {
        if s.retainedBytes > ScratchPool.maxKeptBytes { return }
        s.text.removeAll(keepingCapacity: s.text.capacity <= 1 << 20)
        pthread_mutex_lock(mutex)
        if idle.count < ScratchPool.maxIdle { idle.append(s) }
        pthread_mutex_unlock(mutex)
    }
}
