// libFuzzer harness: FASTA / FASTQ, plain or gzip (detected from the content), record by record.
// Properties: a FASTQ record's quality has the sequence's length; a sequence holds no line break.
import DNABert

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = Fuzz.file("reads.fa", data, size)
    guard let reader = Fuzz.attempt("FASTA", { try FASTAReader(path: path) }) else { return 0 }
    var n = 0
    while true {
        let rec: FASTARecord?
        do { rec = try reader.next() } catch { break }
        guard let rec else { break }
        Fuzz.require(rec.quality.isEmpty || rec.quality.count == rec.sequence.count,
                     "record \(n): quality \(rec.quality.count) bytes for \(rec.sequence.count) bases")
        Fuzz.require(!rec.sequence.contains(0x0A) && !rec.sequence.contains(0x0D), "record \(n): line break in the sequence")
        n += 1
    }
    return 0
}
