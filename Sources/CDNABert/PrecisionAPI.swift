import CDNABertABI
import DNABert
#if canImport(Glibc)
import Glibc
#endif

// C exports for reduced precision: quantizing a model, and the int8 linear alone (for tests and benchmarks).

@_cdecl("dnabert_model_quantize")
public func dnabert_model_quantize(_ m: OpaquePointer?, _ precision: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_model_quantize") {
        out?.pointee = nil
        let p = try HandleRegistry.shared.object(m, as: PretrainedModel.self, name: "model")
        let out = try require(out, "out")
        let target = try Precision(code: precision)
        out.pointee = HandleRegistry.shared.box(PretrainedModel(model: try p.model.quantized(to: target), tokenizer: p.tokenizer))
    }
}

@_cdecl("dnabert_int8_kernel")
public func dnabert_int8_kernel() -> UnsafePointer<CChar> {
    switch Int8Kernel.current {
    case .avx512vnni: return UnsafePointer(kernelNames.vnni)
    case .avx2: return UnsafePointer(kernelNames.avx2)
    case .generic: return UnsafePointer(kernelNames.generic)
    }
}

@_cdecl("dnabert_int8_attention")
public func dnabert_int8_attention() -> UnsafePointer<CChar> {
    switch FlashAttention.int8TileProducts {
    case .bf16: return UnsafePointer(kernelNames.bf16)
    case .float32: return UnsafePointer(kernelNames.float32)
    }
}

/// Static C strings for `dnabert_int8_kernel` and `dnabert_int8_attention` (never freed).
private enum kernelNames {
    static let bf16: UnsafeMutablePointer<CChar> = strdup("bf16")!
    static let float32: UnsafeMutablePointer<CChar> = strdup("float32")!
    static let vnni: UnsafeMutablePointer<CChar> = strdup("avx512vnni")!
    static let avx2: UnsafeMutablePointer<CChar> = strdup("avx2")!
    static let generic: UnsafeMutablePointer<CChar> = strdup("generic")!
}

@_cdecl("dnabert_int8_linear")
public func dnabert_int8_linear(_ x: UnsafePointer<Float>?, _ rows: Int, _ inFeatures: Int, _ w: UnsafePointer<Float>?,
                                _ outFeatures: Int, _ bias: UnsafePointer<Float>?, _ threads: Int32, _ repeats: Int32,
                                _ y: UnsafeMutablePointer<Float>?, _ seconds: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded("dnabert_int8_linear") {
        try int8Linear(x, rows, inFeatures, w, outFeatures, nil, bias, threads, repeats, y, seconds)
    }
}

@_cdecl("dnabert_int8_linear_smoothed")
public func dnabert_int8_linear_smoothed(_ x: UnsafePointer<Float>?, _ rows: Int, _ inFeatures: Int, _ w: UnsafePointer<Float>?,
                                         _ outFeatures: Int, _ smooth: UnsafePointer<Float>?, _ bias: UnsafePointer<Float>?,
                                         _ threads: Int32, _ repeats: Int32, _ y: UnsafeMutablePointer<Float>?,
                                         _ seconds: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded("dnabert_int8_linear_smoothed") {
        try int8Linear(x, rows, inFeatures, w, outFeatures, smooth, bias, threads, repeats, y, seconds)
    }
}

private func int8Linear(_ x: UnsafePointer<Float>?, _ rows: Int, _ inFeatures: Int, _ w: UnsafePointer<Float>?,
                        _ outFeatures: Int, _ smooth: UnsafePointer<Float>?, _ bias: UnsafePointer<Float>?, _ threads: Int32,
                        _ repeats: Int32, _ y: UnsafeMutablePointer<Float>?, _ seconds: UnsafeMutablePointer<Double>?) throws {
    let x = try require(x, "x"), w = try require(w, "w"), y = try require(y, "y")
    guard rows >= 1, rows <= 1 << 20, inFeatures >= 1, inFeatures <= 1 << 16, outFeatures >= 1, outFeatures <= 1 << 16 else {
        throw DNABertError.invalidArgument("int8 linear: rows must be in 1...2^20 and features in 1...65536 (got \(rows), \(inFeatures), \(outFeatures))")
    }
    guard threads >= 0, threads <= 1024, repeats >= 1, repeats <= 10_000 else {
        throw DNABertError.invalidArgument("int8 linear: threads must be in 0...1024 and repeats in 1...10000")
    }
    let q = try Int8Matrix(quantizing: w, out: outFeatures, in: inFeatures, smooth: smooth)
    var best = Double.infinity
    for _ in 0..<Int(repeats) {
        let t0 = Clock.now()
        Linear.forward(x: x, ldx: inFeatures, rows: rows, inFeatures: inFeatures, weight: w, outFeatures: outFeatures,
                       bias: bias, y: y, ldy: outFeatures, threads: Int(threads), quantized: q)
        best = min(best, Clock.now() - t0)
    }
    seconds?.pointee = best
}
