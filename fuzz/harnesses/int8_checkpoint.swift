// libFuzzer harness: an int8 model.safetensors (I8 weights, `_scale` and `_smooth` side tensors, the
// `dnabert_precision` metadata) in a folder beside the LoRA fixture's config.json (hidden 48, 2 layers, a
// classifier). A folder that loads must be an int8 model whose forward runs: hidden states of two short sequences
// of the right size, every value finite or the load refused. Seeds: the fixture's base weights quantized
// (`dnabert model quantize`), the saved int8 layout as dnabert writes it.
#if canImport(Glibc)
import Glibc
#endif
import DNABert

private let folder: String = {
    let dir = Fuzz.scratch + "/int8-model"
    mkdir(dir, 0o700)
    let bytes: [UInt8]
    do { bytes = try FileIO.read(Fuzz.repositoryRoot + "/Tests/DNABertTests/Fixtures/lora/config.json") } catch {
        fatalError("fuzz: cannot read the fixture's config.json: \(error)")
    }
    bytes.withUnsafeBytes { Fuzz.write(dir + "/config.json", $0) }
    return dir
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let dir = folder
    Fuzz.write(dir + "/model.safetensors", UnsafeRawBufferPointer(start: size > 0 ? UnsafeRawPointer(data) : nil, count: size))
    guard let p = Fuzz.attempt("int8 model folder", { try PretrainedModel.load(directory: dir) }) else { return 0 }
    let m = p.model
    let ids: [Int32] = [1, 5, 9, 2, 1, 7, 2, 0]
    let mask: [Int32] = [1, 1, 1, 1, 1, 1, 1, 0]
    if let out = try? ids.withUnsafeBufferPointer({ i in
        try mask.withUnsafeBufferPointer { mk in try m.forward(ids: i, batch: 2, length: 4, attentionMask: mk) }
    }) {
        Fuzz.require(out.lastHidden.count == 8 * m.config.hiddenSize, "\(out.lastHidden.count) hidden values for 8 positions")
    }
    return 0
}
