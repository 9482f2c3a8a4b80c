/// A whole, validated Flywall configuration. Built only by `ConfigDecoder`, so every value here
/// has passed validation: names resolve, numbers are in range, defaults are filled in.
public struct FlywallConfig: Sendable, Equatable {
    public var interfaces: [Interface]
    public var uplinkGroups: [UplinkGroup]
    public var policyRoutes: [PolicyRoute]
    public var ipsets: [IPSet]
    public var notifications: Notifications
    /// `api { }` and `history { }` (OperationsConfig.swift).
    public var api = APISettings()
    public var history = HistorySettings()
    /// `ha_pair { }`: one router of an HA pair; nil when standalone (HA/HASettings.swift).
    public var ha: HASettings?

    public init(interfaces: [Interface] = [], uplinkGroups: [UplinkGroup] = [], policyRoutes: [PolicyRoute] = [],
                ipsets: [IPSet] = [], notifications: Notifications = Notifications()) {
        self.interfaces = interfaces
        self.uplinkGroups = uplinkGroups
        self.policyRoutes = policyRoutes
        self.ipsets = ipsets
        self.notifications = notifications
    }

    public func interface(named name: String) -> Interface? { interfaces.first { $0.name == name } }
    public func group(named name: String) -> UplinkGroup? { uplinkGroups.first { $0.name == name } }
    public func ipset(named name: String) -> IPSet? { ipsets.first { $0.name == name } }

    /// Interfaces with a `wan` block (or PPPoE), in declaration order: the uplinks.
    public var wans: [Interface] { interfaces.filter { $0.wan != nil } }

    /// The group that carries LAN traffic no policy route claims: the one named "default",
    /// else the first declared. Nil only when no group is declared (then every WAN forms an implicit
    /// failover group, see `effectiveGroups`).
    public var defaultGroupName: String? {
        uplinkGroups.first { $0.name == "default" }?.name ?? uplinkGroups.first?.name
    }

    /// The groups the core runs. A config with WANs but no `uplink_group` gets an implicit
    /// failover group "default" of all WANs ordered by their `wan { priority }`.
    public var effectiveGroups: [UplinkGroup] {
        if !uplinkGroups.isEmpty { return uplinkGroups }
        let wans = self.wans
        if wans.isEmpty { return [] }
        return [UplinkGroup(name: "default", mode: .failover,
                            members: wans.map { Member(interface: $0.name, priority: $0.wan!.priority, weight: $0.wan!.weight) })]
    }

    /// The effective health check of a WAN: the member-level block of the first group that has one,
    /// else the interface-level block (which the decoder fills with the top-level check or the
    /// built-in default for a WAN that has none). Nil only in hand-built configs: then the WAN is
    /// judged by carrier only.
    public func healthCheck(for interface: String) -> HealthCheck? {
        for group in uplinkGroups {
            if let m = group.members.first(where: { $0.interface == interface }), let hc = m.healthCheck { return hc }
        }
        return self.interface(named: interface)?.healthCheck
    }

    /// What is valid but probably not what the operator meant, for `config check`: each with the
    /// position of the interface it is about.
    public var warnings: [Diagnostic] {
        interfaces.filter(\.healthCheckIsBuiltInDefault).map { i in
            Diagnostic(i.location ?? SourceLocation(file: "", line: 1, column: 1),
                       "WAN \"\(i.name)\" has no health_check: it gets the built-in default (ICMP to \(ConfigDecoder.defaultICMPTargets.map(\.description).joined(separator: " and ")) every 5s, down after 3 failed rounds); give it a health_check to choose targets")
        }
    }

    /// `healthCheck(for:)` of every WAN that has one, in one pass over the config (linear, for
    /// configs with thousands of WANs).
    public var effectiveHealthChecks: [String: HealthCheck] {
        var checks: [String: HealthCheck] = [:]
        for group in uplinkGroups {
            for member in group.members where checks[member.interface] == nil {
                if let hc = member.healthCheck { checks[member.interface] = hc }
            }
        }
        for interface in interfaces where interface.wan != nil && checks[interface.name] == nil {
            if let hc = interface.healthCheck { checks[interface.name] = hc }
        }
        return checks
    }
}

public struct Interface: Sendable, Equatable {
    public var name: String
    public var zone: String?
    public var dhcp: Bool
    /// Static address with prefix, e.g. `203.0.113.2/30`.
    public var address: CIDR?
    /// Static next hop for the uplink's routing tables, of its own family (an IPv6 one serves as
    /// `gateway6` when that is not given).
    public var gateway: IPAddress?
    /// Static IPv6 next hop (often the ISP router's link-local address), for a dual-stack WAN
    /// whose `gateway` is IPv4; without one, the IPv6 default route the system learned counts.
    public var gateway6: IPAddress?
    public var wan: WANSettings?
    public var pppoe: PPPoE?
    /// Interface-level health check (the spec's LTE example): applies where a member has none.
    public var healthCheck: HealthCheck?
    /// True when `healthCheck` is `HealthCheck.builtInDefault` because the file gives this WAN no
    /// check anywhere (`config check` warns about it).
    public var healthCheckIsBuiltInDefault = false
    public var location: SourceLocation?

    /// `zone = "WAN"` (any case): such an interface is a WAN when an uplink_group names it, even
    /// without a `wan` block.
    public var isWANZone: Bool { zone?.uppercased() == "WAN" }

    /// The kernel interface that carries this WAN's traffic: its own name, or for a PPPoE WAN the
    /// session's `ppp` interface (`PPPoE.sessionDevice(for:)`), which probes, routes and rules use.
    public var device: String { pppoe == nil ? name : PPPoE.sessionDevice(for: name) }

    public init(name: String, zone: String? = nil, dhcp: Bool = false, address: CIDR? = nil, gateway: IPAddress? = nil,
                wan: WANSettings? = nil, pppoe: PPPoE? = nil, healthCheck: HealthCheck? = nil, location: SourceLocation? = nil) {
        self.name = name
        self.zone = zone
        self.dhcp = dhcp
        self.address = address
        self.gateway = gateway
        self.wan = wan
        self.pppoe = pppoe
        self.healthCheck = healthCheck
        self.location = location
    }
}

public struct WANSettings: Sendable, Equatable {
    /// Lower is preferred. Default 1.
    public var priority: Int
    /// Share in balancing. Default 1, at least 1.
    public var weight: Int
    /// Link capacity in bits per second, informational (QoS).
    public var bandwidthBitsPerSecond: Int64?
    /// `nat_address`: the IPv4 address LAN connections leaving here are translated to (an HA
    /// pair's virtual address, docs/ha.md); nil masquerades to the interface's own address. The
    /// router's own traffic (its probes) keeps its own address.
    public var natAddress: IPAddress?

    public init(priority: Int = 1, weight: Int = 1, bandwidthBitsPerSecond: Int64? = nil, natAddress: IPAddress? = nil) {
        self.priority = priority
        self.weight = weight
        self.bandwidthBitsPerSecond = bandwidthBitsPerSecond
        self.natAddress = natAddress
    }
}

/// A PPPoE session Flywall runs on the interface (its Ethernet device). The password is a secret:
/// `description` never shows it.
public struct PPPoE: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// The session's `ppp` interface on `ethernet`: `ppp-` and the Ethernet name, so it is
    /// predictable (pppd's `ifname`) and names which line it belongs to.
    public static func sessionDevice(for ethernet: String) -> String { sessionDevicePrefix + ethernet }
    public static let sessionDevicePrefix = "ppp-"
    /// Longest Ethernet name whose session name still fits the kernel's 15 characters.
    public static let maxEthernetNameLength = 15 - sessionDevicePrefix.count

    public var description: String { "PPPoE(username: \(username), password: ********)" }

    /// pppd's limit for names and secrets (MAXNAMELEN, MAXSECRETLEN) less its terminating byte.
    public static let maxCredentialBytes = 255

    /// Why a username or password cannot be handed to pppd, nil when it can.
    public static func credentialProblem(_ text: String) -> String? {
        if text.isEmpty { return "must not be empty" }
        if text.utf8.count > maxCredentialBytes { return "must be at most \(maxCredentialBytes) bytes" }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "must not contain control characters (newlines, tabs)"
        }
        return nil
    }
}

public struct HealthCheck: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable { case icmp, http, passive }

    /// The check of a WAN whose file gives it none: exactly `health_check {}`, i.e. ICMP to
    /// `ConfigDecoder.defaultICMPTargets` (1.1.1.1 and 8.8.8.8) with the spec's default timings
    /// (every 5s, timeout 2s, down after 3 failed rounds, up after 2 good ones). docs/configuration.md
    /// ("The default health check") says why these targets rather than the gateway.
    public static let builtInDefault = HealthCheck(targets: ConfigDecoder.defaultICMPTargets)

    public var kind: Kind
    /// ICMP echo targets. Empty for HTTP checks.
    public var targets: [IPAddress]
    /// HTTP check URL (`type = "http"`).
    public var url: String?
    /// HTTP status that counts as success. Default 200.
    public var expectedStatus: Int
    /// CA certificates (PEM file) that `https` checks trust instead of the system store.
    public var caFile: String?
    /// Time between probe rounds. Default 5s.
    public var interval: Duration
    /// How long a probe may take. Default min(2s, every interval below); never more than any of them.
    public var timeout: Duration
    /// Time from a failed round's start to the next round's while the WAN is still up (mwan3's
    /// name): fast re-probing. Default `interval`.
    public var failureInterval: Duration
    /// Time between rounds while the WAN is down. Default `interval`.
    public var recoveryInterval: Duration
    /// Time between rounds while the WAN is on standby (carries no traffic and no uplink it would
    /// replace is failing), for metered backups. Nil: standby WANs probe at `interval`.
    public var standbyInterval: Duration?
    /// Consecutive failed rounds that mark the WAN down. Default 3.
    public var thresholdDown: Int
    /// Consecutive good rounds that bring it back. Default 2.
    public var thresholdUp: Int
    /// Targets that must answer for a round to succeed. Default 1, at most `targets.count`.
    public var reliability: Int
    /// Rounds in the rolling window for latency, loss and jitter. Default 10.
    public var window: Int
    /// Quality threshold: mean RTT over the window above this degrades the WAN.
    public var maxLatency: Duration?
    /// Quality recovers only below this. Default 80% of `maxLatency`.
    public var recoverLatency: Duration?
    /// Quality threshold: loss percent over the window above this degrades the WAN.
    public var maxLoss: Double?
    /// Quality recovers only below this. Default half of `maxLoss`.
    public var recoverLoss: Double?

    public init(kind: Kind = .icmp, targets: [IPAddress] = [], url: String? = nil, expectedStatus: Int = 200,
                interval: Duration = .seconds(5), timeout: Duration = .seconds(2), thresholdDown: Int = 3,
                thresholdUp: Int = 2, reliability: Int = 1, window: Int = 10, maxLatency: Duration? = nil,
                recoverLatency: Duration? = nil, maxLoss: Double? = nil, recoverLoss: Double? = nil,
                failureInterval: Duration? = nil, recoveryInterval: Duration? = nil, standbyInterval: Duration? = nil,
                caFile: String? = nil) {
        self.kind = kind
        self.targets = targets
        self.url = url
        self.expectedStatus = expectedStatus
        self.interval = interval
        self.timeout = timeout
        self.failureInterval = failureInterval ?? interval
        self.recoveryInterval = recoveryInterval ?? interval
        self.standbyInterval = standbyInterval
        self.caFile = caFile
        self.thresholdDown = thresholdDown
        self.thresholdUp = thresholdUp
        self.reliability = reliability
        self.window = window
        self.maxLatency = maxLatency
        self.recoverLatency = recoverLatency
        self.maxLoss = maxLoss
        self.recoverLoss = recoverLoss
    }
}

public struct UplinkGroup: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable { case failover, balance }

    /// What new connections of a group do when none of its members is up.
    public enum AllDownPolicy: String, Sendable, Equatable {
        /// Keep sending new connections to the member that was active last (it may come back
        /// before health checks notice). The default, as mwan3's "last resort" does for the default route.
        case lastActive = "last_active"
        /// Refuse new connections (ICMP unreachable) so clients fail fast.
        case unreachable
    }

    public var name: String
    public var mode: Mode
    public var sticky: Bool
    /// A source's pin is forgotten after this much idle time. Default 10m.
    public var stickyTimeout: Duration
    public var members: [Member]
    public var allDown: AllDownPolicy
    /// After failback, also drop connections still on the backup so they reconnect on the preferred
    /// uplink. Default false: long-lived connections stay where they are.
    public var failbackMovesConnections: Bool
    public var location: SourceLocation?

    public init(name: String, mode: Mode = .failover, sticky: Bool = false, stickyTimeout: Duration = .seconds(600),
                members: [Member], allDown: AllDownPolicy = .lastActive, failbackMovesConnections: Bool = false,
                location: SourceLocation? = nil) {
        self.name = name
        self.mode = mode
        self.sticky = sticky
        self.stickyTimeout = stickyTimeout
        self.members = members
        self.allDown = allDown
        self.failbackMovesConnections = failbackMovesConnections
        self.location = location
    }
}

public struct Member: Sendable, Equatable {
    /// The WAN interface this member is.
    public var interface: String
    /// Effective priority: the member's own, else the interface's `wan { priority }`.
    public var priority: Int
    /// Effective weight: the member's own, else the interface's `wan { weight }`.
    public var weight: Int
    public var healthCheck: HealthCheck?

    public init(interface: String, priority: Int = 1, weight: Int = 1, healthCheck: HealthCheck? = nil) {
        self.interface = interface
        self.priority = priority
        self.weight = weight
        self.healthCheck = healthCheck
    }
}

public enum TransportProtocol: String, Sendable, Hashable, CaseIterable {
    case tcp, udp, icmp
}

/// A destination or source in a match: a prefix, or a reference to a named ipset (`@name`).
public enum AddressMatch: Sendable, Hashable, CustomStringConvertible {
    case cidr(CIDR)
    case ipset(String)

    public var description: String {
        switch self {
        case .cidr(let c): c.description
        case .ipset(let n): "@\(n)"
        }
    }
}

public struct PortRange: Sendable, Hashable, CustomStringConvertible {
    public var lower: UInt16
    public var upper: UInt16
    public init(_ lower: UInt16, _ upper: UInt16? = nil) {
        self.lower = lower
        self.upper = upper ?? lower
    }
    public func contains(_ port: UInt16) -> Bool { lower <= port && port <= upper }
    public var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}

public struct PolicyRoute: Sendable, Equatable {
    public struct Match: Sendable, Equatable {
        public var protocols: [TransportProtocol]
        public var destPorts: [PortRange]
        public var sources: [AddressMatch]
        public var destinations: [AddressMatch]
        public init(protocols: [TransportProtocol] = [], destPorts: [PortRange] = [], sources: [AddressMatch] = [],
                    destinations: [AddressMatch] = []) {
            self.protocols = protocols
            self.destPorts = destPorts
            self.sources = sources
            self.destinations = destinations
        }
    }

    public var name: String
    public var match: Match
    /// An interface (WAN) name or an uplink group name.
    public var uplink: String
    /// When the uplink is down: true (default) sends the traffic to the default group, false drops it.
    public var fallback: Bool
    public var location: SourceLocation?

    public init(name: String, match: Match, uplink: String, fallback: Bool = true, location: SourceLocation? = nil) {
        self.name = name
        self.match = match
        self.uplink = uplink
        self.fallback = fallback
        self.location = location
    }
}

public struct IPSet: Sendable, Equatable {
    public var name: String
    public var entries: [CIDR]
    public init(name: String, entries: [CIDR]) {
        self.name = name
        self.entries = entries
    }
}

public enum WANEventKind: String, Sendable, Hashable, CaseIterable, Codable {
    case wanDown = "wan_down"
    case wanUp = "wan_up"
    case failover
    case failback
    case allDown = "all_down"
}

public struct Notifications: Sendable, Equatable {
    /// How the mail client protects the SMTP connection.
    public enum EmailTLS: String, Sendable, Equatable, CaseIterable {
        /// Plain connect, then `STARTTLS` (required: a server without it is an error).
        case starttls
        /// TLS from the first byte (`smtps`, port 465).
        case implicit
        /// No TLS at all (a relay on loopback or a trusted LAN).
        case none
    }
    public struct Email: Sendable, Equatable {
        public var enabled: Bool
        /// `host:port`
        public var smtp: String
        public var from: String?
        public var to: [String]
        public var events: [WANEventKind]
        public var username: String?
        /// A secret: never printed, logged or served.
        public var password: String?
        public var tls: EmailTLS
        /// A PEM file of the CA that signed the server's certificate, instead of the system store.
        public var caFile: String?
        public init(enabled: Bool = true, smtp: String, from: String? = nil, to: [String], events: [WANEventKind],
                    username: String? = nil, password: String? = nil, tls: EmailTLS = .starttls, caFile: String? = nil) {
            self.enabled = enabled
            self.smtp = smtp
            self.from = from
            self.to = to
            self.events = events
            self.username = username
            self.password = password
            self.tls = tls
            self.caFile = caFile
        }
    }
    public struct Webhook: Sendable, Equatable {
        public var enabled: Bool
        /// Its path is a credential (Slack, Mattermost): shown only as `scheme://host/<redacted>`.
        public var url: String
        public var events: [WANEventKind]
        /// The HMAC-SHA256 key of `X-Flywall-Signature`; a secret.
        public var secret: String?
        public var caFile: String?
        public init(enabled: Bool = true, url: String, events: [WANEventKind], secret: String? = nil, caFile: String? = nil) {
            self.enabled = enabled
            self.url = url
            self.events = events
            self.secret = secret
            self.caFile = caFile
        }
    }
    public static let defaultCoalesce: Duration = .seconds(30)
    public var email: [Email]
    public var webhook: [Webhook]
    /// Events about one WAN or group closer together than this go out as one message.
    public var coalesce: Duration
    public init(email: [Email] = [], webhook: [Webhook] = [], coalesce: Duration = Notifications.defaultCoalesce) {
        self.email = email
        self.webhook = webhook
        self.coalesce = coalesce
    }
}
