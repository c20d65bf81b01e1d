import Testing
@testable import DNABert

@Suite struct JSONTests {
    @Test func roundTrip() throws {
        let text = #"{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"x\ny\u00e9\ud83d\ude00"}}"#
        let v = try JSON.parse(text)
        #expect(v["a"]?.arrayValue?.count == 6)
        #expect(v["a"]?.arrayValue?[2].doubleValue == -300)
        #expect(v["b"]?["c"]?.stringValue == "x\nyé😀")
        #expect(try JSON.parse(JSON.serialize(v)) == v)
        #expect(try JSON.parse(JSON.serialize(v, indent: 2)) == v)
    }

    @Test(arguments: ["", "{", "[1,", "{\"a\" 1}", "\"abc", "01", "[1 2]", "{\"a\":1}x", "\"\\ud800\"", "tru", "[-]", "\"\\x\""])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONError.self) { try JSON.parse(deep) }
    }
}
