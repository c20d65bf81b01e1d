#if canImport(Glibc)
import Glibc
#endif

/// Options of the pretraining data stream. Defaults follow DNABERT-2 (128-token sequences, N-containing
/// sequences removed) with a held-out tail of every record for validation.
public struct PretrainingDataOptions: Sendable {
    /// Tokens per sequence including [CLS] and [SEP].
    public var sequenceLength = 128
    /// Bases read per window = sequenceLength × basesPerToken; the window is tokenized and cut to
    /// sequenceLength − 2 tokens. DNABERT-2's BPE averages about 4–5 bp per token on genomes, so 6 leaves a margin;
    /// a window that yields fewer tokens is padded.
    public var basesPerToken = 6
    /// Drop windows with any base other than A, C, G, T (true) or tokenize them as they are (false).
    public var dropWindowsWithN = true
    /// Reverse-complement each training window with probability 1/2.
    public var reverseComplement = true
    /// The last fraction of every record is held out for validation (ignored when `validationFiles` is set).
    public var validationFraction = 0.05
    /// Separate validation files; when given, the training files are used whole.
    public var validationFiles: [String] = []
    /// Number of fixed validation windows.
    public var validationWindows = 256
    /// Masking recipe.
    public var maskProbability = 0.15
    public var seed: UInt64 = 0
    /// Draws without an acceptable window before giving up (when dropping N).
    public var maxAttempts = 10_000

    public init() {}

    public func validate() throws {
        guard sequenceLength >= 3, sequenceLength <= 1 << 20 else {
            throw DNABertError.invalidArgument("pretraining data: sequence length must be in 3...\(1 << 20), got \(sequenceLength)")
        }
        guard basesPerToken >= 1, basesPerToken <= 64 else {
            throw DNABertError.invalidArgument("pretraining data: bases per token must be in 1...64, got \(basesPerToken)")
        }
        guard validationFraction >= 0, validationFraction < 1 else {
            throw DNABertError.invalidArgument("pretraining data: validation fraction must be in [0, 1), got \(validationFraction)")
        }
        guard validationWindows >= 0 else {
            throw DNABertError.invalidArgument("pretraining data: validation windows must be >= 0, got \(validationWindows)")
        }
        guard maxAttempts >= 1 else { throw DNABertError.invalidArgument("pretraining data: maxAttempts must be >= 1") }
    }
}

/// Random pretraining windows from FASTA / FASTQ files (plain or gzip), across records and species.
///
/// Each training window picks a record with probability proportional to its training length, a uniform start,
/// reads sequenceLength × basesPerToken bases (upper-cased), optionally reverse-complements them, tokenizes,
/// keeps the first sequenceLength − 2 tokens and frames them with [CLS] … [SEP]. Validation windows come only
/// from the held-out part of each record (its last `validationFraction`) or from separate files, so they never
/// overlap training bases. All randomness comes from one `TrainingRNG`; `state` / `restore` give an exact resume.
///
/// All sequences are held in memory (one byte per base).
public final class PretrainingData: @unchecked Sendable {
    /// One record's place in the base store.
    public struct Record: Sendable, Equatable {
        public var file: String
        public var name: String
        /// Offset of the record's first base in the store and its length.
        public var offset: Int
        public var length: Int
        /// Bases [0, trainLength) are for training, [trainLength, length) for validation.
        public var trainLength: Int
    }

    /// A window before masking.
    public struct Window: Sendable, Equatable {
        /// [CLS] tokens… [SEP], at most sequenceLength ids (not padded).
        public var ids: [Int32]
        /// Index into `records` (of `validationRecords` for validation windows), first base, base count.
        public var record: Int
        public var start: Int
        public var count: Int
        public var reversed: Bool
    }

    /// Position of the stream: everything needed to continue exactly where it was.
    public struct State: Sendable, Equatable {
        public var rng: TrainingRNG
        public var windows: Int
        public var batches: Int
        /// Identifies the data and options the state belongs to; `restore` refuses another.
        public var fingerprint: String

        public var json: JSONValue {
            .object([("rng", rng.json), ("windows", .int(Int64(windows))), ("batches", .int(Int64(batches))),
                     ("fingerprint", .string(fingerprint))])
        }

        public init(json: JSONValue) throws {
            guard let r = json["rng"], let w = json["windows"]?.intValue, let b = json["batches"]?.intValue,
                  let f = json["fingerprint"]?.stringValue, w >= 0, b >= 0 else {
                throw DNABertError.format("pretraining data state: expected rng, windows, batches and fingerprint")
            }
            rng = try TrainingRNG(json: r)
            windows = Int(w)
            batches = Int(b)
            fingerprint = f
        }

        init(rng: TrainingRNG, windows: Int, batches: Int, fingerprint: String) {
            self.rng = rng
            self.windows = windows
            self.batches = batches
            self.fingerprint = fingerprint
        }
    }

    public let tokenizer: Tokenizer
    public let options: PretrainingDataOptions
    public let masking: MLMMasking
    /// Training records (with held-out tails when no validation files are given).
    public let records: [Record]
    /// Records of the validation files (empty when validation is a held-out tail of `records`).
    public let validationRecords: [Record]
    /// The fixed validation windows (unmasked).
    public private(set) var validationWindows: [Window] = []
    public private(set) var state: State

    private let store: [UInt8]
    private let validationStore: [UInt8]
    /// Cumulative training lengths, for sampling a record ∝ length.
    private let cumulative: [Int]
    private let clsId: Int32, sepId: Int32, padId: Int32
    public var windowBases: Int { options.sequenceLength * options.basesPerToken }

    public convenience init(files: [String], tokenizer: Tokenizer, options: PretrainingDataOptions = .init()) throws {
        guard !files.isEmpty else { throw DNABertError.invalidArgument("pretraining data: no input files") }
        let train = try Self.load(files)
        let val = try Self.load(options.validationFiles)
        try self.init(train: train, validation: val, tokenizer: tokenizer, options: options)
    }

    /// In-memory sequences (tests, or callers with their own reader): (file label, record name, bases).
    public convenience init(sequences: [(file: String, name: String, bases: [UInt8])], validationSequences: [(file: String, name: String, bases: [UInt8])] = [],
                            tokenizer: Tokenizer, options: PretrainingDataOptions = .init()) throws {
        var s1: [UInt8] = [], r1: [Record] = []
        for (f, n, b) in sequences { Self.append(b, file: f, name: n, to: &s1, &r1) }
        var s2: [UInt8] = [], r2: [Record] = []
        for (f, n, b) in validationSequences { Self.append(b, file: f, name: n, to: &s2, &r2) }
        try self.init(train: (s1, r1), validation: (s2, r2), tokenizer: tokenizer, options: options)
    }

    private static func append(_ bases: [UInt8], file: String, name: String, to store: inout [UInt8], _ recs: inout [Record]) {
        guard !bases.isEmpty else { return }
        let off = store.count
        store.reserveCapacity(store.count + bases.count)
        for b in bases { store.append(b >= 0x61 && b <= 0x7A ? b - 0x20 : b) }
        recs.append(Record(file: file, name: name, offset: off, length: bases.count, trainLength: bases.count))
    }

    private static func load(_ files: [String]) throws -> ([UInt8], [Record]) {
        var store: [UInt8] = [], recs: [Record] = []
        for f in files {
            let reader = try FASTAReader(path: f)
            while let r = try reader.next() { append(r.sequence, file: f, name: r.name, to: &store, &recs) }
        }
        return (store, recs)
    }

    private init(train: ([UInt8], [Record]), validation: ([UInt8], [Record]), tokenizer: Tokenizer, options: PretrainingDataOptions) throws {
        try options.validate()
        guard let cls = tokenizer.clsId, let sep = tokenizer.sepId, let pad = tokenizer.padId else {
            throw DNABertError.invalidArgument("pretraining data: the tokenizer needs [CLS], [SEP] and [PAD] tokens")
        }
        self.tokenizer = tokenizer
        self.options = options
        self.masking = try MLMMasking(tokenizer: tokenizer, probability: options.maskProbability)
        clsId = cls; sepId = sep; padId = pad
        var recs = train.1
        guard !recs.isEmpty else { throw DNABertError.invalidArgument("pretraining data: the input files hold no sequence") }
        let separate = !validation.1.isEmpty || !options.validationFiles.isEmpty
        if !separate {
            for i in recs.indices {
                recs[i].trainLength = recs[i].length - Int((Double(recs[i].length) * options.validationFraction).rounded(.up))
            }
        }
        var cum: [Int] = []
        var total = 0
        for r in recs { total += r.trainLength; cum.append(total) }
        guard total > 0 else { throw DNABertError.invalidArgument("pretraining data: no bases left for training") }
        records = recs
        validationRecords = validation.1
        store = train.0
        validationStore = validation.0
        cumulative = cum
        var fp: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ x: Int) { fp = (fp ^ UInt64(truncatingIfNeeded: x)) &* 0x100_0000_01B3 }
        for r in recs { mix(r.length); mix(r.trainLength) }
        for r in validation.1 { mix(r.length) }
        mix(options.sequenceLength); mix(options.basesPerToken); mix(options.dropWindowsWithN ? 1 : 0)
        mix(options.reverseComplement ? 1 : 0); mix(Int(options.seed & 0x7FFF_FFFF_FFFF_FFFF))
        state = State(rng: TrainingRNG(seed: options.seed), windows: 0, batches: 0, fingerprint: String(fp, radix: 16))

        // Fixed validation windows from their own generator.
        var vrng = TrainingRNG(seed: options.seed ^ 0x7661_6C69_6461_7465)
        var vwins: [Window] = []
        let vstore = separate ? validation.0 : train.0
        let vregions: [(record: Int, lo: Int, hi: Int)] = separate
            ? validation.1.enumerated().map { ($0.offset, 0, $0.element.length) }
            : recs.enumerated().compactMap { $0.element.trainLength < $0.element.length ? ($0.offset, $0.element.trainLength, $0.element.length) : nil }
        var vcum: [Int] = []
        var vtotal = 0
        for r in vregions { vtotal += r.hi - r.lo; vcum.append(vtotal) }
        if vtotal > 0 && options.validationWindows > 0 {
            let vrecs = separate ? validation.1 : recs
            var attempts = 0
            while vwins.count < options.validationWindows {
                let k = Self.pick(vcum, &vrng)
                let reg = vregions[k]
                if let w = sample(store: vstore, record: vrecs[reg.record], recordIndex: reg.record, lo: reg.lo, hi: reg.hi,
                                  reverse: false, rng: &vrng) {
                    vwins.append(w)
                    attempts = 0
                } else {
                    attempts += 1
                    if attempts >= options.maxAttempts {
                        throw DNABertError.invalidArgument("pretraining data: no validation window without N found in \(attempts) draws")
                    }
                }
            }
        }
        validationWindows = vwins
    }

    /// Index of the region containing a uniform draw over the cumulative lengths.
    private static func pick(_ cum: [Int], _ rng: inout TrainingRNG) -> Int {
        let x = rng.nextInt(below: cum[cum.count - 1])
        var lo = 0, hi = cum.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cum[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// A window in [lo, hi) of a record, or nil when it holds a non-ACGT base and those are dropped.
    private func sample(store: [UInt8], record: Record, recordIndex: Int, lo: Int, hi: Int, reverse: Bool,
                        rng: inout TrainingRNG) -> Window? {
        let n = min(windowBases, hi - lo)
        let start = lo + rng.nextInt(below: hi - lo - n + 1)
        let rc = reverse && options.reverseComplement && (rng.next() >> 63) == 1
        var bases = [UInt8](repeating: 0, count: n)
        var clean = true
        store.withUnsafeBufferPointer { s in
            let base = record.offset + start
            for i in 0..<n {
                let b = s[base + i]
                switch b {
                case 65, 67, 71, 84: break
                default: clean = false
                }
                bases[rc ? n - 1 - i : i] = rc ? ReverseComplement.complement(b) : b
            }
        }
        if !clean && options.dropWindowsWithN { return nil }
        var eo = EncodeOptions()
        eo.addSpecialTokens = true
        eo.maxLength = options.sequenceLength
        eo.withOffsets = false
        let ids = bases.withUnsafeBufferPointer { tokenizer.encode($0, options: eo).ids }
        return Window(ids: ids, record: recordIndex, start: start, count: n, reversed: rc)
    }


    /// The next training window (unmasked).
    public func nextWindow() throws -> Window {
        var attempts = 0
        while true {
            let k = Self.pick(cumulative, &state.rng)
            let r = records[k]
            if let w = sample(store: store, record: r, recordIndex: k, lo: 0, hi: r.trainLength, reverse: true, rng: &state.rng) {
                state.windows += 1
                return w
            }
            attempts += 1
            if attempts >= options.maxAttempts {
                throw DNABertError.invalidArgument("pretraining data: no training window without N found in \(attempts) draws; use dropWindowsWithN = false")
            }
        }
    }

    /// Pads windows to sequenceLength (no masking; labels all -100).
    public func collate(_ windows: [Window]) -> MLMBatch {
        let len = options.sequenceLength
        var ids = [Int32](repeating: padId, count: windows.count * len)
        var att = [Int32](repeating: 0, count: windows.count * len)
        for (r, w) in windows.enumerated() {
            for (j, id) in w.ids.prefix(len).enumerated() {
                ids[r * len + j] = id
                att[r * len + j] = 1
            }
        }
        return MLMBatch(ids: ids, attentionMask: att, labels: [Int32](repeating: MLMBatch.ignoreIndex, count: ids.count),
                        batch: windows.count, length: len)
    }

    /// The next training batch: `batchSize` windows, padded to sequenceLength, masked.
    public func nextBatch(_ batchSize: Int) throws -> MLMBatch {
        guard batchSize > 0 else { throw DNABertError.invalidArgument("pretraining data: batch size must be positive, got \(batchSize)") }
        let saved = state
        do {
            var wins: [Window] = []
            wins.reserveCapacity(batchSize)
            for _ in 0..<batchSize { wins.append(try nextWindow()) }
            var b = collate(wins)
            try masking.apply(to: &b, rng: &state.rng)
            state.batches += 1
            return b
        } catch {
            state = saved
            throw error
        }
    }

    /// The fixed validation set in batches of `batchSize` (the last may be smaller), masked with a fixed
    /// generator: the same batches on every call and for every resume.
    public func validationBatches(batchSize: Int) throws -> [MLMBatch] {
        guard batchSize > 0 else { throw DNABertError.invalidArgument("pretraining data: batch size must be positive, got \(batchSize)") }
        var rng = TrainingRNG(seed: options.seed ^ 0x6D61_736B_7661_6C21)
        var out: [MLMBatch] = []
        var i = 0
        while i < validationWindows.count {
            let chunk = Array(validationWindows[i..<min(i + batchSize, validationWindows.count)])
            var b = collate(chunk)
            try masking.apply(to: &b, rng: &rng)
            out.append(b)
            i += batchSize
        }
        return out
    }

    /// Continues from a saved position. Throws `.invalidArgument` when the state belongs to other data or options.
    public func restore(_ s: State) throws {
        guard s.fingerprint == state.fingerprint else {
            throw DNABertError.invalidArgument("pretraining data: the saved data position belongs to different data or options (fingerprint \(s.fingerprint), this data \(state.fingerprint))")
        }
        state = s
    }

    /// Bases of a training record (for tests and diagnostics).
    public func bases(ofRecord k: Int) -> ArraySlice<UInt8>? {
        guard k >= 0, k < records.count else { return nil }
        return store[records[k].offset..<(records[k].offset + records[k].length)]
    }

    /// Bases of a validation-file record.
    public func bases(ofValidationRecord k: Int) -> ArraySlice<UInt8>? {
        guard k >= 0, k < validationRecords.count else { return nil }
        let r = validationRecords[k]
        return validationStore[r.offset..<(r.offset + r.length)]
    }
}
