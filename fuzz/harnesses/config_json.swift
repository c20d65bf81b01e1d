// libFuzzer harness: a model folder's config.json (JSON parser + ModelConfig validation).
// Property on accepted files: the config written back (jsonValue) parses to the same ModelConfig.
import DNABert

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = Fuzz.file("config.json", data, size)
    guard let c = Fuzz.attempt("config.json", { try ModelConfig.load(path: path) }) else { return 0 }
    let text = JSON.serialize(c.jsonValue(), indent: 2)
    do {
        let again = try ModelConfig(json: try JSON.parse(text))
        Fuzz.require(again == c, "config changes on a save/load round trip")
    } catch {
        Fuzz.require(false, "an accepted config saves JSON it cannot load: \(error)")
    }
    return 0
}
