// libFuzzer harness: the BPE tokenizer trainer on in-memory sequences (what dnabert_tokenizer_train_from_sequences
// reaches). The first four bytes choose the options (vocabulary size 9–264, min frequency, max token length,
// word length, case and non-ACGT policies); the rest is split at NUL bytes into sequences. One thread (the
// machine running the fuzzer is shared; thread interleavings are the C tests' business).
// Properties on success: the result builds a tokenizer (Tokenizer.dnabertStyle) of at most vocabSize tokens,
// no merged token is longer than maxTokenLength, and encoding the training sequences gives ids below vocabSize.
import DNABert

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 4 else { return 0 }
    var o = BPETrainerOptions()
    o.vocabSize = 9 + Int(data[0])
    o.minFrequency = Int(data[1] & 3)
    let mtl = Int((data[1] >> 2) & 7)
    o.maxTokenLength = mtl == 0 ? 0 : mtl + 1
    o.wordLength = 2 + Int(data[2] & 63)
    o.casePolicy = data[3] & 1 == 0 ? .upper : .keep
    o.nonACGT = data[3] & 2 == 0 ? .split : .keep
    o.threads = 1
    let body = UnsafeBufferPointer(start: data + 4, count: size - 4)
    var seqs: [UnsafeBufferPointer<UInt8>] = []
    var start = 0
    for i in 0...body.count where i == body.count || body[i] == 0 {
        seqs.append(UnsafeBufferPointer(rebasing: body[start..<i]))
        start = i + 1
    }
    guard let trained = Fuzz.attempt("training", { try BPETrainer.train(sequences: seqs, options: o) }) else { return 0 }
    if o.maxTokenLength > 0 {
        for (a, b) in trained.merges {
            Fuzz.require(a.utf8.count + b.utf8.count <= o.maxTokenLength, "merge '\(a)' '\(b)' is longer than \(o.maxTokenLength)")
        }
    }
    let tok: Tokenizer
    do { tok = try Tokenizer.dnabertStyle(alphabet: trained.alphabet, merges: trained.merges) } catch {
        Fuzz.require(false, "the trainer's result does not build a tokenizer: \(error)")
        return 0
    }
    Fuzz.require(tok.vocabSize <= o.vocabSize, "\(tok.vocabSize) tokens for vocabSize \(o.vocabSize)")
    var eo = EncodeOptions()
    eo.uppercase = o.casePolicy == .upper
    eo.withOffsets = false
    for s in seqs {
        for id in tok.encode(s, options: eo).ids {
            Fuzz.require(id >= 0 && Int(id) < tok.vocabSize, "id \(id) outside [0, \(tok.vocabSize))")
        }
    }
    return 0
}
