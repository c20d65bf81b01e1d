import CZlib
import Testing
@testable import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// Paths to committed fixtures, found from this source file's location (genomes: see `TestData`).
enum FASTATestPaths {
    static let fixtures: String = FileIO.directoryOf(FileIO.directoryOf(#filePath)) + "/Fixtures"

    static func tempDir() -> String {
        var template = Array("/tmp/dnabert-fasta-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: p!)
    }
}

/// gzip-compresses with zlib's deflate (windowBits 31 = gzip wrapper); independent of our inflater.
func gzipBytes(_ data: [UInt8], level: Int32 = 6) -> [UInt8] {
    var zs = z_stream()
    #expect(deflateInit2_(&zs, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    var out = [UInt8](repeating: 0, count: Int(deflateBound(&zs, UInt(data.count))) + 64)
    var input = data
    let produced: Int = input.withUnsafeMutableBufferPointer { ip in
        out.withUnsafeMutableBufferPointer { op in
            zs.next_in = ip.baseAddress
            zs.avail_in = UInt32(ip.count)
            zs.next_out = op.baseAddress
            zs.avail_out = UInt32(op.count)
            let rc = deflate(&zs, Z_FINISH)
            #expect(rc == Z_STREAM_END)
            return op.count - Int(zs.avail_out)
        }
    }
    deflateEnd(&zs)
    return Array(out[0..<produced])
}

@Suite struct FASTATests {
    func write(_ dir: String, _ name: String, _ bytes: [UInt8]) throws -> String {
        let p = dir + "/" + name
        try FileIO.writeAtomically(p, bytes)
        return p
    }

    @Test func lineEndingsBlankLinesAndWhitespace() throws {
        let dir = FASTATestPaths.tempDir()
        let text = "  >chr1 first chromosome \r\nAC GT\r\n\r\nacgn\r\n>chr2\rTTTT\rGG\r\n  \n>empty desc\n>chr3\tx y\nA\n"
        let path = try write(dir, "a.fa", Array(text.utf8))
        let recs = try FASTAReader.readAll(path: path)
        #expect(recs.count == 4)
        #expect(recs.map(\.name) == ["chr1", "chr2", "empty", "chr3"])
        #expect(recs.map(\.description) == ["first chromosome", "", "desc", "x y"])
        #expect(recs.map { String(decoding: $0.sequence, as: UTF8.self) } == ["ACGTacgn", "TTTTGG", "", "A"])
    }

    @Test func gzipMatchesPlain() throws {
        let dir = FASTATestPaths.tempDir()
        // A 3 Mbp record with 60-column lines plus a few short ones: larger than the reader's 1 MiB buffers.
        var rng: UInt64 = 12345
        var text: [UInt8] = Array(">big\n".utf8)
        var expected: [UInt8] = []
        let bases: [UInt8] = Array("ACGT".utf8)
        for i in 0..<3_000_000 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let c = bases[Int(rng >> 62)]
            text.append(c); expected.append(c)
            if i % 60 == 59 { text.append(0x0A) }
        }
        text += Array("\n>small one\nGATTACA\n".utf8)
        let plain = try write(dir, "x.fa", text)
        let gz = try write(dir, "x.fa.gz", gzipBytes(text))
        let noExt = try write(dir, "x.bin", gzipBytes(text, level: 1))   // detected by content, not name
        for p in [plain, gz, noExt] {
            let recs = try FASTAReader.readAll(path: p)
            #expect(recs.count == 2)
            #expect(recs.first?.sequence == expected)
            #expect(recs.last?.name == "small")
            #expect(recs.last?.description == "one")
            #expect(recs.last?.sequence == Array("GATTACA".utf8))
        }
    }

    @Test func multiMemberGzipFromSystemGzip() throws {
        let recs = try FASTAReader.readAll(path: FASTATestPaths.fixtures + "/multi_member.fa.gz")
        #expect(recs.map(\.name) == ["one", "two", "three"])
        #expect(recs.map { String(decoding: $0.sequence, as: UTF8.self) } == ["ACGTAC", "GGGG", "TT"])
    }

    @Test func multiMemberGzipFromZlib() throws {
        let dir = FASTATestPaths.tempDir()
        let a = gzipBytes(Array(">a\nAC".utf8)), b = gzipBytes(Array("GT\n>b\nTT\n".utf8)), empty = gzipBytes([])
        let p = try write(dir, "m.gz", a + empty + b + empty)
        let recs = try FASTAReader.readAll(path: p)
        #expect(recs.map(\.name) == ["a", "b"])
        #expect(recs.map(\.sequence) == [Array("ACGT".utf8), Array("TT".utf8)])
    }

    @Test func emptyAndHeaderlessFiles() throws {
        let dir = FASTATestPaths.tempDir()
        #expect(try FASTAReader.readAll(path: try write(dir, "e.fa", [])).isEmpty)
        #expect(try FASTAReader.readAll(path: try write(dir, "ws.fa", Array(" \n\r\n".utf8))).isEmpty)
        #expect(try FASTAReader.readAll(path: try write(dir, "e.gz", gzipBytes([]))).isEmpty)
        let bare = try FASTAReader.readAll(path: try write(dir, "bare.txt", Array("ACGT\nGG\n>next\nT\n".utf8)))
        #expect(bare.count == 2)
        #expect(bare.first?.name == "")
        #expect(bare.first?.sequence == Array("ACGTGG".utf8))
        #expect(bare.last?.name == "next")
    }

    @Test func fastq() throws {
        let dir = FASTATestPaths.tempDir()
        let text = "@r1 lane1\nACGT\n+\n@@+I\n@r2\r\nAC\r\nGT\r\n+r2\r\nII\r\n!!\r\n"
        let recs = try FASTAReader.readAll(path: try write(dir, "q.fq", Array(text.utf8)))
        #expect(recs.map(\.name) == ["r1", "r2"])
        #expect(recs.map(\.description) == ["lane1", ""])
        #expect(recs.map(\.sequence) == [Array("ACGT".utf8), Array("ACGT".utf8)])
        #expect(recs.map(\.quality) == [Array("@@+I".utf8), Array("II!!".utf8)])
        let bad = try write(dir, "bad.fq", Array("@r1\nACGT\n+\nII\n".utf8))
        #expect(throws: DNABertError.self) { try FASTAReader.readAll(path: bad) }
    }

    @Test func errors() throws {
        do {
            _ = try FASTAReader(path: "/nonexistent/dir/x.fa")
            Issue.record("missing file did not throw")
        } catch let e as DNABertError {
            #expect(e.kind == .io)
            #expect(e.message.contains("/nonexistent/dir/x.fa"))
        }
        for name in ["truncated.fa.gz", "corrupt.fa.gz"] {
            let p = FASTATestPaths.fixtures + "/" + name
            do {
                _ = try FASTAReader.readAll(path: p)
                Issue.record("\(name) did not throw")
            } catch let e as DNABertError {
                #expect(e.kind == .format)
                #expect(e.message.contains(name))
            }
        }
        // Every truncation point of a small gzip file must throw .format (never crash or loop).
        let dir = FASTATestPaths.tempDir()
        let gz = gzipBytes(Array(">a\nACGTACGTACGTTTTTGGGGCCCAAAA\n>b\nGATTACA\n".utf8))
        for cut in 2..<gz.count {
            let p = try write(dir, "cut.gz", Array(gz[0..<cut]))
            #expect(throws: DNABertError.self) { try FASTAReader.readAll(path: p) }
        }
        // Trailing garbage after the last member is an error too.
        let p = try write(dir, "trail.gz", gz + Array("junk".utf8))
        #expect(throws: DNABertError.self) { try FASTAReader.readAll(path: p) }
        // A directory is an .io error.
        #expect(throws: DNABertError.self) { try FASTAReader.readAll(path: dir) }
    }

    /// Record names and lengths of the repository's genomes (examples/data) equal those computed by zcat/awk
    /// (tools/reference/make_fasta_fixtures.sh → Fixtures/genome_lengths.tsv).
    @Test func realGenomes() throws {
        try checkGenomes(external: false)
    }

    /// The same for all five shared genomes (DNABERT_DATA/genomes).
    @Test(TestData.needs("genomes/*.fasta.gz")) func realGenomesShared() throws {
        try checkGenomes(external: true)
    }

    func checkGenomes(external: Bool) throws {
        let table = try FileIO.read(FASTATestPaths.fixtures + "/genome_lengths.tsv")
        var expected: [String: [(String, Int)]] = [:]
        for line in String(decoding: table, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 3, let n = Int(f[2]) else { Issue.record("bad fixture line \(line)"); continue }
            expected[String(f[0]), default: []].append((String(f[1]), n))
        }
        #expect(expected.count == 5)
        if !external { expected = expected.filter { TestData.repositoryGenomes.contains($0.key) } }
        #expect(expected.count == (external ? 5 : 2))
        for (file, recs) in expected.sorted(by: { $0.key < $1.key }) {
            let path = try #require(external ? TestData.external("genomes/" + file) : TestData.genome(file))
            let got = try FASTAReader.readAll(path: path)
            #expect(got.map(\.name) == recs.map(\.0), "\(file)")
            #expect(got.map(\.sequence.count) == recs.map(\.1), "\(file)")
        }
    }
}
