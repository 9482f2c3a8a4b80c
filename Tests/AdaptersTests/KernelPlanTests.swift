import Testing
@testable import Adapters
@testable import Domain

// MARK: - An interpreter of the compiled kernel state

/// Interprets a `KernelPlan`'s nftables ruleset, ip rules and routes the way the kernel does, for one
/// packet at a time: the mark computed in prerouting, the rule lookup, the table's route. Its model
/// of `numgen random` is the flow's entropy and of `jhash` the core's `SourceHash`, as the simulator's.
struct KernelEvaluator {
    enum Outcome: Equatable, CustomStringConvertible {
        case uplink(String)
        case unreachable
        /// No Flywall rule decided: the main table's default route.
        case mainTable
        var description: String {
            switch self {
            case .uplink(let u): u
            case .unreachable: "unreachable"
            case .mainTable: "main"
            }
        }
    }

    struct Packet {
        var iif: String = "lan0"
        var oif: String? = nil
        var ctState: NftCtState = .new
        var ctMark: UInt32 = 0
        var mark: UInt32 = 0
        var source: IPAddress
        var destination: IPAddress
        var proto: TransportProtocol
        var destPort: UInt16?
        var entropy: UInt32 = 0

        init(_ flow: Flow) {
            source = flow.source
            destination = flow.destination
            proto = flow.proto
            destPort = flow.destPort
            entropy = flow.entropy
        }

        var family: NftFamily { source.isV4 ? .ipv4 : .ipv6 }
        var protocolNumber: UInt8 {
            switch proto {
            case .tcp: 6
            case .udp: 17
            case .icmp: source.isV4 ? 1 : 58
            }
        }
    }

    enum Verdict { case next, accept }

    let ruleset: NftRuleset
    let rules: [FwmarkRule]
    var routes: RouteSet
    /// Dynamic sets: element -> expiry.
    var dynamicSets: [String: [IPAddress: Instant]] = [:]
    var now = Instant.zero
    private var constantSets: [String: [NftInterval]] = [:]
    private var timeouts: [String: Duration] = [:]
    private var chains: [String: NftChain] = [:]
    /// Chains entered, to catch loops and count work.
    private(set) var steps = 0

    init(_ plan: KernelPlan, routes: RouteSet) {
        ruleset = plan.ruleset
        rules = plan.rules
        self.routes = routes
        for set in ruleset.sets {
            switch set.kind {
            case .prefixes(let family, let prefixes): constantSets[set.name] = NftInterval.addresses(prefixes, family: family)
            case .dynamic(_, let timeout, _):
                dynamicSets[set.name] = [:]
                timeouts[set.name] = timeout
            }
        }
        for chain in ruleset.chains { chains[chain.name] = chain }
    }

    /// Runs a base chain of the ruleset on the packet.
    mutating func run(hook: NftChain.Hook.Point, _ packet: inout Packet) {
        let base = ruleset.chains.first { $0.hook?.point == hook }!
        _ = evaluate(base.name, &packet, depth: 0)
    }

    private mutating func evaluate(_ name: String, _ p: inout Packet, depth: Int) -> Verdict {
        precondition(depth < 16, "jump loop at \(name)")
        steps += 1
        guard let chain = chains[name] else { fatalError("no chain \(name)") }
        ruleLoop: for rule in chain.rules {
            // The implicit `meta nfproto` dependency of ip/ip6 expressions.
            if let f = rule.family, f != p.family { continue }
            for m in rule.matches where !matches(m, p) { continue ruleLoop }
            for s in rule.statements {
                switch s {
                case .setMark(let a, let o): p.mark = p.mark & a | o
                case .setCtMark(let a, let o): p.ctMark = p.ctMark & a | o
                case .dispatch(let key, let entries):
                    let k = self.key(key, p)
                    guard let e = entries.first(where: { $0.key == k }) else { continue ruleLoop }
                    if evaluate(e.chain, &p, depth: depth + 1) == .accept { return .accept }
                    continue ruleLoop
                case .updateSet(let set, _): dynamicSets[set]![p.source] = now + timeouts[set]!
                case .deleteFromSet(let set, _): dynamicSets[set]![p.source] = nil
                case .masquerade, .accept: return .accept
                case .snat:
                    // NAT ends the chain for IPv4 only (the rule's own `meta nfproto ipv4`).
                    if p.family == .ipv4 { return .accept }
                    continue ruleLoop
                case .jump(let chain):
                    if evaluate(chain, &p, depth: depth + 1) == .accept { return .accept }
                    continue ruleLoop
                case .return: return .next
                }
            }
        }
        return .next
    }

    private func matches(_ m: NftMatch, _ p: Packet) -> Bool {
        switch m {
        case .inputInterface(let names): return names.contains(p.iif)
        case .ctState(let s): return s.contains(p.ctState)
        case .mark(let mask, let value, let equal): return (p.mark & mask == value) == equal
        case .l4proto(let numbers): return numbers.contains(p.protocolNumber)
        case .destinationPort(let ranges):
            guard let port = p.destPort else { return false }
            return ranges.contains { $0.contains(port) }
        case .address(let field, let family, let set):
            let a = field == .source ? p.source : p.destination
            guard family.includes(a) else { return false }
            if let intervals = constantSets[set] {
                let key = NftInterval.addressBytes(a)
                return intervals.contains { $0.contains(key) }
            }
            guard let expiry = dynamicSets[set]?[a] else { return false }
            return now < expiry
        case .prefix(let field, let cidr):
            return cidr.contains(field == .source ? p.source : p.destination)
        }
    }

    private func key(_ k: NftDispatchKey, _ p: Packet) -> NftDispatchValue {
        switch k {
        case .random(let n): .number(p.entropy % n)
        case .sourceHash(_, let n, _): .number(SourceHash.hash(p.source) % n)
        case .ctMark(let mask): .number(p.ctMark & mask)
        case .mark(let mask): .number(p.mark & mask)
        case .outputInterface: .interface(p.oif ?? "")
        }
    }

    /// The policy routing decision for a packet of `family` with this fwmark: the kernel keeps one
    /// rule list and one set of tables per family (main table: only a default route, which the
    /// suppressing rule ignores).
    func route(mark: UInt32, family: NftFamily) -> Outcome {
        for rule in rules.enumerated().sorted(by: { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }).map(\.element)
        where rule.family == family && mark & rule.mask == rule.mark {
            guard let r = routes.route(table: rule.table, family: family) else { continue }
            switch r.kind {
            case .via(_, let device): return .uplink(device)
            case .throw: continue
            case .unreachable: return .unreachable
            }
        }
        return .mainTable
    }

    /// A new LAN connection's first packet: prerouting, routing, postrouting. Returns the outcome and
    /// the packet as it left (its ct mark holds the pin).
    mutating func newConnection(_ flow: Flow) -> (Outcome, Packet) {
        var p = Packet(flow)
        run(hook: .prerouting, &p)
        let outcome = route(mark: p.mark, family: p.family)
        if case .uplink(let u) = outcome {
            p.oif = u
            run(hook: .postrouting, &p)
        }
        return (outcome, p)
    }
}

// MARK: - Seeded generation of configs, plans and flows

struct DataplaneRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct DataplaneScenario {
    var config: FlywallConfig
    /// Pools flows draw from, so that policies match often.
    var sources: [IPAddress]
    var destinations: [IPAddress]
    var ports: [UInt16]
}

enum DataplaneGenerator {
    static let cidrPool: [CIDR] = [
        "192.168.1.0/25", "192.168.1.50", "10.0.0.0/8", "203.0.113.0/24", "198.51.100.7", "2001:db8::/48",
        "2001:db8:1::/64", "fd00::1", "100.64.0.0/10", "198.51.100.0/30",
    ].map { CIDR($0)! }

    static func scenario(_ rng: inout DataplaneRandom) -> DataplaneScenario {
        let wanCount = Int.random(in: 1...5, using: &rng)
        var interfaces = [Interface(name: "lan0", zone: "LAN")]
        for i in 0..<wanCount {
            interfaces.append(Interface(name: "wan\(i)", zone: "WAN",
                                        wan: WANSettings(priority: Int.random(in: 1...3, using: &rng),
                                                         weight: Int.random(in: 1...3, using: &rng))))
        }
        let wans = interfaces.filter { $0.wan != nil }
        func members() -> [Member] {
            var chosen = wans.filter { _ in Bool.random(using: &rng) }
            if chosen.isEmpty { chosen = [wans.randomElement(using: &rng)!] }
            return chosen.map { Member(interface: $0.name, priority: Int.random(in: 1...3, using: &rng),
                                       weight: Int.random(in: 1...3, using: &rng)) }
        }
        func group(_ name: String) -> UplinkGroup {
            UplinkGroup(name: name, mode: Bool.random(using: &rng) ? .failover : .balance, sticky: Bool.random(using: &rng),
                        stickyTimeout: .seconds(Int.random(in: 30...600, using: &rng)), members: members(),
                        allDown: Bool.random(using: &rng) ? .lastActive : .unreachable)
        }
        var groups: [UplinkGroup] = []
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: break  // implicit failover group of all WANs
        case 1: groups = [group("default")]
        default: groups = [group("default"), group("backup")] + (Bool.random(using: &rng) ? [group("bulk")] : [])
        }
        let ipsets = [
            IPSet(name: "streaming_services", entries: (0..<Int.random(in: 0...3, using: &rng)).map { _ in cidrPool.randomElement(using: &rng)! }),
            IPSet(name: "work-nets", entries: (0..<Int.random(in: 0...3, using: &rng)).map { _ in cidrPool.randomElement(using: &rng)! }),
        ]
        func addresses() -> [AddressMatch] {
            switch Int.random(in: 0..<5, using: &rng) {
            case 0, 1: return []
            case 2: return [.ipset(ipsets.randomElement(using: &rng)!.name)]
            case 3: return [.cidr(cidrPool.randomElement(using: &rng)!)]
            default:
                return [.cidr(cidrPool.randomElement(using: &rng)!), .ipset(ipsets.randomElement(using: &rng)!.name),
                        .cidr(cidrPool.randomElement(using: &rng)!)]
            }
        }
        let targets = wans.map(\.name) + groups.map(\.name)
        var policies: [PolicyRoute] = []
        for k in 0..<Int.random(in: 0...6, using: &rng) {
            let protocols = TransportProtocol.allCases.filter { _ in Int.random(in: 0..<3, using: &rng) == 0 }
            var ports: [PortRange] = []
            if Bool.random(using: &rng) {
                ports = (0..<Int.random(in: 1...3, using: &rng)).map { _ in
                    let lo = UInt16([53, 80, 443, 1194, 5000].randomElement(using: &rng)!)
                    return PortRange(lo, Bool.random(using: &rng) ? lo : lo + UInt16.random(in: 0...20, using: &rng))
                }
            }
            policies.append(PolicyRoute(
                name: "p\(k)",
                match: .init(protocols: protocols, destPorts: ports, sources: addresses(), destinations: addresses()),
                uplink: targets.randomElement(using: &rng)!, fallback: Bool.random(using: &rng)))
        }
        let config = FlywallConfig(interfaces: interfaces, uplinkGroups: groups, policyRoutes: policies, ipsets: ipsets)
        var sources: [IPAddress] = (0..<40).map { _ in .v4(0xC0A8_0100 | UInt32.random(in: 1...254, using: &rng)) }
        sources += ["10.1.2.3", "100.64.1.1", "2001:db8::5", "2001:db8:1::9", "fd00::1", "fd00::2"].map { IPAddress($0)! }
        let destinations: [IPAddress] = ["203.0.113.7", "198.51.100.7", "198.51.100.2", "8.8.8.8", "10.9.9.9",
                                         "2001:db8::1", "2001:db8:1::1", "2606:4700::1111", "100.100.1.1"].map { IPAddress($0)! }
        return DataplaneScenario(config: config, sources: sources, destinations: destinations, ports: [53, 80, 443, 444, 1194, 1200, 5010, 8080])
    }

    static func flow(_ s: DataplaneScenario, v4Only: Bool, _ rng: inout DataplaneRandom) -> Flow {
        let v6 = !v4Only && Int.random(in: 0..<4, using: &rng) == 0
        let source = s.sources.filter { $0.isV4 != v6 }.randomElement(using: &rng)!
        let destination = s.destinations.filter { $0.isV4 != v6 }.randomElement(using: &rng)!
        let proto = TransportProtocol.allCases.randomElement(using: &rng)!
        return Flow(source: source, destination: destination, proto: proto,
                    destPort: proto == .icmp ? nil : s.ports.randomElement(using: &rng)!, entropy: UInt32.random(in: 0...UInt32.max, using: &rng))
    }
}

/// Plans made by the core itself (`MultiWANStateMachine`), for chosen health states: an uplink
/// not in `usable` is put in maintenance, `forced` pins groups through the operator's command, and
/// each uplink's gateway is learned as from DHCP (10.0.i.1 for the i-th WAN) and its IPv6 gateway
/// as from a router advertisement (fe80::i+1), except for the WANs in `withoutIPv6`. States follow
/// each other as they would in the daemon, so the core's memory (all-down layouts) carries over.
struct CorePlans {
    private var core: MultiWANStateMachine
    private let config: FlywallConfig

    init(_ config: FlywallConfig, withoutIPv6: Set<String> = []) {
        self.config = config
        core = MultiWANStateMachine(config: config)
        _ = core.handle(.tick, at: .zero)
        for (i, wan) in config.wans.enumerated() {
            _ = core.handle(.addressLearned(interface: wan.name, address: nil,
                                            gateway: IPAddress.v4(0x0A00_0001 + UInt32(i) << 8)), at: .zero)
            if !withoutIPv6.contains(wan.name) {
                _ = core.handle(.ipv6GatewayLearned(interface: wan.name, gateway: .v6(high: 0xfe80 << 48, low: UInt64(i + 1))),
                                at: .zero)
            }
        }
    }

    mutating func plan(usable: Set<String>, forced: [String: String] = [:]) -> ForwardingPlan {
        for wan in config.wans {
            _ = core.handle(.manual(.maintenance(interface: wan.name, enabled: !usable.contains(wan.name)), origin: CommandOrigin(source: "test")), at: .zero)
        }
        for group in config.effectiveGroups {
            _ = core.handle(.manual(.forceActive(group: group.name, interface: forced[group.name]), origin: CommandOrigin(source: "test")), at: .zero)
        }
        return core.plan
    }

    /// One plan from a fresh core.
    static func plan(_ config: FlywallConfig, usable: Set<String>) -> ForwardingPlan {
        var plans = CorePlans(config)
        return plans.plan(usable: usable)
    }
}

func expectedOutcome(_ decision: RouteDecision) -> KernelEvaluator.Outcome {
    decision.uplink.map { .uplink($0) } ?? .unreachable
}

// MARK: - Tests

@Suite struct KernelPlanTests {
    /// The core property: for generated configs, health states and flows, the kernel state decides
    /// exactly what `ForwardingPlan.route` decides, for IPv4 and IPv6 flows alike (every uplink
    /// has an IPv6 gateway here; `ipv6WithoutAGatewayFollowsTheMainTable` covers one without).
    @Test func compiledKernelStateMeansWhatThePlanMeans() throws {
        var rng = DataplaneRandom(seed: 0x5EED_F1A7)
        var compared = 0, rebuilds = 0, unreachable = 0, policyDecided = 0, v6 = 0
        var usedUplinks = Set<String>()
        for _ in 0..<60 {
            let scenario = DataplaneGenerator.scenario(&rng)
            let config = scenario.config
            let wans = config.wans.map(\.name)
            var plans = CorePlans(config)
            var kernel: KernelPlan? = nil
            // A run of health states: all up, random subsets, all down, a forced pin.
            var states: [Set<String>] = [Set(wans), []]
            for _ in 0..<6 { states.insert(Set(wans.filter { _ in Bool.random(using: &rng) }), at: 1) }
            for (n, usable) in states.enumerated() {
                var forced: [String: String] = [:]
                if n == 3, let g = config.effectiveGroups.first, let m = g.members.first { forced[g.name] = m.interface }
                let plan = plans.plan(usable: usable, forced: forced)
                if kernel == nil || !kernel!.accommodates(plan) {
                    if let k = kernel {
                        #expect(throws: KernelPlanError.self) { try k.routes(for: plan) }
                    }
                    kernel = try KernelPlan(plan: plan)
                    rebuilds += 1
                }
                let routes = try kernel!.routes(for: plan)
                var evaluator = KernelEvaluator(kernel!, routes: routes)
                for _ in 0..<120 {
                    let flow = DataplaneGenerator.flow(scenario, v4Only: false, &rng)
                    let want = plan.route(flow)
                    let (got, leaving) = evaluator.newConnection(flow)
                    #expect(got == expectedOutcome(want), "flow \(flow) plan \(plan) want \(want)")
                    if leaving.family == .ipv6 { v6 += 1 }
                    compared += 1
                    if want.uplink == nil { unreachable += 1 } else { usedUplinks.insert(want.uplink!) }
                    if want.policy != nil { policyDecided += 1 }
                }
            }
        }
        // The generator must exercise what it claims to.
        #expect(compared == 60 * 8 * 120)
        #expect(v6 > compared / 5 && v6 < compared / 3, "\(v6) IPv6 flows of \(compared)")
        #expect(unreachable > 500)
        #expect(policyDecided > 2_000)
        #expect(usedUplinks.count == 5)
        #expect(rebuilds >= 60 && rebuilds < 200)
    }

    /// The spec's 2-WAN failover: exact marks, tables and routes as docs/dataplane.md lists them.
    @Test func twoWANFailoverRoutesAndRules() throws {
        let config = DataplaneConfigs.twoWAN
        var plans = CorePlans(config)
        let up = plans.plan(usable: ["eth0", "eth1"])
        let kernel = try KernelPlan(plan: up)
        #expect(kernel.groups.map(\.slots) == [64])
        let v4Rules = kernel.rules.filter { $0.family == .ipv4 }
        #expect(v4Rules.count == 2 + 2 + 64)
        #expect(v4Rules.first == FwmarkRule(priority: 10_100, mark: 0x0100_0000, mask: 0xff00_0000, table: 10_000))
        #expect(v4Rules.contains(FwmarkRule(priority: 10_100, mark: 0x4300_0000, mask: 0xff00_0000, table: 10_101)))
        #expect(v4Rules.last == FwmarkRule(priority: 10_300, mark: 0x0000_4000, mask: 0x0003_ff00, table: 20_063))
        // `ip -6 rule`: the same list.
        #expect(kernel.rules.filter { $0.family == .ipv6 } == v4Rules.map { $0.inFamily(.ipv6) })
        #expect(kernel.connectionMark(uplink: "eth1")! == (0x0200_0000, 0xff00_0000))

        let upRoutes = try kernel.routes(for: up)
        let gw0 = IPAddress("10.0.0.1")!, gw1 = IPAddress("10.0.1.1")!
        #expect(upRoutes.route(table: 20_000)?.kind == .via(gateway: gw0, device: "eth0"))
        #expect(upRoutes.route(table: 10_101)?.kind == .via(gateway: gw0, device: "eth0"))
        #expect(upRoutes.route(table: 10_001)?.kind == .via(gateway: gw1, device: "eth1"))

        let down = plans.plan(usable: ["eth1"])
        #expect(kernel.accommodates(down))
        let downRoutes = try kernel.routes(for: down)
        let changed = downRoutes.changes(from: upRoutes)
        // Failover = 64 slot routes to eth1 + the work-vpn policy table throws; pins and probes stay.
        // The same again for IPv6, after all IPv4 routes (the batch changes IPv4 first).
        let v6gw1 = IPAddress("fe80::2")!
        #expect(changed.count == 2 * 65)
        #expect(changed.prefix(65).allSatisfy { $0.family == .ipv4 } && changed.suffix(65).allSatisfy { $0.family == .ipv6 })
        #expect(changed.contains(TableRoute(table: 10_101, kind: .throw)))
        #expect(changed.contains(TableRoute(table: 10_101, kind: .throw, family: .ipv6)))
        #expect(changed.allSatisfy {
            $0.table == 10_101 || $0.kind == .via(gateway: $0.family == .ipv4 ? gw1 : v6gw1, device: "eth1")
        })
        #expect(upRoutes.route(table: 20_000, family: .ipv6)?.kind == .via(gateway: IPAddress("fe80::1")!, device: "eth0"))
        #expect(downRoutes.changes(from: downRoutes).isEmpty)
        // The ruleset does not depend on health.
        #expect(try KernelPlan(plan: down).ruleset == kernel.ruleset)
    }

    /// Established connections keep the uplink they took (ct mark pin), whatever the plan says now.
    @Test func connectionsStayOnTheirUplink() throws {
        let config = DataplaneConfigs.twoWAN
        var plans = CorePlans(config)
        let up = plans.plan(usable: ["eth0", "eth1"])
        let kernel = try KernelPlan(plan: up)
        var evaluator = KernelEvaluator(kernel, routes: try kernel.routes(for: up))
        let flow = Flow(source: IPAddress("192.168.1.20")!, destination: IPAddress("203.0.113.9")!, proto: .tcp, destPort: 443)
        let (first, leaving) = evaluator.newConnection(flow)
        #expect(first == .uplink("eth0"))
        #expect(leaving.ctMark == 0x0100_0000)

        // eth0 is no longer preferred (failover to eth1 as if eth0 were degraded but up): new
        // connections move, the established one stays.
        let down = plans.plan(usable: ["eth1"])
        evaluator.routes = try kernel.routes(for: down)
        var later = KernelEvaluator.Packet(flow)
        later.ctState = .established
        later.ctMark = leaving.ctMark | 0x42  // another program's low bits survive
        later.mark = 0x17
        evaluator.run(hook: .prerouting, &later)
        #expect(later.mark == 0x0100_0017)
        #expect(evaluator.route(mark: later.mark, family: .ipv4) == .uplink("eth0"))
        #expect(evaluator.newConnection(flow).0 == .uplink("eth1"))

        // Packets arriving on a WAN are never marked.
        var reply = KernelEvaluator.Packet(flow)
        reply.iif = "eth1"
        reply.ctState = .established
        reply.ctMark = 0x0200_0000
        evaluator.run(hook: .prerouting, &reply)
        #expect(reply.mark == 0)
    }

    /// Sticky groups: the kernel's dynamic sets behave like the core's `StickyTable` over a run of
    /// connections, failures and repairs.
    @Test func stickySourcesMatchStickyTable() throws {
        var rng = DataplaneRandom(seed: 77)
        let wans = ["wan0", "wan1", "wan2"]
        var interfaces = [Interface(name: "lan0")]
        for w in wans { interfaces.append(Interface(name: w, wan: WANSettings())) }
        let config = FlywallConfig(
            interfaces: interfaces,
            uplinkGroups: [UplinkGroup(name: "default", mode: .balance, sticky: true, stickyTimeout: .seconds(60),
                                       members: [Member(interface: "wan0", weight: 2), Member(interface: "wan1"), Member(interface: "wan2")])],
            policyRoutes: [PolicyRoute(name: "dns", match: .init(protocols: [.udp], destPorts: [PortRange(53)]), uplink: "wan2")])
        let sources: [IPAddress] = (1...60).map { .v4(0xC0A8_0100 + $0) }
        var table = StickyTable()
        var plans = CorePlans(config)
        var plan = plans.plan(usable: Set(wans))
        let kernel = try KernelPlan(plan: plan)
        var evaluator = KernelEvaluator(kernel, routes: try kernel.routes(for: plan))
        var now = Instant.zero
        var moved = 0, compared = 0
        for step in 0..<3_000 {
            now = now + .milliseconds(Int64.random(in: 1...900, using: &rng) * 2 + 1)
            if step % 400 == 399 {
                let usable = Set(wans.filter { _ in Int.random(in: 0..<3, using: &rng) > 0 })
                plan = plans.plan(usable: usable)
                #expect(kernel.accommodates(plan))
                evaluator.routes = try kernel.routes(for: plan)
            }
            let flow = Flow(source: sources.randomElement(using: &rng)!, destination: IPAddress("203.0.113.1")!,
                            proto: Bool.random(using: &rng) ? .tcp : .udp, destPort: [53, 443].randomElement(using: &rng)!,
                            entropy: UInt32.random(in: 0...UInt32.max, using: &rng))
            let want = table.route(flow, plan: plan, at: now)
            evaluator.now = now
            let (got, _) = evaluator.newConnection(flow)
            #expect(got == expectedOutcome(want), "step \(step) flow \(flow)")
            compared += 1
            if want.uplink != plan.route(flow).uplink { moved += 1 }
        }
        #expect(compared == 3_000)
        // Memory really overrode the hash some of the time.
        #expect(moved > 10)
    }

    /// Each of the mark layout's three limits (uplinks, sticky members, hash slots) is an error
    /// naming the count, not silent truncation; one under each limit compiles.
    @Test func layoutLimitsAreErrors() throws {
        func wans(_ n: Int) -> [Interface] { (0..<n).map { Interface(name: "w\($0)", wan: WANSettings()) } }
        #expect(throws: KernelPlanError(.tooManyUplinks(65))) {
            try KernelPlan(plan: CorePlans.plan(FlywallConfig(interfaces: wans(65)), usable: []))
        }
        _ = try KernelPlan(plan: CorePlans.plan(FlywallConfig(interfaces: wans(64)), usable: []))

        func sticky(_ n: Int) -> FlywallConfig {
            FlywallConfig(interfaces: wans(n), uplinkGroups: [
                UplinkGroup(name: "default", mode: .balance, sticky: true, members: (0..<n).map { Member(interface: "w\($0)") }),
            ])
        }
        #expect(throws: KernelPlanError(.tooManyStickyMembers(64))) {
            try KernelPlan(plan: CorePlans.plan(sticky(64), usable: []))
        }
        _ = try KernelPlan(plan: CorePlans.plan(sticky(63), usable: []))

        // Balance groups of two members weighted 1:127 need 128 slots each: 7 fit in 1,023, 8 do not.
        func slotted(_ groups: Int) -> FlywallConfig {
            FlywallConfig(interfaces: wans(2), uplinkGroups: (0..<groups).map { g in
                UplinkGroup(name: "g\(g)", mode: .balance, members: [Member(interface: "w0", weight: 1), Member(interface: "w1", weight: 127)])
            })
        }
        let eight = CorePlans.plan(slotted(8), usable: ["w0", "w1"])
        #expect(eight.groups.map(\.slots) == Array(repeating: 128, count: 8), "the premise")
        #expect(throws: KernelPlanError(.tooManyHashSlots(needed: 1_024))) { try KernelPlan(plan: eight) }
        _ = try KernelPlan(plan: CorePlans.plan(slotted(7), usable: ["w0", "w1"]))
    }

    /// The 64-uplink, 1,000-policy config of the benchmark compiles within the layout.
    @Test func largeConfigCompiles() throws {
        let config = DataplaneConfigs.large(uplinks: 64, policies: 1_000)
        let plan = CorePlans.plan(config, usable: Set(config.wans.map(\.name)))
        let kernel = try KernelPlan(plan: plan)
        #expect(kernel.groups.map(\.slots) == [64])
        #expect(kernel.ruleset.chain(named: "classify")!.rules.count == 1_001)
        let routes = try kernel.routes(for: plan)
        #expect(routes.routes.count == 2 * (64 + 128 + 64))
    }

    /// An uplink without an IPv6 gateway carries no IPv6 of Flywall's: every IPv6 route that would
    /// name it throws, so an IPv6 flow the plan gives it follows the main table (as before Flywall
    /// routed IPv6), while IPv6 flows the plan gives another uplink take that uplink's IPv6 route.
    @Test func ipv6WithoutAGatewayFollowsTheMainTable() throws {
        var plans = CorePlans(DataplaneConfigs.twoWAN, withoutIPv6: ["eth1"])
        let up = plans.plan(usable: ["eth0", "eth1"])
        let kernel = try KernelPlan(plan: up)
        let flow = Flow(source: IPAddress("fd00:1::10")!, destination: IPAddress("2001:db8:ffff::7")!, proto: .tcp, destPort: 443)
        #expect(up.route(flow).uplink == "eth0")
        var evaluator = KernelEvaluator(kernel, routes: try kernel.routes(for: up))
        #expect(evaluator.newConnection(flow).0 == .uplink("eth0"))

        let down = plans.plan(usable: ["eth1"])
        #expect(down.route(flow).uplink == "eth1")
        let routes = try kernel.routes(for: down)
        let v6Via = routes.routes.filter { $0.family == .ipv6 && $0.kind != .throw && $0.kind != .unreachable }
        #expect(v6Via.allSatisfy { $0.kind == .via(gateway: IPAddress("fe80::1")!, device: "eth0") }, "\(v6Via)")
        #expect(routes.route(table: DataplaneTables.pin(uplink: 1), family: .ipv6)?.kind == .throw)
        evaluator = KernelEvaluator(kernel, routes: routes)
        #expect(evaluator.newConnection(flow).0 == .mainTable)
        // IPv4 is untouched by it.
        let v4 = Flow(source: IPAddress("192.168.1.10")!, destination: IPAddress("203.0.113.7")!, proto: .tcp, destPort: 443)
        #expect(evaluator.newConnection(v4).0 == .uplink("eth1"))
    }
}

/// Configs shared by the dataplane tests.
enum DataplaneConfigs {
    /// The spec page's dual WAN with its policy routes.
    static var twoWAN: FlywallConfig {
        FlywallConfig(
            interfaces: [
                Interface(name: "lan0", zone: "LAN"),
                Interface(name: "eth0", zone: "WAN", dhcp: true, wan: WANSettings(priority: 1)),
                Interface(name: "eth1", zone: "WAN", dhcp: true, wan: WANSettings(priority: 2)),
            ],
            uplinkGroups: [UplinkGroup(name: "default", mode: .failover,
                                       members: [Member(interface: "eth0", priority: 1), Member(interface: "eth1", priority: 2)])],
            policyRoutes: [
                PolicyRoute(name: "work-vpn", match: .init(protocols: [.udp], destPorts: [PortRange(1194)]), uplink: "eth0"),
                PolicyRoute(name: "streaming", match: .init(destinations: [.ipset("streaming_services")]), uplink: "eth1"),
                PolicyRoute(name: "gaming", match: .init(protocols: [.udp], sources: [.cidr(CIDR("192.168.1.50")!)]), uplink: "eth0"),
            ],
            ipsets: [IPSet(name: "streaming_services", entries: [CIDR("198.51.100.0/24")!, CIDR("203.0.113.128/25")!])])
    }

    /// `uplinks` balanced WANs and `policies` policy routes over them (ports, sources, destinations).
    static func large(uplinks: Int, policies: Int) -> FlywallConfig {
        var interfaces = [Interface(name: "lan0", zone: "LAN")]
        for i in 0..<uplinks { interfaces.append(Interface(name: "wan\(i)", zone: "WAN", wan: WANSettings())) }
        let group = UplinkGroup(name: "default", mode: .balance, members: (0..<uplinks).map { Member(interface: "wan\($0)") })
        let routes = (0..<policies).map { k in
            PolicyRoute(name: "policy-\(k)",
                        match: .init(protocols: [k % 2 == 0 ? .tcp : .udp], destPorts: [PortRange(UInt16(1000 + k))],
                                     sources: [.cidr(CIDR(address: .v4(0x0A00_0000 | UInt32(k) << 8), prefixLength: 24))]),
                        uplink: "wan\(k % uplinks)", fallback: k % 3 != 0)
        }
        return FlywallConfig(interfaces: interfaces, uplinkGroups: [group], policyRoutes: routes)
    }
}
