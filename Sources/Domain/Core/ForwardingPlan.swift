/// A new connection as the dataplane sees its first packet.
public struct Flow: Sendable, Hashable {
    public var source: IPAddress
    public var destination: IPAddress
    public var proto: TransportProtocol
    public var destPort: UInt16?
    /// Per-connection randomness, the model of nftables' `numgen random`: the simulator draws it from
    /// its seeded generator, so a run is reproducible.
    public var entropy: UInt32

    public init(source: IPAddress, destination: IPAddress, proto: TransportProtocol = .tcp, destPort: UInt16? = nil,
                entropy: UInt32 = 0) {
        self.source = source
        self.destination = destination
        self.proto = proto
        self.destPort = destPort
        self.entropy = entropy
    }
}

/// The core's whole answer about the dataplane: plain data whose meaning is `route(_:)`.
///
/// The nftables adapter compiles it into rules with exactly this meaning; the simulator calls `route`
/// directly; the lab checks captured packets against it.
public struct ForwardingPlan: Sendable, Equatable {
    /// One entry per WAN, in config order. `index` is stable for the daemon's life and gives the
    /// uplink's fwmark and routing table.
    public struct Uplink: Sendable, Equatable {
        public var name: String
        public var index: Int
        /// Usable for new connections (healthy, carrier, not in maintenance).
        public var usable: Bool
        /// The IPv4 next hop (nil: the route goes straight out of the device, as for a
        /// point-to-point link such as a PPPoE session).
        public var gateway: IPAddress?
        /// The IPv6 next hop, usually the link-local address of the router that advertised the
        /// default route. Nil: the uplink carries no IPv6 of its own; IPv6 flows the plan gives it
        /// leave by the system's main table instead (the dataplane throws them there), as they did
        /// before Flywall.
        public var ipv6Gateway: IPAddress?
        /// The kernel interface its traffic leaves by: the WAN's own, or its PPPoE session's.
        public var device: String
        /// False while the device cannot exist: a PPPoE session's interface before its link is up.
        /// Nothing can leave by it, so the dataplane routes its tables nowhere until it returns.
        public var deviceExists: Bool
        /// `wan { nat_address }`: what LAN connections leaving here are translated to (nil: masquerade).
        public var natAddress: IPAddress?
        /// With `natAddress`: the network of the interface's own address. Connections from it are the
        /// router's own (probes, VRRP) and are masqueraded, not translated. The same on both routers
        /// of a pair: their own addresses differ, their network does not.
        public var ownNetwork: CIDR?
        public init(name: String, index: Int, usable: Bool, gateway: IPAddress? = nil, ipv6Gateway: IPAddress? = nil,
                    device: String? = nil, deviceExists: Bool = true, natAddress: IPAddress? = nil, ownNetwork: CIDR? = nil) {
            self.name = name
            self.index = index
            self.usable = usable
            self.gateway = gateway
            self.ipv6Gateway = ipv6Gateway
            self.device = device ?? name
            self.deviceExists = deviceExists
            self.natAddress = natAddress
            self.ownNetwork = ownNetwork
        }
    }

    public struct Group: Sendable, Equatable {
        public var name: String
        public var mode: UplinkGroup.Mode
        public var sticky: Bool
        public var stickyTimeout: Duration
        /// Uplinks carrying new connections now, in preference order (empty: none usable and the
        /// all-down policy refuses traffic).
        public var active: [String]
        /// Hash buckets: a new connection takes `buckets[h % buckets.count]`, where h is
        /// `jhash(source)` for sticky groups and per-connection entropy otherwise. When a member dies,
        /// only its buckets are handed to survivors, so other sources keep their uplink.
        public var buckets: [String]
        /// Every member, in member order (active or not): a dataplane keeps per-member state, such as
        /// sticky memory, for each.
        public var members: [String]
        /// How many hash slots a dataplane gives the group: slot `s` routes like `bucket(forSlot: s)`,
        /// which equals `buckets[h % buckets.count]` for every hash `h` taken modulo `slots`. Chosen
        /// from the config so that every usual layout fits the same count (a health change then
        /// changes routes only); grown only for a layout that does not fit.
        public var slots: Int
        public init(name: String, mode: UplinkGroup.Mode, sticky: Bool, stickyTimeout: Duration, active: [String],
                    buckets: [String], members: [String] = [], slots: Int? = nil) {
            self.name = name
            self.mode = mode
            self.sticky = sticky
            self.stickyTimeout = stickyTimeout
            self.active = active
            self.buckets = buckets
            self.members = members
            self.slots = slots ?? max(1, buckets.count)
        }

        /// The uplink that hash slot `s` (of `slots`) routes to; nil when the group refuses traffic.
        public func bucket(forSlot s: Int) -> String? {
            buckets.isEmpty ? nil : buckets[s % buckets.count]
        }
    }

    /// A named address set (an `ipset` of the config) with its prefixes.
    public struct AddressSet: Sendable, Equatable {
        public var name: String
        public var entries: [CIDR]
        public init(name: String, entries: [CIDR]) {
            self.name = name
            self.entries = entries
        }
    }

    public struct Policy: Sendable, Equatable {
        public var name: String
        public var protocols: [TransportProtocol]
        public var destPorts: [PortRange]
        /// Sources and destinations with ipsets already expanded to prefixes; nil matches any address
        /// (an empty list, from an empty ipset, matches none).
        public var sources: [CIDR]?
        public var destinations: [CIDR]?
        /// The ipset named by the match when it is exactly one ipset (`sources`/`destinations` hold
        /// its prefixes), so a dataplane can keep it one named set.
        public var sourceSet: String?
        public var destinationSet: String?
        public var target: Target
        /// For an uplink target: while the uplink is down, matched traffic takes the default group's
        /// choice (`fallback = true` in the config and there is a default group); else it is refused.
        public var fallback: Bool
        /// Where matched traffic goes now: the target, the default group's choice, or nowhere.
        public var resolution: Resolution
        public init(name: String, protocols: [TransportProtocol], destPorts: [PortRange], sources: [CIDR]?,
                    destinations: [CIDR]?, sourceSet: String? = nil, destinationSet: String? = nil, target: Target,
                    fallback: Bool = false, resolution: Resolution) {
            self.name = name
            self.protocols = protocols
            self.destPorts = destPorts
            self.sources = sources
            self.destinations = destinations
            self.sourceSet = sourceSet
            self.destinationSet = destinationSet
            self.target = target
            self.fallback = fallback
            self.resolution = resolution
        }

        /// Equal but for `resolution`: what traffic it matches and where it is meant to go are the
        /// same, so a dataplane built for one serves the other (only its routes differ).
        public func hasSameLayout(as other: Policy) -> Bool {
            var other = other
            other.resolution = resolution
            return self == other
        }

        public func matches(_ flow: Flow) -> Bool {
            (protocols.isEmpty || protocols.contains(flow.proto))
                && (destPorts.isEmpty || flow.destPort.map { p in destPorts.contains { $0.contains(p) } } == true)
                && (sources.map { s in s.contains { $0.contains(flow.source) } } ?? true)
                && (destinations.map { d in d.contains { $0.contains(flow.destination) } } ?? true)
        }
    }

    public enum Target: Sendable, Equatable {
        case uplink(String)
        case group(String)
    }

    public enum Resolution: Sendable, Equatable {
        case uplink(String)
        case group(String)
        case drop
    }

    public var uplinks: [Uplink]
    public var groups: [Group]
    /// First match wins, in config order.
    public var policies: [Policy]
    /// The group of traffic no policy claims.
    public var defaultGroup: String?
    /// The config's ipsets, for dataplanes that keep them as named sets.
    public var ipsets: [AddressSet]

    public init(uplinks: [Uplink] = [], groups: [Group] = [], policies: [Policy] = [], defaultGroup: String? = nil,
                ipsets: [AddressSet] = []) {
        self.uplinks = uplinks
        self.groups = groups
        self.policies = policies
        self.defaultGroup = defaultGroup
        self.ipsets = ipsets
    }

    public func group(named name: String) -> Group? { groups.first { $0.name == name } }
    public func uplink(named name: String) -> Uplink? { uplinks.first { $0.name == name } }

    /// Whether a source remembered on `member` of the sticky `group` stays on it: while the member
    /// is usable and active in the group (else it takes the group's choice again). The kernel's
    /// sticky tables (`KernelPlan`) and `StickyTable` both follow this.
    public func keepsSticky(_ member: String, in group: Group) -> Bool {
        uplink(named: member)?.usable == true && group.active.contains(member)
    }

    /// The decision for a new connection, ignoring sticky memory (see `StickyTable`).
    public func route(_ flow: Flow) -> RouteDecision {
        if let policy = policies.first(where: { $0.matches(flow) }) {
            switch policy.resolution {
            case .uplink(let u): return RouteDecision(uplink: u, group: nil, policy: policy.name)
            case .group(let g):
                var d = route(flow, inGroup: g)
                d.policy = policy.name
                return d
            case .drop: return RouteDecision(uplink: nil, group: nil, policy: policy.name)
            }
        }
        guard let g = defaultGroup else { return RouteDecision(uplink: nil, group: nil, policy: nil) }
        return route(flow, inGroup: g)
    }

    /// The decision inside one group: its hash bucket.
    public func route(_ flow: Flow, inGroup name: String) -> RouteDecision {
        guard let group = group(named: name), !group.buckets.isEmpty else {
            return RouteDecision(uplink: nil, group: name, policy: nil)
        }
        let h = group.sticky ? SourceHash.hash(flow.source) : flow.entropy
        return RouteDecision(uplink: group.buckets[Int(h % UInt32(group.buckets.count))], group: name, policy: nil)
    }
}

public struct RouteDecision: Sendable, Equatable {
    /// The uplink a new connection leaves on; nil means it is refused.
    public var uplink: String?
    /// The group that chose, when a group chose.
    public var group: String?
    /// The policy route that matched, if any.
    public var policy: String?
    public init(uplink: String?, group: String?, policy: String?) {
        self.uplink = uplink
        self.group = group
        self.policy = policy
    }
}

/// A stable 32-bit hash of a source address (Jenkins one-at-a-time), the model of `jhash ip saddr`.
public enum SourceHash {
    public static func hash(_ ip: IPAddress) -> UInt32 {
        var h: UInt32 = 0
        func mix(_ byte: UInt8) {
            h = h &+ UInt32(byte)
            h = h &+ (h << 10)
            h ^= h >> 6
        }
        switch ip {
        case .v4(let v):
            for shift in stride(from: 24, through: 0, by: -8) { mix(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
        case .v6(let hi, let lo):
            for word in [hi, lo] {
                for shift in stride(from: 56, through: 0, by: -8) { mix(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
            }
        }
        h = h &+ (h << 3)
        h ^= h >> 11
        h = h &+ (h << 15)
        return h
    }
}

/// Sticky memory for one dataplane: source -> (uplink, last seen), per group. The model of an nftables
/// dynamic map with timeout. A remembered uplink is used while it is usable and the entry is fresh;
/// otherwise the plan's hash decides and the entry is replaced.
public struct StickyTable: Sendable {
    struct Key: Hashable { var group: String; var source: IPAddress }
    struct Entry { var uplink: String; var lastSeen: Instant }
    private var entries: [Key: Entry] = [:]

    public init() {}

    public var count: Int { entries.count }

    /// Routes a new connection with sticky memory applied to sticky groups.
    public mutating func route(_ flow: Flow, plan: ForwardingPlan, at now: Instant) -> RouteDecision {
        var decision = plan.route(flow)
        guard let groupName = decision.group, let group = plan.group(named: groupName), group.sticky,
              decision.uplink != nil else { return decision }
        let key = Key(group: groupName, source: flow.source)
        if let entry = entries[key], now - entry.lastSeen <= group.stickyTimeout,
           plan.keepsSticky(entry.uplink, in: group) {
            decision.uplink = entry.uplink
        }
        entries[key] = Entry(uplink: decision.uplink!, lastSeen: now)
        return decision
    }
}
