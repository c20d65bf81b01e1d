#if canImport(Glibc)
import Glibc
#endif

/// A growable list of corpus positions owned manually (malloc/realloc): the trainer keeps one per pair,
/// tens of thousands of them, and hands them from the per-merge scratch to the pair table without copying.
struct BPETrainerPosList {
    var ptr: UnsafeMutablePointer<Int32>? = nil
    var count: Int = 0
    var capacity: Int = 0
    /// Set when realloc failed; the trainer checks it and throws `.outOfMemory` instead of trapping.
    var outOfMemory = false
    /// An initial pair whose positions are collected by a corpus scan when it is merged.
    var deferred = false

    init() {}

    init(exactCapacity n: Int) {
        if n > 0 {
            ptr = malloc(n * 4)?.assumingMemoryBound(to: Int32.self)
            capacity = ptr == nil ? 0 : n
        }
    }

    @inline(__always) mutating func append(_ v: Int32) {
        if count == capacity && !grow() { return }
        ptr.unsafelyUnwrapped[count] = v
        count += 1
    }

    mutating func grow() -> Bool {
        let newCap = max(8, capacity * 2)
        guard let p = realloc(ptr, newCap * 4) else { outOfMemory = true; return false }
        ptr = p.assumingMemoryBound(to: Int32.self)
        capacity = newCap
        return true
    }

    mutating func append(contentsOf o: BPETrainerPosList) {
        guard o.count > 0, let src = o.ptr else { return }
        if o.outOfMemory { outOfMemory = true }
        while capacity < count + o.count { if !grow() { return } }
        (ptr.unsafelyUnwrapped + count).update(from: src, count: o.count)
        count += o.count
    }

    /// Gives back the doubling slack: most lists live on, unmerged, until training ends.
    mutating func shrinkToFit() {
        guard let p = ptr, count > 0, capacity - count > 16 else { return }
        if let q = realloc(p, count * 4) {
            ptr = q.assumingMemoryBound(to: Int32.self)
            capacity = count
        }
    }

    mutating func release() {
        free(ptr)
        ptr = nil; count = 0; capacity = 0
    }

    /// True when positions are ascending (needed before merging a pair (x, x) left to right).
    func isSorted() -> Bool {
        guard let p = ptr, count > 1 else { return true }
        for i in 1..<count where p[i - 1] > p[i] { return false }
        return true
    }

    mutating func sort() {
        guard let p = ptr, count > 1 else { return }
        var buf = UnsafeMutableBufferPointer(start: p, count: count)
        buf.sort()
    }
}

/// Open-addressing hash map from a pair key (left << 16 | right) to its index in the pair table.
struct BPETrainerPairIndex {
    private var keys: [UInt32]
    private var vals: [Int32]
    private var mask: Int
    private(set) var count = 0
    static let empty = UInt32.max

    init(capacity: Int) {
        var n = 64
        while n < capacity * 2 { n <<= 1 }
        keys = [UInt32](repeating: BPETrainerPairIndex.empty, count: n)
        vals = [Int32](repeating: -1, count: n)
        mask = n - 1
    }

    @inline(__always) static func hash(_ k: UInt32) -> Int {
        Int(truncatingIfNeeded: (UInt64(k) &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }

    @inline(__always) func find(_ key: UInt32) -> Int32 {
        var i = BPETrainerPairIndex.hash(key) & mask
        while true {
            let k = keys[i]
            if k == key { return vals[i] }
            if k == BPETrainerPairIndex.empty { return -1 }
            i = (i + 1) & mask
        }
    }

    mutating func insert(_ key: UInt32, _ value: Int32) {
        if (count + 1) * 2 > keys.count { rehash(keys.count * 2) }
        var i = BPETrainerPairIndex.hash(key) & mask
        while keys[i] != BPETrainerPairIndex.empty && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == BPETrainerPairIndex.empty { count += 1 }
        keys[i] = key
        vals[i] = value
    }

    private mutating func rehash(_ n: Int) {
        let oldK = keys, oldV = vals
        keys = [UInt32](repeating: BPETrainerPairIndex.empty, count: n)
        vals = [Int32](repeating: -1, count: n)
        mask = n - 1
        count = 0
        for j in 0..<oldK.count where oldK[j] != BPETrainerPairIndex.empty { insert(oldK[j], oldV[j]) }
    }
}

/// Max-heap entry: higher count first; on equal counts the smaller (left id, right id) first, the rule of
/// Hugging Face's BpeTrainer, so both trainers pick the same pair on ties.
struct BPETrainerHeapEntry {
    var count: Int64
    var key: UInt32

    @inline(__always) func before(_ o: BPETrainerHeapEntry) -> Bool {
        count > o.count || (count == o.count && key < o.key)
    }
}

struct BPETrainerHeap {
    var items: [BPETrainerHeapEntry] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ e: BPETrainerHeapEntry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if !items[i].before(items[parent]) { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> BPETrainerHeapEntry? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return last }
        let top = items[0]
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && items[l + 1].before(items[l]) { c = l + 1 }
            if !items[c].before(items[i]) { break }
            items.swapAt(i, c)
            i = c
        }
        return top
    }
}
