/// What the core is told: everything that happens outside it, stamped by the caller with `at:`.
public enum CoreEvent: Sendable, Equatable {
    /// Time passed: the shell calls this when `nextDeadline` is reached (and once at start).
    case tick
    /// A probe sent by an earlier `.sendProbe` effect finished.
    case probeResult(ProbeID, ProbeOutcome)
    /// Netlink saw the interface's carrier (lower layer) come or go.
    case carrier(interface: String, up: Bool)
    /// An address and/or next hop was learned for a WAN (static config, DHCP client, netlink).
    /// A gateway of the IPv6 family here is taken as the WAN's IPv6 next hop.
    case addressLearned(interface: String, address: CIDR?, gateway: IPAddress?)
    /// The next hop of the WAN's IPv6 default route in the main table (router advertisements, a
    /// DHCPv6 client, the operator), nil when it went away. A static `gateway6` wins over it.
    case ipv6GatewayLearned(interface: String, gateway: IPAddress?)
    /// A validated config replaces the running one. Health state of unchanged WANs is kept.
    case configReplaced(FlywallConfig)
    /// An operator's command, with who asked (kept in history with the command's result).
    case manual(ManualCommand, origin: CommandOrigin)
    /// What the passive check's capture saw on a WAN named in `.capturePassive`: a connection
    /// attempt leaving it, or an answer arriving. The core's `PassiveSampler` turns these into rounds.
    /// `capturedAt`: when the capture saw the packet, on the core's clock (the daemon carries the
    /// packet's kernel timestamp over), so time spent in queues before `at:` is no timing error;
    /// nil: at `at:`. A time after `at:` counts as `at:`.
    case passive(interface: String, PassiveObservation, capturedAt: Instant? = nil)
    /// The dataplane could not carry out an `.applyPlan` or `.repairDataplane` (with its words):
    /// the kernel may now hold part of a plan, so the next programming repairs it whole.
    case dataplaneFailed(String)
    /// The pppd run started by `.startSession` for this PPPoE WAN ended (or could not start).
    /// Whether its link is up comes as `.carrier` on the session's device, like any other link.
    case sessionEnded(interface: String, SessionExit)
    /// keepalived moved this router to another role in its HA pair (`ha_pair { role_file }`). Ignored
    /// by a standalone core (no `ha_pair` block).
    case roleChanged(HARole)
}

public enum ManualCommand: Sendable, Equatable {
    /// Take a WAN out of every group (probes go on, so status stays visible).
    case maintenance(interface: String, enabled: Bool)
    /// Pin a group's new connections to one of its members regardless of priority; nil releases it.
    case forceActive(group: String, interface: String?)
}

/// Identifies one probe so its result can be matched to its round.
public struct ProbeID: Hashable, Sendable, CustomStringConvertible {
    public var interface: String
    /// Index into the WAN's effective health check targets (0 for HTTP).
    public var target: Int
    public var sequence: UInt32
    public init(interface: String, target: Int, sequence: UInt32) {
        self.interface = interface
        self.target = target
        self.sequence = sequence
    }
    public var description: String { "\(interface)#\(target)/\(sequence)" }
}

public enum ProbeTarget: Sendable, Hashable, CustomStringConvertible {
    case icmp(IPAddress)
    case http(url: String, expectedStatus: Int)

    /// How status, evidence, logs and notifications name the target: an HTTP check's URL without
    /// its query and user info, which may carry a key (the prober uses the URL itself).
    public var description: String {
        switch self {
        case .icmp(let ip): ip.description
        case .http(let url, _): ProbeTarget.shown(url: url)
        }
    }

    /// `https://u:p@status.example.net/ping?key=...` -> `https://<redacted>@status.example.net/ping?<redacted>`:
    /// scheme, host, port and path stay.
    public static func shown(url: String) -> String {
        func withoutQuery<S: StringProtocol>(_ text: S) -> String {
            guard let query = text.firstIndex(where: { $0 == "?" || $0 == "#" }) else { return String(text) }
            return text[..<query] + "?<redacted>"
        }
        guard let parts = URLText.split(url) else { return withoutQuery(url) }
        return parts.scheme + (parts.hasUserInfo ? "<redacted>@" : "") + parts.host + withoutQuery(parts.rest)
    }

    /// IP bytes (headers included, link layer not) one probe costs on the wire: the request side,
    /// counted when the probe is sent, and the answer side, counted when an answer arrives. ICMP
    /// echo is exact (a 16-byte echo message in an IPv4 or IPv6 header). HTTP is an estimate for
    /// one connection: TCP handshake and close (4 segments each way, about 216 bytes), the GET with
    /// its headers (about 80 bytes plus the URL) and a status line with short headers (about 200
    /// bytes); `https` adds a TLS 1.3 handshake (about 600 bytes out, 4,500 back with the
    /// certificate chain).
    public var estimatedBytes: (request: Int64, answer: Int64) {
        switch self {
        case .icmp(let ip):
            let size: Int64 = ip.isV4 ? 20 + 16 : 40 + 16
            return (size, size)
        case .http(let url, _):
            let tls = url.hasPrefix("https:")
            return (216 + 80 + Int64(url.utf8.count) + (tls ? 600 : 0), 216 + 200 + (tls ? 4_500 : 0))
        }
    }
}

public enum ProbeOutcome: Sendable, Equatable {
    /// An echo reply, or an HTTP response with the expected status.
    case reply(rtt: Duration)
    /// An HTTP response with another status.
    case wrongStatus(Int, rtt: Duration)
    /// The adapter gave up (the core also times probes out on its own deadline).
    case timeout
    /// Refused, unreachable, no route, ... with the adapter's words.
    case failure(String)
}

public struct ProbeRequest: Sendable, Equatable {
    public var id: ProbeID
    public var target: ProbeTarget
    /// The core stops waiting after this; a later result is ignored.
    public var timeout: Duration
    public init(id: ProbeID, target: ProbeTarget, timeout: Duration) {
        self.id = id
        self.target = target
        self.timeout = timeout
    }
}

/// One uplink's probe path: the shell opens its probe sockets bound to `interface` and marked with
/// the uplink's pin (from `index`), so probes leave on it whatever the plan says.
public struct ProbeBinding: Sendable, Equatable, Hashable {
    public var interface: String
    /// The uplink's stable index, as in `ForwardingPlan.Uplink.index`.
    public var index: Int
    /// Whether its check has IPv6 targets (an ICMPv6 socket is needed too).
    public var ipv6: Bool
    /// The CA file its `https` check trusts instead of the system store (`ca_file`).
    public var caFile: String?
    /// The kernel interface the sockets bind to: the WAN's own, or its PPPoE session's `ppp` device.
    public var device: String
    public init(interface: String, index: Int, ipv6: Bool, caFile: String? = nil, device: String? = nil) {
        self.interface = interface
        self.index = index
        self.ipv6 = ipv6
        self.caFile = caFile
        self.device = device ?? interface
    }
}

/// What the core asks the world to do, in order.
public enum CoreEffect: Sendable, Equatable {
    /// Open exactly these probe paths (closing any others) before the probes that follow use them.
    case configureProbes([ProbeBinding])
    /// Follow carrier, addresses and default routes of exactly these interfaces (kernel names: a
    /// PPPoE WAN's session device); newly watched ones are reported (`.carrier`, `.addressLearned`)
    /// as they are now.
    case watchInterfaces([String])
    case sendProbe(ProbeRequest)
    /// The whole dataplane answer; the adapter makes the kernel agree with `plan.route`, changing
    /// as little as it can (a health change is route replaces only).
    case applyPlan(ForwardingPlan)
    /// As `.applyPlan`, but read the kernel's state first and repair all of Flywall's rules and
    /// routes: the kernel deletes routes through a link that went down, and an earlier programming
    /// may have failed half-way.
    case repairDataplane(ForwardingPlan)
    /// Delete tracked connections that left through this uplink (it is down: they are dead anyway,
    /// or it lost a failback that moves connections).
    case flushConnections(ForwardingPlan.Uplink)
    case emit(WANEvent)
    /// A manual command was carried out or refused: for history, with who asked.
    case commandHandled(CommandRecord)
    case log(LogLevel, String)
    /// Capture TCP connection attempts and their answers on exactly these WANs (those whose
    /// effective check is passive, sorted by name) and report them as `.passive` events. Emitted on
    /// the first tick (also when empty) and whenever a config replacement changes the set.
    case capturePassive(interfaces: [String])
    /// Run pppd for this PPPoE line until `.stopSession` or until it ends by itself (then the shell
    /// reports `.sessionEnded`; the core decides when to start it again).
    case startSession(PPPoESessionSpec)
    /// Stop the pppd of this PPPoE WAN (removed or changed by a reload); no `.sessionEnded` follows.
    case stopSession(interface: String)
    /// Deliver notifications as this block says (channels, filters, coalescing, secrets): on the
    /// first tick, and after a config replacement that changed the block. The shell keeps no copy
    /// of its own from the file.
    case configureNotifications(Notifications)
    /// Serve the API with these settings: the token takes effect at once (a SIGHUP that changes it
    /// changes who may write); `listen` is bound on the first of these only, since rebinding a
    /// socket a client may be using is not a reload's business (the core logs a changed `listen`).
    case configureAPI(APISettings)
    /// Follow keepalived's role file at this path (`ha_pair { role_file }`) and report its roles as
    /// `.roleChanged`; nil: follow none. On the first tick, and when a reload changes it.
    case watchRoleFile(String?)
}

public enum LogLevel: String, Sendable, Equatable { case debug, info, notice, warning, error }

/// A state change an operator cares about: shown in history, sent to notifications, checked by scenarios.
public struct WANEvent: Sendable, Equatable, Codable {
    public var time: Instant
    public var kind: WANEventKind
    /// The group, for failover/failback/all_down; nil for wan_up/wan_down.
    public var group: String?
    /// The WAN itself for wan_up/wan_down.
    public var interface: String?
    /// Active uplinks before and after, for failover/failback/all_down.
    public var from: [String]
    public var to: [String]
    /// The human line: why it happened.
    public var reason: String
    /// What the decision was made on, as the core counted it.
    public var evidence: WANEvidence?

    public init(time: Instant, kind: WANEventKind, group: String? = nil, interface: String? = nil,
                from: [String] = [], to: [String] = [], reason: String, evidence: WANEvidence? = nil) {
        self.time = time
        self.kind = kind
        self.group = group
        self.interface = interface
        self.from = from
        self.to = to
        self.reason = reason
        self.evidence = evidence
    }

    /// The uplinks this event is "about": the WAN for wan_*, the new active set otherwise.
    public var uplinks: [String] {
        switch kind {
        case .wanDown, .wanUp: interface.map { [$0] } ?? []
        case .failover, .failback, .allDown: to
        }
    }
}

extension Instant: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(nanoseconds: try decoder.singleValueContainer().decode(Int64.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(nanoseconds)
    }
}
