import Testing
@testable import DNABert
#if canImport(Glibc)
import Glibc
#endif

/// Labelled-data reading: the real GUE-style tasks in shared/data/tasks (expected values from a naive line
/// split, independent of the CSV reader), hand-written edge cases, errors, and the predictions writer.
@Suite struct LabelledDataTests {

    func write(_ dir: String, _ name: String, _ text: String) throws -> String {
        let p = dir + "/" + name
        try FileIO.writeAtomically(p, string: text)
        return p
    }

    /// Expects a DNABertError of `kind` whose message contains every string of `parts`.
    func expectError(_ kind: DNABertError.Kind, _ parts: [String], sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected a \(kind) error containing \(parts), got none", sourceLocation: sourceLocation)
        } catch let e as DNABertError {
            #expect(e.kind == kind, "kind of: \(e.message)", sourceLocation: sourceLocation)
            for p in parts { #expect(e.message.contains(p), "'\(e.message)' should mention '\(p)'", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Naive reader for the shared task files (no quotes there): split on '\n', then on ','.
    func naive(_ path: String) throws -> (seqs: [String], labels: [Int]) {
        let text = String(decoding: try FileIO.read(path), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.first == "sequence,label")
        lines.removeFirst()
        var seqs: [String] = [], labels: [Int] = []
        for l in lines {
            let f = l.split(separator: ",")
            seqs.append(String(f[0]))
            labels.append(Int(f[1]) ?? -1)
        }
        return (seqs, labels)
    }

    /// The repository's coding_200 subset (examples/data/tasks: 2000 / 400 / 400 rows).
    @Test func realTask() throws {
        try checkTasks(TestData.examples + "/tasks", [("coding_200", 2)], minRows: 1000)
    }

    /// The three full tasks (DNABERT_DATA/tasks).
    @Test(TestData.needs("tasks/{gene_start_300,splice_400,coding_200}"))
    func realTasksShared() throws {
        let tasks = try #require(TestData.external("tasks"))
        try checkTasks(tasks, [("gene_start_300", 2), ("splice_400", 3), ("coding_200", 2)], minRows: 4000)
    }

    func checkTasks(_ tasks: String, _ list: [(String, Int)], minRows: Int) throws {
        for (task, classes) in list {
            let train = try LabelledSequences.read(path: "\(tasks)/\(task)/train.csv")
            let ref = try naive("\(tasks)/\(task)/train.csv")
            #expect(train.count == ref.seqs.count && train.count >= minRows, "\(task) row count")
            #expect(train.sequences == ref.seqs, "\(task) sequences")
            #expect(train.classLabels == ref.labels, "\(task) labels")
            #expect(train.problemType == .singleLabel)
            #expect(train.numLabels == classes && train.numLabels == (ref.labels.max() ?? -1) + 1, "\(task) classes")
            #expect(train.labelNames == nil && train.hasLabels)
            #expect(train.ids.first == "1" && train.ids.last == String(train.count))
            for split in ["dev", "test"] {
                let p = "\(tasks)/\(task)/\(split).csv"
                let d = try LabelledSequences.read(path: p, like: train)
                let r = try naive(p)
                #expect(d.sequences == r.seqs && d.classLabels == r.labels, "\(task) \(split)")
                #expect(d.schema == train.schema)
            }
        }
    }

    @Test func quotingCRLFAndBOM() throws {
        let dir = FASTATestPaths.tempDir()
        let text = "\u{FEFF}ID,extra,\"Sequence\",Label\r\n"
            + "s1,\"x, y\",\"ACGT\",1\r\n"
            + "\"s,2\",\"say \"\"hi\"\"\",\"AC\"\"GT\", 0 \r\n"
            + "\r\n"
            + "s\"3, \"q\" ,  GGCC  ,\"2\"\r\n"
            + "s4,\"multi\r\nline\",TTTT,0"
        let t = try LabelledSequences.read(path: try write(dir, "q.csv", text))
        #expect(t.ids == ["s1", "s,2", "s\"3", "s4"])
        #expect(t.sequences == ["ACGT", "AC\"GT", "GGCC", "TTTT"])
        #expect(t.classLabels == [1, 0, 2, 0])
        #expect(t.numLabels == 3)
        // LF, CR-only, no trailing newline, blank lines with spaces, columns in another order.
        let lf = try LabelledSequences.read(path: try write(dir, "lf.csv", "\n  \nlabel,sequence\n1,AAA\n\n0,CCC\n"))
        #expect(lf.sequences == ["AAA", "CCC"] && lf.classLabels == [1, 0])
        let cr = try LabelledSequences.read(path: try write(dir, "cr.csv", "sequence,label\r1,0\rAAA,1"))
        #expect(cr.sequences == ["1", "AAA"] && cr.classLabels == [0, 1])
        // A quoted empty sequence is still a row (and an error), not a blank line.
        expectError(.format, ["line 2", "empty sequence"]) {
            _ = try LabelledSequences.read(path: try write(dir, "emptyseq.csv", "sequence,label\n\"\",1\n"))
        }
    }

    @Test func tsvByExtensionAndBySniffing() throws {
        let dir = FASTATestPaths.tempDir()
        let a = try LabelledSequences.read(path: try write(dir, "a.tsv", "sequence\tlabel\nAC,GT\t1\nGG\t0\n"))
        #expect(a.sequences == ["AC,GT", "GG"] && a.classLabels == [1, 0])
        let b = try LabelledSequences.read(path: try write(dir, "b.txt", "sequence\tlabel\tnote\nACGT\t1\tx\n"))
        #expect(b.sequences == ["ACGT"] && b.classLabels == [1])
        let gz = dir + "/c.csv.gz"
        try FileIO.writeAtomically(gz, gzipBytes(Array("sequence,label\nAAAA,0\nCCCC,1\n".utf8)))
        let c = try LabelledSequences.read(path: gz)
        #expect(c.sequences == ["AAAA", "CCCC"] && c.classLabels == [0, 1])
    }

    @Test func stringLabels() throws {
        let dir = FASTATestPaths.tempDir()
        let train = try LabelledSequences.read(path: try write(dir, "train.csv",
            "sequence,label\nAAA,promoter\nCCC,enhancer\nGGG,none\nTTT,promoter\nACG,Zeta\n"))
        // Sorted by bytes, as Python's sorted(): uppercase before lowercase.
        #expect(train.labelNames == ["Zeta", "enhancer", "none", "promoter"])
        #expect(train.classLabels == [3, 1, 2, 3, 0])
        #expect(train.numLabels == 4 && train.problemType == .singleLabel)
        let dev = try LabelledSequences.read(path: try write(dir, "dev.csv", "sequence,label\nAAA,none\nCCC,Zeta\n"), like: train)
        #expect(dev.classLabels == [2, 0] && dev.labelNames == train.labelNames)
        expectError(.invalidArgument, ["line 3", "unknown class name 'silencer'"]) {
            _ = try LabelledSequences.read(path: try write(dir, "bad.csv", "sequence,label\nAAA,none\nCCC,silencer\n"), like: train)
        }
        // A mixed column (numbers and words) is all names.
        let mixed = try LabelledSequences.read(path: try write(dir, "m.csv", "sequence,label\nAAA,10\nCCC,9\nGGG,x\n"))
        #expect(mixed.labelNames == ["10", "9", "x"] && mixed.classLabels == [0, 1, 2])
    }

    @Test func integerClassesAndNumLabels() throws {
        let dir = FASTATestPaths.tempDir()
        let p = try write(dir, "i.csv", "sequence,label\nAAA,0\nCCC,2\nGGG,2\n")
        let a = try LabelledSequences.read(path: p)
        #expect(a.numLabels == 3 && a.classLabels == [0, 2, 2])
        let b = try LabelledSequences.read(path: p, numLabels: 5)
        #expect(b.numLabels == 5)
        expectError(.invalidArgument, ["numLabels 2", "index 2"]) { _ = try LabelledSequences.read(path: p, numLabels: 2) }
        let schema2 = try LabelSchema(problemType: .singleLabel, numLabels: 2)
        expectError(.invalidArgument, ["line 3", "out of range for 2"]) { _ = try LabelledSequences.read(path: p, schema: schema2) }
        expectError(.format, ["line 2", "negative"]) {
            _ = try LabelledSequences.read(path: try write(dir, "neg.csv", "sequence,label\nAAA,-1\nCCC,1\n"))
        }
        expectError(.format, ["line 3", "'x'", "not an integer"]) {
            _ = try LabelledSequences.read(path: try write(dir, "x.csv", "sequence,label\nAAA,1\nCCC,x\n"), schema: schema2)
        }
        expectError(.format, ["line 3", "empty label", "multi_label_classification"]) {
            _ = try LabelledSequences.read(path: try write(dir, "e.csv", "sequence,label\nAAA,1\nCCC,\nGGG,0\n"))
        }
        expectError(.format, ["line 2", "empty label"]) {
            _ = try LabelledSequences.read(path: try write(dir, "e2.csv", "sequence,label\nAAA,\nCCC,\n"))
        }
        expectError(.format, ["line 3", "empty label"]) {
            _ = try LabelledSequences.read(path: try write(dir, "e3.csv", "sequence,label\nAAA,pos\nCCC, \nGGG,neg\n"))
        }
        expectError(.invalidArgument, ["disagrees"]) { _ = try LabelledSequences.read(path: p, schema: schema2, problemType: .regression) }
    }

    @Test func multiLabel() throws {
        let dir = FASTATestPaths.tempDir()
        let p = try write(dir, "ml.csv", "sequence,label\nAAA,0;2\nCCC,\nGGG,1\nTTT,\"2; 0;2\"\n")
        let a = try LabelledSequences.read(path: p)
        #expect(a.problemType == .multiLabel && a.numLabels == 3)
        #expect(a.multiLabels == [[0, 2], [], [1], [0, 2]])
        #expect(try LabelledSequences.read(path: p, numLabels: 6).numLabels == 6)
        // Without any ';' the type must be given.
        let q = try write(dir, "ml1.csv", "sequence,label\nAAA,1\nCCC,\nGGG,0\n")
        let b = try LabelledSequences.read(path: q, problemType: .multiLabel)
        #expect(b.multiLabels == [[1], [], [0]] && b.numLabels == 2)
        expectError(.invalidArgument, ["line 2", "label index 2 is out of range"]) {
            _ = try LabelledSequences.read(path: p, schema: try LabelSchema(problemType: .multiLabel, numLabels: 2))
        }
        expectError(.format, ["line 2", "'a'"]) {
            _ = try LabelledSequences.read(path: try write(dir, "bad.csv", "sequence,label\nAAA,0;a\n"),
                                           schema: try LabelSchema(problemType: .multiLabel, numLabels: 2))
        }
        let ind = try Metrics.indicators(a.multiLabels, numLabels: a.numLabels)
        #expect(ind[0] == [true, false, true] && ind[1] == [false, false, false])
    }

    @Test func regression() throws {
        let dir = FASTATestPaths.tempDir()
        let a = try LabelledSequences.read(path: try write(dir, "r.csv", "sequence,label\nAAA,0.5\nCCC,-1e-3\nGGG,2\n"))
        #expect(a.problemType == .regression && a.numLabels == 1)
        #expect(a.targets == [0.5, -0.001, 2])
        let ints = try write(dir, "ri.csv", "sequence,label\nAAA,3\nCCC,7\n")
        #expect(try LabelledSequences.read(path: ints).problemType == .singleLabel)
        let b = try LabelledSequences.read(path: ints, problemType: .regression)
        #expect(b.targets == [3, 7] && b.classLabels.isEmpty)
        expectError(.invalidArgument, ["numLabels 2"]) { _ = try LabelledSequences.read(path: ints, problemType: .regression, numLabels: 2) }
        expectError(.format, ["line 3", "''"]) {
            _ = try LabelledSequences.read(path: try write(dir, "re.csv", "sequence,label\nAAA,1.5\nCCC,\n"))
        }
        expectError(.format, ["line 3", "'inf'"]) {
            _ = try LabelledSequences.read(path: try write(dir, "inf.csv", "sequence,label\nAAA,1.5\nCCC,inf\n"), problemType: .regression)
        }
    }

    @Test func structuralErrors() throws {
        let dir = FASTATestPaths.tempDir()
        expectError(.io, ["nope.csv"]) { _ = try LabelledSequences.read(path: dir + "/nope.csv") }
        expectError(.format, ["is empty"]) { _ = try LabelledSequences.read(path: try write(dir, "empty.csv", "")) }
        expectError(.format, ["is empty"]) { _ = try LabelledSequences.read(path: try write(dir, "blank.csv", "\n \r\n")) }
        expectError(.format, ["no data rows"]) { _ = try LabelledSequences.read(path: try write(dir, "h.csv", "sequence,label\n")) }
        expectError(.format, ["no header row", "sequence,label"]) {
            _ = try LabelledSequences.read(path: try write(dir, "nh.csv", "ACGTACGTAC,1\nCCCCCCCCCC,0\n"))
        }
        expectError(.format, ["sequence,label"]) {
            _ = try LabelledSequences.read(path: try write(dir, "nh2.csv", "seqs,y\nACGT,1\n"))
        }
        expectError(.format, ["no 'sequence' column", "'dna'"]) {
            _ = try LabelledSequences.read(path: try write(dir, "ns.csv", "id,dna,label\na,ACGT,1\n"))
        }
        expectError(.format, ["no 'label' column"]) {
            _ = try LabelledSequences.read(path: try write(dir, "nl.csv", "id,sequence\na,ACGT\n"))
        }
        // The quoted field spans lines 3-4, so the ragged row is on line 5.
        expectError(.format, ["line 5", "3 fields", "header has 2"]) {
            _ = try LabelledSequences.read(path: try write(dir, "rag.csv", "sequence,label\nAAA,1\n\"C\nC\",0\nGGG,1,x\n"))
        }
        expectError(.format, ["line 3", "1 field,"]) {
            _ = try LabelledSequences.read(path: try write(dir, "rag2.csv", "sequence,label\nAAA,1\nCCC\n"))
        }
        expectError(.format, ["line 3", "unterminated"]) {
            _ = try LabelledSequences.read(path: try write(dir, "uq.csv", "sequence,label\nAAA,1\n\"CCC,0\nGGG,1\n"))
        }
        expectError(.format, ["line 2", "closing quote"]) {
            _ = try LabelledSequences.read(path: try write(dir, "jq.csv", "sequence,label\n\"AA\"A,1\n"))
        }
        expectError(.io, ["directory"]) { _ = try LabelledSequences.read(path: dir) }
        // Truncated gzip.
        let gz = gzipBytes(Array(String(repeating: "sequence,label\nACGT,1\n", count: 200).utf8))
        try FileIO.writeAtomically(dir + "/t.csv.gz", Array(gz[0..<(gz.count / 2)]))
        expectError(.format, ["t.csv.gz"]) { _ = try LabelledSequences.read(path: dir + "/t.csv.gz") }
    }

    @Test func hugeFieldsAreLinear() throws {
        let dir = FASTATestPaths.tempDir()
        let long = String(repeating: "ACGT", count: 1 << 20)    // 4 MiB unquoted
        let quoted = String(repeating: "a\"\"", count: 1 << 19)  // 1.5 MiB with 512 Ki doubled quotes
        let start = clock()
        let t = try LabelledSequences.read(path: try write(dir, "big.csv", "sequence,label,note\n\(long),1,\"\(quoted)\"\n\"\(long)\",0,x\n"))
        let secs = Double(clock() - start) / Double(CLOCKS_PER_SEC)
        #expect(t.sequences == [long, long] && t.classLabels == [1, 0])
        #expect(secs < 20, "reading 11 MB took \(secs) s")
    }

    @Test func predictionInputs() throws {
        let dir = FASTATestPaths.tempDir()
        let fa = ">r1 some description\nACGT\nAC\n\n>r2\nGGGG\n"
        let a = try LabelledSequences.readInputs(path: try write(dir, "in.fa", fa))
        #expect(a.ids == ["r1", "r2"] && a.sequences == ["ACGTAC", "GGGG"] && !a.hasLabels && a.schema == nil)
        try FileIO.writeAtomically(dir + "/in.fa.gz", gzipBytes(Array(fa.utf8)))
        let b = try LabelledSequences.readInputs(path: dir + "/in.fa.gz")
        #expect(b.ids == a.ids && b.sequences == a.sequences)
        let c = try LabelledSequences.readInputs(path: try write(dir, "in.fq", "@q1\nACGT\n+\nIIII\n@q2\nTT\n+\n@@\n"))
        #expect(c.ids == ["q1", "q2"] && c.sequences == ["ACGT", "TT"])
        let d = try LabelledSequences.readInputs(path: try write(dir, "in.csv", "Sequence\nAAAA\nCCCC\n"))
        #expect(d.sequences == ["AAAA", "CCCC"] && d.ids == ["1", "2"] && !d.hasLabels)
        let e = try LabelledSequences.readInputs(path: try write(dir, "in2.csv", "sequence,label\nAAAA,\nCCCC,\n"))
        #expect(!e.hasLabels && e.count == 2)
        let schema = try LabelSchema(problemType: .singleLabel, numLabels: 2, labelNames: ["neg", "pos"])
        let f = try LabelledSequences.readInputs(path: try write(dir, "in3.csv", "name,sequence,label\nx,AAAA,pos\ny,CCCC,neg\n"), schema: schema)
        #expect(f.hasLabels && f.classLabels == [1, 0] && f.ids == ["x", "y"] && f.schema == schema)
        expectError(.format, ["no 'sequence' column"]) {
            _ = try LabelledSequences.readInputs(path: try write(dir, "in4.csv", "seq\nAAAA\n"))
        }
        expectError(.format, ["truncated", "'q1'"]) {
            _ = try LabelledSequences.readInputs(path: try write(dir, "bad.fq", "@q1\nACGT\n+\nII\n"))
        }
        expectError(.format, ["'r1'", "empty sequence"]) {
            _ = try LabelledSequences.readInputs(path: try write(dir, "none.fa", ">r1\n"))
        }
        expectError(.format, ["is empty"]) { _ = try LabelledSequences.readInputs(path: try write(dir, "blank.fa", "  \n")) }
    }

    @Test func schemaValidation() {
        expectError(.invalidArgument, ["1...4096", "got 0"]) { _ = try LabelSchema(problemType: .singleLabel, numLabels: 0) }
        expectError(.invalidArgument, ["got 5000"]) { _ = try LabelSchema(problemType: .multiLabel, numLabels: 5000) }
        expectError(.invalidArgument, ["regression"]) { _ = try LabelSchema(problemType: .regression, numLabels: 2) }
        expectError(.invalidArgument, ["2 class names for 3"]) { _ = try LabelSchema(problemType: .singleLabel, numLabels: 3, labelNames: ["a", "b"]) }
        expectError(.invalidArgument, ["twice"]) { _ = try LabelSchema(problemType: .singleLabel, numLabels: 2, labelNames: ["a", "a"]) }
        #expect(ProblemType(rawValue: "single_label_classification") == .singleLabel)
        #expect(ProblemType(rawValue: "multi_label_classification") == .multiLabel)
        #expect(ProblemType(rawValue: "regression") == .regression)
    }

    @Test func predictionsWriter() throws {
        let dir = FASTATestPaths.tempDir()
        let schema = try LabelSchema(problemType: .singleLabel, numLabels: 3, labelNames: ["a", "b,c", "d"])
        let truth = try LabelledSequences.read(path: try write(dir, "t.csv", "sequence,label\nAAA,d\nCC\"C,a\n"), schema: schema)
        let p1 = dir + "/p1.csv"
        try PredictionsCSV.write(path: p1, ids: ["r1", "r,2"], sequences: truth.sequences, schema: schema,
                                 scores: [0.25, 0.5, 0.25, 0.75, 0.125, 0.125], truth: truth)
        let text1 = String(decoding: try FileIO.read(p1), as: UTF8.self)
        #expect(text1 == "id,sequence,true_label,label,prob_0,prob_1,prob_2\n"
            + "r1,AAA,d,\"b,c\",0.25,0.5,0.25\n"
            + "\"r,2\",\"CC\"\"C\",a,a,0.75,0.125,0.125\n")
        // Reads back through the CSV reader with the same schema.
        let back = try LabelledSequences.readInputs(path: p1, schema: schema)
        #expect(back.ids == ["r1", "r,2"] && back.sequences == truth.sequences && back.classLabels == [1, 0])

        let ml = try LabelSchema(problemType: .multiLabel, numLabels: 2)
        let p2 = dir + "/p2.csv"
        try PredictionsCSV.write(path: p2, ids: ["x", "y"], schema: ml, scores: [0.5, 0.75, 0.25, 0.125])
        #expect(String(decoding: try FileIO.read(p2), as: UTF8.self) == "id,labels,prob_0,prob_1\nx,0;1,0.5,0.75\ny,,0.25,0.125\n")

        let rg = try LabelSchema(problemType: .regression, numLabels: 1)
        let p3 = dir + "/p3.csv"
        try PredictionsCSV.write(path: p3, ids: ["x"], schema: rg, scores: [-1.5])
        #expect(String(decoding: try FileIO.read(p3), as: UTF8.self) == "id,prediction\nx,-1.5\n")

        expectError(.invalidArgument, ["3 scores"]) {
            try PredictionsCSV.write(path: dir + "/p4.csv", ids: ["x", "y"], schema: ml, scores: [0.5, 0.5, 0.5])
        }
        expectError(.invalidArgument, ["1 sequences"]) {
            try PredictionsCSV.write(path: dir + "/p4.csv", ids: ["x", "y"], sequences: ["A"], schema: rg, scores: [1, 2])
        }
        expectError(.invalidArgument, ["truth"]) {
            try PredictionsCSV.write(path: dir + "/p4.csv", ids: ["x"], schema: schema, scores: [1, 0, 0], truth: truth)
        }
        #expect(!FileIO.exists(dir + "/p4.csv"))
    }

    /// Hugging Face config.json label entries against transformers' BertConfig
    /// (Fixtures/finetune/hf_label_config.json from tools/reference/make_metrics_fixture.py).
    @Test func huggingFaceConfigEntries() throws {
        let path = FileIO.directoryOf("\(#filePath)") + "/Fixtures/finetune/hf_label_config.json"
        let cases = try JSON.parse(bytes: FileIO.read(path))["cases"]?.arrayValue ?? []
        #expect(cases.count >= 7)
        for c in cases {
            guard let kwargs = c["kwargs"], let hf = c["config"], let hfCount = c["num_labels"]?.intValue,
                  let hfNames = c["id2label"]?.arrayValue?.compactMap(\.stringValue) else {
                Issue.record("malformed fixture case"); continue
            }
            let namesGiven = kwargs["id2label"]?.objectValue?.compactMap { $0.1.stringValue }
            let k = namesGiven?.count ?? Int(kwargs["num_labels"]?.intValue ?? 2)
            let type = kwargs["problem_type"]?.stringValue.flatMap(ProblemType.init(rawValue:)) ?? (k == 1 ? .regression : .singleLabel)
            let schema = try LabelSchema(problemType: type, numLabels: k, labelNames: namesGiven)
            let ours = Dictionary(uniqueKeysWithValues: schema.configEntries.map { ($0.0, $0.1) })
            #expect(ours["id2label"] == hf["id2label"], "id2label for \(JSON.serialize(kwargs))")
            if let l2i = hf["label2id"], !l2i.isNull { #expect(ours["label2id"] == l2i, "label2id for \(JSON.serialize(kwargs))") }
            if let p = hf["problem_type"]?.stringValue { #expect(ours["problem_type"]?.stringValue == p) }
            // Reading HF's entries back: the label count and names transformers reads.
            let back = try LabelSchema(config: hf)
            #expect(back.numLabels == Int(hfCount), "num_labels for \(JSON.serialize(kwargs))")
            let backNames: [String] = (0..<back.numLabels).map { (i: Int) -> String in back.labelNames?[i] ?? "LABEL_\(i)" }
            #expect(backNames == hfNames)
            if let p = c["problem_type"]?.stringValue { #expect(back.problemType.rawValue == p) }
            else { #expect(back.problemType == (hfCount == 1 ? .regression : .singleLabel)) }
            if namesGiven == nil { #expect(back.labelNames == nil) }
        }
        expectError(.format, ["id2label"]) { _ = try LabelSchema(config: try JSON.parse(#"{"id2label": {"0": "a", "2": "b"}}"#)) }
        expectError(.format, ["id2label"]) { _ = try LabelSchema(config: try JSON.parse(#"{"id2label": {"0": 1}}"#)) }
        expectError(.format, ["problem_type"]) { _ = try LabelSchema(config: try JSON.parse(#"{"problem_type": "ranking"}"#)) }
        expectError(.format, ["num_labels"]) { _ = try LabelSchema(config: try JSON.parse(#"{"num_labels": -3}"#)) }
        expectError(.format, ["twice"]) { _ = try LabelSchema(config: try JSON.parse(#"{"id2label": {"0": "a", "1": "a"}}"#)) }
        #expect(try LabelSchema(config: try JSON.parse("{}")).numLabels == 2)
    }
}
