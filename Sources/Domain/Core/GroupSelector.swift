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
        var scheduler = SmoothWeightedRoundRobin(zip(active.map(\.interface), GroupWeights.layout(active.map(\.weight))).map { ($0, $1) })
        for i in layout.indices where !activeNames.contains(layout[i]) {
            layout[i] = scheduler.next()
        }
        return layout
    }

    static func baseLayout(_ members: [Member]) -> [String] {
        let count = bucketCount(members)
        guard count > 0 else { return [] }
        var scheduler = SmoothWeightedRoundRobin(zip(members.map(\.interface), GroupWeights.layout(members.map(\.weight))).map { ($0, $1) })
        return (0..<count).map { _ in scheduler.next() }
    }

    /// The smallest multiple of the members' layout weight sum (`GroupWeights.layout`) that is at
    /// least `minimumBuckets` (0 without weight).
    static func bucketCount(_ members: [Member]) -> Int {
        let total = GroupWeights.layout(members.map(\.weight)).reduce(0, +)
        guard total > 0 else { return 0 }
        return total * ((minimumBuckets + total - 1) / total)
    }

    // MARK: Hash slots

    /// Slot counts predicted per group stay at most this, leaving room for other groups.
    static let maximumPredictedSlots = 256

    /// A slot count that every layout the config gives without an operator's pin fits: all members,
    /// and in failover mode each priority tier. Depends on the config only.
    static func predictedSlots(_ group: UplinkGroup) -> Int {
        let all = max(1, bucketCount(group.members))
        guard group.mode == .failover else { return all }
        var slots = all
        for count in tierBucketCounts(group) {
            let l = lcm(slots, count)
            if l <= maximumPredictedSlots { slots = l }
        }
        return slots
    }

    /// The most slots `slots(predicted:buckets:)` can give the group under any health: the
    /// prediction, or more while a failover tier whose bucket count does not divide it is in use.
    /// An operator's pin lays out one member alone, which fits any count. The decoder keeps the
    /// sum over all groups within `ConfigLimits.hashSlots`, so a group never grows its slots at
    /// run time beyond what the dataplane has.
    static func mostSlots(_ group: UplinkGroup) -> Int {
        let predicted = predictedSlots(group)
        guard group.mode == .failover else { return predicted }
        var most = predicted
        for count in tierBucketCounts(group) where predicted % count != 0 {
            most = max(most, grown(predicted, toFit: count))
        }
        return most
    }

    /// Each priority tier's bucket count, by ascending priority (one pass over the members).
    private static func tierBucketCounts(_ group: UplinkGroup) -> [Int] {
        var tiers: [Int: [Member]] = [:]
        for m in group.members { tiers[m.priority, default: []].append(m) }
        return tiers.sorted { $0.key < $1.key }.map { max(1, bucketCount($0.value)) }
    }

    /// The slots for `buckets`: the prediction when the layout fits it, else the least count that
    /// fits both (or the layout's own, when that is too many).
    static func slots(predicted: Int, buckets: [String]) -> Int {
        guard !fits(slots: predicted, buckets) else { return predicted }
        return grown(predicted, toFit: buckets.count)
    }

    /// The least count that fits both the prediction and a layout of `count` buckets, or the
    /// layout's own when that would be more than the dataplane has.
    private static func grown(_ predicted: Int, toFit count: Int) -> Int {
        let l = lcm(predicted, count)
        return l <= ConfigLimits.hashSlots ? l : count
    }

    /// Slot s routes like bucket `s % c`; that equals `buckets[h % c]` for every hash h taken modulo
    /// `slots` when the layout repeats with period gcd(slots, c) (always when c divides `slots`).
    static func fits(slots: Int, _ buckets: [String]) -> Bool {
        let c = buckets.count
        guard c > 0 else { return true }
        let d = gcd(slots, c)
        return buckets.indices.allSatisfy { buckets[$0] == buckets[$0 % d] }
    }
}

/// Member weights as the layout uses them: divided by their greatest common divisor, so that
/// `weight = 1000` twice means the same as `weight = 1` twice, and memory and hash slots depend on
/// the ratio of the weights, never on their magnitude.
enum GroupWeights {
    static func reduced(_ weights: [Int]) -> [Int] {
        let divisor = weights.reduce(0) { gcd($0, max(0, $1)) }
        guard divisor > 1 else { return weights.map { max(0, $0) } }
        return weights.map { max(0, $0) / divisor }
    }

    /// The sum of the reduced weights, saturating (a hand-built config may hold anything).
    static func reducedSum(_ weights: [Int]) -> Int {
        reduced(weights).reduce(0) { $0.addingReportingOverflow($1).overflow ? .max : $0 + $1 }
    }

    /// The weights the bucket layout uses: the reduced ones, which the decoder keeps to a sum of at
    /// most `ConfigLimits.groupWeightSum`; a hand-built config beyond that is scaled down to it
    /// (shares then approximate), so the layout never grows with a weight's magnitude.
    static func layout(_ weights: [Int]) -> [Int] {
        let reduced = reduced(weights)
        let sum = reducedSum(weights)
        let limit = ConfigLimits.groupWeightSum
        guard sum > limit else { return reduced }
        return reduced.map { $0 == 0 ? 0 : max(1, Int(Double($0) / Double(sum) * Double(limit / 2))) }
    }
}

private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
private func lcm(_ a: Int, _ b: Int) -> Int { a / gcd(a, b) * b }

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
