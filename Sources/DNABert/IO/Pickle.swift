/// A restricted unpickler for PyTorch state dicts.
///
/// Why restricted: a pickle is a program; loading one with Python's `pickle` runs any callable it
/// names. This machine understands only the opcodes `torch.save(state_dict)` emits (protocols 2-5)
/// and builds plain values. Globals are resolved against an allow-list to inert markers; REDUCE
/// "calls" only the allow-listed constructors, implemented here as data transformations. Anything
/// else is refused with `refusing pickle opcode …` / `refusing pickle global …`. Nothing is executed.
enum Pickle {
    final class Dict {
        var items: [(PickleValue, PickleValue)] = []
        var depth = 1
    }

    final class List {
        var items: [PickleValue] = []
        var depth = 1
    }

    /// Deepest container nesting accepted. A state dict needs about 5; the limit keeps hostile
    /// pickles (a million nested tuples) from overflowing the stack when the values are released.
    static let maxDepth = 64

    /// A storage named by a persistent id `('storage', torch.XStorage, key, location, numel)`.
    struct StorageRef {
        let key: String
        let dtype: DType
        let numel: Int
    }

    /// The arguments of `torch._utils._rebuild_tensor_v2` (elements, not bytes).
    struct TensorRef {
        let storage: StorageRef
        let offset: Int
        let shape: [Int]
        let stride: [Int]
    }

    /// Allow-listed globals. Storage classes map to element types; the rest are callables for REDUCE.
    static let storageTypes: [String: DType] = [
        "torch.FloatStorage": .f32, "torch.HalfStorage": .f16, "torch.BFloat16Storage": .bf16,
        "torch.DoubleStorage": .f64, "torch.LongStorage": .i64, "torch.IntStorage": .i32,
        "torch.ShortStorage": .i16, "torch.CharStorage": .i8, "torch.ByteStorage": .u8, "torch.BoolStorage": .bool,
    ]
    static let callables: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    ]

    static func isAllowed(_ global: String) -> Bool { storageTypes[global] != nil || callables.contains(global) }
}

indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case tuple([PickleValue], depth: Int)
    case list(Pickle.List)
    case dict(Pickle.Dict)
    case global(String)
    case storage(Pickle.StorageRef)
    case tensor(Pickle.TensorRef)

    var depth: Int {
        switch self {
        case let .tuple(_, d): return d
        case let .list(l): return l.depth
        case let .dict(d): return d.depth
        default: return 0
        }
    }

    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(g): return "global \(g)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

struct Unpickler {
    let bytes: UnsafeRawBufferPointer
    let what: String
    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Every list and dict built, kept alive until `release()` (see there).
    private var containers: [AnyObject] = []

    init(bytes: UnsafeRawBufferPointer, what: String) {
        self.bytes = bytes
        self.what = what
    }

    private func fail(_ m: String) -> DNABertError { DNABertError.format("\(what): \(m)") }

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - pos else { throw fail("pickle truncated at byte \(pos)") }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)])
    }

    private mutating func u8() throws -> UInt8 { try take(1)[0] }
    private mutating func le(_ n: Int) throws -> UInt64 {
        let b = try take(n)
        var v: UInt64 = 0
        for i in (0..<n).reversed() { v = (v << 8) | UInt64(b[i]) }
        return v
    }

    private mutating func line() throws -> String {
        var end = pos
        while end < bytes.count && bytes[end] != 0x0A { end += 1 }
        guard end < bytes.count else { throw fail("pickle truncated inside a GLOBAL name") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[pos..<end]), as: UTF8.self)
        pos = end + 1
        return s
    }

    private mutating func utf8(_ n: UInt64) throws -> String {
        guard n <= UInt64(bytes.count - pos) else { throw fail("pickle string of \(n) bytes runs past the end") }
        let b = try take(Int(n))
        guard let s = String(validating: b, as: UTF8.self) else { throw fail("pickle string is not valid UTF-8") }
        return s
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("pickle stack underflow at byte \(pos)") }
        if let m = marks.last, stack.count < m { throw fail("pickle pops across a MARK at byte \(pos)") }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("pickle has no MARK at byte \(pos)") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func top() throws -> PickleValue {
        guard let v = stack.last, (marks.last ?? 0) < stack.count else { throw fail("pickle stack underflow at byte \(pos)") }
        return v
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        let full = module + "." + name
        guard Pickle.isAllowed(full) else { throw DNABertError.unsupported("\(what): refusing pickle global \(full)") }
        return .global(full)
    }

    /// Empties every list and dict the pickle built; call it when done with the result of `load()`
    /// (which it empties too), whether `load()` returned or threw.
    ///
    /// Why: `Pickle.maxDepth` is computed when a container is built, but lists and dicts are shared
    /// references — a pickle can append an empty list to a list, fetch the child back from the memo and keep
    /// growing it, building a 10⁶-deep chain top-down whose recorded depths all stay at 2. Releasing such a
    /// chain recursively overflowed the stack. Here every container stays referenced by `containers` while
    /// each one's items are dropped, so no release recurses into another container; tuples, which are values,
    /// really are bounded by `maxDepth`. Emptying also breaks reference cycles (a list appended to itself).
    mutating func release() {
        stack = []; memo = [:]
        for c in containers {
            if let l = c as? Pickle.List { l.items = [] } else if let d = c as? Pickle.Dict { d.items = [] }
        }
        containers = []
    }

    /// Runs the pickle to STOP and returns the top-level object (valid until `release()`).
    mutating func load() throws -> PickleValue {
        while true {
            let opPos = pos
            let op = try u8()
            switch op {
            case 0x80: // PROTO
                let v = try u8()
                guard v >= 2 && v <= 5 else { throw DNABertError.unsupported("\(what): pickle protocol \(v) is not supported") }
            case 0x95: // FRAME (length is advisory)
                _ = try le(8)
            case 0x2E: // STOP
                let v = try pop()
                guard stack.isEmpty, marks.isEmpty else { throw fail("pickle ends with \(stack.count) values left on the stack") }
                return v
            case 0x28: // MARK
                marks.append(stack.count)
            case 0x7D: stack.append(.dict(newDict()))   // EMPTY_DICT
            case 0x5D: let l = Pickle.List(); containers.append(l); stack.append(.list(l))   // EMPTY_LIST
            case 0x29: stack.append(.tuple([], depth: 1))             // EMPTY_TUPLE
            case 0x74: stack.append(try tuple(try popMark()))  // TUPLE
            case 0x85: let a = try pop(); stack.append(try tuple([a]))                                   // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(try tuple([a, b]))                 // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(try tuple([a, b, c])) // TUPLE3
            case 0x4E: stack.append(.none)            // NONE
            case 0x88: stack.append(.bool(true))      // NEWTRUE
            case 0x89: stack.append(.bool(false))     // NEWFALSE
            case 0x4B: stack.append(.int(Int64(try u8())))                                  // BININT1
            case 0x4D: stack.append(.int(Int64(try le(2))))                                 // BININT2
            case 0x4A: stack.append(.int(Int64(Int32(truncatingIfNeeded: try le(4)))))      // BININT
            case 0x8A: // LONG1: little-endian two's complement of n bytes
                let n = Int(try u8())
                guard n <= 8 else { throw DNABertError.unsupported("\(what): pickle integer of \(n) bytes is too large") }
                if n == 0 { stack.append(.int(0)); break }
                let raw = try le(n)
                let shift = UInt64(64 - 8 * n)
                stack.append(.int(Int64(bitPattern: raw << shift) >> Int64(shift)))
            case 0x47: // BINFLOAT (big-endian)
                let b = try take(8)
                var v: UInt64 = 0
                for i in 0..<8 { v = (v << 8) | UInt64(b[i]) }
                stack.append(.float(Double(bitPattern: v)))
            case 0x58: stack.append(.string(try utf8(try le(4))))   // BINUNICODE
            case 0x8C: stack.append(.string(try utf8(UInt64(try u8())))) // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try utf8(try le(8))))   // BINUNICODE8
            case 0x63: // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93: // STACK_GLOBAL
                let n = try pop(), m = try pop()
                guard case let .string(module) = m, case let .string(name) = n else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(try global(module, name))
            case 0x71: memo[Int(try u8())] = try top()        // BINPUT
            case 0x72: memo[Int(try le(4))] = try top()       // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()           // MEMOIZE
            case 0x68, 0x6A: // BINGET, LONG_BINGET
                let k = op == 0x68 ? Int(try u8()) : Int(try le(4))
                guard let v = memo[k] else { throw fail("pickle memo key \(k) is undefined") }
                stack.append(v)
            case 0x61: // APPEND
                let v = try pop()
                guard case let .list(l) = try top() else { throw fail("APPEND to a non-list") }
                l.depth = try nest(l.depth, [v])
                l.items.append(v)
            case 0x65: // APPENDS
                let items = try popMark()
                guard case let .list(l) = try top() else { throw fail("APPENDS to a non-list") }
                l.depth = try nest(l.depth, items)
                l.items.append(contentsOf: items)
            case 0x73: // SETITEM
                let v = try pop(), k = try pop()
                guard case let .dict(d) = try top() else { throw fail("SETITEM on a non-dict") }
                d.depth = try nest(d.depth, [k, v])
                d.items.append((k, v))
            case 0x75: // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
                guard case let .dict(d) = try top() else { throw fail("SETITEMS on a non-dict") }
                d.depth = try nest(d.depth, items)
                for i in stride(from: 0, to: items.count, by: 2) { d.items.append((items[i], items[i + 1])) }
            case 0x62: // BUILD: only an OrderedDict's attribute state (state_dict's `_metadata`), ignored.
                let state = try pop()
                guard case .dict = try top() else { throw DNABertError.unsupported("\(what): refusing pickle BUILD on \(try top().kindName)") }
                switch state {
                case .dict, .none, .tuple: break
                default: throw DNABertError.unsupported("\(what): refusing pickle BUILD with \(state.kindName) state")
                }
            case 0x51: // BINPERSID
                stack.append(try persistentLoad(try pop()))
            case 0x52: // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args))
            default:
                throw DNABertError.unsupported("\(what): refusing pickle opcode 0x\(String(op, radix: 16)) at byte \(opPos)")
            }
        }
    }

    private mutating func newDict() -> Pickle.Dict {
        let d = Pickle.Dict()
        containers.append(d)
        return d
    }

    private func nest(_ current: Int, _ children: [PickleValue]) throws -> Int {
        var d = current
        for c in children { d = max(d, c.depth + 1) }
        guard d <= Pickle.maxDepth else { throw DNABertError.unsupported("\(what): pickle nests containers deeper than \(Pickle.maxDepth)") }
        return d
    }

    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        .tuple(items, depth: try nest(1, items))
    }

    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case let .tuple(t, _) = pid, t.count == 5, case .string("storage") = t[0],
              case let .global(type) = t[1], case let .string(key) = t[2], case .string = t[3], case let .int(numel) = t[4] else {
            throw DNABertError.unsupported("\(what): refusing persistent id that is not ('storage', type, key, location, numel)")
        }
        guard let dtype = Pickle.storageTypes[type] else { throw DNABertError.unsupported("\(what): unsupported storage type \(type)") }
        guard numel >= 0 else { throw fail("storage '\(key)' has negative size \(numel)") }
        return .storage(Pickle.StorageRef(key: key, dtype: dtype, numel: Int(numel)))
    }

    private func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard case let .tuple(items, _) = v else { throw fail("tensor \(what) is not a tuple") }
        return try items.map {
            guard case let .int(i) = $0 else { throw fail("tensor \(what) holds a \($0.kindName)") }
            return Int(i)
        }
    }

    private mutating func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case let .global(name) = callable, Pickle.callables.contains(name) else {
            throw DNABertError.unsupported("\(what): refusing pickle REDUCE on \(callable.kindName)")
        }
        guard case let .tuple(a, _) = args else { throw fail("REDUCE arguments are not a tuple") }
        switch name {
        case "collections.OrderedDict":
            guard a.isEmpty else { throw DNABertError.unsupported("\(what): refusing OrderedDict with constructor arguments") }
            return .dict(newDict())
        case "torch._utils._rebuild_tensor_v2":
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard a.count == 6 || a.count == 7 else { throw fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got \(a.count)") }
            guard case let .storage(s) = a[0] else { throw fail("_rebuild_tensor_v2: first argument is a \(a[0].kindName), not a storage") }
            guard case let .int(offset) = a[1] else { throw fail("_rebuild_tensor_v2: storage offset is not an int") }
            let shape = try ints(a[2], "size"), stride = try ints(a[3], "stride")
            guard shape.count == stride.count else { throw fail("tensor has \(shape.count) sizes but \(stride.count) strides") }
            return .tensor(Pickle.TensorRef(storage: s, offset: Int(offset), shape: shape, stride: stride))
        case "torch._utils._rebuild_parameter":
            guard a.count == 3, case .tensor = a[0] else { throw fail("_rebuild_parameter expects (tensor, requires_grad, hooks)") }
            return a[0]
        default:
            throw DNABertError.unsupported("\(what): refusing pickle REDUCE on \(name)")
        }
    }
}
