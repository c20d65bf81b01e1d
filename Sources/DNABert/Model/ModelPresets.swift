/// Named model shapes for `dnabert model create --config NAME` and pretraining.
extension ModelConfig {
    /// "base": DNABERT-2-117M. "small": 4 layers × 256 hidden (8 heads), a shape that pretrains on a laptop CPU.
    /// "tiny": 2 layers × 64 hidden (4 heads), for tests and quick experiments.
    public static func preset(_ name: String) -> ModelConfig? {
        var c = ModelConfig()
        switch name {
        case "base":
            return c
        case "small":
            c.hiddenSize = 256; c.numLayers = 4; c.numHeads = 8; c.intermediateSize = 1024
            return c
        case "tiny":
            c.hiddenSize = 64; c.numLayers = 2; c.numHeads = 4; c.intermediateSize = 128
            return c
        default:
            return nil
        }
    }

    public static let presetNames = ["tiny", "small", "base"]

    /// A preset name, or the path of a config.json.
    public static func named(_ nameOrPath: String) throws -> ModelConfig {
        if let c = preset(nameOrPath) { return c }
        guard FileIO.exists(nameOrPath) else {
            throw DNABertError.invalidArgument("'\(nameOrPath)' is neither a preset (\(presetNames.joined(separator: ", "))) nor a config.json file")
        }
        return try ModelConfig.load(path: nameOrPath)
    }
}
