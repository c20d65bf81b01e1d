import CDNABertABI
import DNABert
#if canImport(Glibc)
import Glibc
#endif

// Shared plumbing of the C API: status translation, handle boxing and validation, parameter structs.

/// Runs `body`, translating a thrown error into a status code and the thread's last-error message.
@inline(__always)
func guarded(_ function: StaticString, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return DNABERT_OK
    } catch let e as DNABertError {
        setLastError("\(function): \(e.message)")
        return e.kind.rawValue
    } catch let e as JSONError {
        setLastError("\(function): \(e.description)")
        return DNABERT_ERR_FORMAT
    } catch {
        setLastError("\(function): \(error)")
        return DNABERT_ERR_INTERNAL
    }
}

func setLastError(_ message: String) {
    message.withCString { dnabert_internal_set_error($0) }
}

/// Throws `.invalidArgument` for a NULL pointer argument.
@inline(__always)
func require<T>(_ p: T?, _ name: String) throws -> T {
    guard let p else { throw DNABertError.invalidArgument("argument '\(name)' is NULL") }
    return p
}

/// What a C handle points at: a fresh box per handle, so two handles to one object (a model's tokenizer
/// handed out twice) are freed independently.
final class HandleBox {
    let object: AnyObject
    let type: ObjectIdentifier
    init(_ object: AnyObject, type: ObjectIdentifier) {
        self.object = object
        self.type = type
    }
}

/// Live handles, so that a freed or foreign pointer passed back by a caller is reported as an error
/// instead of crashing the host process (R, Python). A lock per call is cheap next to any real work.
final class HandleRegistry: @unchecked Sendable {
    static let shared = HandleRegistry()
    private var live: Set<UnsafeMutableRawPointer> = []
    private var lock = pthread_mutex_t()

    init() { pthread_mutex_init(&lock, nil) }

    func box<T: AnyObject>(_ object: T) -> OpaquePointer {
        let raw = Unmanaged.passRetained(HandleBox(object, type: ObjectIdentifier(T.self))).toOpaque()
        pthread_mutex_lock(&lock)
        live.insert(raw)
        pthread_mutex_unlock(&lock)
        return OpaquePointer(raw)
    }

    /// The object behind a handle, if it is a live handle of type T.
    func object<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type, name: String) throws -> T {
        guard let handle else { throw DNABertError.invalidArgument("argument '\(name)' is NULL") }
        let raw = UnsafeMutableRawPointer(handle)
        // Take a strong reference while holding the lock, so a concurrent free cannot pull it away.
        pthread_mutex_lock(&lock)
        var object: AnyObject? = nil
        if live.contains(raw) {
            let box = Unmanaged<HandleBox>.fromOpaque(raw).takeUnretainedValue()
            if box.type == ObjectIdentifier(T.self) { object = box.object }
        }
        pthread_mutex_unlock(&lock)
        guard let object else {
            throw DNABertError.invalidArgument("argument '\(name)' is not a live \(T.self) handle (already freed?)")
        }
        return unsafeDowncast(object, to: T.self)
    }

    /// Releases a handle; unknown pointers are ignored (double free is harmless).
    func free<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type) {
        guard let handle else { return }
        let raw = UnsafeMutableRawPointer(handle)
        pthread_mutex_lock(&lock)
        var found = false
        if live.contains(raw), Unmanaged<HandleBox>.fromOpaque(raw).takeUnretainedValue().type == ObjectIdentifier(T.self) {
            live.remove(raw)
            found = true
        }
        pthread_mutex_unlock(&lock)
        if found { Unmanaged<HandleBox>.fromOpaque(raw).release() }
    }
}

/// The struct sizes a caller may pass for a C struct: the end of each field after `struct_size`, and that end
/// rounded up to the struct's alignment (the sizeof of a layout that stops there). Every released layout of
/// a struct is a prefix of the current one (fields are only appended), so these are exactly the field
/// boundaries of released layouts; a size ending inside a field (half a pointer) is not among them.
/// Computed once per struct type from its reflected fields, laid out by the C rules.
final class StructSizes: @unchecked Sendable {
    static let shared = StructSizes()
    private var cache: [ObjectIdentifier: Set<Int>] = [:]
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }

    func valid<T>(_ sample: T) -> Set<Int> {
        let key = ObjectIdentifier(T.self)
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if let s = cache[key] { return s }
        func layout<V>(_ v: V) -> (size: Int, align: Int) { (MemoryLayout<V>.size, MemoryLayout<V>.alignment) }
        let align = MemoryLayout<T>.alignment
        var end = 0
        var sizes: Set<Int> = []
        for (i, child) in Mirror(reflecting: sample).children.enumerated() {
            let (size, a) = _openExistential(child.value, do: layout)
            end = (end + a - 1) / a * a + size
            if i > 0 {
                sizes.insert(end)
                sizes.insert((end + align - 1) / align * align)
            }
        }
        precondition((end + align - 1) / align * align == MemoryLayout<T>.size, "struct layout of \(T.self) not reproduced")
        cache[key] = sizes
        return sizes
    }

    /// Throws `.invalidArgument` unless `size` is a field boundary of a released layout of T.
    @inline(__always)
    func check<T>(_ size: Int, _ sample: T, name: String) throws {
        // The current layout (a caller built against this header) needs no lookup: the hot path of small calls.
        if size == MemoryLayout<T>.size { return }
        try checkOlder(size, sample, name: name)
    }

    func checkOlder<T>(_ size: Int, _ sample: T, name: String) throws {
        guard valid(sample).contains(size) else {
            let ok = valid(sample).sorted()
            throw DNABertError.invalidArgument("\(name).struct_size is \(size), which is not the size of a released layout of "
                + "\(T.self) (\(ok.first ?? 0)...\(ok.last ?? 0) at field boundaries; \(MemoryLayout<T>.size) now): set it to "
                + "sizeof(\(T.self)) or fill the struct with the matching *_default_params() first")
        }
    }
}

/// Reads a caller's parameter struct: fields beyond the caller's `struct_size` keep their defaults,
/// so a program compiled against an older, shorter struct keeps working.
func readParams<P>(_ p: UnsafePointer<P>?, defaults: P, name: String) throws -> P {
    guard let p else { return defaults }
    let callerSize = Int(UnsafeRawPointer(p).load(as: UInt32.self))
    try StructSizes.shared.check(callerSize, defaults, name: name)
    var out = defaults
    withUnsafeMutableBytes(of: &out) { dst in
        let n = min(callerSize, dst.count)
        dst.baseAddress!.copyMemory(from: UnsafeRawPointer(p), byteCount: n)
    }
    return out
}

/// Writes a result struct into a caller's struct: only its first `struct_size` bytes (set by the caller, checked
/// to be a field boundary of a released layout), leaving the caller's struct_size as it is.
func writeResult<R>(_ value: R, to p: UnsafeMutablePointer<R>?, name: String) throws {
    let p = try require(p, name)
    let callerSize = Int(UnsafeRawPointer(p).load(as: UInt32.self))
    try StructSizes.shared.check(callerSize, value, name: name)
    var v = value
    withUnsafeBytes(of: &v) { src in
        let n = min(callerSize, src.count)
        let skip = MemoryLayout<UInt32>.size
        UnsafeMutableRawPointer(p).advanced(by: skip).copyMemory(from: src.baseAddress! + skip, byteCount: n - skip)
    }
}

/// Checks a caller's result struct before a long operation (so a bad struct_size fails before the work is done).
func checkResult<R>(_ p: UnsafeMutablePointer<R>?, sample: R, name: String) throws {
    guard let p else { return }
    try StructSizes.shared.check(Int(UnsafeRawPointer(p).load(as: UInt32.self)), sample, name: name)
}

/// `sizeof` of a C struct as its struct_size field.
func structSize<T>(_: T.Type) -> UInt32 { UInt32(MemoryLayout<T>.size) }

/// Copies `s` with a NUL into a caller buffer; reports the length; BUFFER_TOO_SMALL when it does not fit.
func copyOut(_ s: String, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int, _ len: UnsafeMutablePointer<Int>?) throws {
    var s = s
    try s.withUTF8 { u in
        len?.pointee = u.count
        guard let buf, cap >= u.count + 1 else {
            throw DNABertError(.bufferTooSmall, "buffer of \(cap) bytes is too small: \(u.count + 1) needed")
        }
        if u.count > 0 { UnsafeMutableRawPointer(buf).copyMemory(from: u.baseAddress!, byteCount: u.count) }
        buf[u.count] = 0
    }
}

/// A NUL-terminated C string argument as a Swift String (must be valid UTF-8).
func string(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String {
    let p = try require(p, name)
    guard let s = String(validatingCString: p) else {
        throw DNABertError.invalidArgument("argument '\(name)' is not valid UTF-8")
    }
    return s
}

/// `n` (pointer, length) pairs as byte buffers; a NULL pointer is only allowed with length 0.
func byteBuffers(_ seqs: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?, _ n: Int) throws -> [UnsafeBufferPointer<UInt8>] {
    if n == 0 { return [] }
    let seqs = try require(seqs, "seqs"), lens = try require(lens, "lens")
    var out: [UnsafeBufferPointer<UInt8>] = []
    // Checked: a count far beyond the caller's arrays is OUT_OF_MEMORY, not an abort in reserveCapacity.
    try Memory.reserve(bytes: try Memory.byteCount(UnsafeBufferPointer<UInt8>.self, n, what: "\(n) sequences"), what: "\(n) sequences")
    out.reserveCapacity(n)
    for i in 0..<n {
        let len = lens[i]
        guard len >= 0 else { throw DNABertError.invalidArgument("lens[\(i)] is negative") }
        if len == 0 { out.append(UnsafeBufferPointer(start: nil, count: 0)); continue }
        guard let p = seqs[i] else { throw DNABertError.invalidArgument("seqs[\(i)] is NULL but lens[\(i)] = \(len)") }
        out.append(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: len))
    }
    return out
}

/// A sensible upper bound on a caller-given count, to reject garbage sizes before allocating.
let maxElements = Int(1) << 40

