import CDNABertABI
import DNABert
#if canImport(Glibc)
import Glibc
#endif

// C exports of the FASTA/FASTQ record reader: dnabert_fasta_open / _next / _close, over the core's streaming
// FASTAReader (plain or gzip detected from content). Memory: the reader's 1 MiB input buffer plus the current record.

/// A growable NUL-terminated byte buffer whose address stays valid until the next `set`.
struct FASTACBytes {
    var ptr: UnsafeMutablePointer<CChar>? = nil
    var capacity = 0
    var count = 0

    mutating func set<C: Collection>(_ bytes: C) throws where C.Element == UInt8 {
        let n = bytes.count
        if n + 1 > capacity {
            let newCap = max(n + 1, capacity * 2, 64)
            guard let p = realloc(ptr, newCap) else { throw DNABertError(.outOfMemory, "out of memory for a record of \(n) bytes") }
            ptr = p.assumingMemoryBound(to: CChar.self)
            capacity = newCap
        }
        var i = 0
        for b in bytes { ptr![i] = CChar(bitPattern: b); i += 1 }
        ptr![n] = 0
        count = n
    }

    func release() { free(ptr) }
}

final class FASTAReaderBox {
    let reader: FASTAReader
    var name = FASTACBytes(), description = FASTACBytes(), sequence = FASTACBytes(), quality = FASTACBytes()
    var lock = pthread_mutex_t()
    init(_ r: FASTAReader) {
        reader = r
        pthread_mutex_init(&lock, nil)
    }
    deinit {
        name.release(); description.release(); sequence.release(); quality.release()
        pthread_mutex_destroy(&lock)
    }
}

@_cdecl("dnabert_fasta_open")
public func dnabert_fasta_open(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("dnabert_fasta_open") {
        let out = try require(out, "out")
        out.pointee = nil
        let reader = try FASTAReader(path: try string(path, "path"))
        out.pointee = HandleRegistry.shared.box(FASTAReaderBox(reader))
    }
}

@_cdecl("dnabert_fasta_next")
public func dnabert_fasta_next(_ h: OpaquePointer?, _ record: UnsafeMutablePointer<dnabert_fasta_record>?,
                               _ got: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("dnabert_fasta_next") {
        let box = try HandleRegistry.shared.object(h, as: FASTAReaderBox.self, name: "reader")
        let got = try require(got, "got")
        got.pointee = 0
        try checkResult(try require(record, "record"), sample: dnabert_fasta_record(), name: "record")
        pthread_mutex_lock(&box.lock)
        defer { pthread_mutex_unlock(&box.lock) }
        guard let rec = try box.reader.next() else { return }
        try box.name.set(rec.name.utf8)
        try box.description.set(rec.description.utf8)
        try box.sequence.set(rec.sequence)
        try box.quality.set(rec.quality)
        let r = dnabert_fasta_record(
            struct_size: structSize(dnabert_fasta_record.self),
            name: UnsafePointer(box.name.ptr), name_len: box.name.count,
            description: UnsafePointer(box.description.ptr), description_len: box.description.count,
            sequence: UnsafePointer(box.sequence.ptr), sequence_len: box.sequence.count,
            quality: UnsafePointer(box.quality.ptr), quality_len: box.quality.count)
        try writeResult(r, to: record, name: "record")
        got.pointee = 1
    }
}

@_cdecl("dnabert_fasta_close")
public func dnabert_fasta_close(_ h: OpaquePointer?) { HandleRegistry.shared.free(h, as: FASTAReaderBox.self) }
