/// GELU (exact erf form, as DNABERT-2's `hidden_act: "gelu"`) and the GEGLU gate of its MLP.
public enum Activations {
    /// In place: x = GELU(x) for `count` floats.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            VectorMath.store(VectorMath.gelu(VectorMath.load(x + i)), x + i)
            i += 8
        }
        if i < count {
            let n = count - i
            VectorMath.storePartial(VectorMath.gelu(VectorMath.loadPartial(x + i, n)), x + i, n)
        }
    }

    /// GEGLU over `rows` rows of `h` laid out [rows, 2·inner] with row stride `ld` (≥ 2·inner):
    /// out[r, j] = GELU(h[r, j]) · h[r, inner + j], written to `out` (row stride `ldo`). `out` may equal `h`
    /// (the gate overwrites the first half in place, which the next matmul reads with stride `ld`).
    public static func geglu(_ h: UnsafePointer<Float>, ld: Int, rows: Int, inner: Int,
                             out: UnsafeMutablePointer<Float>, ldo: Int) {
        for r in 0..<rows {
            let a = h + r * ld, b = a + inner, o = out + r * ldo
            var j = 0
            while j + 8 <= inner {
                VectorMath.store(VectorMath.gelu(VectorMath.load(a + j)) * VectorMath.load(b + j), o + j)
                j += 8
            }
            if j < inner {
                let n = inner - j
                let v = VectorMath.gelu(VectorMath.loadPartial(a + j, n)) * VectorMath.loadPartial(b + j, n)
                VectorMath.storePartial(v, o + j, n)
            }
        }
    }
}
