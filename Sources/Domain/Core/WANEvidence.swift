/// What a decision was made on: kept with every `WANEvent` in history, shown by `flywall wan history`.
///
/// The core fills it in at the moment a WAN changes state, from what it counted: the probe rounds
/// and each target's last results for a probe verdict, the netlink event for carrier, the
/// connection attempts for a passive check, the command and who asked for a manual one.
public struct WANEvidence: Sendable, Equatable, Codable {
    public enum Cause: String, Sendable, Equatable, Codable {
        /// Probe rounds crossed `threshold_down` or `threshold_up`.
        case probes
        /// The passive check's rounds (connection attempts answered) crossed a threshold.
        case passive
        /// Netlink reported the carrier lost or restored.
        case carrier
        /// Latency or loss crossed `max_latency` / `max_loss` (or recovered).
        case quality
        /// An operator's command (`flywall wan disable|enable|failover`).
        case manual
        /// A config reload changed the checks or groups.
        case config
    }

    /// One probed target's part in the verdict.
    public struct Target: Sendable, Equatable, Codable {
        public var target: String
        /// The target's last outcomes, oldest first: `reply 12ms` or `lost`.
        public var results: [String]
        /// RTTs of the answered ones among `results`, milliseconds.
        public var rttMs: [Double]
        public init(target: String, results: [String], rttMs: [Double]) {
            self.target = target
            self.results = results
            self.rttMs = rttMs
        }
    }

    /// At most this many targets are kept: a verdict over 1,000 targets must not cost the failover
    /// path 3,000 strings.
    public static let maxTargets = 32

    public var cause: Cause
    /// The counter that crossed its threshold, e.g. `3/3 failed probe rounds`.
    public var counter: String?
    /// The first `maxTargets` targets of the check, in config order.
    public var targets: [Target]
    /// How many more targets the check has beyond `targets`.
    public var omittedTargets: Int
    /// What else was seen: `netlink: carrier down`, `4/10 connection attempts answered`, ...
    public var detail: String?
    /// For `.manual`: the command as the operator gave it, and who asked.
    public var command: String?
    public var origin: CommandOrigin?

    public init(cause: Cause, counter: String? = nil, targets: [Target] = [], omittedTargets: Int = 0, detail: String? = nil,
                command: String? = nil, origin: CommandOrigin? = nil) {
        self.cause = cause
        self.counter = counter
        self.targets = targets
        self.omittedTargets = omittedTargets
        self.detail = detail
        self.command = command
        self.origin = origin
    }

    /// Targets a log line names; the rest are counted (history keeps them all).
    public static let summaryTargets = 8

    /// One line for logs: `3/3 failed probe rounds; 1.1.1.1: lost, lost, lost; ...`.
    public var summary: String {
        var parts: [String] = []
        if let counter { parts.append(counter) }
        for t in targets.prefix(Self.summaryTargets) { parts.append("\(t.target): \(t.results.joined(separator: ", "))") }
        let more = max(0, targets.count - Self.summaryTargets) + omittedTargets
        if more > 0 { parts.append("and \(more) more targets") }
        if let detail { parts.append(detail) }
        if let command { parts.append("command \"\(command)\"" + (origin.map { " from \($0)" } ?? "")) }
        return parts.joined(separator: "; ")
    }
}

/// Who or what asked for a manual command: the channel (`api`, `cli`, `scenario`) and, for the API,
/// the peer's address.
public struct CommandOrigin: Sendable, Equatable, Codable, CustomStringConvertible {
    public var source: String
    public var peer: String?
    public init(source: String, peer: String? = nil) {
        self.source = source
        self.peer = peer
    }
    public var description: String { peer.map { "\(source) (\($0))" } ?? source }
}

/// A manual command the core carried out or refused, for history (`.commandHandled`).
public struct CommandRecord: Sendable, Equatable, Codable {
    public var time: Instant
    public var command: String
    public var origin: CommandOrigin
    /// Whether the core could apply it (an unknown WAN or group is refused).
    public var accepted: Bool
    /// The core's words: `eth0: maintenance on`, `no WAN named eth9`.
    public var result: String
    /// Why it was refused (nil when accepted): the API answers 404 or 409 by it.
    public var refusal: CommandRefusal?
    public init(time: Instant, command: String, origin: CommandOrigin, accepted: Bool, result: String,
                refusal: CommandRefusal? = nil) {
        self.time = time
        self.command = command
        self.origin = origin
        self.accepted = accepted
        self.result = result
        self.refusal = refusal
    }
}

/// Why the core refused an operator's command: what it names is not in the running config.
public enum CommandRefusal: String, Sendable, Equatable, Codable {
    /// No WAN of that name.
    case unknownWAN = "unknown_wan"
    /// No uplink group of that name.
    case unknownGroup = "unknown_group"
    /// The group exists, the WAN is not one of its members.
    case notAMember = "not_a_member"
}

extension ManualCommand {
    /// The command as an operator types it: `wan disable eth0`, `wan failover default eth1`.
    public var text: String {
        switch self {
        case .maintenance(let interface, let enabled): "wan \(enabled ? "disable" : "enable") \(interface)"
        case .forceActive(let group, let interface?): "wan failover \(group) \(interface)"
        case .forceActive(let group, nil): "wan failover \(group) --auto"
        }
    }
}
