// libFuzzer harness: pytorch_model.bin (ZIP container, ZIP64, stored and deflated entries, the restricted
// pickle VM, storages, strides), every tensor converted to Float32.
import DNABert

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = Fuzz.file("pytorch_model.bin", data, size)
    guard let tensors = Fuzz.attempt("pytorch_model.bin", { try PyTorchCheckpoint.open(path: path) }) else { return 0 }
    for t in tensors {
        Fuzz.require(t.count == t.shape.reduce(1, *), "tensor \(t.name): count \(t.count) for shape \(t.shape)")
        _ = try? t.load()
    }
    return 0
}
