import Domain

extension APIViews {
    /// `GET /api/wan/samples`: each WAN's chart samples, column by column (a sample is one index
    /// into every array), so the dashboard's first load of 64 WANs × 720 samples stays near a
    /// megabyte instead of four.
    public struct Samples: Codable, Sendable {
        public struct WAN: Codable, Sendable {
            public var interface: String
            /// Unix milliseconds of the first round each sample holds (a later round in the same slot
            /// updates the sample in place, keeping its time).
            public var timeMs: [Int64]
            /// The window's mean RTT; null when nothing answered.
            public var latencyMs: [Double?]
            public var lossPercent: [Double]
            /// UP, DOWN, DEGRADED or MAINTENANCE (the worst of the rounds the sample holds).
            public var status: [String]
        }
        public var generatedAt: String
        /// The width of one sample's slot, and how many a WAN keeps (`RoundSamples.shape`).
        public var resolutionSeconds: Double
        public var capacity: Int
        public var wans: [WAN]
    }

    /// The samples of `names` at or after `sinceUnixNanos` (all when nil), from the board's rings.
    public static func samples(_ board: StatusBoard, snapshot s: DaemonSnapshot, names: [String],
                               sinceUnixNanos: Int64?) -> Samples {
        let clock = board.clock
        // One reading of the clocks for the whole answer: core time maps to Unix time linearly.
        let base = clock.unixNanoseconds(of: .zero)
        let since = sinceUnixNanos.map { unix in
            let (core, overflow) = unix.saturatingSubtract(base).multipliedReportingOverflow(by: clock.speed)
            return Instant(nanoseconds: overflow ? (unix > base ? .max : .min) : core)
        }
        let shape = RoundSamples.shape(forWANs: s.status.count)
        return Samples(
            generatedAt: WallClockText.rfc3339(clock.unixNanoseconds(of: s.takenAt)),
            resolutionSeconds: Double(shape.resolutionNanos) / 1e9,
            capacity: shape.capacity,
            wans: board.samples(for: names, since: since).map { wan in
                Samples.WAN(
                    interface: wan.interface,
                    timeMs: wan.samples.map { base.saturatingAdd($0.time.nanoseconds / clock.speed) / 1_000_000 },
                    latencyMs: wan.samples.map { $0.latency.map { ($0 * 100).rounded() / 100 } },
                    lossPercent: wan.samples.map(\.lossPercent),
                    status: wan.samples.map(\.state.rawValue))
            })
    }
}
