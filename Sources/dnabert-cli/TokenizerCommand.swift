import ArgumentParser
import DNABert
#if canImport(Glibc)
import Glibc
#endif

struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Train, apply and inspect BPE tokenizers (Hugging Face tokenizer.json).",
        subcommands: [Train.self, Encode.self, Decode.self, Info.self]
    )

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a DNABERT-2-style BPE tokenizer on FASTA files (.fa, .fa.gz).")

        @Option(name: .long, help: "Vocabulary size including the 5 special tokens.")
        var vocabSize = 4096
        @Option(name: .long, help: "Minimum count for a pair to be merged.")
        var minFrequency = 2
        @Option(name: .long, help: "Longest token in bases (0 = unlimited).")
        var maxTokenLength = 0
        @Option(name: .long, help: "Cut records into words of at most this many bases (default: the library's measured choice).")
        var wordLength: Int?
        @Option(name: .long, help: "Lower case: 'upper' folds to upper case, 'keep' keeps it distinct.")
        var `case` = "upper"
        @Option(name: .long, help: "Non-ACGT characters: 'split' cuts words there, 'keep' keeps IUPAC codes in the alphabet.")
        var nonAcgt = "split"
        @Option(name: .long, help: "Read at most this many bases (0 = all).")
        var maxBases: Int64 = 0
        @Option(name: .long, help: "Worker threads (0 = all cores).")
        var threads = 0
        @Option(name: .shortAndLong, help: "Output tokenizer.json.")
        var output: String
        @Flag(name: .shortAndLong, help: "No progress output.")
        var quiet = false
        @Argument(help: "FASTA files (plain or gzip).")
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("give at least one FASTA file") }
            if !["upper", "keep"].contains(`case`) { throw ValidationError("--case must be 'upper' or 'keep'") }
            if !["split", "keep"].contains(nonAcgt) { throw ValidationError("--non-acgt must be 'split' or 'keep'") }
        }

        func run() throws {
            var o = BPETrainerOptions()
            o.vocabSize = vocabSize
            o.minFrequency = minFrequency
            o.maxTokenLength = maxTokenLength
            if let w = wordLength { o.wordLength = w }
            o.casePolicy = `case` == "upper" ? .upper : .keep
            o.nonACGT = nonAcgt == "split" ? .split : .keep
            o.maxBases = maxBases
            o.threads = threads
            let bar = ProgressBar(quiet: quiet)
            let t0 = now()
            do {
                let trained = try BPETrainer.train(files: files, options: o) { p in
                    bar.update(stage: p.stage, current: p.current, total: p.total, elapsed: p.elapsedSeconds, eta: p.etaSeconds)
                    return true
                }
                bar.finish()
                let tok = try Tokenizer.dnabertStyle(alphabet: trained.alphabet, merges: trained.merges)
                try tok.save(to: output)
                if !quiet {
                    eprint("trained \(tok.vocabSize) tokens (\(trained.merges.count) merges) in \(formatSeconds(now() - t0)) → \(output)")
                }
            } catch {
                bar.finish()   // end the progress line before ArgumentParser prints "Error: <message>"
                throw error
            }
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tokenize FASTA records: one line per record (name, token count, ids) as TSV or JSON lines.")

        @Option(name: .long, help: "tokenizer.json to use.")
        var tokenizer: String
        @Flag(name: .long, help: "Do not add [CLS]/[SEP].")
        var noSpecialTokens = false
        @Option(name: .long, help: "Truncate to this many tokens (special tokens included).")
        var maxLength: Int?
        @Flag(name: .long, help: "Fold lower case to upper case first (soft-masked genomes).")
        var uppercase = false
        @Flag(name: .long, help: "Also print [start, end) base offsets of each token.")
        var offsets = false
        @Option(name: .long, help: "Output format: tsv or jsonl.")
        var format = "tsv"
        @Option(name: .long, help: "Stop after this many records.")
        var maxRecords: Int?
        @Option(name: .shortAndLong, help: "Output file (default: standard output).")
        var output: String?
        @Argument(help: "FASTA files (plain or gzip).")
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("give at least one FASTA file") }
            if !["tsv", "jsonl"].contains(format) { throw ValidationError("--format must be tsv or jsonl") }
            if let m = maxLength, m <= 0 { throw ValidationError("--max-length must be positive") }
        }

        func run() throws {
            let tok = try Tokenizer(contentsOfFile: tokenizer)
            var o = EncodeOptions()
            o.addSpecialTokens = !noSpecialTokens
            o.maxLength = maxLength ?? 0
            o.uppercase = uppercase
            o.withOffsets = offsets
            let out = try OutputFile(path: output)
            var count = 0, bases = 0, tokens = 0
            let t0 = now()
            outer: for file in files {
                let reader = try FASTAReader(path: file)
                while let rec = try reader.next() {
                    if let m = maxRecords, count >= m { break outer }
                    let e = rec.sequence.withUnsafeBufferPointer { tok.encode($0, options: o) }
                    count += 1
                    bases += rec.sequence.count
                    tokens += e.ids.count
                    var line = ""
                    if format == "tsv" {
                        line = "\(rec.name)\t\(e.ids.count)\t" + e.ids.map(String.init).joined(separator: " ")
                        if offsets {
                            line += "\t" + stride(from: 0, to: e.offsets.count, by: 2)
                                .map { "\(e.offsets[$0])-\(e.offsets[$0 + 1])" }.joined(separator: " ")
                        }
                    } else {
                        var obj: [(String, JSONValue)] = [("name", .string(rec.name)), ("n_tokens", .int(Int64(e.ids.count))),
                                                          ("ids", .array(e.ids.map { .int(Int64($0)) }))]
                        if offsets { obj.append(("offsets", .array(e.offsets.map { .int($0) }))) }
                        line = JSON.serialize(.object(obj))
                    }
                    try out.write(line + "\n")
                }
            }
            try out.close()
            let dt = now() - t0
            eprint("\(count) records, \(bases) bp → \(tokens) tokens"
                   + (tokens > 0 ? ", \(Double(Int(Double(bases) / Double(tokens) * 100)) / 100) bp/token" : "")
                   + ", \(formatSeconds(dt))")
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decode token ids (arguments or standard input) back to DNA.")

        @Option(name: .long, help: "tokenizer.json to use.")
        var tokenizer: String
        @Flag(name: .long, help: "Keep special tokens such as [CLS] in the output.")
        var keepSpecialTokens = false
        @Argument(help: "Token ids (if none, whitespace-separated ids are read from standard input, one sequence per line).")
        var ids: [String] = []

        func run() throws {
            let tok = try Tokenizer(contentsOfFile: tokenizer)
            func decodeLine<S: Sequence>(_ words: S) throws where S.Element: StringProtocol {
                var v: [Int32] = []
                for w in words {
                    guard let i = Int32(w) else { throw CLIError("'\(w)' is not a token id") }
                    v.append(i)
                }
                print(try tok.decode(v, skipSpecialTokens: !keepSpecialTokens))
            }
            if !ids.isEmpty {
                try decodeLine(ids)
            } else {
                while let line = readLine() {
                    try decodeLine(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }))
                }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Summarise a tokenizer.json.")

        @Argument(help: "tokenizer.json")
        var tokenizer: String

        func run() throws {
            let tok = try Tokenizer(contentsOfFile: tokenizer)
            print("vocab size: \(tok.vocabSize)")
            print("merges:     \(tok.merges.count)")
            let specials: [(String, Int32?)] = [("[UNK]", tok.unkId), ("[CLS]", tok.clsId), ("[SEP]", tok.sepId),
                                                ("[PAD]", tok.padId), ("[MASK]", tok.maskId)]
            print("special:    " + specials.map { "\($0.0)=\($0.1.map(String.init) ?? "-")" }.joined(separator: " "))
            var lengths: [Int: Int] = [:]
            for i in 0..<tok.vocabSize where !tok.isSpecial(Int32(i)) {
                lengths[tok.token(forId: Int32(i))?.utf8.count ?? 0, default: 0] += 1
            }
            print("token lengths (bases: count): " + lengths.keys.sorted().map { "\($0):\(lengths[$0]!)" }.joined(separator: " "))
        }
    }
}

/// Standard output or a file, written through a buffer.
/// Where a command's text output goes: standard output, or a file written under a temporary name beside it and
/// renamed over it only by `close()` (after the command succeeded). A failed run (an error, Ctrl-C) leaves the
/// previous file as it was and no half-written or header-only file behind.
final class OutputFile {
    private let writer: AtomicFileWriter?
    private var buffer: [UInt8] = []

    init(path: String?) throws {
        if let path, path != "-" {
            do { writer = try AtomicFileWriter(path: path) } catch let e as DNABertError {
                throw CLIError("cannot open '\(path)' for writing: \(e.message)")
            }
        } else {
            writer = nil
        }
        buffer.reserveCapacity(1 << 16)
    }

    func write(_ s: String) throws {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func flush() throws {
        if buffer.isEmpty { return }
        if let writer {
            try writer.write(buffer)
        } else {
            let n = buffer.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, stdout) }
            guard n == buffer.count else { throw CLIError("write failed: \(String(cString: strerror(errno)))") }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Finishes the output: flushes, and for a file renames the temporary file over the target.
    func close() throws {
        try flush()
        if let writer { try writer.commit() } else { fflush(stdout) }
    }
}
