import ArgumentParser
import DNABert

extension PretrainedModel {
    /// Loads a model folder and brings it to `precision` (nil = as stored): a float32 checkpoint is quantized
    /// after loading; an int8 checkpoint asked for fp32 is refused.
    static func load(directory: String, precision: String?) throws -> PretrainedModel {
        let want = try precision.map { try Precision(name: $0) }
        let m = try PretrainedModel.load(directory: directory)
        guard let want, want != m.model.precision else { return m }
        return PretrainedModel(model: try m.model.quantized(to: want), tokenizer: m.tokenizer)
    }
}

extension ModelCommand {
    struct Quantize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an int8 copy of a float32 model folder (README: \"Reduced precision\").")

        @Option(name: .long, help: "Target precision: int8.")
        var precision = "int8"
        @Option(name: .shortAndLong, help: "Output folder (replaced as a whole).")
        var output: String
        @Argument(help: "Float32 model folder.")
        var directory: String

        func run() throws {
            let m = try PretrainedModel.load(directory: directory)
            let q = PretrainedModel(model: try m.model.quantized(to: try Precision(name: precision)), tokenizer: m.tokenizer)
            try q.save(directory: output)
            print("\(directory) → \(output) (\(q.model.precision.rawValue), int8 kernel: \(Int8Kernel.current.rawValue))")
        }
    }
}
