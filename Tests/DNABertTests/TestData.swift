import Testing
@testable import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// Where the tests find their data.
///
/// - Everything a plain `swift test` / `make test` needs is in the repository: `Tests/.../Fixtures` and the
///   published DNABERT-2 tokenizer/config plus two genomes and one task in `examples/data`.
/// - Larger external data (the five shared genomes, the three full GUE-style tasks) is read from the folder
///   named by the environment variable `DNABERT_DATA` (laid out as `genomes/`, `tasks/`, `dnabert2/`; CI sets
///   it to `../shared/data`). Tests that need it carry `TestData.needs(...)`, which reports them as skipped,
///   with the reason, when the variable is unset. A set variable naming a missing file is a failure, not a skip.
enum TestData {
    /// The repository root (this file is Tests/DNABertTests/TestData.swift).
    static let packageRoot: String = FileIO.directoryOf(FileIO.directoryOf(FileIO.directoryOf("\(#filePath)")))

    /// `examples/data` of the repository.
    static let examples = packageRoot + "/examples/data"

    /// The published DNABERT-2-117M tokenizer.json and config.json (copies in examples/data/dnabert2).
    static let dnabert2Tokenizer = examples + "/dnabert2/tokenizer.json"
    static let dnabert2Config = examples + "/dnabert2/config.json"

    /// Genomes shipped in examples/data (the others are only under DNABERT_DATA/genomes).
    static let repositoryGenomes = ["hpylori_sjm180.fasta.gz", "saureus_n315.fasta.gz"]

    /// The value of DNABERT_DATA, or nil when unset or empty.
    static let externalRoot: String? = {
        guard let e = getenv("DNABERT_DATA") else { return nil }
        let s = String(cString: e)
        return s.isEmpty ? nil : s
    }()

    /// `DNABERT_DATA/rel`, or nil when DNABERT_DATA is unset. The path is returned even when it does not
    /// exist, so that a misconfigured DNABERT_DATA fails the test that reads it instead of skipping it.
    static func external(_ rel: String) -> String? { externalRoot.map { $0 + "/" + rel } }

    /// A genome file: the repository's copy when examples/data has it, else DNABERT_DATA/genomes/name.
    static func genome(_ name: String) -> String? {
        repositoryGenomes.contains(name) ? examples + "/" + name : external("genomes/" + name)
    }

    /// Skips the test, with the reason, unless DNABERT_DATA is set.
    static func needs(_ what: String) -> ConditionTrait {
        .enabled(if: externalRoot != nil, Comment(rawValue:
            "needs \(what) from DNABERT_DATA (unset); set DNABERT_DATA to the shared data folder, e.g. ../shared/data"))
    }

    /// Skips a test that only writes a file for a tools/reference checker unless `variable` names the output.
    static func writesFor(_ tool: String, variable: String) -> ConditionTrait {
        .enabled(if: getenv(variable) != nil, Comment(rawValue: "writes a file for \(tool); runs only when \(variable) is set"))
    }
}
