import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// Everything besides the weights and the optimizer moments that a resumed run needs.
public struct TrainerState: Sendable {
    /// Optimizer updates done.
    public var step: Int
    public var schedule: LRSchedule
    public var optimizer: AdamWConfig
    /// Position of the pretraining data stream (nil for other data sources).
    public var data: PretrainingData.State?
    /// Further generators by purpose (e.g. "dropout", "shuffle").
    public var rngs: [String: TrainingRNG]
    /// Reports so far (the metrics history).
    public var history: [TrainingProgress]
    /// Free-form settings of the trainer (batch size, task, options), kept verbatim.
    public var extra: JSONValue

    public init(step: Int, schedule: LRSchedule, optimizer: AdamWConfig, data: PretrainingData.State? = nil,
                rngs: [String: TrainingRNG] = [:], history: [TrainingProgress] = [], extra: JSONValue = .object([])) {
        self.step = step
        self.schedule = schedule
        self.optimizer = optimizer
        self.data = data
        self.rngs = rngs
        self.history = history
        self.extra = extra
    }

    public var json: JSONValue {
        .object([
            ("format", .string("dnabert-trainer-state")), ("version", .int(1)),
            ("step", .int(Int64(step))), ("schedule", schedule.json), ("optimizer", optimizer.json),
            ("data", data?.json ?? .null),
            ("rngs", .object(rngs.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) })),
            ("history", .array(history.map(\.json))), ("extra", extra),
        ])
    }

    public init(json: JSONValue) throws {
        guard json["format"]?.stringValue == "dnabert-trainer-state" else {
            throw DNABertError.format("trainer state: not a dnabert trainer state (missing \"format\": \"dnabert-trainer-state\")")
        }
        guard let s = json["step"]?.intValue, s >= 0, let step = Int(exactly: s) else {
            throw DNABertError.format("trainer state: missing or negative 'step'")
        }
        guard let sch = json["schedule"], let opt = json["optimizer"] else {
            throw DNABertError.format("trainer state: missing 'schedule' or 'optimizer'")
        }
        self.step = step
        schedule = try LRSchedule(json: sch)
        optimizer = try AdamWConfig(json: opt)
        if let d = json["data"], !d.isNull { data = try PretrainingData.State(json: d) } else { data = nil }
        var r: [String: TrainingRNG] = [:]
        for (k, v) in json["rngs"]?.objectValue ?? [] { r[k] = try TrainingRNG(json: v) }
        rngs = r
        history = try (json["history"]?.arrayValue ?? []).map { try TrainingProgress(json: $0) }
        extra = json["extra"] ?? .object([])
    }
}

/// Crash-safe training checkpoints: `out/checkpoint-<step>/` with
///
///     config.json, model.safetensors   the model (Checkpoint.save; loadable by Hugging Face)
///     tokenizer.json                   when a tokenizer is given
///     optimizer.safetensors            AdamW moments, "<param>.exp_avg" / "<param>.exp_avg_sq", F32
///     trainer_state.json               TrainerState
///     checkpoint.json                  the completion marker: step, and size + CRC-32 of every file above
///
/// A checkpoint is written into a hidden temporary folder (`out/.tmp-checkpoint-<step>-<pid>`), every file
/// fsynced, the marker written last, the folder fsynced and renamed into place, and `out` fsynced. A checkpoint
/// is complete iff its marker exists and every listed file has the listed size and CRC; `latest` returns the
/// newest complete one, so a crash (SIGKILL, power loss) at any moment leaves the previous checkpoint usable.
public enum TrainingCheckpoint {
    public static let markerName = "checkpoint.json"
    public static let stateName = "trainer_state.json"
    public static let optimizerName = "optimizer.safetensors"
    static let prefix = "checkpoint-"
    static let tmpPrefix = ".tmp-checkpoint-"

    public static func directory(out: String, step: Int) -> String { out + "/" + prefix + String(step) }

    /// Raised by the test hook of `save`: stop (as a crash would, without cleaning up) after some stage.
    struct SimulatedCrash: Error {}

    /// Writes a checkpoint of `step = state.step` and keeps the newest `keepLast` complete checkpoints
    /// (0 keeps all). Returns the checkpoint's path.
    @discardableResult
    public static func save(out: String, model: Model, tokenizer: Tokenizer?, optimizer: AdamW, state: TrainerState,
                            keepLast: Int = 3) throws -> String {
        try save(out: out, model: model, tokenizer: tokenizer, optimizer: optimizer, state: state, keepLast: keepLast, crashAfterStage: nil)
    }

    @discardableResult
    static func save(out: String, model: Model, tokenizer: Tokenizer?, optimizer: AdamW, state: TrainerState,
                     keepLast: Int, crashAfterStage: Int?) throws -> String {
        guard keepLast >= 0 else { throw DNABertError.invalidArgument("checkpoint: keepLast must be >= 0, got \(keepLast)") }
        guard state.step >= 0 else { throw DNABertError.invalidArgument("checkpoint: step must be >= 0") }
        guard optimizer.layout.total == model.layout.total, optimizer.layout.views == model.layout.views else {
            throw DNABertError.invalidArgument("checkpoint: the optimizer's parameter layout is not the model's")
        }
        try makeDirectory(out)
        var stage = 0
        func reached() throws {
            stage += 1
            if let c = crashAfterStage, stage >= c { throw SimulatedCrash() }
        }
        let tmp = out + "/" + tmpPrefix + String(state.step) + "-" + String(getpid())
        try removeTree(tmp)
        try makeDirectory(tmp)
        do {
            try writeContents(tmp: tmp, model: model, tokenizer: tokenizer, optimizer: optimizer, state: state, reached: reached)
        } catch let e as SimulatedCrash {
            throw e
        } catch {
            try? removeTree(tmp)
            throw error
        }
        let final = directory(out: out, step: state.step)
        var displaced: String? = nil
        if FileIO.exists(final) {
            let old = out + "/" + tmpPrefix + String(state.step) + "-old-" + String(getpid())
            try removeTree(old)
            guard rename(final, old) == 0 else {
                throw DNABertError.io("cannot move the old '\(final)' aside: \(FileIO.errnoString())")
            }
            displaced = old
        }
        try reached()                                                                           // 6
        guard rename(tmp, final) == 0 else {
            let reason = FileIO.errnoString()
            if let d = displaced { _ = rename(d, final) }
            try? removeTree(tmp)
            throw DNABertError.io("cannot rename '\(tmp)' to '\(final)': \(reason)")
        }
        syncDirectory(out)
        try reached()                                                                           // 7
        if let d = displaced { try? removeTree(d) }
        try prune(out: out, keepLast: keepLast)
        return final
    }

    private static func writeContents(tmp: String, model: Model, tokenizer: Tokenizer?, optimizer: AdamW, state: TrainerState,
                                      reached: () throws -> Void) throws {
        try reached()                                                                           // 1
        // Plain writes into this checkpoint's own temporary folder (Checkpoint.save would swap in a folder of its own).
        try Checkpoint.writeFiles(into: tmp, config: model.config, layout: model.layout, parameters: UnsafeBufferPointer(model.parameters))
        try reached()                                                                           // 2
        if let t = tokenizer { try t.save(to: tmp + "/tokenizer.json") }
        var tensors: [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)] = []
        for v in optimizer.layout.views {
            tensors.append((v.name + ".exp_avg", v.shape, UnsafeBufferPointer(rebasing: optimizer.m[v.offset..<(v.offset + v.count)])))
            tensors.append((v.name + ".exp_avg_sq", v.shape, UnsafeBufferPointer(rebasing: optimizer.v[v.offset..<(v.offset + v.count)])))
        }
        try Safetensors.write(path: tmp + "/" + optimizerName, tensors: tensors,
                              metadata: ["format": "dnabert-adamw", "step": String(optimizer.step)])
        try reached()                                                                           // 3
        try FileIO.writeAtomically(tmp + "/" + stateName, string: JSON.serialize(state.json, indent: 1) + "\n")
        try reached()                                                                           // 4
        var files = ["config.json", "model.safetensors", optimizerName, stateName]
        if tokenizer != nil { files.append("tokenizer.json") }
        var listed: [JSONValue] = []
        for f in files {
            let (size, crc) = try sizeAndCRC(tmp + "/" + f)
            listed.append(.object([("name", .string(f)), ("size", .int(Int64(size))), ("crc32", .int(Int64(crc)))]))
        }
        let marker: JSONValue = .object([("format", .string("dnabert-checkpoint")), ("version", .int(1)),
                                         ("step", .int(Int64(state.step))), ("files", .array(listed))])
        try FileIO.writeAtomically(tmp + "/" + markerName, string: JSON.serialize(marker, indent: 1) + "\n")
        syncDirectory(tmp)
        try reached()                                                                           // 5
    }

    /// Deletes all but the newest `keepLast` complete checkpoints (0 keeps all) and leftovers of interrupted
    /// saves (temporary folders of processes that no longer run).
    public static func prune(out: String, keepLast: Int) throws {
        for name in try listDirectory(out) where name.hasPrefix(tmpPrefix) {
            // .tmp-checkpoint-<step>-<pid> or .tmp-checkpoint-<step>-old-<pid>
            if let pidText = name.split(separator: "-").last, let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                try? removeTree(out + "/" + name)
            }
        }
        guard keepLast > 0 else { return }
        let complete = try list(out: out).filter { (try? verify(directory: $0.path, checksums: false)) != nil }
        if complete.count > keepLast {
            for c in complete.dropLast(keepLast) { try removeTree(c.path) }
        }
    }

    /// `checkpoint-<step>` folders of `out` (complete or not), oldest first.
    public static func list(out: String) throws -> [(step: Int, path: String)] {
        guard FileIO.exists(out) else { return [] }
        var found: [(Int, String)] = []
        for name in try listDirectory(out) where name.hasPrefix(prefix) {
            let digits = name.dropFirst(prefix.count)
            if !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let s = Int(digits) {
                found.append((s, out + "/" + name))
            }
        }
        return found.sorted { $0.0 < $1.0 }.map { (step: $0.0, path: $0.1) }
    }

    /// The newest complete checkpoint of `out`, nil when there is none. Incomplete or corrupt ones are skipped.
    /// A checkpoint being replaced by a save of the same step is moved aside (`.tmp-checkpoint-<step>-old-<pid>`)
    /// for the instant before the new one is renamed into place; a crash in that instant leaves it there, and
    /// it is then still found here.
    public static func latest(out: String, checksums: Bool = true) throws -> String? {
        var candidates = try list(out: out).map { (step: $0.step, rank: 1, path: $0.path) }
        if FileIO.exists(out) {
            for name in try listDirectory(out) where name.hasPrefix(tmpPrefix) && name.contains("-old-") {
                let parts = name.dropFirst(tmpPrefix.count).split(separator: "-")
                if let first = parts.first, let s = Int(first) { candidates.append((s, 0, out + "/" + name)) }
            }
        }
        candidates.sort { ($0.step, $0.rank) < ($1.step, $1.rank) }
        for c in candidates.reversed() {
            if (try? verify(directory: c.path, checksums: checksums)) != nil { return c.path }
        }
        return nil
    }

    /// Throws `.format` unless `directory` holds a complete checkpoint: the marker, and every listed file with
    /// its size (and CRC-32 when `checksums`). Returns the step.
    @discardableResult
    public static func verify(directory: String, checksums: Bool = true) throws -> Int {
        let markerPath = directory + "/" + markerName
        guard FileIO.exists(markerPath) else { throw DNABertError.format("checkpoint '\(directory)' is incomplete: no \(markerName)") }
        let marker: JSONValue
        do { marker = try JSON.parse(bytes: FileIO.read(markerPath)) } catch let e as JSONError {
            throw DNABertError.format("checkpoint '\(directory)': \(markerName) is corrupt: \(e)")
        }
        guard marker["format"]?.stringValue == "dnabert-checkpoint", let s = marker["step"]?.intValue, let step = Int(exactly: s),
              let files = marker["files"]?.arrayValue, !files.isEmpty else {
            throw DNABertError.format("checkpoint '\(directory)': \(markerName) is not a dnabert checkpoint marker")
        }
        for f in files {
            guard let name = f["name"]?.stringValue, !name.contains("/"), let size = f["size"]?.intValue, let crc = f["crc32"]?.intValue else {
                throw DNABertError.format("checkpoint '\(directory)': malformed file entry in \(markerName)")
            }
            let path = directory + "/" + name
            if checksums {
                let (sz, c) = try sizeAndCRC(path)
                guard sz == Int(size), Int64(c) == crc else {
                    throw DNABertError.format("checkpoint '\(directory)': '\(name)' is corrupt (size \(sz), CRC-32 \(c); the marker says \(size), \(crc))")
                }
            } else {
                var st = stat()
                guard stat(path, &st) == 0 else { throw DNABertError.format("checkpoint '\(directory)': '\(name)' is missing") }
                guard Int64(st.st_size) == size else {
                    throw DNABertError.format("checkpoint '\(directory)': '\(name)' has \(st.st_size) bytes, the marker says \(size)")
                }
            }
        }
        return step
    }

    /// Restores a checkpoint: the weights into `model` (same config and heads), the moments and step into
    /// `optimizer`; returns the trainer state. Verifies the checkpoint first (sizes and CRCs).
    public static func load(directory: String, model: Model, optimizer: AdamW) throws -> TrainerState {
        try verify(directory: directory)
        guard optimizer.layout.views == model.layout.views else {
            throw DNABertError.invalidArgument("checkpoint: the optimizer's parameter layout is not the model's")
        }
        let cfg = try ModelConfig(json: JSON.parse(bytes: FileIO.read(directory + "/config.json")))
        var mine = model.config
        if !model.layout.hasClassifier { mine.numLabels = 0 }
        guard cfg.vocabSize == mine.vocabSize, cfg.hiddenSize == mine.hiddenSize, cfg.numLayers == mine.numLayers,
              cfg.numHeads == mine.numHeads, cfg.intermediateSize == mine.intermediateSize, cfg.numLabels == mine.numLabels else {
            throw DNABertError.invalidArgument("checkpoint '\(directory)': its config does not match the model's")
        }
        let stateJSON = try JSON.parse(bytes: FileIO.read(directory + "/" + stateName))
        let state = try TrainerState(json: stateJSON)
        // Moments: every view exactly once with its shape.
        let tensors = try Safetensors.open(path: directory + "/" + optimizerName)
        var byName: [String: LazyTensor] = [:]
        for t in tensors { byName[t.name] = t }
        for v in optimizer.layout.views {
            for (suffix, buf) in [(".exp_avg", optimizer.m), (".exp_avg_sq", optimizer.v)] {
                guard let t = byName[v.name + suffix] else {
                    throw DNABertError.format("checkpoint '\(directory)': \(optimizerName) lacks '\(v.name + suffix)'")
                }
                guard t.shape == v.shape, t.count == v.count else {
                    throw DNABertError.format("checkpoint '\(directory)': '\(v.name + suffix)' has shape \(t.shape), expected \(v.shape)")
                }
                try t.copy(into: UnsafeMutableBufferPointer(rebasing: buf[v.offset..<(v.offset + v.count)]))
            }
        }
        guard byName.count == 2 * optimizer.layout.views.count else {
            throw DNABertError.format("checkpoint '\(directory)': \(optimizerName) has tensors the model does not have")
        }
        let meta = try Safetensors.readMetadata(path: directory + "/" + optimizerName)
        let optStep = meta["step"].flatMap { Int($0) } ?? state.step
        try Checkpoint.load(tensors: Checkpoint.openWeights(directory: directory), layout: model.layout, into: model.parameters)
        try optimizer.restore(step: optStep)
        optimizer.config = state.optimizer
        return state
    }

    // MARK: - File system helpers

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw DNABertError.io("cannot create directory '\(path)': \(FileIO.errnoString())")
        }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    static func listDirectory(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw DNABertError.io("cannot list '\(path)': \(FileIO.errnoString())") }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a file or a folder tree; a missing path is not an error.
    static func removeTree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) { try removeTree(path + "/" + name) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw DNABertError.io("cannot remove '\(path)': \(FileIO.errnoString())") }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else { throw DNABertError.io("cannot remove '\(path)': \(FileIO.errnoString())") }
        }
    }

    /// Size and CRC-32 of a file, streamed.
    static func sizeAndCRC(_ path: String) throws -> (Int, UInt32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DNABertError.format("cannot open '\(path)': \(FileIO.errnoString())") }
        defer { close(fd) }
        let cap = 1 << 20
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        defer { buf.deallocate() }
        var crc: uLong = CZlib.crc32(0, nil, 0)
        var size = 0
        while true {
            let n = read(fd, buf, cap)
            if n < 0 {
                if errno == EINTR { continue }
                throw DNABertError.io("cannot read '\(path)': \(FileIO.errnoString())")
            }
            if n == 0 { break }
            crc = CZlib.crc32(crc, buf, uInt(n))
            size += n
        }
        return (size, UInt32(truncatingIfNeeded: crc))
    }
}
