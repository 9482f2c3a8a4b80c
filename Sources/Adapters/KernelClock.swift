#if canImport(Glibc)
import Glibc
#endif

/// Nanosecond readings of the kernel clocks, shared by every adapter that keeps time (probers,
/// passive checks, the daemon loop).
///
/// RTTs and deadlines use CLOCK_MONOTONIC, which never jumps. Kernel receive timestamps
/// (`SO_TIMESTAMPNS`) come in CLOCK_REALTIME; `KernelClock.monotonic(fromRealtime:…)` carries one
/// over by measuring only how long the packet waited, so a clock step can at most spoil that wait.
enum KernelClock {
    static func monotonic() -> Int64 { read(CLOCK_MONOTONIC) }

    static func realtime() -> Int64 { read(CLOCK_REALTIME) }

    private static func read(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The monotonic time at which something stamped `stamp` (realtime) happened, given a pair of
    /// readings of both clocks taken together after it. A stamp "in the future" counts as now.
    static func monotonic(fromRealtime stamp: Int64, nowMonotonic: Int64, nowRealtime: Int64) -> Int64 {
        nowMonotonic - max(0, nowRealtime - stamp)
    }

    /// Milliseconds for `poll(2)` until `deadline`, rounded up so a wake-up is never early;
    /// -1 (sleep until woken) without a deadline.
    static func pollTimeout(until deadline: Int64?, now: Int64) -> Int32 {
        guard let deadline else { return -1 }
        let remaining = deadline - now
        if remaining <= 0 { return 0 }
        return Int32(clamping: (remaining + 999_999) / 1_000_000)
    }
}
