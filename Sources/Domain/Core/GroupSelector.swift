/// Chooses which members of an uplink group carry new connections, and lays out its hash buckets.
///
/// Pure: the same group, usable set and memory give the same answer.
struct GroupSelector: Sendable {
    /// Buckets per group are a multiple of the weight sum and at least this many, so that weights
    /// split exactly and a dead member's share spreads finely over the survivors.
    static let minimumBuckets = 64

    struct Selection: Equatable, Sendable {
        /// Members carrying new connections, in member order.
        var active: [String]
        var buckets: [String]
    }

    /// - Parameters:
    ///   - usable: members that are healthy, have carrier and are not in maintenance.
    ///   - forced: an operator's pin for this group, if any.
    ///   - previous: the last selection, for the all-down "last active" policy.
    static func select(_ group: UplinkGroup, usable: (String) -> Bool, forced: String?, previous: Selection?) -> Selection {
        let candidates = group.members.filter { usable($0.interface) }
        var active: [Member]
        // The members whose base layout the buckets start from: in failover mode only the tier in
        // use, so that a whole tier splits exactly by weight.
        var layoutMembers = group.members
        if let forced, let m = candidates.first(where: { $0.interface == forced }) {
            active = [m]
            layoutMembers = [m]
        } else {
            switch group.mode {
            case .balance:
                active = candidates
            case .failover:
                let best = candidates.map(\.priority).min()
                active = candidates.filter { $0.priority == best }
                layoutMembers = group.members.filter { $0.priority == best }
            }
        }
        if active.isEmpty {
            switch group.allDown {
            case .unreachable:
                return Selection(active: [], buckets: [])
            case .lastActive:
                // Keep the last layout: the uplinks may be back before their probes say so.
                let buckets = previous?.buckets.isEmpty == false ? previous!.buckets : baseLayout(group.members)
                return Selection(active: [], buckets: buckets)
            }
        }
        return Selection(active: active.map(\.interface), buckets: buckets(layoutMembers, active: active))
    }

    /// Every member's buckets in an interleaved weighted layout; buckets of inactive members are handed
    /// to active ones by weight, so an active member never loses a bucket it has in the base layout.
    /// That is what keeps hashed (sticky) sources on surviving uplinks when another one dies.
    static func buckets(_ members: [Member], active: [Member]) -> [String] {
        var layout = baseLayout(members)
        let activeNames = Set(active.map(\.interface))
        var scheduler = SmoothWeightedRoundRobin(active.map { ($0.interface, $0.weight) })
        for i in layout.indices where !activeNames.contains(layout[i]) {
            layout[i] = scheduler.next()
        }
        return layout
    }

    static func baseLayout(_ members: [Member]) -> [String] {
        let total = members.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return [] }
        let count = total * ((minimumBuckets + total - 1) / total)
        var scheduler = SmoothWeightedRoundRobin(members.map { ($0.interface, $0.weight) })
        return (0..<count).map { _ in scheduler.next() }
    }
}

/// nginx's smooth weighted round robin: over `sum(weights)` picks each item appears exactly `weight`
/// times, interleaved rather than in runs.
struct SmoothWeightedRoundRobin: Sendable {
    private var items: [(name: String, weight: Int, current: Int)]
    private let total: Int

    init(_ weighted: [(String, Int)]) {
        items = weighted.map { ($0.0, $0.1, 0) }
        total = weighted.reduce(0) { $0 + $1.1 }
    }

    mutating func next() -> String {
        var best = 0
        for i in items.indices {
            items[i].current += items[i].weight
            if items[i].current > items[best].current { best = i }
        }
        items[best].current -= total
        return items[best].name
    }
}
