// libFuzzer harness: labelled CSV/TSV data sets (delimiter sniffing, quoting, header, label inference for
// single-label / multi-label / regression) and prediction inputs (CSV/TSV or FASTA).
// The first byte picks the file name (.csv, .tsv or no extension) so the name-based rules are reached too.
// Properties on accepted files: one label entry per sequence for the inferred problem type, label indices
// inside [0, numLabels); a dev file read `like` the training file is accepted with the same schema.
import DNABert

private let names = ["data.csv", "data.tsv", "data.txt"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let path = Fuzz.file(names[Int(data[0]) % names.count], data + 1, size - 1)
    _ = try? LabelledSequences.readInputs(path: path)
    guard let d = Fuzz.attempt("labelled data", { try LabelledSequences.read(path: path) }) else { return 0 }
    Fuzz.require(d.ids.count == d.count, "\(d.ids.count) ids for \(d.count) sequences")
    switch d.problemType {
    case .singleLabel?:
        Fuzz.require(d.classLabels.count == d.count, "single-label: \(d.classLabels.count) labels for \(d.count) sequences")
        Fuzz.require(d.classLabels.allSatisfy { $0 >= 0 && $0 < d.numLabels }, "class label outside [0, \(d.numLabels))")
    case .multiLabel?:
        Fuzz.require(d.multiLabels.count == d.count, "multi-label: \(d.multiLabels.count) label sets for \(d.count) sequences")
        Fuzz.require(d.multiLabels.allSatisfy { $0.allSatisfy { $0 >= 0 && $0 < d.numLabels } }, "multi-label index outside [0, \(d.numLabels))")
    case .regression?:
        Fuzz.require(d.targets.count == d.count, "regression: \(d.targets.count) targets for \(d.count) sequences")
    case nil:
        Fuzz.require(false, "a labelled data set without a problem type")
    }
    do { _ = try LabelledSequences.read(path: path, like: d) } catch {
        Fuzz.require(false, "a file is not readable like itself: \(error)")
    }
    return 0
}
