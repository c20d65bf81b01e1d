import ArgumentParser
import DNABert
#if canImport(Glibc)
import Glibc
#endif

@main
struct DNABertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dnabert",
        abstract: "DNABERT-2 on the CPU: DNA BPE tokenizer, encoder, training.",
        subcommands: [TokenizerCommand.self, ModelCommand.self, EmbedCommand.self, PretrainCommand.self, FinetuneCommand.self, PredictCommand.self, ConvertCommand.self]
    )

    @Flag(name: .long, help: "Print the version and exit.")
    var version = false

    func run() throws {
        if version {
            print("dnabert \(DNABertVersion.string)")
            do {
                try BLAS.ensureLoaded()
                print("BLAS: \(BLAS.info.description)")
            } catch let e as DNABertError {
                print("BLAS: unavailable (\(e.message))")
            }
            print("float32 linear kernel: \(Linear.kernelName), int8 kernel: \(Int8Kernel.current.rawValue), "
                  + "int8 attention products: \(FlashAttention.int8TileProducts.rawValue)")
            print("threads: \(Parallel.coreCount) cores")
            return
        }
        print(DNABertCommand.helpMessage())
    }
}

/// Failure with a message for the user and exit status 1 (no Swift trap, no stack trace).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Writes to standard error.
func eprint(_ s: String, terminator: String = "\n") {
    fputs(s + terminator, stderr)
}
