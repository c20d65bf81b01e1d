/// GELU (exact erf form, as DNABERT-2's `hidden_act: "gelu"`) and the GEGLU gate of its MLP.
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
}
