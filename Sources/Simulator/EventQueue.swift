import Domain

/// A min-priority queue of things that will happen in virtual time (a binary heap).
///
/// Items leave in order of (time, rank, insertion sequence): earliest first; at the same instant a
/// lower rank first; then first in, first out. The sequence makes the order total, so a run never
/// depends on how the heap happens to break ties.
///
/// The heap moves only small plain keys; elements (which hold strings) wait in a slab and are
/// touched once on the way in and once on the way out. A simulated day pushes millions of them.
public struct EventQueue<Element>: Sendable where Element: Sendable {
    public struct Entry: Sendable {
        public var time: Instant
        public var rank: Int
        public var sequence: UInt64
        public var element: Element
    }

    private struct Key: Sendable {
        var time: Int64
        /// rank in the top 8 bits, insertion sequence below: one comparison orders both.
        var order: UInt64
        var slot: Int32

        @inline(__always) func precedes(_ other: Key) -> Bool {
            time != other.time ? time < other.time : order < other.order
        }
    }

    private var heap: [Key] = []
    private var slab: [Element?] = []
    private var freeSlots: [Int32] = []
    private var nextSequence: UInt64 = 0

    public init() {}

    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }

    public mutating func push(_ element: Element, at time: Instant, rank: Int = 0) {
        precondition((0..<256).contains(rank), "rank must fit in 8 bits")
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slab[Int(free)] = element
        } else {
            slot = Int32(slab.count)
            slab.append(element)
        }
        heap.append(Key(time: time.nanoseconds, order: UInt64(rank) << 56 | nextSequence, slot: slot))
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
        let n = heap.count
        while true {
            let left = 2 * parent + 1, right = left + 1
            var best = parent
            if left < n && heap[left].precedes(heap[best]) { best = left }
            if right < n && heap[right].precedes(heap[best]) { best = right }
            if best == parent { break }
            heap.swapAt(parent, best)
            parent = best
        }
        let element = slab[Int(top.slot)].take()!
        freeSlots.append(top.slot)
        return Entry(time: Instant(nanoseconds: top.time), rank: Int(top.order >> 56),
                     sequence: top.order & (1 << 56 - 1), element: element)
    }
}
