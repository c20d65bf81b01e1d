import CDNABertABI
import DNABert

// C exports of the encoder: dnabert_model_*, dnabert_forward*, dnabert_mlm_logits, dnabert_embed, BLAS info.

private func pretrained(_ h: OpaquePointer?) throws -> PretrainedModel {
    try HandleRegistry.shared.object(h, as: PretrainedModel.self, name: "model")
}

@_cdecl("dnabert_blas_info")
public func dnabert_blas_info(_ buf: UnsafeMutablePointer<CChar>?, _ cap: Int, _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_blas_info") {
        _ = try require(len, "len")
        try BLAS.ensureLoaded()
        try copyOut(BLAS.info.description, buf, cap, len)
    }
}

@_cdecl("dnabert_model_load")
public func dnabert_model_load(_ dir: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_model_load") {
        out?.pointee = nil
        let dir = try string(dir, "dir")
        let out = try require(out, "out")
        out.pointee = HandleRegistry.shared.box(try PretrainedModel.load(directory: dir))
    }
}

@_cdecl("dnabert_model_create")
public func dnabert_model_create(_ json: UnsafePointer<CChar>?, _ len: Int, _ tok: OpaquePointer?, _ seed: UInt64,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_model_create") {
        out?.pointee = nil
        let out = try require(out, "out")
        let json = try require(json, "config_json")
        guard len > 0, len < 1 << 26 else { throw DNABertError.invalidArgument("len must be in 1..<64 MiB, got \(len)") }
        let value = try JSON.parse(bytes: UnsafeRawBufferPointer(start: json, count: len))
        let config = try ModelConfig(json: value)
        let tokenizer = tok == nil ? nil : try HandleRegistry.shared.object(tok, as: Tokenizer.self, name: "tok")
        out.pointee = HandleRegistry.shared.box(try PretrainedModel.random(config: config, tokenizer: tokenizer, seed: seed))
    }
}

@_cdecl("dnabert_model_save")
public func dnabert_model_save(_ m: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> Int32 {
    guarded("dnabert_model_save") {
        try pretrained(m).save(directory: try string(dir, "dir"))
    }
}

@_cdecl("dnabert_model_free")
public func dnabert_model_free(_ m: OpaquePointer?) {
    HandleRegistry.shared.free(m, as: PretrainedModel.self)
}

@_cdecl("dnabert_model_get_info")
public func dnabert_model_get_info(_ m: OpaquePointer?, _ out: UnsafeMutablePointer<dnabert_model_info>?) -> Int32 {
    guarded("dnabert_model_get_info") {
        let p = try pretrained(m)
        let c = p.model.config, l = p.model.layout
        try writeResult(dnabert_model_info(
            struct_size: structSize(dnabert_model_info.self), vocab_size: Int32(c.vocabSize), hidden_size: Int32(c.hiddenSize), num_layers: Int32(c.numLayers),
            num_heads: Int32(c.numHeads), intermediate_size: Int32(c.intermediateSize),
            num_labels: Int32(l.hasClassifier ? c.numLabels : 0), has_mlm_head: l.hasMLMHead ? 1 : 0,
            has_pooler: l.hasPooler ? 1 : 0, has_tokenizer: p.tokenizer == nil ? 0 : 1, num_parameters: Int64(l.parameterCount),
            precision: p.model.precision.code), to: out, name: "out")
    }
}

@_cdecl("dnabert_model_config_json")
public func dnabert_model_config_json(_ m: OpaquePointer?, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int,
                                      _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded("dnabert_model_config_json") {
        let p = try pretrained(m)
        _ = try require(len, "len")
        try copyOut(JSON.serialize(p.model.config.jsonValue(), indent: 2), buf, cap, len)
    }
}

@_cdecl("dnabert_model_tokenizer")
public func dnabert_model_tokenizer(_ m: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_model_tokenizer") {
        out?.pointee = nil
        let p = try pretrained(m)
        let out = try require(out, "out")
        guard let t = p.tokenizer else { throw DNABertError.notFound("the model has no tokenizer.json") }
        out.pointee = HandleRegistry.shared.box(t)
    }
}

@_cdecl("dnabert_forward_default_params")
public func dnabert_forward_default_params() -> dnabert_forward_params {
    dnabert_forward_params(struct_size: UInt32(MemoryLayout<dnabert_forward_params>.size), n_threads: 0)
}

/// Validated (ids, mask) views of a batch × length call.
private func batchInputs(_ ids: UnsafePointer<Int32>?, _ mask: UnsafePointer<Int32>?, _ batch: Int, _ length: Int)
    throws -> (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>?) {
    guard batch > 0, length > 0 else { throw DNABertError.invalidArgument("batch and length must be positive, got \(batch) x \(length)") }
    let (n, o) = batch.multipliedReportingOverflow(by: length)
    guard !o, n < 1 << 31 else { throw DNABertError.invalidArgument("batch x length is too large") }
    let ids = try require(ids, "ids")
    return (UnsafeBufferPointer(start: ids, count: n), mask.map { UnsafeBufferPointer(start: $0, count: n) })
}

func forwardOptions(_ p: UnsafePointer<dnabert_forward_params>?) throws -> ForwardOptions {
    let c = try readParams(p, defaults: dnabert_forward_default_params(), name: "params")
    guard c.n_threads >= 0 else { throw DNABertError.invalidArgument("params.n_threads must be >= 0") }
    var o = ForwardOptions()
    o.threads = Int(c.n_threads)
    return o
}

private func copy(_ src: [Float], to dst: UnsafeMutablePointer<Float>) {
    src.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: $0.count) }
}

@_cdecl("dnabert_forward")
public func dnabert_forward(_ m: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ mask: UnsafePointer<Int32>?, _ batch: Int,
                            _ length: Int, _ params: UnsafePointer<dnabert_forward_params>?,
                            _ hidden: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("dnabert_forward") {
        let p = try pretrained(m)
        let (ib, mb) = try batchInputs(ids, mask, batch, length)
        let hidden = try require(hidden, "hidden")
        let out = try p.model.forward(ids: ib, batch: batch, length: length, attentionMask: mb, options: try forwardOptions(params))
        copy(out.lastHidden, to: hidden)
    }
}

@_cdecl("dnabert_forward_all_hidden")
public func dnabert_forward_all_hidden(_ m: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ mask: UnsafePointer<Int32>?,
                                       _ batch: Int, _ length: Int, _ params: UnsafePointer<dnabert_forward_params>?,
                                       _ hidden: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("dnabert_forward_all_hidden") {
        let p = try pretrained(m)
        let (ib, mb) = try batchInputs(ids, mask, batch, length)
        let hidden = try require(hidden, "hidden")
        var o = try forwardOptions(params)
        o.outputAllHiddenStates = true
        let out = try p.model.forward(ids: ib, batch: batch, length: length, attentionMask: mb, options: o)
        guard let all = out.allHidden else { throw DNABertError(.internal, "no hidden states returned") }
        var at = hidden
        for layer in all {
            copy(layer, to: at)
            at += layer.count
        }
    }
}

@_cdecl("dnabert_attention_map")
public func dnabert_attention_map(_ m: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ mask: UnsafePointer<Int32>?,
                                  _ batch: Int, _ length: Int, _ layer: Int32,
                                  _ params: UnsafePointer<dnabert_forward_params>?,
                                  _ probs: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("dnabert_attention_map") {
        let p = try pretrained(m)
        let (ib, mb) = try batchInputs(ids, mask, batch, length)
        let probs = try require(probs, "probs")
        var o = try forwardOptions(params)
        o.attentionMapLayer = Int(layer)
        let out = try p.model.forward(ids: ib, batch: batch, length: length, attentionMask: mb, options: o)
        guard let map = out.attentionMap else { throw DNABertError(.internal, "no attention map returned") }
        copy(map, to: probs)
    }
}

@_cdecl("dnabert_mlm_logits")
public func dnabert_mlm_logits(_ m: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ mask: UnsafePointer<Int32>?,
                               _ batch: Int, _ length: Int, _ params: UnsafePointer<dnabert_forward_params>?,
                               _ logits: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("dnabert_mlm_logits") {
        let p = try pretrained(m)
        let (ib, mb) = try batchInputs(ids, mask, batch, length)
        let logits = try require(logits, "logits")
        copy(try p.model.mlmLogits(ids: ib, batch: batch, length: length, attentionMask: mb,
                                   options: try forwardOptions(params)), to: logits)
    }
}

@_cdecl("dnabert_embed_default_params")
public func dnabert_embed_default_params() -> dnabert_embed_params {
    let d = EmbedOptions()
    return dnabert_embed_params(struct_size: UInt32(MemoryLayout<dnabert_embed_params>.size), pooling: d.pooling.rawValue,
                                max_length: Int32(d.maxLength), overlap: Int32(d.overlap), batch_size: Int32(d.batchSize),
                                uppercase: d.uppercase ? 1 : 0, n_threads: 0, progress: nil, progress_user_data: nil,
                                distributed: 0)
}

@_cdecl("dnabert_embed")
public func dnabert_embed(_ m: OpaquePointer?, _ seqs: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?,
                          _ n: Int, _ params: UnsafePointer<dnabert_embed_params>?, _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("dnabert_embed") {
        let p = try pretrained(m)
        guard n >= 0, n < 1 << 31 else { throw DNABertError.invalidArgument("n is out of range") }
        let c = try readParams(params, defaults: dnabert_embed_default_params(), name: "params")
        guard let pooling = Pooling(rawValue: c.pooling) else {
            throw DNABertError.invalidArgument("params.pooling must be DNABERT_POOL_MEAN or DNABERT_POOL_CLS, got \(c.pooling)")
        }
        var o = EmbedOptions()
        o.pooling = pooling
        o.maxLength = Int(c.max_length)
        o.overlap = Int(c.overlap)
        o.batchSize = Int(c.batch_size)
        o.uppercase = c.uppercase != 0
        o.threads = Int(c.n_threads)
        if n == 0 { return }
        let out = try require(out, "out")
        let buffers = try byteBuffers(seqs, lens, n)
        var callback: ((Int, Int) -> Bool)? = nil
        if let fn = c.progress {
            let user = c.progress_user_data
            let t0 = Clock.now()
            callback = { done, total in
                "embedding".withCString { stage in
                    let el = Clock.now() - t0
                    var pr = dnabert_progress(struct_size: UInt32(MemoryLayout<dnabert_progress>.size), stage: stage,
                                              current: Int64(done), total: Int64(total), elapsed_seconds: el,
                                              eta_seconds: done > 0 ? el / Double(done) * Double(total - done) : -1)
                    return fn(user, &pr) == 0
                }
            }
        }
        if c.distributed != 0 {
            let comm = try Communicator.world()
            guard let all = try DistributedEmbedding.embed(p, buffers, options: o, comm: comm, allRanks: true, progress: callback) else {
                throw DNABertError(.internal, "distributed embedding returned no rows")
            }
            copy(all, to: out)
        } else {
            copy(try p.embed(buffers, options: o, progress: callback), to: out)
        }
    }
}

@_cdecl("dnabert_convert_pytorch")
public func dnabert_convert_pytorch(_ bin: UnsafePointer<CChar>?, _ st: UnsafePointer<CChar>?) -> Int32 {
    guarded("dnabert_convert_pytorch") {
        let src = try string(bin, "bin_path"), dst = try string(st, "safetensors_path")
        _ = try PyTorchCheckpoint.convertToSafetensors(input: src, output: dst)
    }
}
