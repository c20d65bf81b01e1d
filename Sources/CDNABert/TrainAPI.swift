import CDNABertABI
import DNABert

// C exports of tokenizer training.

@_cdecl("dnabert_bpe_train_default_params")
public func dnabert_bpe_train_default_params() -> dnabert_bpe_train_params {
    let d = BPETrainerOptions()
    return dnabert_bpe_train_params(
        struct_size: UInt32(MemoryLayout<dnabert_bpe_train_params>.size), vocab_size: Int32(d.vocabSize),
        min_frequency: Int32(d.minFrequency), max_token_length: Int32(d.maxTokenLength), word_length: Int32(d.wordLength),
        case_policy: d.casePolicy.rawValue, non_acgt_policy: d.nonACGT.rawValue, n_threads: 0, max_bases: 0,
        progress: nil, progress_user_data: nil)
}

private func trainerOptions(_ p: UnsafePointer<dnabert_bpe_train_params>?) throws -> (BPETrainerOptions, ((TrainProgress) -> Bool)?) {
    let c = try readParams(p, defaults: dnabert_bpe_train_default_params(), name: "params")
    var o = BPETrainerOptions()
    o.vocabSize = Int(c.vocab_size)
    o.minFrequency = Int(c.min_frequency)
    o.maxTokenLength = Int(c.max_token_length)
    o.wordLength = Int(c.word_length)
    guard let cp = CasePolicy(rawValue: c.case_policy) else {
        throw DNABertError.invalidArgument("params.case_policy must be DNABERT_CASE_UPPER or DNABERT_CASE_KEEP, got \(c.case_policy)")
    }
    guard let np = NonACGTPolicy(rawValue: c.non_acgt_policy) else {
        throw DNABertError.invalidArgument("params.non_acgt_policy must be DNABERT_NONACGT_SPLIT or DNABERT_NONACGT_KEEP, got \(c.non_acgt_policy)")
    }
    guard c.n_threads >= 0 else { throw DNABertError.invalidArgument("params.n_threads must be >= 0") }
    guard c.max_bases >= 0 else { throw DNABertError.invalidArgument("params.max_bases must be >= 0") }
    o.casePolicy = cp
    o.nonACGT = np
    o.threads = Int(c.n_threads)
    o.maxBases = c.max_bases
    var callback: ((TrainProgress) -> Bool)? = nil
    if let fn = c.progress {
        let user = c.progress_user_data
        callback = { p in
            p.stage.withCString { stage in
                var cp = dnabert_progress(struct_size: UInt32(MemoryLayout<dnabert_progress>.size), stage: stage,
                                          current: p.current, total: p.total, elapsed_seconds: p.elapsedSeconds,
                                          eta_seconds: p.etaSeconds)
                return fn(user, &cp) == 0
            }
        }
    }
    return (o, callback)
}

@_cdecl("dnabert_tokenizer_train")
public func dnabert_tokenizer_train(_ paths: UnsafePointer<UnsafePointer<CChar>?>?, _ nPaths: Int,
                                    _ params: UnsafePointer<dnabert_bpe_train_params>?,
                                    _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_tokenizer_train") {
        out?.pointee = nil
        let out = try require(out, "out")
        guard nPaths > 0, nPaths < 1 << 24 else { throw DNABertError.invalidArgument("n_paths must be positive, got \(nPaths)") }
        let paths = try require(paths, "paths")
        var files: [String] = []
        for i in 0..<nPaths { files.append(try string(paths[i], "paths[\(i)]")) }
        let (o, cb) = try trainerOptions(params)
        let trained = try BPETrainer.train(files: files, options: o, progress: cb)
        out.pointee = HandleRegistry.shared.box(try Tokenizer.dnabertStyle(alphabet: trained.alphabet, merges: trained.merges))
    }
}

@_cdecl("dnabert_tokenizer_train_from_sequences")
public func dnabert_tokenizer_train_from_sequences(_ seqs: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?,
                                                   _ n: Int, _ params: UnsafePointer<dnabert_bpe_train_params>?,
                                                   _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_tokenizer_train_from_sequences") {
        out?.pointee = nil
        let out = try require(out, "out")
        guard n >= 0, n < maxElements else { throw DNABertError.invalidArgument("n is out of range") }
        let buffers = try byteBuffers(seqs, lens, n)
        let (o, cb) = try trainerOptions(params)
        let trained = try BPETrainer.train(sequences: buffers, options: o, progress: cb)
        out.pointee = HandleRegistry.shared.box(try Tokenizer.dnabertStyle(alphabet: trained.alphabet, merges: trained.merges))
    }
}

/// The 0.1 name of dnabert_bpe_train_default_params (same struct; kept for source and binary compatibility).
@_cdecl("dnabert_train_default_params")
public func dnabert_train_default_params() -> dnabert_bpe_train_params { dnabert_bpe_train_default_params() }
