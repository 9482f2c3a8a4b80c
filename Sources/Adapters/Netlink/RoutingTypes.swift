import Domain

/// One `ip rule` (or `ip -6 rule`): packets whose fwmark, under `mask`, equals `mark` look up
/// `table`. Flywall's rules are exactly this shape (docs/dataplane.md, "Routing tables and rules").
/// With `mark` and `mask` both 0 the rule matches every packet (`from all lookup ...`).
public struct FwmarkRule: Hashable, Sendable, CustomStringConvertible {
    public var priority: UInt32
    public var mark: UInt32
    public var mask: UInt32
    public var table: UInt32
    /// `suppress_prefixlength N`: the lookup's answer is ignored when its prefix is N bits or
    /// shorter (0: every route but the default route counts).
    public var suppressPrefixLength: UInt32?
    /// The rule list it belongs to: the kernel keeps one per family.
    public var family: IPFamily

    public init(priority: UInt32, mark: UInt32, mask: UInt32, table: UInt32, suppressPrefixLength: UInt32? = nil,
                family: IPFamily = .ipv4) {
        self.priority = priority
        self.mark = mark
        self.mask = mask
        self.table = table
        self.suppressPrefixLength = suppressPrefixLength
        self.family = family
    }

    /// `ip rule add priority P lookup main suppress_prefixlength 0`: the main table's specific
    /// routes win, its default route does not.
    public static func mainWithoutDefault(priority: UInt32, family: IPFamily = .ipv4) -> FwmarkRule {
        FwmarkRule(priority: priority, mark: 0, mask: 0, table: 254, suppressPrefixLength: 0, family: family)
    }

    /// The same rule in the other family's list.
    public func inFamily(_ family: IPFamily) -> FwmarkRule {
        var rule = self
        rule.family = family
        return rule
    }

    /// As `ip rule show` (or `ip -6 rule show`) prints it.
    public var description: String {
        var text = "\(priority): from all"
        if mark != 0 || mask != 0 { text += " fwmark 0x\(String(mark, radix: 16))/0x\(String(mask, radix: 16))" }
        let names: [UInt32: String] = [253: "default", 254: "main", 255: "local"]
        text += " lookup \(names[table] ?? String(table))"
        if let suppressPrefixLength { text += " suppress_prefixlength \(suppressPrefixLength)" }
        return text
    }
}

/// The default route of one Flywall routing table in one family; every Flywall table holds
/// exactly one per family.
public struct TableRoute: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// `default via <gateway> dev <device>`, or `default dev <device>` without a gateway
        /// (point-to-point links, DHCP not bound yet).
        case via(gateway: IPAddress?, device: String)
        /// `throw default`: the lookup falls through to the next rule.
        case `throw`
        /// `unreachable default`: the packet is dropped with ICMP net unreachable.
        case unreachable
    }

    public var table: UInt32
    public var kind: Kind
    public var family: IPFamily

    /// `family` defaults to the gateway's, else IPv4.
    public init(table: UInt32, kind: Kind, family: IPFamily? = nil) {
        self.table = table
        self.kind = kind
        if let family {
            self.family = family
        } else if case .via(let gateway?, _) = kind {
            self.family = gateway.family
        } else {
            self.family = .ipv4
        }
    }

    /// Table and family: what identifies the route among Flywall's.
    public var key: Key { Key(table: table, family: family) }

    public struct Key: Hashable, Sendable, Comparable {
        public var table: UInt32
        public var family: IPFamily
        /// IPv4 first: the failover batch replaces IPv4 routes before IPv6 ones, so IPv4 timing is
        /// what it was before IPv6 routes existed.
        public static func < (a: Key, b: Key) -> Bool {
            (a.family == .ipv4 ? 0 : 1, a.table) < (b.family == .ipv4 ? 0 : 1, b.table)
        }
    }

    public var description: String {
        let prefix = family == .ipv4 ? "table \(table)" : "table \(table) (IPv6)"
        switch kind {
        case .via(let gateway?, let device): return "\(prefix): default via \(gateway) dev \(device)"
        case .via(nil, let device): return "\(prefix): default dev \(device)"
        case .throw: return "\(prefix): throw default"
        case .unreachable: return "\(prefix): unreachable default"
        }
    }
}

/// The routing table ids and rule priorities Flywall owns (docs/dataplane.md). Everything in these
/// ranges is Flywall's: the programmer adds, replaces and deletes there, and nowhere else.
public enum FlywallRoutingRanges {
    public static let rulePriorities: ClosedRange<UInt32> = 10_000...10_999
    /// Probe, policy and pin tables.
    public static let uplinkTables: ClosedRange<UInt32> = 10_000...10_999
    /// Bucket tables: 20000 + group * 1024 + bucket.
    public static let bucketTables: ClosedRange<UInt32> = 20_000...85_535

    public static func ownsTable(_ table: UInt32) -> Bool {
        uplinkTables.contains(table) || bucketTables.contains(table)
    }

    public static func ownsRule(priority: UInt32) -> Bool {
        rulePriorities.contains(priority)
    }
}

extension FwmarkRule {
    /// A `KernelPlan`'s suppressing main-table rule, as a rule the programmer applies.
    public init(_ rule: SuppressedMainRule) {
        self.init(priority: rule.priority, mark: 0, mask: 0, table: rule.table, suppressPrefixLength: rule.suppressPrefixLength)
    }
}

extension SuppressedMainRule {
    /// The rule in both families' lists, IPv4 first.
    public var inBothFamilies: [FwmarkRule] {
        IPFamily.allCases.map { FwmarkRule(self).inFamily($0) }
    }
}

extension RoutingProgrammer {
    /// Applies a compiled plan: its suppressing main rule first, its fwmark rules, and `routes`
    /// (`KernelPlan.routes(for:)`).
    @discardableResult
    public func apply(_ plan: KernelPlan, routes: RouteSet) throws(RoutingError) -> RoutingChanges {
        try apply(rules: plan.mainRule.inBothFamilies + plan.rules, routes: routes.routes)
    }
}
