import Testing
@testable import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// Throughput probe, run by hand (not part of the suite):
///   python3 -c "import gzip; print(''.join(l.strip() for l in gzip.open('../shared/data/genomes/ecoli_k12_mg1655.fasta.gz', 'rt') if l[0] != '>'))" > /tmp/ecoli.txt
///   DNABERT_PERF=/tmp/ecoli.txt swift test -c release -Xswiftc -enable-testing --filter TokenizerPerfProbe
/// Prints Mbp/s for batches of 1 kbp windows on 1 and 2 threads and single 1 Mbp / 5 Mbp strings.
@Suite struct TokenizerPerfProbe {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    static func cpu() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Best wall time of `reps` runs; also prints the CPU time of that run (robust on a loaded machine).
    static func best(_ reps: Int, _ f: () -> Void) -> Double {
        var b = Double.infinity, bc = 0.0
        for _ in 0..<reps {
            let t = now(), c = cpu()
            f()
            let w = now() - t
            if w < b { b = w; bc = cpu() - c }
        }
        lastCPU = bc
        return b
    }
    nonisolated(unsafe) static var lastCPU = 0.0

    @Test(.enabled(if: getenv("DNABERT_PERF") != nil, "measurement probe: set DNABERT_PERF to a file of bases"))
    func throughput() throws {
        let path = String(cString: getenv("DNABERT_PERF")!)
        let seq = try FileIO.read(path).filter { $0 != 10 }
        let t = try Tokenizer(contentsOfFile: TokenizerFixtures.dnabertPath)
        let total = min(2_000_000, seq.count)
        let windows = stride(from: 0, to: total - 999, by: 1000).map { Array(seq[$0..<($0 + 1000)]) }
        var o = EncodeOptions()
        for offsets in [true, false] {
            o.withOffsets = offsets
            for threads in [1, 2] {
                let s = withBuffers(windows) { bufs in Self.best(3) { _ = t.encodeBatch(bufs, options: o, threads: threads) } }
                print("batch 1kbp x\(windows.count) threads \(threads) offsets \(offsets): \(Double(windows.count * 1000) / s / 1e6) Mbp/s wall, \(Double(windows.count * 1000) / Self.lastCPU / 1e6) Mbp/s per CPU-second")
            }
        }
        o.withOffsets = true
        let sc = withBuffers(windows) { bufs in Self.best(3) { for b in bufs { _ = t.encode(b, options: o) } } }
        print("one encode call per 1kbp window: \(Double(windows.count * 1000) / sc / 1e6) Mbp/s wall, \(Double(windows.count * 1000) / Self.lastCPU / 1e6) Mbp/s per CPU-second")
        for n in [min(1_000_000, seq.count), seq.count] {
            let part = Array(seq[0..<n])
            var count = 0
            let s = part.withUnsafeBufferPointer { b in Self.best(2) { count = t.encode(b, options: o).ids.count } }
            print("single \(Double(n) / 1e6) Mbp: \(Double(n) / s / 1e6) Mbp/s wall, \(Double(n) / Self.lastCPU / 1e6) Mbp/s per CPU-second (\(count) tokens)")
        }
        #expect(total > 0)
    }
}

/// Exhaustive comparison helper, run by hand with tools/reference/compare_tokenizer_exhaustive.py:
/// DNABERT_EXHAUSTIVE=in.txt:out.bin[:tokenizer.json] encodes each line of in.txt (with specials, with
/// offsets; DNABERT-2's tokenizer unless another is given) and writes,
/// per line, Int32 count followed by count ids and 2*count Int32 offsets.
@Suite struct TokenizerExhaustiveProbe {
    @Test(.enabled(if: getenv("DNABERT_EXHAUSTIVE") != nil,
                   "run by tools/reference/compare_tokenizer_exhaustive.py (sets DNABERT_EXHAUSTIVE)"))
    func dump() throws {
        let arg = String(cString: getenv("DNABERT_EXHAUSTIVE")!)
        let parts = arg.split(separator: ":").map(String.init)
        let data = try FileIO.read(parts[0])
        let t = try Tokenizer(contentsOfFile: parts.count > 2 ? parts[2] : TokenizerFixtures.dnabertPath)
        var lines: [[UInt8]] = []
        var start = 0
        for i in 0..<data.count where data[i] == 10 { lines.append(Array(data[start..<i])); start = i + 1 }
        let encs = withBuffers(lines) { t.encodeBatch($0, threads: 2) }
        var out: [Int32] = []
        for e in encs {
            out.append(Int32(e.ids.count))
            out += e.ids
            out += e.offsets.map { Int32($0) }
        }
        try out.withUnsafeBytes { try FileIO.writeAtomically(parts[1], $0) }
        #expect(encs.count == lines.count)
    }
}
