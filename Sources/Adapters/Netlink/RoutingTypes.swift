import Domain

/// One `ip rule`: packets whose fwmark, under `mask`, equals `mark` look up `table`.
/// IPv4; Flywall's rules are exactly this shape (docs/dataplane.md, "Routing tables and rules").
/// With `mark` and `mask` both 0 the rule matches every packet (`from all lookup ...`).
public struct FwmarkRule: Hashable, Sendable, CustomStringConvertible {
    public var priority: UInt32
    public var mark: UInt32
    public var mask: UInt32
    public var table: UInt32
    /// `suppress_prefixlength N`: the lookup's answer is ignored when its prefix is N bits or
    /// shorter (0: every route but the default route counts).
    public var suppressPrefixLength: UInt32?

    public init(priority: UInt32, mark: UInt32, mask: UInt32, table: UInt32, suppressPrefixLength: UInt32? = nil) {
        self.priority = priority
        self.mark = mark
        self.mask = mask
        self.table = table
        self.suppressPrefixLength = suppressPrefixLength
    }

    /// `ip rule add priority P lookup main suppress_prefixlength 0`: the main table's specific
    /// routes win, its default route does not.
    public static func mainWithoutDefault(priority: UInt32) -> FwmarkRule {
        FwmarkRule(priority: priority, mark: 0, mask: 0, table: 254, suppressPrefixLength: 0)
    }

    /// As `ip rule show` prints it.
    public var description: String {
        var text = "\(priority): from all"
        if mark != 0 || mask != 0 { text += " fwmark 0x\(String(mark, radix: 16))/0x\(String(mask, radix: 16))" }
        let names: [UInt32: String] = [253: "default", 254: "main", 255: "local"]
        text += " lookup \(names[table] ?? String(table))"
        if let suppressPrefixLength { text += " suppress_prefixlength \(suppressPrefixLength)" }
        return text
    }
}

/// The default route of one Flywall routing table; every Flywall table holds exactly one.
public struct TableRoute: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// `default via <gateway> dev <device>`, or `default dev <device>` without a gateway
        /// (point-to-point links, DHCP not bound yet). The route's family is the gateway's (IPv4
        /// without one).
        case via(gateway: IPAddress?, device: String)
        /// `throw default`: the lookup falls through to the next rule.
        case `throw`
        /// `unreachable default`: the packet is dropped with ICMP net unreachable.
        case unreachable
    }

    public var table: UInt32
    public var kind: Kind

    public init(table: UInt32, kind: Kind) {
        self.table = table
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .via(let gateway?, let device): "table \(table): default via \(gateway) dev \(device)"
        case .via(nil, let device): "table \(table): default dev \(device)"
        case .throw: "table \(table): throw default"
        case .unreachable: "table \(table): unreachable default"
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

extension RoutingProgrammer {
    /// Applies a compiled plan: its suppressing main rule first, its fwmark rules, and `routes`
    /// (`KernelPlan.routes(for:)`).
    @discardableResult
    public func apply(_ plan: KernelPlan, routes: RouteSet) throws(RoutingError) -> RoutingChanges {
        try apply(rules: [FwmarkRule(plan.mainRule)] + plan.rules, routes: routes.routes)
    }
}
