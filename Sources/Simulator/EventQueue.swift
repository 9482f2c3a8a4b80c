import Domain

/// A min-priority queue of things that will happen in virtual time (a binary heap).
///
/// Items leave in order of (time, rank, insertion sequence): earliest first; at the same instant a
/// lower rank first; then first in, first out. The sequence makes the order total, so a run never
/// depends on how the heap happens to break ties.
public struct EventQueue<Element>: Sendable where Element: Sendable {
    public struct Entry: Sendable {
        public var time: Instant
        public var rank: Int
        public var sequence: UInt64
        public var element: Element

        func precedes(_ other: Entry) -> Bool {
            if time != other.time { return time < other.time }
            if rank != other.rank { return rank < other.rank }
            return sequence < other.sequence
        }
    }

    private var heap: [Entry] = []
    private var nextSequence: UInt64 = 0

    public init() {}

    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }
    public var first: Entry? { heap.first }

    public mutating func push(_ element: Element, at time: Instant, rank: Int = 0) {
        heap.append(Entry(time: time, rank: rank, sequence: nextSequence, element: element))
        nextSequence += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    public mutating func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var best = parent
            if left < heap.count && heap[left].precedes(heap[best]) { best = left }
            if right < heap.count && heap[right].precedes(heap[best]) { best = right }
            if best == parent { break }
            heap.swapAt(parent, best)
            parent = best
        }
        return top
    }
}
