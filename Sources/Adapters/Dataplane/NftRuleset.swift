import Domain

/// The nftables ruleset Flywall owns, `table inet flywall`, as a value.
///
/// A small closed language rather than free text: the same value is rendered as `nft -f` text,
/// built into a libnftnl batch by `NftablesTransport`, and interpreted by the tests' evaluator, so
/// all three agree by construction. Only what Flywall's dataplane needs is expressible.
public struct NftRuleset: Sendable, Equatable {
    /// The only table Flywall ever touches.
    public static let tableName = "flywall"

    /// Named sets, declared before the chains that reference them.
    public var sets: [NftSet]
    /// Base chains and the regular chains they jump to.
    public var chains: [NftChain]

    public init(sets: [NftSet] = [], chains: [NftChain] = []) {
        self.sets = sets
        self.chains = chains
    }

    public func chain(named name: String) -> NftChain? { chains.first { $0.name == name } }
    public func set(named name: String) -> NftSet? { sets.first { $0.name == name } }

    /// Number of rules over all chains.
    public var ruleCount: Int { chains.reduce(0) { $0 + $1.rules.count } }
}

/// The address family of a match or set: the core's `IPFamily`.
public typealias NftFamily = IPFamily

extension IPFamily {
    /// The payload protocol keyword, `ip` or `ip6`.
    var keyword: String { self == .ipv4 ? "ip" : "ip6" }

    func includes(_ address: IPAddress) -> Bool { address.isV4 == (self == .ipv4) }
}

/// A named set of the table.
public struct NftSet: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A constant interval set of prefixes (an `ipset` of the config, one per family).
        case prefixes(NftFamily, [CIDR])
        /// A set the packet path adds to and deletes from (`update @s { ip saddr }`), whose elements
        /// expire `timeout` after their last update: sticky sources.
        case dynamic(NftFamily, timeout: Duration, size: Int)
    }

    public var name: String
    public var kind: Kind

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    public var family: NftFamily {
        switch kind {
        case .prefixes(let f, _), .dynamic(let f, _, _): f
        }
    }
}

/// A chain: a base chain when it has a hook.
public struct NftChain: Sendable, Equatable {
    public struct Hook: Sendable, Equatable {
        public enum ChainType: String, Sendable { case filter, route, nat }
        public enum Point: String, Sendable { case prerouting, output, postrouting }
        public var type: ChainType
        public var point: Point
        /// -150 is `mangle`, 100 is `srcnat`.
        public var priority: Int32

        public init(type: ChainType, point: Point, priority: Int32) {
            self.type = type
            self.point = point
            self.priority = priority
        }
    }

    public var name: String
    /// Nil for a regular chain (reached only by `jump`). Base chains' policy is always `accept`.
    public var hook: Hook?
    public var rules: [NftRule]

    public init(name: String, hook: Hook? = nil, rules: [NftRule] = []) {
        self.name = name
        self.hook = hook
        self.rules = rules
    }
}

/// One rule: all matches must hold (in order), then the statements run in order.
///
/// A match or statement on an `ip`/`ip6` field makes the rule apply to that family only (nft adds
/// the `meta nfproto` dependency), as it would written by hand.
public struct NftRule: Sendable, Equatable {
    public var matches: [NftMatch]
    public var statements: [NftStatement]

    public init(_ matches: [NftMatch] = [], _ statements: [NftStatement]) {
        self.matches = matches
        self.statements = statements
    }

    /// The family this rule is restricted to by an address match, source hash or set update.
    public var family: NftFamily? {
        for m in matches {
            if case .address(_, let f, _) = m { return f }
            if case .prefix(_, let c) = m { return c.address.isV4 ? .ipv4 : .ipv6 }
        }
        for s in statements {
            switch s {
            case .dispatch(.sourceHash(let f, _, _), _), .updateSet(_, let f), .deleteFromSet(_, let f): return f
            default: continue
            }
        }
        return nil
    }
}

/// Connection-tracking states a rule can match.
public struct NftCtState: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    // The kernel's NF_CT_STATE_BIT values.
    public static let established = NftCtState(rawValue: 1 << 1)
    public static let related = NftCtState(rawValue: 1 << 2)
    public static let new = NftCtState(rawValue: 1 << 3)
}

public enum NftAddressField: Sendable, Equatable { case source, destination }

/// The matches Flywall's rules use.
public enum NftMatch: Sendable, Equatable {
    /// `iifname { "lo", "eth0" }`
    case inputInterface([String])
    /// `ct state established,related`
    case ctState(NftCtState)
    /// `meta mark & mask == value` (or `!=`).
    case mark(mask: UInt32, value: UInt32, equal: Bool)
    /// `meta l4proto { tcp, udp }`, by IP protocol number.
    case l4proto([UInt8])
    /// `th dport { 443, 8000-8080 }`; only meaningful after an `l4proto` match of port protocols.
    case destinationPort([PortRange])
    /// `ip saddr @set`: membership in a named set of that family. Address lists are always named
    /// sets, so nft's rewriting of one-element anonymous sets never applies to them.
    case address(NftAddressField, NftFamily, set: String)
    /// `ip saddr 10.0.3.0/24`: one prefix, matched without a set (a set per policy costs the kernel a
    /// set object on every reload).
    case prefix(NftAddressField, CIDR)
}

/// The key of a verdict map (`... vmap { key : jump chain }`).
public enum NftDispatchKey: Sendable, Equatable {
    /// `numgen random mod N`: a fresh random number per evaluation.
    case random(modulus: UInt32)
    /// `jhash ip saddr mod N seed S`: stable per source address.
    case sourceHash(NftFamily, modulus: UInt32, seed: UInt32)
    /// `ct mark & mask`
    case ctMark(mask: UInt32)
    /// `meta mark & mask`
    case mark(mask: UInt32)
    /// `oifname`
    case outputInterface
}

/// A key of a verdict map entry: a number (numgen, hash, mark) or an interface name.
public enum NftDispatchValue: Sendable, Hashable {
    case number(UInt32)
    case interface(String)
}

public struct NftDispatchEntry: Sendable, Equatable {
    public var key: NftDispatchValue
    /// The regular chain to `jump` to.
    public var chain: String
    public init(_ key: NftDispatchValue, _ chain: String) {
        self.key = key
        self.chain = chain
    }
}

/// The statements and verdicts Flywall's rules use.
public enum NftStatement: Sendable, Equatable {
    /// `meta mark set meta mark & and | or`: a constant bitwise update of some mark bits. nft (1.0.6)
    /// cannot OR a map lookup into the mark, so variable values are chosen with `dispatch` to a chain
    /// holding one of these.
    case setMark(and: UInt32, or: UInt32)
    /// `ct mark set ct mark & and | or`
    case setCtMark(and: UInt32, or: UInt32)
    /// `key vmap { k : jump chain, ... }`: a lookup that jumps; no match goes on with the next rule.
    case dispatch(NftDispatchKey, [NftDispatchEntry])
    /// `update @set { ip saddr }`: add the source or refresh its timeout.
    case updateSet(String, NftFamily)
    /// `delete @set { ip saddr }`: forget the source in that set.
    case deleteFromSet(String, NftFamily)
    case masquerade
    /// `snat ip to ADDR` (IPv4 packets only; others go on to the next rule).
    case snat(IPAddress)
    case jump(String)
    case accept
    case `return`
}
