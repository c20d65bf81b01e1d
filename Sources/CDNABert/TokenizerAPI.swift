import CDNABertABI
import DNABert

// C exports of the tokenizer: dnabert_tokenizer_*, dnabert_encode*, dnabert_decode, dnabert_*train*.

private func tokenizer(_ h: OpaquePointer?) throws -> Tokenizer {
    try HandleRegistry.shared.object(h, as: Tokenizer.self, name: "tok")
}

private func encodeOptions(_ p: UnsafePointer<dnabert_encode_params>?, for t: Tokenizer) throws -> (EncodeOptions, threads: Int) {
    let params = try readParams(p, defaults: dnabert_encode_default_params(), name: "params")
    guard params.max_length >= 0 else { throw DNABertError.invalidArgument("params.max_length must be >= 0, got \(params.max_length)") }
    guard params.n_threads >= 0 else { throw DNABertError.invalidArgument("params.n_threads must be >= 0, got \(params.n_threads)") }
    var o = EncodeOptions()
    o.addSpecialTokens = params.add_special_tokens != 0
    o.maxLength = Int(params.max_length)
    o.uppercase = params.uppercase != 0
    try checkRoomForSpecials(o, t)
    return (o, Int(params.n_threads))
}

/// Hugging Face silently skips truncation when max_length cannot hold the special tokens; a result longer
/// than asked for is worse than an error.
private func checkRoomForSpecials(_ o: EncodeOptions, _ t: Tokenizer) throws {
    guard o.maxLength > 0 && o.addSpecialTokens else { return }
    var bare = o
    bare.maxLength = 0
    let specials = t.maxTokens(forLength: 0, options: bare)
    guard o.maxLength >= specials else {
        throw DNABertError.invalidArgument("max_length \(o.maxLength) is smaller than the \(specials) special tokens the post-processor adds")
    }
}

private func store(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ t: Tokenizer) throws {
    let out = try require(out, "out")
    out.pointee = HandleRegistry.shared.box(t)
}

@_cdecl("dnabert_tokenizer_load")
public func dnabert_tokenizer_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_tokenizer_load") {
        out?.pointee = nil
        let path = try string(path, "path")
        _ = try require(out, "out")
        try store(out, try Tokenizer(contentsOfFile: path))
    }
}

@_cdecl("dnabert_tokenizer_load_json")
public func dnabert_tokenizer_load_json(_ json: UnsafePointer<CChar>?, _ len: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_tokenizer_load_json") {
        out?.pointee = nil
        _ = try require(out, "out")
        guard len >= 0, len < maxElements else { throw DNABertError.invalidArgument("len is out of range") }
        if len > 0 { _ = try require(json, "json") }
        let bytes = UnsafeRawBufferPointer(start: json.map { UnsafeRawPointer($0) }, count: json == nil ? 0 : len)
        try store(out, try Tokenizer(jsonBytes: bytes))
    }
}

@_cdecl("dnabert_tokenizer_save")
public func dnabert_tokenizer_save(_ tok: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guarded("dnabert_tokenizer_save") {
        let t = try tokenizer(tok)
        try t.save(to: try string(path, "path"))
    }
}

@_cdecl("dnabert_tokenizer_to_json")
public func dnabert_tokenizer_to_json(_ tok: OpaquePointer?, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int,
                                      _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_tokenizer_to_json") {
        let t = try tokenizer(tok)
        try copyOut(t.jsonString(pretty: true), buf, cap, len)
    }
}

@_cdecl("dnabert_tokenizer_free")
public func dnabert_tokenizer_free(_ tok: OpaquePointer?) {
    HandleRegistry.shared.free(tok, as: Tokenizer.self)
}

@_cdecl("dnabert_tokenizer_vocab_size")
public func dnabert_tokenizer_vocab_size(_ tok: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("dnabert_tokenizer_vocab_size") {
        let t = try tokenizer(tok)
        try require(out, "out").pointee = Int32(clamping: t.vocabSize)
    }
}

@_cdecl("dnabert_tokenizer_token_to_id")
public func dnabert_tokenizer_token_to_id(_ tok: OpaquePointer?, _ token: UnsafePointer<CChar>?, _ id: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("dnabert_tokenizer_token_to_id") {
        let t = try tokenizer(tok)
        let s = try string(token, "token")
        let id = try require(id, "id")
        guard let v = t.id(forToken: s) else { throw DNABertError.notFound("token '\(s)' is not in the vocabulary") }
        id.pointee = v
    }
}

@_cdecl("dnabert_tokenizer_id_to_token")
public func dnabert_tokenizer_id_to_token(_ tok: OpaquePointer?, _ id: Int32, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int,
                                          _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_tokenizer_id_to_token") {
        let t = try tokenizer(tok)
        guard let s = t.token(forId: id) else {
            throw DNABertError.notFound("id \(id) is outside the vocabulary (size \(t.vocabSize))")
        }
        try copyOut(s, buf, cap, len)
    }
}

@_cdecl("dnabert_tokenizer_special_ids")
public func dnabert_tokenizer_special_ids(_ tok: OpaquePointer?, _ out: UnsafeMutablePointer<dnabert_special_ids>?) -> Int32 {
    guarded("dnabert_tokenizer_special_ids") {
        let t = try tokenizer(tok)
        try writeResult(dnabert_special_ids(struct_size: structSize(dnabert_special_ids.self), unk: t.unkId ?? -1,
                                            cls: t.clsId ?? -1, sep: t.sepId ?? -1, pad: t.padId ?? -1, mask: t.maskId ?? -1),
                        to: out, name: "out")
    }
}

@_cdecl("dnabert_encode_default_params")
public func dnabert_encode_default_params() -> dnabert_encode_params {
    dnabert_encode_params(struct_size: UInt32(MemoryLayout<dnabert_encode_params>.size), add_special_tokens: 1,
                          max_length: 0, uppercase: 0, n_threads: 0)
}

@_cdecl("dnabert_tokenizer_max_tokens")
public func dnabert_tokenizer_max_tokens(_ tok: OpaquePointer?, _ seqLen: Int, _ params: UnsafePointer<dnabert_encode_params>?,
                                         _ out: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_tokenizer_max_tokens") {
        let t = try tokenizer(tok)
        let (o, _) = try encodeOptions(params, for: t)
        guard seqLen >= 0, seqLen < maxElements else { throw DNABertError.invalidArgument("seq_len is out of range") }
        try require(out, "out").pointee = t.maxTokens(forLength: seqLen, options: o)
    }
}

@_cdecl("dnabert_encode")
public func dnabert_encode(_ tok: OpaquePointer?, _ seq: UnsafePointer<CChar>?, _ len: Int,
                           _ params: UnsafePointer<dnabert_encode_params>?, _ ids: UnsafeMutablePointer<Int32>?,
                           _ offsets: UnsafeMutablePointer<Int64>?, _ capacity: Int, _ nTokens: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_encode") {
        let t = try tokenizer(tok)
        var (o, _) = try encodeOptions(params, for: t)
        let nTokens = try require(nTokens, "n_tokens")
        guard len >= 0, len < maxElements else { throw DNABertError.invalidArgument("len is out of range") }
        guard capacity >= 0 else { throw DNABertError.invalidArgument("capacity is negative") }
        if len > 0 { _ = try require(seq, "seq") }
        if capacity > 0 { _ = try require(ids, "ids") }
        o.withOffsets = offsets != nil
        let bytes = UnsafeBufferPointer(start: seq.map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) },
                                        count: seq == nil ? 0 : len)
        let e = t.encode(bytes, options: o)
        nTokens.pointee = e.ids.count
        guard e.ids.count <= capacity else {
            throw DNABertError(.bufferTooSmall, "capacity \(capacity) is too small: \(e.ids.count) tokens")
        }
        if let ids { e.ids.withUnsafeBufferPointer { ids.update(from: $0.baseAddress!, count: $0.count) } }
        if let offsets, !e.offsets.isEmpty { e.offsets.withUnsafeBufferPointer { offsets.update(from: $0.baseAddress!, count: $0.count) } }
    }
}

@_cdecl("dnabert_encode_batch")
public func dnabert_encode_batch(_ tok: OpaquePointer?, _ seqs: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?,
                                 _ n: Int, _ params: UnsafePointer<dnabert_encode_params>?, _ ids: UnsafeMutablePointer<Int32>?,
                                 _ offsets: UnsafeMutablePointer<Int64>?, _ capacity: Int,
                                 _ rowStarts: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("dnabert_encode_batch") {
        let t = try tokenizer(tok)
        var (o, threads) = try encodeOptions(params, for: t)
        guard n >= 0, n < maxElements else { throw DNABertError.invalidArgument("n is out of range") }
        let rowStarts = try require(rowStarts, "row_starts")
        guard capacity >= 0 else { throw DNABertError.invalidArgument("capacity is negative") }
        if capacity > 0 { _ = try require(ids, "ids") }
        let buffers = try byteBuffers(seqs, lens, n)
        o.withOffsets = offsets != nil
        let encodings = t.encodeBatch(buffers, options: o, threads: threads)
        var total: Int64 = 0
        rowStarts[0] = 0
        for (i, e) in encodings.enumerated() {
            total += Int64(e.ids.count)
            rowStarts[i + 1] = total
        }
        guard total <= Int64(capacity) else {
            throw DNABertError(.bufferTooSmall, "capacity \(capacity) is too small: \(total) tokens in all")
        }
        guard let ids else { return }
        for (i, e) in encodings.enumerated() where !e.ids.isEmpty {
            let start = Int(rowStarts[i])
            e.ids.withUnsafeBufferPointer { (ids + start).update(from: $0.baseAddress!, count: $0.count) }
            if let offsets, !e.offsets.isEmpty {
                e.offsets.withUnsafeBufferPointer { (offsets + 2 * start).update(from: $0.baseAddress!, count: $0.count) }
            }
        }
    }
}

@_cdecl("dnabert_encode_batch_padded")
public func dnabert_encode_batch_padded(_ tok: OpaquePointer?, _ seqs: UnsafePointer<UnsafePointer<CChar>?>?,
                                        _ lens: UnsafePointer<Int>?, _ n: Int,
                                        _ params: UnsafePointer<dnabert_encode_params>?, _ rowLen: Int,
                                        _ ids: UnsafeMutablePointer<Int32>?, _ mask: UnsafeMutablePointer<Int32>?,
                                        _ lengths: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("dnabert_encode_batch_padded") {
        let t = try tokenizer(tok)
        var (o, threads) = try encodeOptions(params, for: t)
        guard n >= 0, n < maxElements else { throw DNABertError.invalidArgument("n is out of range") }
        guard rowLen > 0, rowLen <= Int(Int32.max) else { throw DNABertError.invalidArgument("row_len must be in 1...\(Int32.max), got \(rowLen)") }
        guard n.multipliedReportingOverflow(by: rowLen).partialValue < maxElements,
              !n.multipliedReportingOverflow(by: rowLen).overflow else { throw DNABertError.invalidArgument("n * row_len is too large") }
        if n == 0 { return }
        let ids = try require(ids, "ids")
        let buffers = try byteBuffers(seqs, lens, n)
        o.maxLength = o.maxLength > 0 ? min(o.maxLength, rowLen) : rowLen
        try checkRoomForSpecials(o, t)
        o.withOffsets = false
        guard let pad = t.padId else {
            throw DNABertError.invalidArgument("the tokenizer defines no [PAD] token, so it cannot pad")
        }
        let encodings = t.encodeBatch(buffers, options: o, threads: threads)
        for (i, e) in encodings.enumerated() {
            let row = ids + i * rowLen
            let k = min(e.ids.count, rowLen)
            for j in 0..<k { row[j] = e.ids[j] }
            for j in k..<rowLen { row[j] = pad }
            if let mask {
                let m = mask + i * rowLen
                for j in 0..<rowLen { m[j] = j < k ? 1 : 0 }
            }
            lengths?[i] = Int32(k)
        }
    }
}

@_cdecl("dnabert_decode")
public func dnabert_decode(_ tok: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ n: Int, _ skipSpecial: Int32,
                           _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int, _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_decode") {
        let t = try tokenizer(tok)
        guard n >= 0, n < maxElements else { throw DNABertError.invalidArgument("n is out of range") }
        if n > 0 { _ = try require(ids, "ids") }
        _ = try require(len, "len")
        let s = try t.decode(UnsafeBufferPointer(start: ids, count: ids == nil ? 0 : n), skipSpecialTokens: skipSpecial != 0)
        try copyOut(s, buf, cap, len)
    }
}
