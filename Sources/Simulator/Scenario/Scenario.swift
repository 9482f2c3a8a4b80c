import Domain

/// A scripted link-failure scenario (design.md, "Scenario files"), validated and resolved.
/// Built by `ScenarioDecoder`; run by the simulator in virtual time and by the lab in namespaces.
public struct Scenario: Sendable, Equatable {
    public var name: String
    public var description: String
    public var duration: Duration
    public var seed: UInt64
    /// The scenario's file, for reports.
    public var file: String
    public var config: FlywallConfig
    /// Initial link model per WAN; WANs without a `link` block get `LinkState()`.
    public var links: [String: LinkState]
    public var traffic: [TrafficSource]
    /// Timed changes, sorted by time (stable for equal times).
    public var faults: [TimedFault]
    public var expectations: [Expectation]
    /// `lab_duration`: how long `flywall lab` runs it; every duration of the file is scaled by
    /// lab_duration / duration (see docs/lab.md). Nil: real time, unless `--duration-scale` says otherwise.
    public var labDuration: Duration? = nil

    public init(name: String, description: String = "", duration: Duration, seed: UInt64 = 1, file: String = "",
                config: FlywallConfig, links: [String: LinkState] = [:], traffic: [TrafficSource] = [],
                faults: [TimedFault] = [], expectations: [Expectation] = []) {
        self.name = name
        self.description = description
        self.duration = duration
        self.seed = seed
        self.file = file
        self.config = config
        self.links = links
        self.traffic = traffic
        self.faults = faults
        self.expectations = expectations
    }

    public func link(_ name: String) -> LinkState { links[name] ?? LinkState() }
}

/// How one WAN's link behaves. Defaults: up, 10ms, no loss.
public struct LinkState: Sendable, Equatable {
    /// false: cable pulled (netlink reports carrier loss).
    public var carrier: Bool = true
    /// true: carrier up, nothing passes.
    public var blackhole: Bool = false
    /// Percent of probes lost, 0...100.
    public var loss: Double = 0
    public var latency: Duration = .milliseconds(10)
    /// Random extra delay, uniformly 0...jitter, per probe.
    public var jitter: Duration = .zero
    /// Only these targets stop answering.
    public var unreachable: Set<IPAddress> = []
    /// Status the HTTP check URL answers with; nil: the check's expected status.
    public var httpStatus: Int? = nil

    public init() {}
}

/// A change to some link attributes at a time: each set field replaces that attribute only.
public struct LinkChange: Sendable, Equatable {
    public var carrier: Bool?
    public var blackhole: Bool?
    public var loss: Double?
    public var latency: Duration?
    public var jitter: Duration?
    public var unreachable: Set<IPAddress>?
    public var httpStatus: Int?

    public init(carrier: Bool? = nil, blackhole: Bool? = nil, loss: Double? = nil, latency: Duration? = nil,
                jitter: Duration? = nil, unreachable: Set<IPAddress>? = nil, httpStatus: Int? = nil) {
        self.carrier = carrier
        self.blackhole = blackhole
        self.loss = loss
        self.latency = latency
        self.jitter = jitter
        self.unreachable = unreachable
        self.httpStatus = httpStatus
    }

    public func applied(to state: LinkState) -> LinkState {
        var s = state
        if let carrier { s.carrier = carrier }
        if let blackhole { s.blackhole = blackhole }
        if let loss { s.loss = loss }
        if let latency { s.latency = latency }
        if let jitter { s.jitter = jitter }
        if let unreachable { s.unreachable = unreachable }
        if let httpStatus { s.httpStatus = httpStatus }
        return s
    }
}

public struct TimedFault: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case link(String, LinkChange)
        case manual(ManualCommand)
    }
    public var time: Duration
    public var action: Action
    public var location: SourceLocation?
    public init(time: Duration, action: Action, location: SourceLocation? = nil) {
        self.time = time
        self.action = action
        self.location = location
    }
}

/// New connections from the LAN.
public struct TrafficSource: Sendable, Equatable {
    public var name: String
    /// Sources in turn, round robin.
    public var sources: [IPAddress]
    /// New connections per second (all sources together).
    public var rate: Double
    public var proto: TransportProtocol
    public var destPort: UInt16?
    /// Destinations in turn; empty: 198.51.100.1 (TEST-NET-2).
    public var destinations: [IPAddress]
    /// Traffic starts and stops (defaults: whole run).
    public var start: Duration?
    public var stop: Duration?

    public init(name: String, sources: [IPAddress], rate: Double, proto: TransportProtocol = .tcp,
                destPort: UInt16? = nil, destinations: [IPAddress] = [], start: Duration? = nil, stop: Duration? = nil) {
        self.name = name
        self.sources = sources
        self.rate = rate
        self.proto = proto
        self.destPort = destPort
        self.destinations = destinations
        self.start = start
        self.stop = stop
    }
}

public struct Expectation: Sendable, Equatable {
    public enum Check: Sendable, Equatable {
        /// At least one matching event in the window, or exactly `count` of them.
        case event(kind: WANEventKind, uplink: String?, group: String?, count: Int?)
        /// Share of the window's new connections that used `uplink`, within min...max.
        case share(uplink: String, min: Double, max: Double)
        /// No source changed uplink while its uplink was still usable (and the pin was fresh).
        case sticky
        /// Every flow the named policy route matched in the window used `uplink`.
        case policy(name: String, uplink: String)
    }
    public var name: String
    public var check: Check
    /// Window (after, before]; nil: the whole run.
    public var after: Duration?
    public var before: Duration?
    public var location: SourceLocation?

    public init(name: String, check: Check, after: Duration? = nil, before: Duration? = nil, location: SourceLocation? = nil) {
        self.name = name
        self.check = check
        self.after = after
        self.before = before
        self.location = location
    }
}
