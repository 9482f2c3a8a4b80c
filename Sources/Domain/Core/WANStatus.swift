/// What an operator sees of one WAN: `flywall wan status` and `wan health`, `GET /api/wan/status`.
public struct WANStatus: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Equatable, Codable {
        case up = "UP"
        /// Reachable but past a quality threshold (max_latency / max_loss): not used for new connections.
        case degraded = "DEGRADED"
        case down = "DOWN"
        case maintenance = "MAINTENANCE"
    }

    public struct TargetStatus: Sendable, Equatable, Codable {
        public var target: String
        /// Mean RTT of answered probes in the window, milliseconds; nil when none answered.
        public var latencyMs: Double?
        /// Percent of the window's probes that got no (good) answer.
        public var lossPercent: Double
        /// Mean absolute difference of consecutive RTTs, milliseconds.
        public var jitterMs: Double?
        public var lastOutcome: String?
        public init(target: String, latencyMs: Double?, lossPercent: Double, jitterMs: Double?, lastOutcome: String?) {
            self.target = target
            self.latencyMs = latencyMs
            self.lossPercent = lossPercent
            self.jitterMs = jitterMs
            self.lastOutcome = lastOutcome
        }
    }

    /// The consecutive-round counter whose threshold changes the WAN's health next.
    public struct RoundCounter: Sendable, Equatable, Codable {
        public enum Kind: String, Sendable, Equatable, Codable {
            /// Good rounds toward `threshold_up`: probes hold it down while it has a link.
            case good
            /// Failed rounds toward `threshold_down`: it is up, or down for its link, not its probes.
            case failed
        }
        public var kind: Kind
        public var value: Int
        public var threshold: Int
        public init(kind: Kind, value: Int, threshold: Int) {
            self.kind = kind
            self.value = value
            self.threshold = threshold
        }
    }

    public var interface: String
    public var state: State
    /// The WAN's preference (`wan { priority }`, or its member priority in the default group).
    public var priority: Int
    public var weight: Int
    public var carrier: Bool
    public var latencyMs: Double?
    public var lossPercent: Double
    public var jitterMs: Double?
    public var targets: [TargetStatus]
    /// Consecutive failed / good probe rounds so far.
    public var failedRounds: Int
    public var goodRounds: Int
    public var roundsTotal: Int
    public var since: Instant
    public var reason: String
    /// What the last change of state was decided on.
    public var evidence: WANEvidence?
    /// Probes sent since start, and those that got no good answer.
    public var probesSent: Int
    public var probesLost: Int

    /// IP bytes that health probes and their answers used on this WAN since the daemon started
    /// (`ProbeTarget.estimatedBytes`): what monitoring costs on a metered link.
    public var probeBytes: Int64
    /// Probing at `standby_interval`: carries no traffic and no uplink it would replace is failing.
    public var standby: Bool
    /// The counter that moves next, as the core counts it; nil without a health check.
    public var nextCounter: RoundCounter?

    public init(interface: String, state: State, priority: Int, weight: Int, carrier: Bool, latencyMs: Double?,
                lossPercent: Double, jitterMs: Double?, targets: [TargetStatus], failedRounds: Int, goodRounds: Int,
                roundsTotal: Int, since: Instant, reason: String, evidence: WANEvidence? = nil,
                probesSent: Int = 0, probesLost: Int = 0, probeBytes: Int64 = 0, standby: Bool = false,
                nextCounter: RoundCounter? = nil) {
        self.interface = interface
        self.state = state
        self.priority = priority
        self.weight = weight
        self.carrier = carrier
        self.latencyMs = latencyMs
        self.lossPercent = lossPercent
        self.jitterMs = jitterMs
        self.targets = targets
        self.failedRounds = failedRounds
        self.goodRounds = goodRounds
        self.roundsTotal = roundsTotal
        self.since = since
        self.reason = reason
        self.evidence = evidence
        self.probesSent = probesSent
        self.probesLost = probesLost
        self.probeBytes = probeBytes
        self.standby = standby
        self.nextCounter = nextCounter
    }
}
