#if canImport(Glibc)
import Glibc
#endif

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
