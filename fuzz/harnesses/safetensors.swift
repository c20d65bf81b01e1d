// libFuzzer harness: a .safetensors file (header JSON, dtypes, shapes, offsets), every tensor converted to
// Float32, and the metadata.
import DNABert

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = Fuzz.file("model.safetensors", data, size)
    _ = try? Safetensors.readMetadata(path: path)
    guard let tensors = Fuzz.attempt("safetensors", { try Safetensors.open(path: path) }) else { return 0 }
    for t in tensors {
        Fuzz.require(t.count == t.shape.reduce(1, *), "tensor \(t.name): count \(t.count) for shape \(t.shape)")
        // A tensor's bytes lie inside the file, so no accepted tensor can hold more values than the file bytes.
        Fuzz.require(t.count <= size, "tensor \(t.name): \(t.count) values from a \(size)-byte file")
        _ = try? t.load()
    }
    return 0
}
