#if canImport(Glibc)
import Glibc
#endif

/// Scratch reused across calls: the i-th request of a call gets the i-th slot (grown when too small), so
/// steady-state steps neither allocate nor page-fault.
final class ScratchSlots {
    private var slots: [(UnsafeMutablePointer<Float>, Int)] = []
    private var next = 0

    func reset() { next = 0 }

    func floats(_ count: Int, _ what: String) throws -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        defer { next += 1 }
        if next < slots.count {
            if slots[next].1 >= n { return slots[next].0 }
            let p = try Self.allocate(n, what)   // before freeing: a throw leaves the old slot valid
            free(slots[next].0)
            slots[next] = (p, n)
            return p
        }
        let p = try Self.allocate(n, what)
        slots.append((p, n))
        return p
    }

    private static func allocate(_ n: Int, _ what: String) throws -> UnsafeMutablePointer<Float> {
        let (bytes, o) = n.multipliedReportingOverflow(by: 4)
        var raw: UnsafeMutableRawPointer? = nil
        guard !o, posix_memalign(&raw, 64, bytes) == 0, let p = raw else {
            throw DNABertError(.outOfMemory, "cannot allocate \(what) (\(n) floats)")
        }
        return p.bindMemory(to: Float.self, capacity: n)
    }

    func release() {
        for (p, _) in slots { free(p) }
        slots = []
        next = 0
    }

    deinit { release() }
}
