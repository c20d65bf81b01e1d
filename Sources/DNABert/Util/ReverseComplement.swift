/// Reverse complements of DNA text with the IUPAC codes: A↔T, C↔G, R↔Y, K↔M, B↔V, D↔H; S, W, N and other
/// bytes (gaps, unknown letters) stay as they are. Lower case stays lower case; U (RNA) pairs with A.
public enum ReverseComplement {
    /// The complement of one ASCII byte.
    public static let table: [UInt8] = {
        var t = (0..<256).map { UInt8($0) }
        let pairs: [(Character, Character)] = [("A", "T"), ("C", "G"), ("R", "Y"), ("K", "M"), ("B", "V"), ("D", "H")]
        for (a, b) in pairs {
            for (x, y) in [(a, b), (Character(a.lowercased()), Character(b.lowercased()))] {
                t[Int(x.asciiValue!)] = y.asciiValue!
                t[Int(y.asciiValue!)] = x.asciiValue!
            }
        }
        t[Int(Character("U").asciiValue!)] = Character("A").asciiValue!
        t[Int(Character("u").asciiValue!)] = Character("a").asciiValue!
        return t
    }()

    @inline(__always) public static func complement(_ b: UInt8) -> UInt8 { table[Int(b)] }

    /// The reverse complement of a sequence. (Non-ASCII text is not DNA: its bytes are reversed like the rest.)
    public static func of(_ s: String) -> String {
        var u = Array(s.utf8)
        let n = u.count
        u.withUnsafeMutableBufferPointer { p in
            var i = 0, j = n - 1
            while i < j {
                let a = table[Int(p[i])], b = table[Int(p[j])]
                p[i] = b; p[j] = a
                i += 1; j -= 1
            }
            if i == j { p[i] = table[Int(p[i])] }
        }
        return String(decoding: u, as: UTF8.self)
    }
}
