/// PyTorch's `torch.save` zip format (`pytorch_model.bin`): `<archive>/data.pkl` is a pickled state
/// dict whose tensors refer by key to raw little-endian storages `<archive>/data/<key>`.
/// The pickle is read by the restricted `Unpickler` (nothing is executed). Tensors sharing a storage
/// (tied weights) are each materialised; views with an offset or non-contiguous strides are gathered.
/// The legacy pre-1.6 tar/pickle format is not supported (re-save it with a current PyTorch).
public enum PyTorchCheckpoint {
    public static func read(path: String) throws -> [(name: String, tensor: Tensor)] {
        try open(path: path).map { ($0.name, try $0.load()) }
    }

    /// The state dict's tensors in pickle order, converted only on `copy(into:)`/`load()`. The pickle
    /// and every tensor's geometry against its storage are validated here; storage CRCs on copy.
    public static func open(path: String) throws -> [LazyTensor] {
        let zip: ZipArchive
        do { zip = try ZipArchive(path: path) } catch let e as DNABertError where e.kind == .format {
            if let f = try? MappedFile(path: path), f.count >= 2, f.bytes[0] == 0x80, f.bytes[1] <= 5 {
                throw DNABertError.unsupported("'\(path)' is in PyTorch's legacy (pre-1.6) format; re-save it with torch.save from a current PyTorch")
            }
            throw DNABertError.format("'\(path)' is not a PyTorch zip checkpoint: \(e.message)")
        }
        let pkls = zip.entries.filter { $0.name.hasSuffix("/data.pkl") && !$0.name.dropLast(9).contains("/") }
        guard pkls.count == 1, let pkl = pkls.first else {
            throw DNABertError.format("'\(path)': expected exactly one '<archive>/data.pkl' entry, found \(pkls.count)")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        if let bo = zip.entry(prefix + "byteorder") {
            let order = try zip.withData(bo) { String(decoding: $0, as: UTF8.self) }
            guard order == "little" else { throw DNABertError.unsupported("'\(path)': byte order '\(order)' is not supported") }
        }
        // The tensor references are plain values; the pickle's containers are dismantled before returning.
        let items = try zip.withData(pkl) { bytes -> [(String, Pickle.TensorRef)] in
            var u = Unpickler(bytes: bytes, what: "'\(path)' data.pkl")
            defer { u.release() }
            return try stateDictItems(try u.load(), path: path)
        }
        var out: [LazyTensor] = []
        out.reserveCapacity(items.count)
        var names = Set<String>()
        for (name, ref) in items {
            guard names.insert(name).inserted else { throw DNABertError.format("'\(path)': duplicate tensor '\(name)'") }
            out.append(try lazyTensor(ref, name: name, zip: zip, prefix: prefix, path: path))
        }
        return out
    }

    /// `pytorch_model.bin` → `model.safetensors` (F32, metadata `format: pt`), one tensor at a time.
    /// Every tensor is kept, tied ones included (each gets its own copy of the data, as safetensors has
    /// no sharing). Returns the number of tensors written.
    @discardableResult
    public static func convertToSafetensors(input: String, output: String) throws -> Int {
        let tensors = try open(path: input)
        try Safetensors.write(path: output, tensors: tensors, metadata: ["format": "pt"])
        return tensors.count
    }

    /// The state dict: the top-level dict, or the dict under "state_dict"/"model" of a training checkpoint.
    static func stateDictItems(_ root: PickleValue, path: String) throws -> [(String, Pickle.TensorRef)] {
        guard case let .dict(d) = root else {
            throw DNABertError.format("'\(path)': the pickled object is a \(root.kindName), not a state dict")
        }
        func tensors(_ d: Pickle.Dict) -> [(String, Pickle.TensorRef)]? {
            var out: [(String, Pickle.TensorRef)] = []
            for (k, v) in d.items {
                guard case let .string(name) = k, case let .tensor(t) = v else { return nil }
                out.append((name, t))
            }
            return out
        }
        if let t = tensors(d) { return t }
        for (k, v) in d.items {
            if case let .string(key) = k, key == "state_dict" || key == "model", case let .dict(inner) = v, let t = tensors(inner) {
                return t
            }
        }
        for (k, v) in d.items {
            guard case .string = k else { throw DNABertError.format("'\(path)': state dict has a \(k.kindName) key") }
            if case .tensor = v { continue }
            if case let .string(name) = k {
                throw DNABertError.format("'\(path)': entry '\(name)' is a \(v.kindName), not a tensor")
            }
        }
        throw DNABertError.format("'\(path)': not a state dict")
    }

    static func lazyTensor(_ t: Pickle.TensorRef, name: String, zip: ZipArchive, prefix: String, path: String) throws -> LazyTensor {
        func bad(_ m: String) -> DNABertError { DNABertError.format("'\(path)': tensor '\(name)': \(m)") }
        let s = t.storage
        guard let entry = zip.entry(prefix + "data/" + s.key) else { throw bad("storage '\(s.key)' is missing from the archive") }
        let (needBytes, o1) = s.numel.multipliedReportingOverflow(by: s.dtype.size)
        guard !o1, entry.size == needBytes else {
            throw bad("storage '\(s.key)' holds \(entry.size) bytes, expected \(s.numel) × \(s.dtype.size)")
        }
        guard let count = ShapeMath.elementCount(t.shape) else { throw bad("invalid shape \(ShapeMath.describe(t.shape))") }
        guard t.offset >= 0, t.stride.allSatisfy({ $0 >= 0 }) else { throw bad("negative storage offset or stride") }
        // Largest element index touched, overflow-checked.
        var last = t.offset
        if count > 0 {
            for (d, st) in Swift.zip(t.shape, t.stride) {
                let (p, o) = (d - 1).multipliedReportingOverflow(by: st)
                let (q, o2) = last.addingReportingOverflow(p)
                guard !o, !o2 else { throw bad("strides overflow") }
                last = q
            }
            guard last < s.numel else {
                throw bad("shape \(ShapeMath.describe(t.shape)) stride \(ShapeMath.describe(t.stride)) at offset \(t.offset) reaches element \(last) of a \(s.numel)-element storage")
            }
        }
        let contiguous = isContiguous(t.shape, t.stride)
        return LazyTensor(name: name, shape: t.shape, dtype: s.dtype, count: count) { out in
            try zip.withData(entry) { raw in
                guard let base = raw.baseAddress else { return }
                if contiguous {
                    DTypeConversion.convert(s.dtype, from: base + t.offset * s.dtype.size, count: count, into: out)
                } else {
                    gather(t, dtype: s.dtype, from: base, into: out)
                }
            }
        }
    }

    static func isContiguous(_ shape: [Int], _ stride: [Int]) -> Bool {
        var expected = 1
        for (d, st) in zip(shape, stride).reversed() {
            if d != 1 && st != expected { return false }
            expected *= d
        }
        return true
    }

    /// Row-major walk over a strided view (the innermost dimension is a plain loop).
    static func gather(_ t: Pickle.TensorRef, dtype: DType, from base: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let rank = t.shape.count
        if rank == 0 { out[0] = DTypeConversion.element(dtype, base, t.offset); return }
        var index = [Int](repeating: 0, count: rank)
        let inner = t.shape[rank - 1], innerStride = t.stride[rank - 1]
        var n = 0
        var src = t.offset
        while true {
            for i in 0..<inner { out[n + i] = DTypeConversion.element(dtype, base, src + i * innerStride) }
            n += inner
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                src += t.stride[d]
                if index[d] < t.shape[d] { break }
                src -= t.stride[d] * t.shape[d]
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}
