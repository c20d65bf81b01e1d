/// Fourth-order central differences (Richardson) of a float32-parameterised loss, and the error measure the
/// gradient tests use: truncation O(e⁴) allows a step large enough that float32 rounding of the loss stays small
/// after division. Steps should be exact in float32 (powers of two).
enum FiniteDifferences {
    /// d loss / d p[i], restoring p[i] afterwards.
    static func derivative(_ p: UnsafeMutableBufferPointer<Float>, _ i: Int, step e: Float,
                           _ loss: () throws -> Double) rethrows -> Double {
        let orig = p[i]
        func at(_ k: Float) throws -> Double { p[i] = orig + k * e; defer { p[i] = orig }; return try loss() }
        let d1 = try at(1) - at(-1), d2 = try at(2) - at(-2)
        return (8 * d1 - d2) / (12 * Double(e))
    }

    /// ‖analytic − fd‖ / (‖fd‖ + 1e-3).
    static func relativeError(_ analytic: [Double], _ fd: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for k in analytic.indices { num += (analytic[k] - fd[k]) * (analytic[k] - fd[k]); den += fd[k] * fd[k] }
        return num.squareRoot() / (den.squareRoot() + 1e-3)
    }
}
