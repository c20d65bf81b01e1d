import ArgumentParser
import DNABert
#if canImport(Glibc)
import Glibc
#endif

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed FASTA records with a model: one TSV row per record (name, then the embedding).",
        discussion: """
        Input: FASTA/FASTQ (plain or gzip), or CSV/TSV with a `sequence` column (ids from an `id`/`name` column, \
        else the row number). The output file is written under a temporary name and renamed when the command \
        succeeds: a failed run leaves no partial file.
        """)

    @Option(name: .long, help: "Model folder (config.json, model.safetensors or pytorch_model.bin, tokenizer.json).")
    var model: String
    @Option(name: .long, help: "Pooling: mean or cls.")
    var pooling = "mean"
    @Option(name: .long, help: "Tokens per window, [CLS]/[SEP] included; longer records use overlapping windows.")
    var maxLength = 512
    @Option(name: .long, help: "Tokens shared by consecutive windows.")
    var overlap = 64
    @Option(name: .long, help: "Windows per forward pass.")
    var batchSize = 16
    @Option(name: .long, help: "Worker threads (0 = all cores).")
    var threads = 0
    @Option(name: .long, help: "Records embedded per call (bounds memory for big files).")
    var chunk = 256
    @Option(name: .shortAndLong, help: "Output TSV (default: standard output).")
    var output: String?
    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false
    @Flag(name: .long, help: "Share the records out over MPI ranks (`mpirun -np N dnabert embed --distributed ...`); rank 0 writes the output, in input order.")
    var distributed = false
    @Option(name: .long, help: "Arithmetic of the encoder's linears: fp32 or int8 (default: as stored).")
    var precision: String?
    @Argument(help: "FASTA/FASTQ files (plain or gzip) or CSV/TSV files with a sequence column.")
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one FASTA file") }
        if !["mean", "cls"].contains(pooling) { throw ValidationError("--pooling must be mean or cls") }
        if chunk < 1 { throw ValidationError("--chunk must be positive") }
    }

    func run() throws {
        let m = try PretrainedModel.load(directory: model, precision: precision)
        var o = EmbedOptions()
        o.pooling = pooling == "mean" ? .mean : .cls
        o.maxLength = maxLength
        o.overlap = overlap
        o.batchSize = batchSize
        o.threads = threads
        let comm = distributed ? try Communicator.world() : .single
        do { try embed(m, o, comm: comm) } catch {
            if comm.size > 1 && !comm.failedOnAllRanks { comm.abort("\(error)") }
            throw error
        }
    }

    func embed(_ m: PretrainedModel, _ o: EmbedOptions, comm: Communicator) throws {
        // Every rank reads the input; rank 0 alone opens the output.
        let out: OutputFile? = comm.isRoot ? try OutputFile(path: output) : nil
        let quiet = self.quiet || !comm.isRoot
        let H = m.model.config.hiddenSize
        try out?.write("name\t" + (0..<H).map { "dim\($0)" }.joined(separator: "\t") + "\n")
        let bar = ProgressBar(quiet: quiet)
        let t0 = now()
        var done = 0
        var pending: [FASTARecord] = []
        func flush() throws {
            if pending.isEmpty { return }
            let seqs = pending.map { $0.sequence }
            if let emb = try withBuffers(seqs, { try DistributedEmbedding.embed(m, $0, options: o, comm: comm) }), let out {
                for (i, r) in pending.enumerated() {
                    var line = r.name
                    for h in 0..<H { line += "\t" + String(emb[i * H + h]) }
                    try out.write(line + "\n")
                }
            }
            done += pending.count
            bar.update(stage: "embedding", current: Int64(done), total: -1, elapsed: now() - t0, eta: -1)
            pending.removeAll(keepingCapacity: true)
        }
        for file in files {
            guard try LabelledSequences.sniffFASTA(path: file) else {
                // Not FASTA/FASTQ: a CSV/TSV with a `sequence` column (ids from its id/name column), never one
                // record made of the table's text.
                let table = try LabelledSequences.readInputs(path: file)
                for (id, seq) in zip(table.ids, table.sequences) {
                    pending.append(FASTARecord(name: id, description: "", sequence: Array(seq.utf8)))
                    if pending.count >= chunk { try flush() }
                }
                continue
            }
            let reader = try FASTAReader(path: file)
            while let rec = try reader.next() {
                pending.append(rec)
                if pending.count >= chunk { try flush() }
            }
        }
        try flush()
        bar.finish()
        try out?.close()
        if !quiet { eprint("embedded \(done) records in \(formatSeconds(now() - t0))") }
    }
}

/// Calls body with byte buffers over `arrays` (kept alive for the call).
func withBuffers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeBufferPointer<UInt8>]) throws -> R) throws -> R {
    var buffers: [UnsafeBufferPointer<UInt8>] = []
    buffers.reserveCapacity(arrays.count)
    func go(_ i: Int) throws -> R {
        if i == arrays.count { return try body(buffers) }
        return try arrays[i].withUnsafeBufferPointer { b in
            buffers.append(b)
            return try go(i + 1)
        }
    }
    return try go(0)
}

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a PyTorch pytorch_model.bin into model.safetensors (no pickle code is executed).")

    @Argument(help: "pytorch_model.bin")
    var source: String
    @Argument(help: "model.safetensors to write")
    var destination: String

    func run() throws {
        _ = try PyTorchCheckpoint.convertToSafetensors(input: source, output: destination)
        eprint("wrote \(destination)")
    }
}

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Create and inspect model folders (config.json + model.safetensors + tokenizer.json).",
        subcommands: [Create.self, Info.self, Quantize.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A new model with random weights (to pretrain, or to test a pipeline).")

        @Option(name: .long, help: "A preset (tiny, small, base = DNABERT-2-117M) or a config.json.")
        var config = "small"
        @Option(name: .long, help: "tokenizer.json to put in the folder (its size must not exceed the config's vocab_size).")
        var tokenizer: String?
        @Option(name: .long, help: "Random seed.")
        var seed: UInt64 = 0
        @Option(name: .shortAndLong, help: "Output folder.")
        var output: String

        func run() throws {
            var cfg = try ModelConfig.named(config)
            let tok = try tokenizer.map { try Tokenizer(contentsOfFile: $0) }
            if let tok, ModelConfig.preset(config) != nil { cfg.vocabSize = max(cfg.vocabSize, tok.idLimit) }
            let m = try PretrainedModel.random(config: cfg, tokenizer: tok, seed: seed)
            try m.save(directory: output)
            eprint("wrote \(output): \(cfg.numLayers) layers, hidden \(cfg.hiddenSize), \(cfg.numHeads) heads, \(m.model.layout.total) parameters (random weights)")
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Summarise a model folder.")

        @Argument(help: "Model folder.")
        var directory: String

        func run() throws {
            let m = try PretrainedModel.load(directory: directory)
            let c = m.model.config, l = m.model.layout
            print("layers \(c.numLayers), hidden \(c.hiddenSize), heads \(c.numHeads), intermediate \(c.intermediateSize), vocab \(c.vocabSize)")
            print("parameters: \(l.parameterCount)")
            let bytes = m.model.weightBytes
            func mb(_ n: Int) -> String { "\(n / 1_000_000).\(n / 100_000 % 10) MB" }
            print("weights in memory: \(mb(bytes.float32 + bytes.int8)) (float32 \(mb(bytes.float32)), int8 \(mb(bytes.int8)))")
            print("heads: MLM \(l.hasMLMHead ? "yes" : "no"), pooler \(l.hasPooler ? "yes" : "no"), classifier \(l.hasClassifier ? "\(c.numLabels) labels" : "no")")
            print("tokenizer: \(m.tokenizer.map { "\($0.vocabSize) tokens" } ?? "none")")
            print("precision: \(m.model.precision.rawValue)"
                  + (m.model.precision == .int8 ? " (int8 kernel on this CPU: \(Int8Kernel.current.rawValue), attention products: \(FlashAttention.int8TileProducts.rawValue))" : ""))
        }
    }
}
