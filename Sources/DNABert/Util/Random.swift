#if canImport(Glibc)
import Glibc
#endif

// Every random number of the library comes from here: `Xoshiro256` (model and head initialisation, the
// fine-tuner's shuffling, the seeds of dropout masks), `TrainingRNG` (its savable form for the training data
// pipeline) and `DropoutMask` (a counter-based hash, so a backward pass regenerates a forward's mask).

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
struct Xoshiro256 {
    var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in (0, 1].
    @inline(__always)
    mutating func nextUniform() -> Double { Double((next() >> 11) + 1) * 0x1.0p-53 }

    mutating func nextNormalPair() -> (Double, Double) {
        let u1 = nextUniform(), u2 = nextUniform()
        let r = (-2 * Glibc.log(u1)).squareRoot()
        let th = 2 * Double.pi * u2
        return (r * Glibc.cos(th), r * Glibc.sin(th))
    }
}

/// The seeded generator of the training pipeline (window sampling, masking, augmentation):
/// xoshiro256** seeded through splitmix64 (the library's `Xoshiro256`), with a state that can be saved and
/// restored exactly, so a resumed run draws the same numbers as an uninterrupted one.
public struct TrainingRNG: Sendable, Equatable {
    var core: Xoshiro256

    public init(seed: UInt64) { core = Xoshiro256(seed: seed) }

    /// Restores a generator from `state` (four words, not all zero).
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw DNABertError.invalidArgument("RNG state: expected four 64-bit words, not all zero, got \(state.count) word(s)")
        }
        core = Xoshiro256(seed: 0)
        core.s = (state[0], state[1], state[2], state[3])
    }

    /// The four state words.
    public var state: [UInt64] { [core.s.0, core.s.1, core.s.2, core.s.3] }

    public static func == (a: TrainingRNG, b: TrainingRNG) -> Bool { a.state == b.state }

    @inline(__always)
    public mutating func next() -> UInt64 { core.next() }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextDouble() -> Double { Double(core.next() >> 11) * 0x1.0p-53 }

    /// Uniform in 0..<n without modulo bias (Lemire's multiply-and-reject). `n` must be positive.
    @inline(__always)
    public mutating func nextInt(below n: Int) -> Int {
        guard n > 1 else { return 0 }
        let bound = UInt64(n)
        var m = core.next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = core.next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// The state as JSON (hex strings: JSON numbers cannot hold 64-bit words exactly).
    public var json: JSONValue { .array(state.map { .string(String($0, radix: 16)) }) }

    public init(json: JSONValue) throws {
        guard let a = json.arrayValue else { throw DNABertError.format("RNG state: expected an array of four hex strings") }
        var words: [UInt64] = []
        for v in a {
            guard let s = v.stringValue, let w = UInt64(s, radix: 16) else {
                throw DNABertError.format("RNG state: expected hex strings, got \(JSON.serialize(v))")
            }
            words.append(w)
        }
        do { try self.init(state: words) } catch let e as DNABertError { throw DNABertError.format(e.message) }
    }
}

/// Inverted dropout whose mask is a pure function of (key, element index), so the backward pass regenerates
/// it instead of storing it: keep element i iff hash(key, i) ≥ p·2^24; kept values are scaled by 1/(1 − p).
struct DropoutMask {
    let key: UInt64
    let threshold: UInt64
    let scale: Float
    let active: Bool

    init(p: Double, key: UInt64) {
        self.key = key
        active = p > 0
        threshold = UInt64((min(max(p, 0), 1) * Double(1 << 24)).rounded())
        scale = p < 1 ? Float(1 / (1 - p)) : 0
    }

    @inline(__always)
    func factor(_ i: Int) -> Float {
        var z = key &+ UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (z >> 40) >= threshold ? scale : 0
    }

    /// x[r·ld + j] *= factor(global index (row0 + r)·cols + j) for the given rows.
    func apply(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Range<Int>, cols: Int, rowBase: Int = 0) {
        if !active { return }
        for r in rows {
            let row = x + (r - rowBase) * ld
            let base = r * cols
            for j in 0..<cols { row[j] *= factor(base + j) }
        }
    }
}

/// The keys of the dropout masks of one training call: a pure function of (seed, call counter, site), so
/// a resumed run draws the masks an uninterrupted one would have.
enum DropoutKeys {
    /// Hidden dropout at `site` of `layer` (−1: the embeddings; numLayers: the classifier head).
    static func hidden(seed: UInt64, call: UInt64, layer: Int, site: Int) -> UInt64 {
        var rng = Xoshiro256(seed: seed ^ (call &* 0xD6E8_FEB8_6659_FD93) ^ UInt64(truncatingIfNeeded: layer &* 4 &+ site &+ 8) &* 0x2545_F491_4F6C_DD1D)
        return rng.next()
    }

    /// LoRA dropout on the input of the adapter of `target` in `layer`.
    static func lora(seed: UInt64, call: UInt64, layer: Int, target: Int) -> UInt64 {
        var rng = Xoshiro256(seed: seed ^ 0x5EED_10AA ^ (call &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: layer &* 8 &+ target &+ 1) &* 0xBF58_476D_1CE4_E5B9)
        return rng.next()
    }
}
