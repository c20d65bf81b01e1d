import CInt8Kernels
import DNABertAVX512
import DNABertAVX2
#if canImport(Glibc)
import Glibc
#endif

/// GELU (exact erf form, as DNABERT-2's `hidden_act: "gelu"`) and the GEGLU gate of its MLP, forwards and
/// backwards (SIMD row kernels in Kernels/SIMDKernels.swift and SIMDBackwardKernels.swift).
public enum Activations {
    /// In place: x = GELU(x) for `count` floats.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        SIMDPath.gelu(x, count)
    }

    /// GEGLU over `rows` rows of `h` laid out [rows, 2·inner] with row stride `ld` (≥ 2·inner):
    /// out[r, j] = GELU(h[r, j]) · h[r, inner + j], written to `out` (row stride `ldo`). `out` may equal `h`
    /// (the gate overwrites the first half in place, which the next matmul reads with stride `ld`).
    public static func geglu(_ h: UnsafePointer<Float>, ld: Int, rows: Int, inner: Int,
                             out: UnsafeMutablePointer<Float>, ldo: Int) {
        SIMDPath.geglu(h, ld, rows, inner, out, ldo)
    }

    /// GEGLU as int8 models' inference computes it (`dnabert_i8_geglu_rows`, Sources/CInt8Kernels/geglu_quantize.c):
    /// GELU's erf as a rational function (|error| ≤ 3.5e-7 against `geglu`'s 1.5e-7, no exp: about a third less
    /// time), the same bits on every int8 kernel family. Its output goes to an 8-bit quantization next; float32
    /// models and all training keep `geglu`, whose derivative the backward uses. `out` may equal `h`.
    public static func int8GEGLU(_ h: UnsafePointer<Float>, ld: Int, rows: Int, inner: Int,
                                 out: UnsafeMutablePointer<Float>, ldo: Int) {
        dnabert_i8_geglu_rows(h, ld, rows, inner, nil, out, ldo, Int8Kernel.current.code)
    }

    /// d/dx [x·Φ(x)] = Φ(x) + x·φ(x) (exact erf GELU).
    @inline(__always)
    public static func geluDerivative(_ x: Float) -> Float {
        let xd = Double(x)
        let cdf = 0.5 * (1 + erf(xd * 0.7071067811865476))
        let pdf = 0.3989422804014327 * Glibc.exp(-0.5 * xd * xd)
        return Float(cdf + xd * pdf)
    }

    /// In place: d = d·GELU'(z) for `count` floats (SIMD; erf to 1.5e-7).
    public static func geluBackward(_ d: UnsafeMutablePointer<Float>, z: UnsafePointer<Float>, count: Int) {
        switch SIMDPath.current {
        case .avx512: DNABertAVX512.SIMDBackwardKernels.geluBackward(d, z, count)
        case .avx2: DNABertAVX2.SIMDBackwardKernels.geluBackward(d, z, count)
        case .baseline: SIMDBackwardKernels.geluBackward(d, z, count)
        }
    }

    /// GEGLU backward: h = [a | b] per row (stride `ld`), out = GELU(a)·b. Writes dh = [dOut·b·GELU'(a) | dOut·GELU(a)]
    /// (row stride `lddh`). `dOut` has row stride `ldo`.
    public static func gegluBackward(h: UnsafePointer<Float>, ld: Int, rows: Int, inner: Int, dOut: UnsafePointer<Float>, ldo: Int,
                                     dh: UnsafeMutablePointer<Float>, lddh: Int) {
        switch SIMDPath.current {
        case .avx512: DNABertAVX512.SIMDBackwardKernels.gegluBackward(h, ld, rows, inner, dOut, ldo, dh, lddh)
        case .avx2: DNABertAVX2.SIMDBackwardKernels.gegluBackward(h, ld, rows, inner, dOut, ldo, dh, lddh)
        case .baseline: SIMDBackwardKernels.gegluBackward(h, ld, rows, inner, dOut, ldo, dh, lddh)
        }
    }
}
