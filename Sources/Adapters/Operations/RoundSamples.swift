import Domain

/// One point of a WAN's quality chart: its latency, loss and state after a probe round.
///
/// 16 bytes: a ring of 720 of them is 11.5 KB per WAN.
public struct RoundSample: Sendable, Equatable {
    /// Core time of the first round (or state change) the sample holds: a merge never moves it,
    /// so a client that re-reads from its WANs' oldest last sample sees every update.
    public var time: Instant
    /// The window's mean RTT, milliseconds; NaN when nothing answered in the window.
    public var latencyMs: Float
    /// The window's loss in hundredths of a percent (0...10,000).
    public var lossCentipercent: UInt16
    public var state: WANStatus.State

    public var lossPercent: Double { Double(lossCentipercent) / 100 }
    public var latency: Double? { latencyMs.isNaN ? nil : Double(latencyMs) }
}

/// A fixed-size ring of one WAN's samples, oldest first when read.
///
/// Rounds that fall into the same `resolution` slot of core time share one sample (the latest
/// latency, the highest loss, the worst state), so a WAN probed ten times a second still fills
/// only `capacity` samples per `capacity × resolution` of history.
struct SampleRing {
    private(set) var capacity: Int
    private(set) var resolutionNanos: Int64
    private var storage: [RoundSample] = []
    /// Index of the oldest sample once the ring is full.
    private var head = 0

    init(capacity: Int, resolutionNanos: Int64) {
        self.capacity = capacity
        self.resolutionNanos = resolutionNanos
        storage.reserveCapacity(capacity)
    }

    var count: Int { storage.count }
    var last: RoundSample? { storage.isEmpty ? nil : storage[(head + storage.count - 1) % storage.count] }
    var lastState: WANStatus.State? { last?.state }

    mutating func record(_ sample: RoundSample) {
        if let last, slot(last.time) == slot(sample.time) {
            let i = (head + storage.count - 1) % storage.count
            storage[i] = RoundSample(
                time: last.time, latencyMs: sample.latencyMs,
                lossCentipercent: max(last.lossCentipercent, sample.lossCentipercent),
                state: Self.severity(sample.state) >= Self.severity(last.state) ? sample.state : last.state)
        } else if storage.count < capacity {
            storage.append(sample)
        } else {
            storage[head] = sample
            head = (head + 1) % capacity
        }
    }

    /// The samples at or after `since`, oldest first, copied (the reader never shares the
    /// ring's storage, so the next `record` never copies it). Walks back from the newest, so a
    /// read of the last few rounds costs those few.
    func samples(since: Instant?) -> [RoundSample] {
        let n = storage.count
        var first = 0
        if let since {
            first = n
            while first > 0, storage[(head + first - 1) % n].time >= since { first -= 1 }
        }
        if first == n { return [] }
        // One contiguous run of storage, or two when the wanted part wraps around its end.
        let start = (head + first) % n, count = n - first
        if start + count <= n { return Array(storage[start..<(start + count)]) }
        return Array(storage[start..<n]) + storage[0..<(start + count - n)]
    }

    /// A ring of another size with the newest samples of this one.
    func resized(capacity: Int, resolutionNanos: Int64) -> SampleRing {
        var ring = SampleRing(capacity: capacity, resolutionNanos: resolutionNanos)
        for s in samples(since: nil).suffix(capacity) { ring.record(s) }
        return ring
    }

    private func slot(_ t: Instant) -> Int64 { t.nanoseconds / resolutionNanos }

    /// Which state a merged sample shows: the one an operator must not miss.
    static func severity(_ s: WANStatus.State) -> Int {
        switch s {
        case .up: 0
        case .degraded: 1
        case .maintenance: 2
        case .down: 3
        }
    }
}

/// The per-round samples of every WAN for the dashboard's charts: a bounded ring each, fed from
/// the snapshots the core loop publishes (no second data path), read by `GET /api/wan/samples`.
///
/// Up to `fullWANs` WANs each keep `fullCapacity` samples at `resolution` (720 × 5 s: the last
/// hour, one sample per round at the spec's 5 s interval). Beyond that the total stays at
/// `budget` samples: each ring gets `budget / WANs` (at least `minCapacity`), each sample a
/// proportionally wider slot, so every ring still spans the hour. Memory: 16 bytes a sample,
/// 11.5 KB a WAN, 737 KB for 64 WANs, and at most 16 × 16 bytes a WAN beyond 2,880 WANs.
public struct RoundSamples: Sendable {
    public static let fullCapacity = 720
    public static let resolution: Duration = .seconds(5)
    public static let fullWANs = 64
    public static let budget = fullCapacity * fullWANs
    public static let minCapacity = 16

    /// One ring and one round count per WAN, in the order of the last status (a WAN's index).
    private var names: [String] = []
    private var index: [String: Int] = [:]
    private var rings: [SampleRing] = []
    /// Each WAN's `roundsTotal` when last sampled: a sample is taken when a round ended since, or
    /// the state changed without one (carrier, maintenance).
    private var rounds: [Int] = []

    public init() {}

    /// The ring size and slot width for `wans` WANs.
    public static func shape(forWANs wans: Int) -> (capacity: Int, resolutionNanos: Int64) {
        let capacity = wans <= fullWANs ? fullCapacity : max(minCapacity, budget / wans)
        let span = Int64(fullCapacity) * resolution.nanoseconds
        return (capacity, span / Int64(capacity))
    }

    /// Takes what changed in a published status. Cheap: one comparison per WAN, an append or an
    /// in-place merge for those that had a round. WANs gone from the config lose their ring.
    public mutating func record(_ status: [WANStatus], at now: Instant) {
        if !status.lazy.map(\.interface).elementsEqual(names) { rearrange(for: status.map(\.interface)) }
        for i in status.indices {
            // Before the first round there is nothing to draw; after it, a state change without
            // a round (carrier, maintenance) is a sample too. (Fields read in place: a copy of
            // the whole status would cost more than the rest.)
            let hadRound = status[i].roundsTotal != rounds[i]
            let changed = rings[i].lastState.map { $0 != status[i].state } ?? false
            if hadRound || changed {
                rings[i].record(Self.sample(status[i], at: now))
                rounds[i] = status[i].roundsTotal
            }
        }
    }

    /// After a reload: rings follow their WANs to new places, WANs gone lose theirs, and every
    /// ring takes the size the new count of WANs gives it.
    private mutating func rearrange(for newNames: [String]) {
        let shape = Self.shape(forWANs: newNames.count)
        var old: [String: (SampleRing, Int)] = [:]
        for (i, name) in names.enumerated() { old[name] = (rings[i], rounds[i]) }
        names = newNames
        index = Dictionary(newNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        rings = []
        rounds = []
        for name in newNames {
            let (ring, count) = old[name] ?? (SampleRing(capacity: shape.capacity, resolutionNanos: shape.resolutionNanos), 0)
            rings.append(ring.capacity == shape.capacity ? ring
                         : ring.resized(capacity: shape.capacity, resolutionNanos: shape.resolutionNanos))
            rounds.append(count)
        }
    }

    /// Each WAN's samples at or after `since` (all: nil), oldest first, in the order of `wans`.
    public func samples(for wans: [String], since: Instant?) -> [(interface: String, samples: [RoundSample])] {
        wans.map { name in (name, index[name].map { rings[$0].samples(since: since) } ?? []) }
    }

    public var sampleCount: Int { rings.reduce(0) { $0 + $1.count } }

    static func sample(_ wan: WANStatus, at now: Instant) -> RoundSample {
        let latency = wan.latencyMs.flatMap { $0.isFinite ? Float(min(max($0, 0), 1e9)) : nil } ?? .nan
        let loss = wan.lossPercent.isFinite ? min(max(wan.lossPercent, 0), 100) : 100
        return RoundSample(time: now, latencyMs: latency, lossCentipercent: UInt16((loss * 100).rounded()), state: wan.state)
    }
}
