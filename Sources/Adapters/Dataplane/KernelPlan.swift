import Domain

/// Flywall's fwmark layout (docs/dataplane.md, "Mark layout"). Bits 0–7 are never Flywall's.
public enum DataplaneMarks {
    /// Field A: uplink pin (1...64) or policy class (66...193).
    public static let classMask: UInt32 = 0xff00_0000
    /// Field S: sticky slot (1...63).
    public static let stickyMask: UInt32 = 0x00fc_0000
    /// Field B: hash slot (1...1023).
    public static let slotMask: UInt32 = 0x0003_ff00
    /// Every bit Flywall owns.
    public static let flywallMask: UInt32 = 0xffff_ff00

    /// The fields' sizes: the decoder checks a config against them (`ConfigLimits`, located
    /// errors); `KernelPlan` checks again for a hand-built plan.
    public static let maxUplinks = ConfigLimits.uplinks
    public static let maxStickySlots = ConfigLimits.stickyMembers
    public static let maxHashSlots = ConfigLimits.hashSlots

    /// Field A value of uplink `index`: connections that left on it (ct mark) and its probes (SO_MARK).
    public static func pin(uplink index: Int) -> UInt32 { UInt32(index + 1) << 24 }
    /// Field A value of policies that target uplink `index`; `fallback` when they fall back to the
    /// default group while it is down.
    public static func policy(uplink index: Int, fallback: Bool) -> UInt32 {
        UInt32(66 + 2 * index + (fallback ? 1 : 0)) << 24
    }
    public static func sticky(slot k: Int) -> UInt32 { UInt32(k + 1) << 18 }
    public static func hashSlot(_ code: Int) -> UInt32 { UInt32(code + 1) << 8 }
}

/// Flywall's routing table ids and `ip rule` priorities (all inside `FlywallRoutingRanges`).
public enum DataplaneTables {
    public static let mainRulePriority: UInt32 = 10_000
    public static let classRulePriority: UInt32 = 10_100
    public static let stickyRulePriority: UInt32 = 10_200
    public static let slotRulePriority: UInt32 = 10_300

    public static func pin(uplink index: Int) -> UInt32 { 10_000 + UInt32(index) }
    public static func policy(uplink index: Int, fallback: Bool) -> UInt32 {
        10_100 + UInt32(2 * index + (fallback ? 1 : 0))
    }
    public static func sticky(slot k: Int) -> UInt32 { 10_300 + UInt32(k) }
    public static func hashSlot(_ code: Int) -> UInt32 { 20_000 + UInt32(code) }
}

/// `ip rule add priority 10000 lookup main suppress_prefixlength 0`: the main table's specific routes
/// (LAN subnets, the WANs' own subnets) win over Flywall's marks; only its default route is ignored, so
/// marked traffic to a local network never leaves on a WAN.
public struct SuppressedMainRule: Hashable, Sendable, CustomStringConvertible {
    public var priority: UInt32 = DataplaneTables.mainRulePriority
    /// RT_TABLE_MAIN.
    public var table: UInt32 = 254
    /// Routes with a prefix this long or shorter are ignored.
    public var suppressPrefixLength: UInt32 = 0
    public init() {}
    public var description: String {
        "\(priority): from all lookup main suppress_prefixlength \(suppressPrefixLength)"
    }
}

/// The routes of Flywall's tables for one forwarding plan: the only kernel state a failover changes.
public struct RouteSet: Sendable, Equatable {
    /// One default route per table and family: IPv4 ascending by table id, then IPv6.
    public var routes: [TableRoute]

    public init(routes: [TableRoute]) { self.routes = routes.sorted { $0.key < $1.key } }

    public func route(table: UInt32, family: IPFamily = .ipv4) -> TableRoute? {
        routes.first { $0.table == table && $0.family == family }
    }

    /// The routes to replace to get from `old` to this set: new routes and routes that changed.
    public func changes(from old: RouteSet) -> [TableRoute] {
        var previous: [TableRoute.Key: TableRoute.Kind] = [:]
        for r in old.routes { previous[r.key] = r.kind }
        return routes.filter { previous[$0.key] != $0.kind }
    }
}

/// Why a config and plan cannot be compiled into kernel state.
public struct KernelPlanError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case tooManyUplinks(Int)
        case duplicateUplinkIndex(Int)
        case tooManyStickyMembers(Int)
        case tooManyHashSlots(needed: Int)
        case unknownUplink(String)
        case unknownGroup(String)
        /// A plan whose group wants another hash-slot count than the ruleset has: compile a new
        /// `KernelPlan` with this plan (a full ruleset rebuild).
        case slotsDiffer(group: String, compiled: Int, planned: Int)
        /// Policies that share a routing table resolve differently in the plan.
        case inconsistentPolicies(table: UInt32)
    }

    public var reason: Reason
    public init(_ reason: Reason) { self.reason = reason }

    public var description: String {
        switch reason {
        case .tooManyUplinks(let n): "\(n) uplinks: the mark layout has room for \(DataplaneMarks.maxUplinks)"
        case .duplicateUplinkIndex(let i): "two uplinks have index \(i)"
        case .tooManyStickyMembers(let n):
            "\(n) members of sticky groups: the mark layout has room for \(DataplaneMarks.maxStickySlots)"
        case .tooManyHashSlots(let n):
            "groups need \(n) hash slots: the mark layout has room for \(DataplaneMarks.maxHashSlots) (lower the weights)"
        case .unknownUplink(let u): "uplink \(u) is not in the plan"
        case .unknownGroup(let g): "group \(g) is not in the plan"
        case .slotsDiffer(let g, let c, let p): "group \(g): the plan wants \(p) hash slots, the ruleset has \(c)"
        case .inconsistentPolicies(let t): "policies sharing table \(t) resolve differently"
        }
    }
}

/// A config and the uplink indices of its plans, compiled into the kernel state of
/// docs/dataplane.md: the nftables ruleset, the ip rules, and (per plan) the routes of every table.
///
/// The ruleset and rules depend only on the config, the uplinks' indices and the groups' hash-slot
/// counts, never on health; `routes(for:)` is the health-dependent part. Pure: no I/O.
public struct KernelPlan: Sendable, Equatable {
    public struct Uplink: Sendable, Equatable {
        public var name: String
        public var index: Int
        /// The kernel interface (a PPPoE WAN's session device): what rules and routes name.
        public var device: String
        /// LAN connections leaving here are translated to this (IPv4) address instead of masqueraded.
        public var natAddress: IPAddress? = nil
        /// Sources in this network (the router's own) are masqueraded even with `natAddress`.
        public var ownNetwork: CIDR? = nil
    }

    public struct Group: Sendable, Equatable {
        public var name: String
        public var index: Int
        public var sticky: Bool
        /// How long a sticky source is remembered while idle.
        public var stickyTimeout: Duration
        /// `numgen`/`jhash` modulus: slot s of the group routes like the plan's `bucket(forSlot: s)`.
        public var slots: Int
        /// Global slot code of slot 0 (field B value `firstSlot + s + 1`).
        public var firstSlot: Int
        /// Sticky slot k of each member (sticky groups only), in member order.
        public var stickySlots: [(member: String, slot: Int)]

        public static func == (a: Group, b: Group) -> Bool {
            a.name == b.name && a.index == b.index && a.sticky == b.sticky && a.stickyTimeout == b.stickyTimeout
                && a.slots == b.slots && a.firstSlot == b.firstSlot && a.stickySlots.elementsEqual(b.stickySlots) { $0 == $1 }
        }
    }

    public enum PolicyTarget: Sendable, Equatable {
        case uplink(index: Int, fallback: Bool)
        case group(index: Int)
    }

    public var uplinks: [Uplink]
    public var groups: [Group]
    /// Per policy route, in config order.
    public var policyTargets: [PolicyTarget]
    /// The plan's policies as compiled; only their matches and targets shape the ruleset.
    public var policies: [ForwardingPlan.Policy]
    public var ipsets: [ForwardingPlan.AddressSet]
    public var defaultGroup: Int?
    /// `table inet flywall`.
    public var ruleset: NftRuleset
    /// The fwmark rules: the IPv4 list, then the same rules for IPv6.
    public var rules: [FwmarkRule]
    /// Programmed with `rules`, before them, in both families.
    public var mainRule = SuppressedMainRule()

    /// Compiles `plan`'s layout: its uplinks (indices stable for the daemon's life), groups with
    /// their hash-slot counts, policies and ipsets. Health (usable uplinks, active members,
    /// buckets, resolutions) is left to `routes(for:)`.
    public init(plan: ForwardingPlan) throws(KernelPlanError) {
        guard plan.uplinks.count <= DataplaneMarks.maxUplinks else { throw .init(.tooManyUplinks(plan.uplinks.count)) }
        var seen = Set<Int>()
        for u in plan.uplinks {
            guard (0..<DataplaneMarks.maxUplinks).contains(u.index) else { throw .init(.tooManyUplinks(u.index + 1)) }
            guard seen.insert(u.index).inserted else { throw .init(.duplicateUplinkIndex(u.index)) }
        }
        uplinks = plan.uplinks.map { Uplink(name: $0.name, index: $0.index, device: $0.device, natAddress: $0.natAddress, ownNetwork: $0.ownNetwork) }

        var groups: [Group] = []
        var nextSlot = 0, nextSticky = 0
        for (g, group) in plan.groups.enumerated() {
            for m in group.members where !uplinks.contains(where: { $0.name == m }) { throw .init(.unknownUplink(m)) }
            var stickySlots: [(String, Int)] = []
            if group.sticky {
                for m in group.members {
                    stickySlots.append((m, nextSticky))
                    nextSticky += 1
                }
            }
            groups.append(Group(name: group.name, index: g, sticky: group.sticky, stickyTimeout: group.stickyTimeout,
                                slots: group.slots, firstSlot: nextSlot, stickySlots: stickySlots))
            nextSlot += group.slots
        }
        guard nextSlot <= DataplaneMarks.maxHashSlots else { throw .init(.tooManyHashSlots(needed: nextSlot)) }
        guard nextSticky <= DataplaneMarks.maxStickySlots else { throw .init(.tooManyStickyMembers(nextSticky)) }
        self.groups = groups
        defaultGroup = plan.defaultGroup.flatMap { d in groups.first { $0.name == d }?.index }

        var targets: [PolicyTarget] = []
        for policy in plan.policies {
            switch policy.target {
            case .uplink(let name):
                guard let u = uplinks.first(where: { $0.name == name }) else { throw .init(.unknownUplink(name)) }
                // The core set `fallback` only where a default group exists to fall back to.
                targets.append(.uplink(index: u.index, fallback: policy.fallback))
            case .group(let name):
                guard let g = groups.first(where: { $0.name == name }) else { throw .init(.unknownGroup(name)) }
                targets.append(.group(index: g.index))
            }
        }
        policyTargets = targets
        policies = plan.policies
        ipsets = plan.ipsets

        rules = KernelPlan.fwmarkRules(uplinks: uplinks, groups: groups, targets: targets)
        ruleset = NftRuleset()
        var compiler = RulesetCompiler(plan: self)
        ruleset = compiler.compile()
    }

    /// Whether `plan` can be routed with this ruleset: it has the same layout (uplinks, groups and
    /// their slots, policy matches, ipsets), so only its health differs. When not, the daemon
    /// compiles a new `KernelPlan` and replaces the ruleset.
    public func accommodates(_ plan: ForwardingPlan) -> Bool {
        guard plan.uplinks.count == uplinks.count, plan.groups.count == groups.count,
              plan.policies.count == policies.count, plan.ipsets == ipsets,
              plan.defaultGroup.flatMap({ d in groups.first { $0.name == d }?.index }) == defaultGroup else { return false }
        for (u, k) in zip(plan.uplinks, uplinks) where u.name != k.name || u.index != k.index || u.device != k.device {
            return false
        }
        for (g, k) in zip(plan.groups, groups) {
            guard g.name == k.name, g.sticky == k.sticky, g.slots == k.slots, g.stickyTimeout == k.stickyTimeout else {
                return false
            }
            // Sticky memory is kept per member; other groups' rules do not name their members.
            if k.sticky && !g.members.elementsEqual(k.stickySlots.map(\.member)) { return false }
        }
        for (p, k) in zip(plan.policies, policies) where !p.hasSameLayout(as: k) { return false }
        return true
    }

    /// The route of every Flywall table for `plan`, in both families: the whole answer to a health
    /// change. Each table's IPv6 route follows its IPv4 one: `via` the same uplink's IPv6 gateway,
    /// or `throw` (to the main table) when the uplink has none; `throw` and `unreachable` alike.
    public func routes(for plan: ForwardingPlan) throws(KernelPlanError) -> RouteSet {
        let ipv4 = try ipv4Routes(for: plan)
        // Routes name the device (a PPPoE WAN's is its session's, not the WAN's name). Looked up
        // once per plan, not once per route: a balance group has up to 1,023 slot tables.
        let ipv6Gateways = Dictionary(plan.uplinks.map { ($0.device, $0.ipv6Gateway) }, uniquingKeysWith: { first, _ in first })
        let ipv6 = ipv4.map { route -> TableRoute in
            guard case .via(_, let device) = route.kind else { return TableRoute(table: route.table, kind: route.kind, family: .ipv6) }
            let kind: TableRoute.Kind = ipv6Gateways[device]?.map { .via(gateway: $0, device: device) } ?? .throw
            return TableRoute(table: route.table, kind: kind, family: .ipv6)
        }
        return RouteSet(routes: ipv4 + ipv6)
    }

    private func ipv4Routes(for plan: ForwardingPlan) throws(KernelPlanError) -> [TableRoute] {
        var routes: [TableRoute] = []
        func via(_ name: String) throws(KernelPlanError) -> TableRoute.Kind {
            guard let u = plan.uplink(named: name) else { throw .init(.unknownUplink(name)) }
            // A route through a device that does not exist cannot be programmed; the core sends a
            // repair when the device comes (a PPPoE session's link).
            guard u.deviceExists else { return .unreachable }
            // The core puts IPv6 next hops in `ipv6Gateway` only; one here would make an IPv4 route invalid.
            return .via(gateway: u.gateway.flatMap { $0.isV4 ? $0 : nil }, device: u.device)
        }
        for u in uplinks {
            routes.append(TableRoute(table: DataplaneTables.pin(uplink: u.index), kind: try via(u.name)))
        }
        // Policy tables: one per (uplink, fallback) in use; every policy sharing one resolves alike.
        var policyKinds: [UInt32: TableRoute.Kind] = [:]
        for (target, policy) in zip(policyTargets, plan.policies) {
            guard case .uplink(let index, let fallback) = target else { continue }
            let table = DataplaneTables.policy(uplink: index, fallback: fallback)
            let kind: TableRoute.Kind
            switch policy.resolution {
            case .uplink(let name): kind = try via(name)
            case .group: kind = .throw
            case .drop: kind = .unreachable
            }
            if let existing = policyKinds[table], existing != kind { throw .init(.inconsistentPolicies(table: table)) }
            policyKinds[table] = kind
        }
        routes += policyKinds.sorted { $0.key < $1.key }.map { TableRoute(table: $0.key, kind: $0.value) }
        for g in groups {
            guard let group = plan.group(named: g.name) else { throw .init(.unknownGroup(g.name)) }
            guard group.slots == g.slots else {
                throw .init(.slotsDiffer(group: g.name, compiled: g.slots, planned: group.slots))
            }
            for (member, k) in g.stickySlots {
                let usable = plan.keepsSticky(member, in: group)
                routes.append(TableRoute(table: DataplaneTables.sticky(slot: k), kind: usable ? try via(member) : .throw))
            }
            for s in 0..<g.slots {
                let table = DataplaneTables.hashSlot(g.firstSlot + s)
                if let member = group.bucket(forSlot: s) {
                    routes.append(TableRoute(table: table, kind: try via(member)))
                } else {
                    routes.append(TableRoute(table: table, kind: .unreachable))
                }
            }
        }
        return routes.map { TableRoute(table: $0.table, kind: $0.kind, family: .ipv4) }
    }

    /// The ct mark (and mask) of connections that left on `uplink`: what a conntrack flush for it
    /// matches. Also the `SO_MARK` of the uplink's probe sockets.
    public func connectionMark(uplink name: String) -> (mark: UInt32, mask: UInt32)? {
        uplinks.first { $0.name == name }.map { (DataplaneMarks.pin(uplink: $0.index), DataplaneMarks.classMask) }
    }

    static func fwmarkRules(uplinks: [Uplink], groups: [Group], targets: [PolicyTarget]) -> [FwmarkRule] {
        var rules: [FwmarkRule] = []
        for u in uplinks.sorted(by: { $0.index < $1.index }) {
            rules.append(FwmarkRule(priority: DataplaneTables.classRulePriority, mark: DataplaneMarks.pin(uplink: u.index),
                                    mask: DataplaneMarks.classMask, table: DataplaneTables.pin(uplink: u.index)))
        }
        var policyClasses: [(Int, Bool)] = []
        for case .uplink(let i, let f) in targets where !policyClasses.contains(where: { $0 == (i, f) }) {
            policyClasses.append((i, f))
        }
        for (i, f) in policyClasses.sorted(by: { ($0.0, $0.1 ? 1 : 0) < ($1.0, $1.1 ? 1 : 0) }) {
            rules.append(FwmarkRule(priority: DataplaneTables.classRulePriority,
                                    mark: DataplaneMarks.policy(uplink: i, fallback: f), mask: DataplaneMarks.classMask,
                                    table: DataplaneTables.policy(uplink: i, fallback: f)))
        }
        for g in groups {
            for (_, k) in g.stickySlots {
                rules.append(FwmarkRule(priority: DataplaneTables.stickyRulePriority, mark: DataplaneMarks.sticky(slot: k),
                                        mask: DataplaneMarks.stickyMask, table: DataplaneTables.sticky(slot: k)))
            }
        }
        for g in groups {
            for s in 0..<g.slots {
                rules.append(FwmarkRule(priority: DataplaneTables.slotRulePriority,
                                        mark: DataplaneMarks.hashSlot(g.firstSlot + s), mask: DataplaneMarks.slotMask,
                                        table: DataplaneTables.hashSlot(g.firstSlot + s)))
            }
        }
        return rules + rules.map { $0.inFamily(.ipv6) }
    }
}
