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
