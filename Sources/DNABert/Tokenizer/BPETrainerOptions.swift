/// How letter case is treated when building the training alphabet.
public enum CasePolicy: Int32, Sendable {
    /// Fold a-z to A-Z (the DNABERT-2 convention: its vocabulary is upper case only).
    case upper = 0
    /// Keep lower-case letters as distinct symbols (soft-masked repeats become their own tokens).
    case keep = 1
}

/// What happens to bytes other than A, C, G, T.
public enum NonACGTPolicy: Int32, Sendable {
    /// Cut words at them and drop them (the default; DNABERT-2 removed N from its corpus).
    case split = 0
    /// Keep IUPAC letters (N R Y S W K M B D H V U) as alphabet symbols; anything else still cuts words.
    case keep = 1
}

/// Reported while training; `etaSeconds` is an estimate (negative when unknown).
public struct TrainProgress: Sendable {
    public var stage: String
    public var current: Int64
    public var total: Int64
    public var elapsedSeconds: Double
    public var etaSeconds: Double

    public init(stage: String, current: Int64, total: Int64, elapsedSeconds: Double, etaSeconds: Double) {
        self.stage = stage
        self.current = current
        self.total = total
        self.elapsedSeconds = elapsedSeconds
        self.etaSeconds = etaSeconds
    }
}

public struct BPETrainerOptions: Sendable {
    /// Final vocabulary size INCLUDING the 5 special tokens ([UNK] [CLS] [SEP] [PAD] [MASK]).
    public var vocabSize = 4096
    /// A pair must occur at least this often to be merged (0 behaves as 1).
    public var minFrequency = 2
    /// Longest token in bases; 0 = unlimited (internally capped at `BPETrainer.maxTokenBases`).
    public var maxTokenLength = 0
    /// Records are cut into words of this many bases (pairs never span a word boundary). Default 10 000,
    /// chosen by measurement (bench/word_length_policy.py, 5 genomes, held-out 10%): 100 → 5.014 bp/token,
    /// 1 000 → 5.036, 10 000 → 5.038 (best, = 100 000); this trainer's time does not depend on it, and
    /// shorter words would only lose compression while longer ones give the threads fewer cut points.
    public var wordLength = BPETrainer.defaultWordLength
    public var casePolicy = CasePolicy.upper
    public var nonACGT = NonACGTPolicy.split
    /// Worker threads; 0 = all cores.
    public var threads = 0
    /// Stop reading after this many sequence bytes; 0 = all.
    public var maxBases: Int64 = 0
    /// Position lists at least this long are merged by several threads (internal: tests lower it).
    var parallelMergeThreshold = 20_000
    /// Corpora with more symbols than this do not keep position lists for the alphabet pairs (internal).
    var initialListMaxSymbols = 1 << 27

    public init() {}
}

/// The trainer's result: the alphabet in id order (ids 5, 6, … after the specials) and the merges in rank
/// order; merge i creates token id 5 + alphabet.count + i, whose string is left + right (all distinct).
public struct TrainedBPE: Sendable {
    public var alphabet: [String]
    public var merges: [(String, String)]

    public init(alphabet: [String], merges: [(String, String)]) {
        self.alphabet = alphabet
        self.merges = merges
    }
}
