import Adapters
import Domain
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("LinkMonitor over rtnetlink (root, network namespaces)", .enabled(if: netlinkTestsAreRoot, "needs root for namespaces"))
struct NetlinkLinkMonitorTests {
    /// A router namespace with `wan0`, a veth whose other end `isp0` is in an ISP namespace.
    private func makeTopology() throws -> NetlinkTestNamespaces {
        let spaces = try NetlinkTestNamespaces(roles: ["router", "isp"])
        do {
            try NetlinkTestShell.run("ip", "link", "add", "wan0", "netns", spaces.name("router"), "type", "veth",
                                     "peer", "name", "isp0", "netns", spaces.name("isp"))
            try spaces.ip("isp", "addr add 10.77.0.1/24 dev isp0")
            try spaces.ip("isp", "link set isp0 up")
            try spaces.ip("router", "link set wan0 up")
        } catch {
            spaces.remove()
            throw error
        }
        return spaces
    }

    private func ipv4(_ text: String) -> IPAddress { IPAddress(text)! }

    @Test("reports carrier, address and the DHCP-style default route as they change")
    func followsChanges() async throws {
        let spaces = try makeTopology()
        defer { spaces.remove() }
        let events = NetlinkTestCollector<CoreEvent>()
        let monitor = try NetworkNamespace.run(named: spaces.name("router")) {
            try LinkMonitor(interfaces: ["wan0", "wan9"], onEvent: events.append)
        }
        defer { monitor.stop() }

        // The state at start: both watched names get a carrier event; wan9 does not exist yet.
        // veth carrier settles asynchronously (linkwatch), so wan0 may come up a moment later.
        let wan0Up = CoreEvent.carrier(interface: "wan0", up: true)
        var seen = await events.wait { $0.contains(wan0Up) }
        #expect(seen.contains(wan0Up))
        #expect(seen.contains(.carrier(interface: "wan9", up: false)))
        #expect(!seen.contains { if case .addressLearned = $0 { true } else { false } })
        _ = events.drain()

        // An address, then the default route a DHCP client would install.
        let address = CIDR("10.77.0.2/24")!
        try spaces.ip("router", "addr add 10.77.0.2/24 dev wan0")
        let learnedAddress = CoreEvent.addressLearned(interface: "wan0", address: address, gateway: nil)
        seen = await events.wait { $0.contains(learnedAddress) }
        #expect(seen == [learnedAddress])

        try spaces.ip("router", "route add default via 10.77.0.1 dev wan0")
        let learnedGateway = CoreEvent.addressLearned(interface: "wan0", address: address, gateway: ipv4("10.77.0.1"))
        seen = await events.wait { $0.contains(learnedGateway) }
        #expect(seen == [learnedAddress, learnedGateway])
        _ = events.drain()

        // Cable pulled on the ISP side: carrier lost at once, and back.
        try spaces.ip("isp", "link set isp0 down")
        let wan0Down = CoreEvent.carrier(interface: "wan0", up: false)
        seen = await events.wait { $0.contains(wan0Down) }
        #expect(seen == [wan0Down])
        try spaces.ip("isp", "link set isp0 up")
        seen = await events.wait { $0.contains(wan0Up) }
        #expect(seen == [wan0Down, wan0Up])
        _ = events.drain()

        let state = monitor.states.first { $0.name == "wan0" }
        #expect(state?.carrier == true)
        #expect(state?.address == address)
        #expect(state?.gateway == ipv4("10.77.0.1"))
        #expect(state?.index != nil)

        // A gateway change by the DHCP client (new lease), then the route withdrawn.
        try spaces.ip("router", "route replace default via 10.77.0.254 dev wan0")
        let newGateway = CoreEvent.addressLearned(interface: "wan0", address: address, gateway: ipv4("10.77.0.254"))
        seen = await events.wait { $0.contains(newGateway) }
        #expect(seen == [newGateway])
        try spaces.ip("router", "route del default")
        let noGateway = CoreEvent.addressLearned(interface: "wan0", address: address, gateway: nil)
        seen = await events.wait { $0.contains(noGateway) }
        #expect(seen == [newGateway, noGateway])
        _ = events.drain()

        // Taking wan0 down by hand: the kernel drops the route without a notification.
        try spaces.ip("router", "route add default via 10.77.0.1 dev wan0")
        seen = await events.wait { $0.contains(learnedGateway) }
        #expect(seen == [learnedGateway])
        _ = events.drain()
        try spaces.ip("router", "link set wan0 down")
        seen = await events.wait { $0.contains(wan0Down) && $0.contains(noGateway) }
        #expect(seen == [wan0Down, noGateway])
        _ = events.drain()

        // A watched name that appears later, and goes away.
        try spaces.ip("router", "link add wan9 type veth peer name wan9p")
        try spaces.ip("router", "link set wan9p up")
        try spaces.ip("router", "link set wan9 up")
        let wan9Up = CoreEvent.carrier(interface: "wan9", up: true)
        seen = await events.wait { $0.contains(wan9Up) }
        #expect(seen == [wan9Up])
        try spaces.ip("router", "link del wan9")
        let wan9Down = CoreEvent.carrier(interface: "wan9", up: false)
        seen = await events.wait { $0.contains(wan9Down) }
        #expect(seen == [wan9Up, wan9Down])

        // Interfaces that are not watched never show up.
        try spaces.ip("router", "link add other0 type veth peer name other0p")
        try spaces.ip("router", "link set other0 up")
        try await Task.sleep(for: .milliseconds(200))
        #expect(!events.all.contains { event in
            if case .carrier("other0", _) = event { return true }
            if case .addressLearned("other0", _, _) = event { return true }
            return false
        })
    }

    @Test("reports the state at start from the initial dump")
    func initialState() async throws {
        let spaces = try makeTopology()
        defer { spaces.remove() }
        try spaces.ip("router", "addr add 10.77.0.2/24 dev wan0")
        try spaces.ip("router", "addr add 10.77.0.3/24 dev wan0")  // a secondary: not the primary
        try spaces.ip("router", "route add default via 10.77.0.1 dev wan0 metric 20")
        try spaces.ip("router", "route add default via 10.77.0.9 dev wan0 metric 10")
        try spaces.ip("router", "route add default via 10.77.0.8 dev wan0 table 10000")  // not main
        // Wait until the kernel calls the veth running, so the start state is deterministic.
        for _ in 0..<100 where !(try spaces.ip("router", "link show wan0")).contains("state UP") {
            try await Task.sleep(for: .milliseconds(20))
        }

        let events = NetlinkTestCollector<CoreEvent>()
        let monitor = try NetworkNamespace.run(named: spaces.name("router")) {
            try LinkMonitor(interfaces: ["wan0"], onEvent: events.append)
        }
        defer { monitor.stop() }
        let expected: [CoreEvent] = [
            .carrier(interface: "wan0", up: true),
            .addressLearned(interface: "wan0", address: CIDR("10.77.0.2/24")!, gateway: ipv4("10.77.0.9")),
        ]
        let seen = await events.wait { $0.count >= 2 }
        #expect(seen == expected)

        // Watching another name later reports it as at start; unwatching is silent.
        try spaces.ip("router", "link add wan1 type veth peer name wan1p")
        monitor.watch(["wan1"])
        let more = await events.wait { $0.count >= 3 }
        #expect(Array(more.dropFirst(2)) == [.carrier(interface: "wan1", up: false)])
        #expect(monitor.states.map(\.name) == ["wan1"])
    }

    @Test("IPv6: a global address, and a router-advertised default route reported as the IPv6 gateway, apart from IPv4's")
    func ipv6() async throws {
        let spaces = try makeTopology()
        defer { spaces.remove() }
        let events = NetlinkTestCollector<CoreEvent>()
        let monitor = try NetworkNamespace.run(named: spaces.name("router")) {
            try LinkMonitor(interfaces: ["wan0"], onEvent: events.append)
        }
        defer { monitor.stop() }
        await events.wait { $0.contains(.carrier(interface: "wan0", up: true)) }
        _ = events.drain()

        let v6 = CIDR("2001:db8:77::2/64")!
        try spaces.ip("router", "-6 addr add 2001:db8:77::2/64 dev wan0 nodad")
        // What the kernel installs from a router advertisement.
        try spaces.ip("router", "-6 route add default via fe80::1 dev wan0 proto ra metric 1024")
        let v6Gateway = CoreEvent.ipv6GatewayLearned(interface: "wan0", gateway: IPAddress("fe80::1"))
        var seen = await events.wait { $0.contains(v6Gateway) }
        #expect(seen.contains(.addressLearned(interface: "wan0", address: v6, gateway: nil)), "events: \(seen)")
        #expect(seen.allSatisfy { event in
            switch event {
            case .addressLearned("wan0", v6, nil), v6Gateway: true
            default: false
            }
        }, "events: \(seen)")
        _ = events.drain()

        // IPv4 comes: its address and gateway, and no IPv6 event (nothing of IPv6 changed).
        try spaces.ip("router", "addr add 10.77.0.2/24 dev wan0")
        try spaces.ip("router", "route add default via 10.77.0.1 dev wan0")
        let v4Learned = CoreEvent.addressLearned(interface: "wan0", address: CIDR("10.77.0.2/24")!, gateway: ipv4("10.77.0.1"))
        seen = await events.wait { $0.contains(v4Learned) }
        #expect(seen == [.addressLearned(interface: "wan0", address: CIDR("10.77.0.2/24")!, gateway: nil), v4Learned])
        _ = events.drain()

        // The advertisement's route goes (router lifetime 0): the IPv6 gateway is withdrawn, IPv4's stays.
        try spaces.ip("router", "-6 route del default via fe80::1 dev wan0")
        seen = await events.wait { $0.contains(.ipv6GatewayLearned(interface: "wan0", gateway: nil)) }
        #expect(seen == [.ipv6GatewayLearned(interface: "wan0", gateway: nil)])
        #expect(monitor.states.first?.gateway == ipv4("10.77.0.1") && monitor.states.first?.ipv6Gateway == nil)
    }

    @Test("after stop (idempotent), no event is reported, even when the link changes")
    func stopFinishes() async throws {
        let spaces = try makeTopology()
        defer { spaces.remove() }
        let events = NetlinkTestCollector<CoreEvent>()
        let monitor = try NetworkNamespace.run(named: spaces.name("router")) {
            try LinkMonitor(interfaces: ["wan0"], onEvent: events.append)
        }
        #expect(!events.all.isEmpty)  // the start state
        monitor.stop()
        monitor.stop()
        let before = events.all.count
        try spaces.ip("router", "link set wan0 down")
        try await Task.sleep(for: .milliseconds(200))
        #expect(events.all.count == before)
    }
}
