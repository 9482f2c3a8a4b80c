import Foundation
import Lab
import Testing

/// IPv6 flows through the real daemon, judged at the ISPs: what their servers saw (which ISP
/// answered, from which address) and an nft set of the IPv6 sources arriving there. eth0 learns
/// its IPv6 gateway from a router-advertised default route, eth1 has a static `gateway6`; the LAN
/// has a dual-stack client and a client with IPv6 only (`LabIPv6`).
@Suite("flywall daemon: IPv6 flows in network namespaces", .serialized, .timeLimit(.minutes(2)))
struct DaemonIPv6Tests {
    static let dual = LabIPv6.dualStackClient, only = LabIPv6.onlyClient

    /// The lab's interfaces with IPv6: eth1's static `gateway6`, the IPv6-only LAN interface.
    static func interfaces(_ lab: LabTopology, _ wans: [LabConfig.WAN]? = nil) -> String {
        let gateway1 = "  gateway = \"\(lab.isps[1].gateway)\"\n"
        return LabConfig.interfaces(lab, wans).replacingOccurrences(
            of: gateway1, with: gateway1 + "  gateway6 = \"\(LabIPv6.gateway)\"\n")
            + "\ninterface \"lan1\" {\n  zone = \"LAN\"\n}\n\n"
    }

    /// Runs `body` on a dual-stack lab with the daemon ready on `config`.
    static func withIPv6Daemon(_ config: (LabTopology) -> String,
                               _ body: (LabTopology, LabDaemon) async throws -> Void) async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            try lab.addIPv6(advertised: [0])
            for isp in lab.isps { try lab.watchIPv6(at: isp.index) }
            let daemon = try LabDaemon(lab: lab, config: config(lab))
            guard await daemon.waitReady() else { return }
            try await body(lab, daemon)
        }
    }

    /// One flow, the namespace it starts in, and the ISP that must answer it.
    struct Case: CustomStringConvertible {
        var flow: LabTopology.Flow
        var namespace: String
        var isp: String
        var description: String { "\(flow) from \(namespace.split(separator: "-").last ?? "") -> \(isp)" }
    }

    /// Makes each case's connection and records a failure for each that did not reach its ISP
    /// through that ISP's masquerade address.
    static func check(_ lab: LabTopology, _ cases: [Case], _ phase: String, _ daemon: LabDaemon) throws {
        for c in cases {
            let outcome = try lab.connect([c.flow], timeout: 1, from: c.namespace)[0]
            let index = Int(c.isp.dropFirst(3))!
            let masquerade = c.flow.src.contains(":") ? LabIPv6.wanAddress(index) : lab.isps[index].address
            #expect(outcome.isp == c.isp && outcome.seenFrom?.hasPrefix(masquerade + ":") == true,
                    "\(phase): \(c): got \(outcome); \(daemon.tail)")
        }
    }

    /// IPv6 conntrack entries of the router (`conntrack -L -f ipv6`), as (source, dport, pin).
    static func ipv6Connections(_ lab: LabTopology) throws -> [(source: String, port: Int, pin: UInt32)] {
        try lab.exec(lab.router, ["conntrack", "-L", "-f", "ipv6"]).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            func first(_ key: String) -> String? { fields.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) } }
            guard let src = first("src"), let port = first("dport").flatMap({ Int($0) }) else { return nil }
            return (src, port, (first("mark").flatMap { UInt32($0) } ?? 0) >> 24)
        }
    }

    /// Failover and policy routes for IPv6 flows: an ipset destination and an IPv6 source prefix
    /// go to eth1, the rest to eth0 until it is black-holed; then everything takes eth1, the
    /// IPv6 connection pinned to eth0 is flushed from conntrack and the one on eth1 stays.
    @Test func failoverAndPolicyRoutesCarryIPv6Flows() async throws {
        try await Self.withIPv6Daemon({ lab in
            Self.interfaces(lab) + LabConfig.failoverGroup(lab) + """
                ipset "v6_streaming" {
                  entries = ["2001:db8:fffe::/48"]
                }

                policy_route "v6-streaming" {
                  match {
                    destination = ["@v6_streaming"]
                  }
                  uplink = "eth1"
                }

                policy_route "v6-only-client" {
                  match {
                    source    = ["fd00:2::/64"]
                    protocol  = "tcp"
                    dest_port = 7002
                  }
                  uplink = "eth1"
                }
                """
        }) { lab, daemon in
            let lan = lab.lan, lan6 = lab.ipv6OnlyLAN
            let server = LabIPv6.server, streaming = LabIPv6.otherServer
            // Both IPv6 routes programmed: eth0's from the advertisement, eth1's static.
            let v6Routes = try LabKernel(lab: lab).ownedRoutes(v6: true)
            #expect(v6Routes.contains { $0.hasPrefix("default via fe80::1 dev eth0 table 10000") }, "\(v6Routes)")
            #expect(v6Routes.contains { $0.hasPrefix("default via fe80::1 dev eth1 table 10001") }, "\(v6Routes)")

            func cases(primary: String) -> [Case] {
                [Case(flow: .tcp(Self.dual, server, 7), namespace: lan, isp: primary),
                 Case(flow: .tcp(Self.only, server, 7), namespace: lan6, isp: primary),
                 Case(flow: .tcp(Self.dual, server, 7002), namespace: lan, isp: primary),     // source does not match
                 Case(flow: .tcp(Self.dual, streaming, 7), namespace: lan, isp: "isp1"),      // @v6_streaming
                 Case(flow: .tcp(Self.only, streaming, 443), namespace: lan6, isp: "isp1"),   // @v6_streaming
                 Case(flow: .tcp(Self.only, server, 7002), namespace: lan6, isp: "isp1"),     // v6-only-client
                 Case(flow: .tcp(LabTopology.clients[1], LabTopology.server, 7), namespace: lan, isp: primary)]  // IPv4 alike
            }
            try Self.check(lab, cases(primary: "isp0"), "both up", daemon)
            // At the ISPs, only the router's own address arrived: the LAN prefixes were translated.
            #expect(try lab.ipv6Sources(at: 0).keys.sorted() == [LabIPv6.wanAddress(0)])
            #expect(try lab.ipv6Sources(at: 1).keys.sorted() == [LabIPv6.wanAddress(1)])

            let onPrimary = try lab.spawn("hold v6 eth0", in: lan, ["python3", LabTopology.echoScript, "hold", "--src", Self.dual,
                                                                      "--dst", server, "--port", "7"])
            let onBackup = try lab.spawn("hold v6 eth1", in: lan6, ["python3", LabTopology.echoScript, "hold", "--src", Self.only,
                                                                      "--dst", server, "--port", "7002"])
            #expect(await onPrimary.waitForLine(seconds: 5) { $0.hasPrefix("isp0 ") } != nil, "\(onPrimary.text)")
            #expect(await onBackup.waitForLine(seconds: 5) { $0.hasPrefix("isp1 ") } != nil, "\(onBackup.text)")
            var tracked = try Self.ipv6Connections(lab)
            #expect(tracked.contains { $0.source == Self.dual && $0.port == 7 && $0.pin == 1 }, "\(tracked)")
            #expect(tracked.contains { $0.source == Self.only && $0.port == 7002 && $0.pin == 2 }, "\(tracked)")

            let mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 15) != nil else { return }
            let moved = await eventually(seconds: 5) {
                try lab.connect([.tcp(Self.only, server, 7)], timeout: 1, from: lan6).first?.isp == "isp1"
            }
            #expect(moved, "IPv6 flows still do not reach isp1; \(daemon.tail)")
            let arrivedAtPrimary = try lab.ipv6Sources(at: 0).values.reduce(0, +)
            try Self.check(lab, cases(primary: "isp1"), "eth0 black-holed", daemon)
            #expect(try lab.ipv6Sources(at: 0).values.reduce(0, +) == arrivedAtPrimary, "new IPv6 flows still reached isp0")

            tracked = try Self.ipv6Connections(lab)
            #expect(!tracked.contains { $0.pin == 1 }, "IPv6 connections still pinned to eth0: \(tracked)")
            #expect(tracked.contains { $0.source == Self.only && $0.port == 7002 && $0.pin == 2 }, "flushed too: \(tracked)")
            let before = onBackup.lines.count
            onBackup.send("still there")
            #expect(await onBackup.waitForLine(from: before, seconds: 5) { $0 == "isp1 still there" } != nil, "\(onBackup.text)")

            // SIGTERM removes the IPv6 rules and routes too.
            #expect(daemon.terminate() == 0)
            let kernel = LabKernel(lab: lab)
            #expect(try kernel.ownedRules(v6: true).isEmpty && kernel.ownedRoutes(v6: true).isEmpty)
        }
    }

    /// `balance` with weights 2:1 splits new IPv6 connections of both clients about 2:1, each
    /// leaving through its ISP's IPv6 masquerade address.
    @Test func balanceSplitsIPv6ConnectionsTwoToOne() async throws {
        try await Self.withIPv6Daemon({ lab in
            Self.interfaces(lab) + """
                uplink_group "default" {
                  mode = "balance"
                  member "eth0" { weight = 2 }
                  member "eth1" { weight = 1 }
                }
                """
        }) { lab, daemon in
            var outcomes: [LabTopology.Outcome] = []
            outcomes += try lab.connect((0..<150).map { _ in .tcp(Self.dual, LabIPv6.server, 7) })
            outcomes += try lab.connect((0..<150).map { _ in .tcp(Self.only, LabIPv6.server, 7) }, from: lab.ipv6OnlyLAN)
            let isp0 = outcomes.filter { $0.isp == "isp0" }.count, isp1 = outcomes.filter { $0.isp == "isp1" }.count
            #expect(isp0 + isp1 == 300, "unanswered: \(outcomes.filter { $0.isp == nil }); \(daemon.tail)")
            // p = 2/3, n = 300: σ ≈ 2.7%; ±9% is over 3σ.
            let share = Double(isp0) / Double(max(1, isp0 + isp1))
            #expect((0.57...0.76).contains(share), "eth0 share \(share) (isp0 \(isp0), isp1 \(isp1)), expected about 2/3")
            #expect(outcomes.allSatisfy { o in
                o.isp.map { o.seenFrom?.hasPrefix(LabIPv6.wanAddress(Int($0.dropFirst(3))!) + ":") == true } ?? true
            })
            // Judged at the ISPs: the SYNs that arrived there came from the router's address on that WAN only.
            let at0 = try lab.ipv6Sources(at: 0), at1 = try lab.ipv6Sources(at: 1)
            #expect(Array(at0.keys) == [LabIPv6.wanAddress(0)] && Array(at1.keys) == [LabIPv6.wanAddress(1)], "\(at0) \(at1)")
            let tracked = try Self.ipv6Connections(lab).filter { $0.port == 7 }
            #expect(tracked.filter { $0.pin == 1 }.count == isp0 && tracked.filter { $0.pin == 2 }.count == isp1,
                    "conntrack pins: \(tracked.map(\.pin))")
        }
    }
}
