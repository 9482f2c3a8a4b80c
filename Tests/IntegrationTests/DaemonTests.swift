import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real daemon on a router made of network namespaces, checked with independent tools (nft, ip,
/// conntrack, counters in the ISP namespaces, and which ISP's echo server answered a LAN client).
///
/// Health checks run every second with a 500 ms timeout, 2 rounds down and 2 up, so a fault is
/// seen in about 2-3 s; deadlines are generous for a loaded 2-core machine.
@Suite("flywall daemon in network namespaces", .serialized, .timeLimit(.minutes(2)))
struct DaemonTests {
    static let lan = LabTopology.clients

    // MARK: 1. Probes

    @Test func probesLeaveOnTheirOwnUplinkWhateverTheMainRouteAndThePlanSay() async throws {
        guard LabDaemon.check() else { return }
        // Main default route via eth1, plan via eth0: a probe that followed either would show up at
        // the wrong ISP.
        try await withLab(wans: 2, mainDefault: 1) { lab in
            try lab.watchEchoRequests()
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let enough = await eventually(seconds: 20) {
                try lab.isps.allSatisfy { isp in
                    let seen = try lab.echoRequests(at: isp.index)
                    return isp.targets.allSatisfy { t in seen.contains { $0.destination == t && $0.packets >= 3 } }
                }
            }
            #expect(enough, "3 probe rounds per target did not arrive: isp0 \((try? lab.echoRequests(at: 0)) ?? []), isp1 \((try? lab.echoRequests(at: 1)) ?? []); \(daemon.tail)")
            for isp in lab.isps {
                let seen = try lab.echoRequests(at: isp.index)
                let stray = seen.filter { $0.source != isp.address || !isp.targets.contains($0.destination) }
                #expect(stray.isEmpty, "\(isp.name) got echo requests that are not \(isp.wan)'s probes from \(isp.address): \(stray)")
            }
            #expect(!daemon.lines.contains { $0.contains("wan_down") }, "a WAN went down with every probe answered; \(daemon.tail)")
            // The plan, not the main table, carries LAN traffic.
            #expect(try lab.isp(for: .tcp(Self.lan[0])) == "isp0")
        }
    }

    // MARK: 2. Ruleset

    @Test func rulesetRulesAndRoutesAreWhatThePlanSays() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let kernel = LabKernel(lab: lab)
            let table = try #require(kernel.flywallTable(), "no table inet flywall; \(daemon.tail)")
            #expect(try kernel.nftTables().filter { $0.contains("flywall") } == ["table inet flywall"])
            for chain in ["prerouting", "output", "postrouting", "classify", "restore_0", "restore_1", "wan_0", "wan_1"] {
                #expect(table.contains("chain \(chain) {"), "no chain \(chain) in:\n\(table)")
            }
            #expect(table.contains("type filter hook prerouting priority mangle"), "\(table)")
            #expect(table.contains("type route hook output priority mangle"), "\(table)")
            #expect(table.contains("type nat hook postrouting priority srcnat"), "\(table)")
            #expect(table.contains(#"oifname vmap { "eth0" : jump wan_0, "eth1" : jump wan_1 }"#), "\(table)")
            #expect(table.matches(of: /masquerade/).count == 2, "one masquerade per WAN:\n\(table)")
            #expect(table.contains(/chain group_\w+ \{/), "no group chain:\n\(table)")
            let slotChains = Set(table.matches(of: /chain slot_(\d+) \{/).compactMap { Int($0.1) })
            #expect(!slotChains.isEmpty, "no slot chains:\n\(table)")

            // ip rules: the suppressing main rule, one pin rule per uplink, one rule per hash slot.
            let rules = try kernel.ownedRules()
            #expect(rules.contains { $0.hasPrefix("10000:") && $0.contains("lookup main suppress_prefixlength 0") }, "\(rules)")
            #expect(rules.contains { $0.hasPrefix("10100:") && $0.contains("fwmark 0x1000000/0xff000000 lookup 10000") }, "\(rules)")
            #expect(rules.contains { $0.hasPrefix("10100:") && $0.contains("fwmark 0x2000000/0xff000000 lookup 10001") }, "\(rules)")
            #expect(Set(rules).count == rules.count, "duplicate ip rules: \(rules)")
            let slotTables = rules.filter { $0.hasPrefix("10300:") }.compactMap { line in
                line.firstMatch(of: /fwmark 0x([0-9a-f]+)\/0x3ff00 lookup (\d+)/).flatMap { m in
                    UInt32(m.1, radix: 16).flatMap { mark in Int(m.2).map { (slot: Int(mark >> 8) - 1, table: $0) } }
                }
            }
            #expect(slotTables.count == slotChains.count, "\(slotChains.count) slot chains but ip rules \(rules)")
            #expect(slotTables.allSatisfy { $0.table == 20000 + $0.slot }, "\(slotTables)")

            // Routes: pins always via their own uplink; every hash slot via eth0 while it is primary.
            #expect(try kernel.routes(table: 10000) == ["default via 100.64.0.1 dev eth0"])
            #expect(try kernel.routes(table: 10001) == ["default via 100.64.1.1 dev eth1"])
            let slotIDs = slotTables.map(\.table)
            let wrong = try kernel.tables(slotIDs, notRouting: ["default via 100.64.0.1 dev eth0"])
            #expect(wrong.isEmpty, "slot tables not via eth0: \(wrong.sorted { $0.key < $1.key })")

            // A failover moves the slot routes and touches neither the ruleset nor the rules.
            let mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20) != nil else { return }
            let moved = await eventually(seconds: 5) {
                try kernel.tables(slotIDs, notRouting: ["default via 100.64.1.1 dev eth1"]).isEmpty
            }
            #expect(moved, "slot tables not via eth1 after failover: \((try? kernel.tables(slotIDs, notRouting: ["default via 100.64.1.1 dev eth1"]).sorted { $0.key < $1.key }) ?? [])")
            #expect(try kernel.routes(table: 10000) == ["default via 100.64.0.1 dev eth0"], "the pin of eth0 stays (probes)")
            #expect(kernel.flywallTable() == table, "the ruleset changed on failover")
            #expect(try kernel.ownedRules() == rules, "the ip rules changed on failover")
        }
    }

    // MARK: 3. Failover

    @Test func blackholedPrimaryMovesNewConnectionsAndFlushesOnlyItsOwn() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let config = LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab) + LabConfig.holdOnBackup
            let daemon = try LabDaemon(lab: lab, config: config)
            guard await daemon.waitReady() else { return }
            let kernel = LabKernel(lab: lab)

            // One long-lived connection on each uplink.
            let onPrimary = try lab.hold(.tcp(Self.lan[0], LabTopology.server, 7))
            let onBackup = try lab.hold(.tcp(Self.lan[1], LabTopology.server, 7001))
            #expect(await onPrimary.waitForLine(seconds: 5) { $0.hasPrefix("isp0 100.64.0.2:") } != nil, "\(onPrimary.text)")
            #expect(await onBackup.waitForLine(seconds: 5) { $0.hasPrefix("isp1 100.64.1.2:") } != nil, "\(onBackup.text)")
            var tracked = try kernel.lanConnections().filter { $0.proto == "tcp" }
            #expect(tracked.contains { $0.source == Self.lan[0] && $0.destinationPort == 7 && $0.pin == 1 }, "ct mark of eth0 expected: \(tracked)")
            #expect(tracked.contains { $0.source == Self.lan[1] && $0.destinationPort == 7001 && $0.pin == 2 }, "ct mark of eth1 expected: \(tracked)")

            let mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20) != nil else { return }
            #expect(daemon.lines[mark...].contains { $0.contains("wan_down: eth0") }, "\(daemon.tail)")

            // New connections use the backup.
            let moved = await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[2]), timeout: 1) == "isp1" }
            #expect(moved, "new LAN connections still do not reach isp1; \(daemon.tail)")
            let outcomes = try lab.connect(Self.lan[3..<13].map { .tcp($0) })
            #expect(outcomes.allSatisfy { $0.isp == "isp1" }, "\(outcomes)")

            // The dead uplink's connections are gone from conntrack; the backup's stays and works.
            tracked = try kernel.lanConnections()
            #expect(!tracked.contains { $0.pin == 1 }, "LAN connections still pinned to eth0: \(tracked.filter { $0.pin == 1 })")
            #expect(tracked.contains { $0.source == Self.lan[1] && $0.destinationPort == 7001 && $0.pin == 2 },
                    "the connection on eth1 was flushed too: \(tracked)")
            let before = onBackup.lines.count
            onBackup.send("still there")
            #expect(await onBackup.waitForLine(from: before, seconds: 5) { $0 == "isp1 still there" } != nil, "\(onBackup.text)")
        }
    }

    // MARK: 4. Failback

    @Test func cablePulledFailsOverAtOnceAndRepairFailsBack() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            #expect(try lab.isp(for: .tcp(Self.lan[0])) == "isp0")

            var mark = daemon.lines.count
            try lab.pullCable(0)
            let down = await daemon.expectLog("wan_down: eth0", from: mark, seconds: 10)
            #expect(down?.contains("carrier") == true, "the reason should name the carrier: \(down ?? "none")")
            await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 10)
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[1]), timeout: 1) == "isp1" }, "\(daemon.tail)")
            // A long-lived connection opened on the backup meanwhile.
            let onBackup = try lab.hold(.tcp(Self.lan[20]))
            #expect(await onBackup.waitForLine(seconds: 5) { $0.hasPrefix("isp1 ") } != nil, "\(onBackup.text)")

            mark = daemon.lines.count
            try lab.repair(0)
            await daemon.expectLog("wan_up: eth0", from: mark, seconds: 20)
            await daemon.expectLog("failback: group default: eth1 -> eth0", from: mark, seconds: 20)
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[2]), timeout: 1) == "isp0" }, "\(daemon.tail)")
            // failback_moves_connections defaults to false: it stays on eth1 and keeps working.
            let kept = try LabKernel(lab: lab).lanConnections()
            #expect(kept.contains { $0.source == Self.lan[20] && $0.pin == 2 }, "the backup's connection was flushed on failback: \(kept)")
            let before = onBackup.lines.count
            onBackup.send("after failback")
            #expect(await onBackup.waitForLine(from: before, seconds: 5) { $0 == "isp1 after failback" } != nil, "\(onBackup.text)")
            let outcomes = try lab.connect(Self.lan[3..<13].map { .tcp($0) })
            #expect(outcomes.allSatisfy { $0.isp == "isp0" }, "\(outcomes)")

            // The same after a black hole, repaired.
            mark = daemon.lines.count
            try lab.blackhole(0)
            await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20)
            mark = daemon.lines.count
            try lab.repair(0)
            await daemon.expectLog("failback: group default: eth1 -> eth0", from: mark, seconds: 20)
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[4]), timeout: 1) == "isp0" }, "\(daemon.tail)")
        }
    }

    // MARK: 5. Balance

    @Test func balanceSplitsNewConnectionsTwoToOne() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let config = LabConfig.interfaces(lab) + """
                uplink_group "default" {
                  mode = "balance"
                  member "eth0" { weight = 2 }
                  member "eth1" { weight = 1 }
                }
                """
            let daemon = try LabDaemon(lab: lab, config: config)
            guard await daemon.waitReady() else { return }
            let flows = (0..<300).map { LabTopology.Flow.tcp(Self.lan[$0 % Self.lan.count]) }
            let outcomes = try lab.connect(flows)
            let isp0 = outcomes.filter { $0.isp == "isp0" }.count, isp1 = outcomes.filter { $0.isp == "isp1" }.count
            #expect(isp0 + isp1 == 300, "unanswered: \(outcomes.filter { $0.isp == nil })")
            // p = 2/3, n = 300: σ ≈ 2.7%; ±9% is over 3σ.
            let share = Double(isp0) / Double(max(1, isp0 + isp1))
            #expect((0.57...0.76).contains(share), "eth0 share \(share) (isp0 \(isp0), isp1 \(isp1)), expected about 2/3")
            // Each answer came through its ISP's masquerade address, and conntrack agrees.
            #expect(outcomes.allSatisfy { o in o.isp.map { o.seenFrom?.hasPrefix("100.64.\($0.dropFirst(3)).2:") == true } ?? true })
            let tracked = try LabKernel(lab: lab).lanConnections().filter { $0.proto == "tcp" && $0.destinationPort == 7 }
            #expect(tracked.filter { $0.pin == 1 }.count == isp0, "conntrack: \(tracked.filter { $0.pin == 1 }.count) on eth0")
            #expect(tracked.filter { $0.pin == 2 }.count == isp1, "conntrack: \(tracked.filter { $0.pin == 2 }.count) on eth1")
        }
    }

    // MARK: 6. Sticky

    /// Three WANs, so that "the others stay" is not implied by "everything lands on the survivor".
    @Test func stickySourcesKeepTheirUplinkAndOnlyTheDeadOnesMove() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 3) { lab in
            let config = LabConfig.interfaces(lab) + """
                uplink_group "default" {
                  mode           = "balance"
                  sticky         = true
                  sticky_timeout = "1h"
                  member "eth0" { weight = 1 }
                  member "eth1" { weight = 1 }
                  member "eth2" { weight = 1 }
                }
                """
            let daemon = try LabDaemon(lab: lab, config: config)
            guard await daemon.waitReady() else { return }

            /// One connection per source (TCP and UDP alternating by round), the ISP each got.
            func round(_ n: Int) throws -> [String: String?] {
                let flows = Self.lan.map { n % 2 == 0 ? LabTopology.Flow.tcp($0) : .udp($0) }
                let outcomes = try lab.connect(flows)
                return Dictionary(uniqueKeysWithValues: zip(Self.lan, outcomes.map(\.isp)))
            }
            let first = try round(0)
            #expect(first.values.allSatisfy { $0 != nil }, "unanswered: \(first.filter { $0.value == nil }.keys.sorted())")
            let on = (0..<3).map { i in Set(first.filter { $0.value == "isp\(i)" }.keys) }
            // 50 sources, p = 1/3: at least 5 on each is beyond 3.5σ.
            #expect(on.allSatisfy { $0.count >= 5 }, "isp0 \(on[0].count), isp1 \(on[1].count), isp2 \(on[2].count)")
            for n in 1...4 {
                let again = try round(n)
                let changed = Self.lan.filter { again[$0] != first[$0] }
                #expect(changed.isEmpty, "round \(n): sources changed uplink: \(changed.map { "\($0) \(first[$0]! ?? "-") -> \(again[$0]! ?? "-")" })")
            }

            // eth1 dies: the sources of eth0 and eth2 stay where they are; only eth1's move, to both.
            var mark = daemon.lines.count
            try lab.blackhole(1)
            guard await daemon.expectLog("wan_down: eth1", from: mark, seconds: 20) != nil else { return }
            let afterDown = try round(0)
            for i in [0, 2] {
                #expect(on[i].allSatisfy { afterDown[$0] == "isp\(i)" }, "sources on eth\(i) moved: \(on[i].filter { afterDown[$0] != "isp\(i)" }.sorted())")
            }
            let movedTo = on[1].map { afterDown[$0] ?? nil }
            #expect(movedTo.allSatisfy { $0 == "isp0" || $0 == "isp2" }, "sources of dead eth1: \(movedTo)")

            // eth1 returns: every source is remembered on a member that stayed up, so nobody moves.
            mark = daemon.lines.count
            try lab.repair(1)
            guard await daemon.expectLog("wan_up: eth1", from: mark, seconds: 20) != nil else { return }
            let afterUp = try round(1)
            let movedBack = Self.lan.filter { afterUp[$0] != afterDown[$0] }
            #expect(movedBack.isEmpty, "sources changed uplink while theirs was up: \(movedBack)")
        }
    }

    // MARK: 7. Policy routes

    @Test func eachSpecPolicyRouteAndItsFallback() async throws {
        guard LabDaemon.check() else { return }
        // The default group prefers eth2, so every policy route's choice is visible.
        try await withLab(wans: 3) { lab in
            let config = LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab, order: [2, 0, 1]) + """
                ipset "streaming_services" {
                  entries = ["198.51.100.0/24"]
                }

                policy_route "work-vpn" {
                  match {
                    protocol  = "udp"
                    dest_port = ["1194"]
                  }
                  uplink = "eth0"
                }

                policy_route "streaming" {
                  match {
                    destination = ["@streaming_services"]
                  }
                  uplink = "eth1"
                }

                policy_route "gaming" {
                  match {
                    source   = ["192.168.1.50"]
                    protocol = "udp"
                  }
                  uplink = "eth0"
                }

                policy_route "only-eth1" {
                  match {
                    protocol  = "tcp"
                    dest_port = 7002
                  }
                  uplink   = "eth1"
                  fallback = false
                }
                """
            let daemon = try LabDaemon(lab: lab, config: config)
            guard await daemon.waitReady() else { return }
            let gamer = "192.168.1.50", other = Self.lan[0], server = LabTopology.server, streaming = LabTopology.otherServer
            let cases: [(LabTopology.Flow, up: String?, down: String?)] = [
                (.udp(other, server, 1194), "isp0", "isp2"),        // work-vpn
                (.udp(gamer, server, 1194), "isp0", "isp2"),        // work-vpn (first match)
                (.tcp(other, streaming, 7), "isp1", "isp2"),        // streaming
                (.udp(other, streaming, 5000), "isp1", "isp2"),     // streaming
                (.udp(gamer, streaming, 5000), "isp1", "isp2"),     // streaming before gaming
                (.udp(gamer, server, 5000), "isp0", "isp2"),        // gaming
                (.tcp(gamer, server, 7), "isp2", "isp2"),           // gaming is UDP only: default group
                (.udp(other, server, 5000), "isp2", "isp2"),        // no policy
                (.tcp(other, server, 443), "isp2", "isp2"),         // no policy
                (.tcp(other, server, 7002), "isp1", nil),           // only-eth1: no fallback
            ]
            @discardableResult
            func check(_ phase: String, _ expected: (LabTopology.Flow, String?, String?) -> String?) throws -> [LabTopology.Outcome] {
                let outcomes = try lab.connect(cases.map(\.0), timeout: 1.5)
                for (c, o) in zip(cases, outcomes) {
                    #expect(o.isp == expected(c.0, c.up, c.down), "\(phase): \(c.0) answered by \(o)")
                }
                return outcomes
            }
            try check("all up") { _, up, _ in up }
            // only-eth1's SYNs, counted at each ISP before a black hole drops them.
            for isp in lab.isps { try lab.countPackets(at: isp.index, "only_eth1", matching: "tcp dport 7002") }

            var mark = daemon.lines.count
            try lab.blackhole(0)
            try lab.blackhole(1)
            await daemon.expectLog("wan_down: eth0", from: mark, seconds: 20)
            await daemon.expectLog("wan_down: eth1", from: mark, seconds: 20)
            let before = try lab.isps.map { try lab.packets(at: $0.index, counter: "only_eth1") }
            let down = try check("eth0 and eth1 down") { _, _, down in down }
            // fallback = false: "no answer" must not be the dead uplink swallowing it. Nothing of it
            // left the router, through the dead eth1 or any other uplink, and the LAN client was
            // refused at once (the route is `unreachable`), not left to time out.
            let after = try lab.isps.map { try lab.packets(at: $0.index, counter: "only_eth1") }
            #expect(after == before, "only-eth1 packets reached ISPs while eth1 was down: before \(before), after \(after)")
            let refused = down[cases.firstIndex { $0.0.port == 7002 }!]
            #expect(refused.error?.contains("EHOSTUNREACH") == true, "only-eth1 while eth1 is down: \(refused)")

            mark = daemon.lines.count
            try lab.repair(0)
            try lab.repair(1)
            await daemon.expectLog("wan_up: eth0", from: mark, seconds: 20)
            await daemon.expectLog("wan_up: eth1", from: mark, seconds: 20)
            try check("repaired") { _, up, _ in up }
        }
    }

    // MARK: 8. SIGHUP

    @Test func sighupWithABrokenConfigChangesNothingAndAGoodOneApplies() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let good = LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab)
            let daemon = try LabDaemon(lab: lab, config: good)
            guard await daemon.waitReady() else { return }
            let kernel = LabKernel(lab: lab)
            let before = try kernel.snapshot()

            var mark = daemon.lines.count
            try daemon.writeConfig(good + """

                uplink_group "broken" {
                  mode = "failover"
                  member "eth9" { priority = 1 }
                }
                """)
            daemon.signal(SIGHUP)
            let error = await daemon.waitForLog(matching: /flywall\.hcl:\d+:\d+: error:/, from: mark, seconds: 10)
            #expect(error?.contains("eth9") == true, "no positioned error naming eth9 after SIGHUP; \(daemon.tail)")
            try await Task.sleep(for: .milliseconds(500))
            #expect(daemon.process.exitStatus == nil, "the daemon exited on a broken reload; \(daemon.tail)")
            let after = try kernel.snapshot()
            #expect(after == before, "a rejected reload changed the kernel:\nbefore \(before)\nafter \(after)")
            #expect(try lab.isp(for: .tcp(Self.lan[0])) == "isp0")

            // A valid reload that prefers eth1 does apply.
            mark = daemon.lines.count
            try daemon.writeConfig(LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab, order: [1, 0]))
            daemon.signal(SIGHUP)
            await daemon.expectLog("configuration reloaded", from: mark, seconds: 10)
            #expect(await eventually(seconds: 10) { try lab.isp(for: .tcp(Self.lan[1]), timeout: 1) == "isp1" }, "\(daemon.tail)")
        }
    }

    // MARK: 9. Crash and restart

    @Test func killNineThenRestartLeavesOneCleanRuleset() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 3) { lab in
            let three = LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab)
            let daemon = try LabDaemon(lab: lab, config: three)
            guard await daemon.waitReady() else { return }
            let kernel = LabKernel(lab: lab)
            let first = try kernel.snapshot()
            #expect(first.table != nil)

            daemon.kill9()
            #expect(try kernel.snapshot() == first, "SIGKILL cannot clean up: the state should still be there")
            try daemon.start()
            guard await daemon.waitReady() else { return }
            let second = try kernel.snapshot()
            #expect(try kernel.nftTables().filter { $0.contains("flywall") } == ["table inet flywall"])
            #expect(Set(second.rules).count == second.rules.count, "duplicate ip rules: \(second.rules)")
            #expect(second == first, "a restart on the same config should rebuild the same state:\nfirst \(first)\nsecond \(second)")
            #expect(try lab.isp(for: .tcp(Self.lan[0])) == "isp0")

            // Crash again and restart without eth2: nothing of eth2 may remain.
            daemon.kill9()
            try daemon.writeConfig(LabConfig.interfaces(lab, count: 2) + LabConfig.failoverGroup(lab, count: 2))
            try daemon.start()
            guard await daemon.waitReady() else { return }
            let third = try kernel.snapshot()
            #expect(Set(third.rules).count == third.rules.count, "duplicate ip rules: \(third.rules)")
            #expect(!third.rules.contains { $0.contains("0x3000000/0xff000000") || $0.contains("lookup 10002") },
                    "eth2's pin rule survived: \(third.rules)")
            #expect(!third.routes.contains { $0.contains("eth2") || $0.contains("table 10002") }, "eth2's routes survived: \(third.routes)")
            #expect(third.table?.contains("eth2") == false, "eth2 is still in the ruleset")
            #expect(try kernel.nftTables().filter { $0.contains("flywall") } == ["table inet flywall"])
            #expect(try lab.isp(for: .tcp(Self.lan[1])) == "isp0")
        }
    }

    // MARK: 10. SIGTERM

    @Test func sigtermLeavesNothingBehind() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let kernel = LabKernel(lab: lab)
            let rulesBefore = try kernel.rules(), rules6Before = try kernel.rules(v6: true)
            let mainBefore = try kernel.routes(table: 254)
            let config = LabConfig.interfaces(lab) + """
                uplink_group "default" {
                  mode           = "balance"
                  sticky         = true
                  sticky_timeout = "1h"
                  member "eth0" { weight = 2 }
                  member "eth1" { weight = 1 }
                }

                ipset "streaming_services" {
                  entries = ["198.51.100.0/24", "2001:db8:100::/48"]
                }

                policy_route "streaming" {
                  match {
                    destination = ["@streaming_services"]
                  }
                  uplink = "eth1"
                }
                """
            let daemon = try LabDaemon(lab: lab, config: config)
            guard await daemon.waitReady() else { return }
            _ = try lab.connect(Self.lan.map { .tcp($0) })  // fills the sticky sets and conntrack
            #expect(try !kernel.ownedRules().isEmpty)

            let status = daemon.terminate()
            #expect(status == 0, "exit status after SIGTERM: \(status.map(String.init) ?? "still running"); \(daemon.tail)")
            #expect(kernel.flywallTable() == nil, "table inet flywall is still there")
            #expect(try kernel.nftTables().filter { $0.contains("flywall") }.isEmpty)
            #expect(try kernel.rules() == rulesBefore, "ip rules differ from before the daemon")
            #expect(try kernel.rules(v6: true) == rules6Before, "ip -6 rules differ from before the daemon")
            let left = try kernel.ownedRoutes(), left6 = try kernel.ownedRoutes(v6: true)
            #expect(left.isEmpty, "routes left in Flywall's tables: \(left)")
            #expect(left6.isEmpty, "IPv6 routes left in Flywall's tables: \(left6)")
            #expect(try kernel.routes(table: 254) == mainBefore, "the main table is not Flywall's to change")
        }
    }

    // MARK: 11. DHCP

    @Test func dhcpWANFollowsTheAddressAndGatewayOfARealDHCPClient() async throws {
        guard LabDaemon.check(), Self.dhcpToolsPresent() else { return }
        // eth0 has no address and the main table no default route until the DHCP client runs.
        try await withLab(wans: 2, staticWANs: [1], mainDefault: nil) { lab in
            let isp0 = lab.isps[0]
            // The daemon starts first, as on a router that boots while DHCP is still running.
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab, [.init(priority: 1, dhcp: true), .init(priority: 2)])
                                       + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let dhcp = try Self.startDHCP(lab)
            let dnsmasq = dhcp.server, client = dhcp.client

            let leased = await eventually(seconds: 20) {
                try lab.ip(lab.router, "-4 addr show dev eth0").contains("inet 100.64.0.")
            }
            #expect(leased, "no DHCP address on eth0: \(Result { try lab.ip(lab.router, "-4 addr show dev eth0") })\nudhcpc: \(client.text)\ndnsmasq: \(dnsmasq.lines.filter { $0.contains("DHCP") }.suffix(6).joined(separator: "\n"))\n\(daemon.tail)")
            guard leased else { return }
            let address = try #require(try lab.ip(lab.router, "-4 addr show dev eth0").firstMatch(of: /inet (100\.64\.0\.\d+)\//).map { String($0.1) })
            #expect(try lab.ip(lab.router, "route show default").contains("default via 100.64.0.1 dev eth0"))

            // The daemon learns the gateway: eth0's pin table and the slot tables route via it.
            let kernel = LabKernel(lab: lab)
            let learned = await eventually(seconds: 15) { try kernel.routes(table: 10000) == ["default via 100.64.0.1 dev eth0"] }
            #expect(learned, "table 10000: \((try? kernel.routes(table: 10000)) ?? []); \(daemon.tail)")
            let carried = await eventually(seconds: 15) { try lab.isp(for: .tcp(Self.lan[0]), timeout: 1) == "isp0" }
            let outcome = try lab.connect([.tcp(Self.lan[1])]).first
            #expect(carried && outcome?.isp == "isp0", "LAN traffic does not leave on the DHCP WAN: \(String(describing: outcome)); \(daemon.tail)")
            #expect(outcome?.seenFrom?.hasPrefix(address + ":") == true, "masqueraded to the leased address \(address): \(String(describing: outcome))")
            // Probes leave from the leased address, and the WAN stays up.
            try lab.watchEchoRequests()
            let probed = await eventually(seconds: 10) {
                try lab.echoRequests(at: 0).contains { $0.source == address && isp0.targets.contains($0.destination) }
            }
            #expect(probed, "no probes from \(address) at isp0: \((try? lab.echoRequests(at: 0)) ?? [])")
        }
    }

    /// dnsmasq as isp0's DHCP server and udhcpc on the router's eth0 (the lab's own, `LabTopology.startDHCP`).
    static func startDHCP(_ lab: LabTopology) throws -> (server: LabProcess, client: LabProcess) {
        try lab.startDHCP(0, range: ("100.64.0.50", "100.64.0.99"))
    }

    static func dhcpToolsPresent(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        for tool in ["dnsmasq", "udhcpc"] where !LabShell.has(tool) {
            Issue.record("the DHCP tests need `\(tool)` (scripts/install-deps.sh installs it)", sourceLocation: sourceLocation)
            return false
        }
        return true
    }
}
