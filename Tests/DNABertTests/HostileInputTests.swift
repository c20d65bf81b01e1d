import Testing
@testable import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// Regression tests for issue 12: inputs a hostile caller or file can send. Each test failed (or crashed,
/// hung, or corrupted the heap) before its fix.
@Suite struct HostileInputTests {
    // MARK: 1 — BPE trainer corpus layout

    /// The corpus layout written by hand: barrier, each word of ≥ 2 bases (cut at non-ACGT bytes and every
    /// `wordLength` bases), barrier after each word.
    private func naiveLayout(_ s: String, wordLength: Int) -> [UInt32] {
        let barrier = UInt32(BPETrainer.barrier) | (1 << 16)
        let id: [UInt8: UInt32] = [65: 0, 67: 1, 71: 2, 84: 3]
        var out: [UInt32] = [barrier]
        var run: [UInt32] = []
        func flush() { if run.count >= 2 { out += run; out.append(barrier) }; run = [] }
        for b in s.utf8 {
            if let v = id[b] {
                run.append(v | (1 << 16))
                if run.count == wordLength { flush() }
            } else { flush() }
        }
        flush()
        return out
    }

    @Test(arguments: ["ACGTNA", "ACGT A", "ACGTNNNNA", "A", "AN", "NA", "ANA", "ACGTACGTA", "ACNGTNANCA", "AANAANA"])
    func corpusFillStaysInsideItsSizing(_ s: String) throws {
        var o = BPETrainerOptions()
        o.vocabSize = 20
        for wordLength in [2, 3, 4, BPETrainer.defaultWordLength] {
            let bytes = Array(s.utf8)
            let map: [Int32] = (0..<256).map { c in
                switch UInt8(c) { case 65: return 0; case 67: return 1; case 71: return 2; case 84: return 3; default: return -1 }
            }
            let expected = naiveLayout(s, wordLength: wordLength)
            try bytes.withUnsafeBufferPointer { p in
                let slots = BPETrainer.corpusSlots([p], map: map, wordLength: wordLength)
                #expect(slots == expected.count, "\(s) wordLength \(wordLength)")
                // Canary cells after the sized area must survive the fill.
                let canary: UInt32 = 0xDEAD_BEEF
                var cells = [UInt32](repeating: canary, count: slots + 8)
                let n = cells.withUnsafeMutableBufferPointer {
                    BPETrainer.fillCorpus([p], map: map, wordLength: wordLength,
                                          into: UnsafeMutableBufferPointer(rebasing: $0[0..<slots]))
                }
                #expect(n == slots)
                #expect(Array(cells[0..<slots]) == expected, "\(s) wordLength \(wordLength)")
                #expect(cells[slots...].allSatisfy { $0 == canary }, "fill wrote past its \(slots) cells for \(s)")
            }
        }
        // End to end (AddressSanitizer reports the old overflow here).
        _ = try Array(s.utf8).withUnsafeBufferPointer { p -> TrainedBPE? in
            do { return try BPETrainer.train(sequences: [p], options: o) } catch let e as DNABertError where e.kind == .invalidArgument { return nil }
        }
    }
}
