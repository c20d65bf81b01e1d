// libFuzzer harness: a PEFT LoRA adapter folder, loaded onto a small base model (the LoRA test fixture).
#if canImport(Glibc)
import Glibc
#endif
// The input packs the folder's files, separated by the line "\n--dnabert-fuzz-file--\n":
//   adapter_config.json SEP adapter_model.safetensors [SEP dnabert_classifier.json]
// (an empty or missing part = the file is absent). A folder that loads is run once (logits of two short
// sequences), so tensor shapes accepted at load time are exercised by the forward pass.
import DNABert

private let separator = Array("\n--dnabert-fuzz-file--\n".utf8)
private let fileNames = [SequenceClassifier.adapterConfigName, SequenceClassifier.adapterWeightsName,
                         SequenceClassifier.extrasName]

private let base: PretrainedModel = {
    // The fixture's base weights are base.safetensors beside config.json: make a model folder of them.
    let fixture = Fuzz.repositoryRoot + "/Tests/DNABertTests/Fixtures/lora"
    let dir = Fuzz.scratch + "/base"
    mkdir(dir, 0o700)
    for (from, to) in [("config.json", "config.json"), ("base.safetensors", "model.safetensors")] {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(fixture + "/" + from) } catch { fatalError("fuzz: cannot read the fixture: \(error)") }
        bytes.withUnsafeBytes { Fuzz.write(dir + "/" + to, $0) }
    }
    do { return try PretrainedModel.load(directory: dir) } catch { fatalError("fuzz: cannot load the base model: \(error)") }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = base
    let dir = Fuzz.scratch + "/adapter"
    mkdir(dir, 0o700)
    let parts = Fuzz.split(data, size, separator: separator)
    for (i, name) in fileNames.enumerated() {
        if i < parts.count && (i < 2 || !parts[i].isEmpty) {
            Fuzz.write(dir + "/" + name, parts[i])
        } else {
            Fuzz.remove(dir + "/" + name)
        }
    }
    guard let clf = Fuzz.attempt("adapter folder", { try SequenceClassifier.load(directory: dir, base: b) }) else { return 0 }
    let ids: [Int32] = [1, 5, 9, 2, 1, 7, 2, 0]
    let mask: [Int32] = [1, 1, 1, 1, 1, 1, 1, 0]
    let n = clf.head.numLabels
    if let lg = try? ids.withUnsafeBufferPointer({ i in
        try mask.withUnsafeBufferPointer { m in try clf.logits(ids: i, batch: 2, length: 4, attentionMask: m, threads: 1) }
    }) {
        Fuzz.require(lg.count == 2 * n, "\(lg.count) logits for 2 sequences × \(n) labels")
    }
    return 0
}
