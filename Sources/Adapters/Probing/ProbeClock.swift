#if canImport(Glibc)
import Glibc
#endif

/// Nanosecond readings of the kernel clocks the probers use.
///
/// RTTs and deadlines use CLOCK_MONOTONIC, which never jumps. Kernel receive timestamps
/// (`SO_TIMESTAMPNS`) come in CLOCK_REALTIME; `ProbeClock.monotonic(fromRealtime:…)` carries one
/// over by measuring only how long the packet waited, so a clock step can at most spoil that wait.
enum ProbeClock {
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

/// Deadlines of probes in flight, earliest first: a binary min-heap.
///
/// Entries are never removed early (a reply only clears the pending entry); when an entry comes
/// to the top its owner checks `token` against its pending table and skips it if it is stale.
/// That keeps sending and receiving O(log n) with no search.
struct ProbeDeadlineHeap<Token>: Sendable where Token: Sendable {
    struct Entry: Sendable {
        var deadline: Int64
        var token: Token
    }

    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var earliest: Int64? { entries.first?.deadline }

    mutating func insert(_ deadline: Int64, _ token: Token) {
        entries.append(Entry(deadline: deadline, token: token))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].deadline < entries[parent].deadline else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry if its deadline is at or before `now`.
    mutating func popExpired(now: Int64) -> Entry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        let last = entries.removeLast()
        guard !entries.isEmpty else { return first }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < entries.count && entries[left].deadline < entries[smallest].deadline { smallest = left }
            if right < entries.count && entries[right].deadline < entries[smallest].deadline { smallest = right }
            if smallest == parent { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
