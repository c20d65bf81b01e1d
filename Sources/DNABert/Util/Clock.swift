#if canImport(Glibc)
import Glibc
#endif

/// The library's one clock: monotonic seconds (for elapsed times, rates and profiles; never wall time).
public enum Clock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
