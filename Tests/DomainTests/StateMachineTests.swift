import Testing
@testable import Domain

@Suite("Core state machine")
struct StateMachineTests {
    @Test func failoverAndFailbackWithExactTiming() {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 30)
        #expect(d.events.isEmpty)
        #expect(d.core.plan.group(named: "default")?.active == ["eth0"])
        d.answering["eth0"] = false
        d.run(seconds: 30)
        // The round at 30s was sent (and answered) before the fault; rounds at 35, 40, 45 fail, each
        // closing on its 2s timeout: down at 47s.
        let down = d.events(.wanDown)
        #expect(down.map(\.interface) == ["eth0"])
        #expect(down.first?.time == .seconds(47))
        let failover = d.events(.failover)
        #expect(failover.count == 1)
        #expect(failover.first?.to == ["eth1"])
        #expect(failover.first?.from == ["eth0"])
        #expect(failover.first?.reason.hasPrefix("eth0 down: 3 consecutive failed probe rounds") == true)
        #expect(d.flushed == ["eth0"])
        #expect(d.core.plan.group(named: "default")?.buckets.allSatisfy { $0 == "eth1" } == true)
        d.answering["eth0"] = true
        d.run(seconds: 30)
        // The round at 60s went out before the repair and fails; good rounds at 65 and 70 (replies
        // after 10ms): back at 70.010s.
        #expect(d.events(.wanUp).first?.time == Instant(nanoseconds: 70_010_000_000))
        #expect(d.events(.failback).first?.to == ["eth0"])
        #expect(d.core.plan.group(named: "default")?.active == ["eth0"])
    }

    /// Numbers are the uplinks' marks and tables: a WAN keeps its number across reloads, and a
    /// removed WAN's number is given to the next new one, so renaming WANs by reload 100 times
    /// never numbers past the dataplane's 64 uplinks.
    @Test func uplinkNumbersAreKeptAndReused() {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 1)
        #expect(d.core.plan.uplinks.map(\.index) == [0, 1])
        for n in 2..<102 {
            var config = dualWAN()
            config.interfaces[1].name = "eth\(n)"
            config.uplinkGroups[0].members[1].interface = "eth\(n)"
            d.send(.configReplaced(config))
            #expect(d.core.plan.uplinks.map(\.name) == ["eth0", "eth\(n)"])
            #expect(d.core.plan.uplinks.map(\.index) == [0, 1], "reload \(n)")
        }
        // eth101 goes and two come (wan9 first in the file): eth0 keeps 0, wan9 gets the freed 1, eth1 the next.
        var three = dualWAN()
        three.interfaces.insert(Interface(name: "wan9", zone: "WAN", dhcp: true, wan: WANSettings(priority: 3)), at: 0)
        three.uplinkGroups[0].members.append(Member(interface: "wan9", priority: 3))
        d.send(.configReplaced(three))
        #expect(Dictionary(uniqueKeysWithValues: d.core.plan.uplinks.map { ($0.name, $0.index) })
                == ["wan9": 1, "eth0": 0, "eth1": 2])
    }

    @Test func carrierLossFailsOverAtOnce() {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 12)
        d.send(.carrier(interface: "eth0", up: false))
        #expect(d.events.map(\.kind) == [.wanDown, .failover])
        #expect(d.events[0].reason == "carrier lost")
        #expect(d.flushed == ["eth0"])
        #expect(d.events[0].time == .seconds(12))
        #expect(d.core.status.first?.state == .down)
    }

    /// Three WANs, so a survivor's buckets staying put is not implied by "everything lands on the
    /// only survivor": eth1 dies, eth0's and eth2's buckets stay where they were and only eth1's move,
    /// shared between both survivors by weight.
    @Test func balanceSharesByWeightAndMovesOnlyTheDeadMembersBuckets() {
        let check = HealthCheck(targets: [ip("1.1.1.1")])
        let config = FlywallConfig(
            interfaces: (0..<3).map { Interface(name: "eth\($0)", zone: "WAN", dhcp: true, wan: WANSettings()) },
            uplinkGroups: [UplinkGroup(name: "default", mode: .balance, sticky: true, members: [
                Member(interface: "eth0", weight: 2, healthCheck: check),
                Member(interface: "eth1", weight: 1, healthCheck: check),
                Member(interface: "eth2", weight: 1, healthCheck: check),
            ])])
        var d = CoreDriver(config)
        d.run(seconds: 1)
        let before = d.core.plan.group(named: "default")!.buckets
        #expect(before.count % 4 == 0 && before.count >= 64)
        let share = { (buckets: [String], m: String) in buckets.filter { $0 == m }.count }
        #expect(share(before, "eth0") == before.count / 2)
        #expect(share(before, "eth1") == before.count / 4 && share(before, "eth2") == before.count / 4)
        d.send(.carrier(interface: "eth1", up: false))
        let after = d.core.plan.group(named: "default")!.buckets
        #expect(after.count == before.count)
        for (i, (b, a)) in zip(before, after).enumerated() where b != "eth1" {
            #expect(a == b, "bucket \(i) of surviving \(b) moved to \(a)")
        }
        let moved = zip(before, after).filter { $0.0 == "eth1" }.map(\.1)
        #expect(!moved.contains("eth1"))
        // eth1's buckets split 2:1 between eth0 and eth2 (nearest whole buckets).
        #expect(abs(share(moved, "eth0") - 2 * moved.count / 3) <= 1, "eth0 got \(share(moved, "eth0")) of \(moved.count)")
        #expect(share(moved, "eth2") >= moved.count / 3 - 1, "eth2 got \(share(moved, "eth2")) of \(moved.count)")
        #expect(d.events(.wanDown).map(\.interface) == ["eth1"])
    }

    @Test func balanceRouteSharesConverge() {
        var d = CoreDriver(dualWAN(mode: .balance, weights: (2, 1)))
        d.run(seconds: 1)
        var rng = SplitMix64(seed: 42)
        var eth0 = 0
        let n = 30_000
        for i in 0..<n {
            let flow = Flow(source: IPAddress.v4(0xC0A8_010A).advanced(by: i % 50), destination: ip("198.51.100.1"),
                            entropy: UInt32(truncatingIfNeeded: rng.next()))
            if d.core.plan.route(flow).uplink == "eth0" { eth0 += 1 }
        }
        let share = Double(eth0) / Double(n)
        #expect(abs(share - 2.0 / 3.0) < 0.02, "share \(share)")
    }

    @Test func allDownThenOneReturns() {
        var d = CoreDriver(dualWAN(allDown: .unreachable))
        d.run(seconds: 5)
        d.send(.carrier(interface: "eth0", up: false))
        d.send(.carrier(interface: "eth1", up: false))
        #expect(d.events.map(\.kind) == [.wanDown, .failover, .wanDown, .allDown])
        #expect(d.core.plan.route(Flow(source: ip("192.168.1.10"), destination: ip("198.51.100.1"))).uplink == nil)
        d.send(.carrier(interface: "eth1", up: true))
        d.run(seconds: 11)
        #expect(d.events.last?.kind == .failover)
        #expect(d.events.last?.to == ["eth1"])
        #expect(d.events.last?.reason.hasPrefix("recovered from all uplinks down") == true)
    }

    @Test func allDownLastActiveKeepsRouting() {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 5)
        d.send(.carrier(interface: "eth0", up: false))
        d.send(.carrier(interface: "eth1", up: false))
        #expect(d.events.last?.kind == .allDown)
        #expect(d.core.plan.route(Flow(source: ip("192.168.1.10"), destination: ip("198.51.100.1"))).uplink == "eth1")
    }

    /// The kept "last active" layout is the running config's: a reload that changes the config
    /// starts the group's layout afresh (the old one may name an uplink that is gone and have a
    /// length the decoder did not count), an unchanged config keeps it.
    @Test func allDownLastActiveLayoutFollowsAReload() {
        func config(_ wans: [String], members: [String]) -> FlywallConfig {
            var c = dualWAN()
            c.interfaces = wans.enumerated().map { Interface(name: $1, zone: "WAN", dhcp: true, wan: WANSettings(priority: $0 + 1)) }
            c.uplinkGroups[0].members = members.enumerated().map { Member(interface: $1, priority: $0 + 1) }
            return c
        }
        var d = CoreDriver(config(["eth0", "eth1", "eth2"], members: ["eth0", "eth1"]))
        d.run(seconds: 5)
        for wan in ["eth0", "eth1", "eth2"] { d.send(.carrier(interface: wan, up: false)) }
        let kept = d.core.plan.group(named: "default")!.buckets
        #expect(Set(kept) == ["eth1"])
        d.send(.configReplaced(config(["eth0", "eth1", "eth2"], members: ["eth0", "eth1"])))
        #expect(d.core.plan.group(named: "default")!.buckets == kept, "an unchanged layout is kept")

        // eth1 is gone; the group is eth0 and eth2, both still without carrier.
        d.send(.configReplaced(config(["eth0", "eth2"], members: ["eth0", "eth2"])))
        let group = d.core.plan.group(named: "default")!
        #expect(group.active.isEmpty)
        #expect(!group.buckets.isEmpty)
        #expect(Set(group.buckets).isSubset(of: ["eth0", "eth2"]), "\(Set(group.buckets))")
    }

    @Test func policyRouteFallsBackUnlessToldNot() {
        let vpn = PolicyRoute(name: "work-vpn", match: .init(protocols: [.udp], destPorts: [PortRange(1194)]), uplink: "eth0")
        let strict = PolicyRoute(name: "strict", match: .init(sources: [.cidr(CIDR("192.168.1.50")!)]), uplink: "eth0",
                                 fallback: false)
        let streaming = PolicyRoute(name: "streaming", match: .init(destinations: [.ipset("streaming")]), uplink: "eth1")
        var d = CoreDriver(dualWAN(policies: [vpn, strict, streaming],
                                   ipsets: [IPSet(name: "streaming", entries: [CIDR("203.0.113.0/24")!])]))
        d.run(seconds: 1)
        let vpnFlow = Flow(source: ip("192.168.1.10"), destination: ip("198.51.100.9"), proto: .udp, destPort: 1194)
        let gaming = Flow(source: ip("192.168.1.50"), destination: ip("198.51.100.9"), proto: .udp, destPort: 3074)
        let video = Flow(source: ip("192.168.1.10"), destination: ip("203.0.113.7"))
        let other = Flow(source: ip("192.168.1.10"), destination: ip("198.51.100.9"))
        #expect(d.core.plan.route(vpnFlow) == RouteDecision(uplink: "eth0", group: nil, policy: "work-vpn"))
        #expect(d.core.plan.route(video).uplink == "eth1")
        #expect(d.core.plan.route(other) == RouteDecision(uplink: "eth0", group: "default", policy: nil))
        d.send(.carrier(interface: "eth0", up: false))
        #expect(d.core.plan.route(vpnFlow) == RouteDecision(uplink: "eth1", group: "default", policy: "work-vpn"))
        #expect(d.core.plan.route(gaming) == RouteDecision(uplink: nil, group: nil, policy: "strict"))
    }

    @Test func emptyIPSetMatchesNothing() {
        let r = PolicyRoute(name: "p", match: .init(destinations: [.ipset("empty")]), uplink: "eth1")
        var d = CoreDriver(dualWAN(policies: [r], ipsets: [IPSet(name: "empty", entries: [])]))
        d.run(seconds: 1)
        #expect(d.core.plan.route(Flow(source: ip("192.168.1.10"), destination: ip("203.0.113.7"))).policy == nil)
    }

    @Test func maintenanceAndForce() {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 1)
        d.send(.manual(.maintenance(interface: "eth0", enabled: true), origin: CommandOrigin(source: "test")))
        #expect(d.events.map(\.kind) == [.wanDown, .failover])
        #expect(d.events[0].reason == "maintenance")
        // The link still works: its connections may finish, only new ones go elsewhere.
        #expect(d.flushed.isEmpty)
        #expect(d.core.status[0].state == .maintenance)
        d.send(.manual(.maintenance(interface: "eth0", enabled: false), origin: CommandOrigin(source: "test")))
        #expect(d.events.last?.kind == .failback)
        d.send(.manual(.forceActive(group: "default", interface: "eth1"), origin: CommandOrigin(source: "test")))
        #expect(d.events.last?.kind == .failover)
        #expect(d.events.last?.reason == "forced to eth1 by operator")
        #expect(d.core.plan.group(named: "default")?.active == ["eth1"])
        d.send(.manual(.forceActive(group: "default", interface: nil), origin: CommandOrigin(source: "test")))
        #expect(d.core.plan.group(named: "default")?.active == ["eth0"])
        // eth0 was up all along: the failback is the release's, not a stale "maintenance ended".
        #expect(d.events.last?.kind == .failback)
        #expect(d.events.last?.reason == "force released: eth0 preferred again")
        #expect(d.events.last?.evidence?.origin?.source == "test")
    }

    @Test func aWANDyingWhileInMaintenanceIsFlushedOnce() {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 1)
        d.send(.manual(.maintenance(interface: "eth0", enabled: true), origin: CommandOrigin(source: "test")))
        d.send(.carrier(interface: "eth0", up: false))
        d.send(.carrier(interface: "eth0", up: true))
        d.send(.carrier(interface: "eth0", up: false))
        #expect(d.flushed == ["eth0"])
        #expect(d.events.map(\.kind) == [.wanDown, .failover])
    }

    @Test func stickyTableKeepsSourcesWhileTheirUplinkLives() {
        var d = CoreDriver(dualWAN(mode: .balance, sticky: true))
        d.run(seconds: 1)
        var table = StickyTable()
        let sources = (0..<40).map { IPAddress.v4(0xC0A8_010A).advanced(by: $0) }
        var first: [IPAddress: String] = [:]
        for s in sources {
            first[s] = table.route(Flow(source: s, destination: ip("198.51.100.1")), plan: d.core.plan, at: d.now).uplink
        }
        #expect(Set(first.values) == ["eth0", "eth1"])
        d.send(.carrier(interface: "eth1", up: false))
        for s in sources {
            let u = table.route(Flow(source: s, destination: ip("198.51.100.1")), plan: d.core.plan, at: d.now).uplink
            #expect(u == "eth0")
        }
        d.send(.carrier(interface: "eth1", up: true))
        d.run(seconds: 12)
        // eth1 is back, but every source is remembered on eth0, which stayed up: none moves.
        for s in sources {
            let u = table.route(Flow(source: s, destination: ip("198.51.100.1")), plan: d.core.plan, at: d.now).uplink
            #expect(u == "eth0")
        }
    }

    @Test func configReplaceKeepsHealthOfUnchangedWANs() {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 1)
        d.send(.carrier(interface: "eth0", up: false))
        let count = d.events.count
        var config = dualWAN()
        config.uplinkGroups[0].members[1].weight = 5
        d.send(.configReplaced(config))
        #expect(d.events.count == count)
        #expect(d.core.status[0].state == .down)
        #expect(d.core.plan.group(named: "default")?.active == ["eth1"])
    }

    @Test func gatewaysFollowTheSystemButStaticOnesWin() {
        var config = dualWAN()
        config.interfaces[1].dhcp = false
        config.interfaces[1].gateway = ip("100.64.1.1")
        var d = CoreDriver(config)
        d.run(seconds: 1)
        d.send(.addressLearned(interface: "eth0", address: CIDR("100.64.0.2/30"), gateway: ip("100.64.0.1")))
        d.send(.addressLearned(interface: "eth1", address: nil, gateway: ip("10.9.9.9")))
        #expect(d.core.plan.uplink(named: "eth0")?.gateway == ip("100.64.0.1"))
        #expect(d.core.plan.uplink(named: "eth1")?.gateway == ip("100.64.1.1"))
        d.send(.addressLearned(interface: "eth0", address: nil, gateway: nil))
        d.send(.addressLearned(interface: "eth1", address: nil, gateway: nil))
        #expect(d.core.plan.uplink(named: "eth0")?.gateway == nil)
        #expect(d.core.plan.uplink(named: "eth1")?.gateway == ip("100.64.1.1"))
    }

    /// IPv6 next hops are their own: learned from router advertisements (or given as an IPv6
    /// `.addressLearned` gateway), a static `gateway6` or IPv6 `gateway` wins, and neither touches
    /// the IPv4 gateway. A learned one changes the plan (routes) without a repair.
    @Test func ipv6GatewaysAreKeptApartFromIPv4() {
        var config = dualWAN()
        config.interfaces[1].dhcp = false
        config.interfaces[1].gateway = ip("100.64.1.1")
        config.interfaces[1].gateway6 = ip("fe80::99")
        var d = CoreDriver(config)
        d.run(seconds: 1)
        d.send(.addressLearned(interface: "eth0", address: nil, gateway: ip("100.64.0.1")))
        let effects = d.core.handle(.ipv6GatewayLearned(interface: "eth0", gateway: ip("fe80::1")), at: d.now)
        d.send(.ipv6GatewayLearned(interface: "eth1", gateway: ip("fe80::2")))
        #expect(d.core.plan.uplink(named: "eth0")?.gateway == ip("100.64.0.1"))
        #expect(d.core.plan.uplink(named: "eth0")?.ipv6Gateway == ip("fe80::1"))
        #expect(d.core.plan.uplink(named: "eth1")?.ipv6Gateway == ip("fe80::99"))
        let planned = effects.compactMap { effect -> ForwardingPlan? in
            if case .applyPlan(let plan) = effect { plan } else { nil }
        }
        #expect(planned.count == 1 && planned.last?.uplink(named: "eth0")?.ipv6Gateway == ip("fe80::1"), "\(effects)")
        // The same gateway again is no change; an IPv6 gateway in `.addressLearned` is IPv6's.
        #expect(d.core.handle(.ipv6GatewayLearned(interface: "eth0", gateway: ip("fe80::1")), at: d.now).isEmpty)
        d.send(.addressLearned(interface: "eth0", address: nil, gateway: ip("fe80::3")))
        #expect(d.core.plan.uplink(named: "eth0")?.gateway == ip("100.64.0.1"))
        #expect(d.core.plan.uplink(named: "eth0")?.ipv6Gateway == ip("fe80::3"))
        d.send(.ipv6GatewayLearned(interface: "eth0", gateway: nil))
        #expect(d.core.plan.uplink(named: "eth0")?.ipv6Gateway == nil)
        #expect(d.core.plan.uplink(named: "eth0")?.gateway == ip("100.64.0.1"))
        // A static IPv6 `gateway` serves IPv6 only.
        config.interfaces[1].gateway = ip("fe80::77")
        config.interfaces[1].gateway6 = nil
        d.send(.configReplaced(config))
        #expect(d.core.plan.uplink(named: "eth1")?.gateway == nil)
        #expect(d.core.plan.uplink(named: "eth1")?.ipv6Gateway == ip("fe80::77"))
    }

    @Test func deterministicForSameInputs() {
        func run() -> [WANEvent] {
            var d = CoreDriver(dualWAN())
            d.run(seconds: 20)
            d.answering["eth0"] = false
            d.run(seconds: 40)
            d.answering["eth0"] = true
            d.run(seconds: 40)
            return d.events
        }
        #expect(run() == run())
        #expect(run().count == 4)
    }
}

/// Seeded generator for tests.
struct SplitMix64 {
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
