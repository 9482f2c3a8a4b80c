import Domain

/// One new connection and where it went.
public struct FlowRecord: Sendable, Equatable {
    public var time: Instant
    /// The `traffic` block it came from.
    public var traffic: String
    public var source: IPAddress
    public var destination: IPAddress
    public var proto: TransportProtocol
    public var destPort: UInt16?
    /// The uplink it left on; nil: refused (no usable uplink, or a policy that drops).
    public var uplink: String?
    /// The group that chose the uplink, if a group chose (sticky memory is kept per group and source).
    public var group: String?
    /// The policy route that matched, if any.
    public var policy: String?
    /// Index into `Observations.plans` of the plan it was routed with, when the recorder knows it.
    /// Without it, the checker takes the last plan applied at or before `time`.
    public var planIndex: Int?

    public init(time: Instant, traffic: String, source: IPAddress, destination: IPAddress,
                proto: TransportProtocol = .tcp, destPort: UInt16? = nil, uplink: String?, group: String? = nil,
                policy: String? = nil, planIndex: Int? = nil) {
        self.time = time
        self.traffic = traffic
        self.source = source
        self.destination = destination
        self.proto = proto
        self.destPort = destPort
        self.uplink = uplink
        self.group = group
        self.policy = policy
        self.planIndex = planIndex
    }
}

/// A forwarding plan that took effect at a time.
public struct PlanChange: Sendable, Equatable {
    public var time: Instant
    public var plan: ForwardingPlan
    public init(time: Instant, plan: ForwardingPlan) {
        self.time = time
        self.plan = plan
    }
}

/// What a run produced that expectations are judged on, whoever recorded it: the simulator in virtual
/// time, or (later) the lab from the real daemon's events and captured packets.
public struct Observations: Sendable, Equatable {
    /// WAN events in the order they were emitted.
    public var events: [WANEvent]
    /// New connections in time order.
    public var flows: [FlowRecord]
    /// Plans in the order they were applied.
    public var plans: [PlanChange]
    public var start: Instant
    public var end: Instant

    public init(events: [WANEvent] = [], flows: [FlowRecord] = [], plans: [PlanChange] = [],
                start: Instant = .zero, end: Instant) {
        self.events = events
        self.flows = flows
        self.plans = plans
        self.start = start
        self.end = end
    }
}

/// A scripted fault or repair as it was applied.
public struct FaultRecord: Sendable, Equatable {
    public var time: Instant
    /// The WAN it touched, if it touched one.
    public var interface: String?
    /// `eth0: blackhole = true`, `maintenance eth1 on`, ...
    public var description: String
    public init(time: Instant, interface: String?, description: String) {
        self.time = time
        self.interface = interface
        self.description = description
    }
}

/// The core's view of every WAN at one moment (for the SVG's bands and lines).
public struct StatusSample: Sendable, Equatable {
    public struct WAN: Sendable, Equatable {
        public var interface: String
        public var state: WANStatus.State
        public var latencyMs: Double?
        public var lossPercent: Double
        public init(interface: String, state: WANStatus.State, latencyMs: Double?, lossPercent: Double) {
            self.interface = interface
            self.state = state
            self.latencyMs = latencyMs
            self.lossPercent = lossPercent
        }
    }
    public var time: Instant
    /// In config order.
    public var wans: [WAN]
    public init(time: Instant, wans: [WAN]) {
        self.time = time
        self.wans = wans
    }
}

public struct FlushRecord: Sendable, Equatable {
    public var time: Instant
    public var interface: String
    public init(time: Instant, interface: String) {
        self.time = time
        self.interface = interface
    }
}

public struct LogRecord: Sendable, Equatable {
    public var time: Instant
    public var level: LogLevel
    public var message: String
    public init(time: Instant, level: LogLevel, message: String) {
        self.time = time
        self.level = level
        self.message = message
    }
}

/// Everything one simulated run produced.
public struct SimulationResult: Sendable {
    public var scenarioName: String
    public var description: String
    public var file: String
    public var seed: UInt64
    public var duration: Duration
    /// The WANs, in config order.
    public var uplinks: [String]
    public var observations: Observations
    public var faults: [FaultRecord]
    public var samples: [StatusSample]
    public var flushes: [FlushRecord]
    public var logs: [LogRecord]
    /// The core's status at the end of the run.
    public var finalStatus: [WANStatus]
    public var probesSent: Int
    public var probesAnswered: Int

    public init(scenarioName: String, description: String, file: String, seed: UInt64, duration: Duration,
                uplinks: [String], observations: Observations, faults: [FaultRecord] = [],
                samples: [StatusSample] = [], flushes: [FlushRecord] = [], logs: [LogRecord] = [],
                finalStatus: [WANStatus] = [], probesSent: Int = 0, probesAnswered: Int = 0) {
        self.scenarioName = scenarioName
        self.description = description
        self.file = file
        self.seed = seed
        self.duration = duration
        self.uplinks = uplinks
        self.observations = observations
        self.faults = faults
        self.samples = samples
        self.flushes = flushes
        self.logs = logs
        self.finalStatus = finalStatus
        self.probesSent = probesSent
        self.probesAnswered = probesAnswered
    }
}
