import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Beyond the issue's list: the last-resort behaviour, privileges, the other health check types,
/// reloads that change the WANs, the router's own traffic, and interfaces that the system takes
/// away and gives back (unplugged devices, ifdown/ifup, DHCP leases).
extension DaemonTests {
    // MARK: 12. All uplinks down

    @Test func allUplinksDownKeepsTheLastActiveOrRefusesAndRecoversWithAFailback() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let kernel = LabKernel(lab: lab)
            func slotIDs() throws -> [Int] {
                try kernel.ownedRules().filter { $0.hasPrefix("10300:") }.compactMap { line in
                    line.firstMatch(of: /lookup (\d+)/).flatMap { Int($0.1) }
                }
            }
            // all_down = "last_active" (the default): new connections keep going to eth1.
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            var mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20) != nil else { return }
            mark = daemon.lines.count
            try lab.blackhole(1)
            guard await daemon.expectLog("all_down: group default", from: mark, seconds: 20) != nil else { return }
            let slots = try slotIDs()
            #expect(!slots.isEmpty)
            let kept = try kernel.tables(slots, notRouting: ["default via 100.64.1.1 dev eth1"])
            #expect(kept.isEmpty, "last_active: slot tables should still route via eth1: \(kept.sorted { $0.key < $1.key })")
            // eth0 comes back: the group leaves all_down with a failback naming it.
            mark = daemon.lines.count
            try lab.repair(0)
            await daemon.expectLog("failback: group default:", from: mark, seconds: 20)
            #expect(daemon.lines[mark...].contains { $0.contains("failback: group default:") && $0.contains("-> eth0") }, "\(daemon.tail)")
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[0]), timeout: 1) == "isp0" }, "\(daemon.tail)")
            #expect(daemon.terminate() == 0)
            try lab.repair(1)

            // all_down = "unreachable": new connections are refused at once, not left to time out.
            let refusing = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + """
                uplink_group "default" {
                  mode     = "failover"
                  all_down = "unreachable"
                  member "eth0" { priority = 1 }
                  member "eth1" { priority = 2 }
                }
                """)
            guard await refusing.waitReady() else { return }
            mark = refusing.lines.count
            try lab.blackhole(0)
            try lab.blackhole(1)
            guard await refusing.expectLog("all_down: group default", from: mark, seconds: 20) != nil else { return }
            let unreachable = await eventually(seconds: 5) {
                try kernel.tables(try slotIDs(), notRouting: ["unreachable default"]).isEmpty
            }
            #expect(unreachable, "slot tables: \((try? kernel.tables(try slotIDs(), notRouting: ["unreachable default"]).sorted { $0.key < $1.key }) ?? [])")
            // Refused by the router (ICMP host unreachable from the unreachable route), not dropped:
            // a dropped SYN would end in "timeout" after the client's 10 s.
            let outcome = try lab.connect([.tcp(Self.lan[1])], timeout: 10).first
            #expect(outcome?.isp == nil && outcome?.error?.contains("EHOSTUNREACH") == true,
                    "expected the connection refused with EHOSTUNREACH, got \(String(describing: outcome))")
        }
    }

    // MARK: 13. Privileges

    @Test func withoutPrivilegesTheDaemonSaysWhatItLacksAndExits() async throws {
        guard LabDaemon.check() else { return }
        guard LabShell.has("setpriv") else {
            Issue.record("this test needs `setpriv` (util-linux)")
            return
        }
        let config = LabShell.scratch.appendingPathComponent("unprivileged.hcl")
        try """
            interface "eth0" {
              zone = "WAN"
              dhcp = true
              wan { priority = 1 }
            }
            """.write(to: config, atomically: true, encoding: .utf8)
        // A copy of the binary that nobody can reach, wherever the checkout lives (/root is 0700).
        let binary = LabShell.scratch.appendingPathComponent("flywall-unprivileged")
        try? FileManager.default.removeItem(at: binary)
        try FileManager.default.copyItem(at: LabDaemon.binary, to: binary)
        chmod(LabShell.scratch.path, 0o755)
        chmod(config.path, 0o644)
        chmod(binary.path, 0o755)
        defer {
            try? FileManager.default.removeItem(at: config)
            try? FileManager.default.removeItem(at: binary)
        }
        // nobody, with no capabilities at all.
        let r = try LabShell.runStatus(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                        "--bounding-set=-all", binary.path, "daemon", "--config", config.path],
                                       timeout: 20)
        #expect(r.status == 1, "exit status \(r.status): \(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("CAP_NET_ADMIN") && r.stderr.contains("CAP_NET_RAW"), "\(r.stderr)")
    }

    // MARK: 14. failback_moves_connections

    @Test func failbackMovesConnectionsWhenTheGroupAsks() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + """
                uplink_group "default" {
                  mode                       = "failover"
                  failback_moves_connections = true
                  member "eth0" { priority = 1 }
                  member "eth1" { priority = 2 }
                }
                """)
            guard await daemon.waitReady() else { return }
            var mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20) != nil else { return }
            let onBackup = try lab.hold(.tcp(Self.lan[0]))
            #expect(await onBackup.waitForLine(seconds: 5) { $0.hasPrefix("isp1 ") } != nil, "\(onBackup.text)")
            let kernel = LabKernel(lab: lab)
            #expect(try kernel.lanConnections().contains { $0.source == Self.lan[0] && $0.pin == 2 })

            mark = daemon.lines.count
            try lab.repair(0)
            guard await daemon.expectLog("failback: group default: eth1 -> eth0", from: mark, seconds: 20) != nil else { return }
            let moved = await eventually(seconds: 5) { try !kernel.lanConnections().contains { $0.pin == 2 } }
            #expect(moved, "connections still pinned to eth1 after failback: \((try? kernel.lanConnections().filter { $0.pin == 2 }) ?? [])")
            #expect(try lab.isp(for: .tcp(Self.lan[1])) == "isp0")
        }
    }

    // MARK: 15. HTTP health check

    @Test func httpCheckLeavesOnItsUplinkAndAWrongStatusTakesTheWANDown() async throws {
        guard LabDaemon.check() else { return }
        // Main default route via eth1: the check must still leave on eth0.
        try await withLab(wans: 2, mainDefault: 1) { lab in
            let http = ["type            = \"http\"", "url             = \"http://198.18.0.1/generate_204\"",
                        "expected_status = 204"] + LabConfig.timing
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab, [.init(priority: 1, check: http), .init(priority: 2)])
                                       + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let server = lab.echoServers[0]
            let requests = await server.waitForLine(seconds: 10) { $0.hasPrefix("http ") }
            #expect(requests == "http 100.64.0.2 /generate_204 204", "isp0's HTTP server saw: \(server.lines.filter { $0.hasPrefix("http") })")
            #expect(!lab.echoServers[1].lines.contains { $0.hasPrefix("http ") }, "eth0's HTTP check reached isp1")

            var mark = daemon.lines.count
            try lab.setHTTPStatus(0, 503)
            let down = await daemon.expectLog("wan_down: eth0", from: mark, seconds: 20)
            #expect(down?.contains("503") == true, "the reason should name the status: \(down ?? "none")")
            await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 10)
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[0]), timeout: 1) == "isp1" }, "\(daemon.tail)")

            mark = daemon.lines.count
            try lab.setHTTPStatus(0, nil)
            await daemon.expectLog("wan_up: eth0", from: mark, seconds: 20)
            await daemon.expectLog("failback: group default: eth1 -> eth0", from: mark, seconds: 10)
        }
    }

    // MARK: 16. Passive health check

    @Test func passiveCheckSeesUnansweredConnectionsAndFailsOver() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            // Its targets are what it probes while down (the recovery path): the ISP's own.
            let targets = lab.isps[0].targets.map { "\"\($0)\"" }.joined(separator: ", ")
            let passive = ["type = \"passive\"", "targets = [\(targets)]"] + LabConfig.timing
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab, [.init(priority: 1, check: passive), .init(priority: 2)])
                                       + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            // Real traffic is what a passive check judges: a client connecting five times a second.
            let client = try lab.churn(.tcp(Self.lan[0]))
            #expect(await client.waitForLine(seconds: 5) { $0.hasPrefix("isp0 ") } != nil, "\(client.text)")
            try await Task.sleep(for: .seconds(2))
            #expect(!daemon.lines.contains { $0.contains("wan_down: eth0") }, "answered connections took eth0 down; \(daemon.tail)")

            let mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("wan_down: eth0", from: mark, seconds: 20) != nil else { return }
            await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 10)
            let from = client.lines.count
            #expect(await client.waitForLine(from: from, seconds: 10) { $0.hasPrefix("isp1 ") } != nil,
                    "the client's new connections did not move to isp1: \(client.lines.suffix(10))")

            // Down, eth0 carries no connections; its recovery probes (every 1 s, threshold_up 2)
            // bring it back once the ISP is repaired, and the client's connections with it.
            let repaired = daemon.lines.count
            try lab.repair(0)
            guard await daemon.expectLog("wan_up: eth0", from: repaired, seconds: 15) != nil else { return }
            #expect(daemon.lines[repaired...].contains { $0.contains("recovery probes") }, "\(daemon.tail)")
            await daemon.expectLog("failback: group default: eth1 -> eth0", from: repaired, seconds: 10)
            let back = client.lines.count
            #expect(await client.waitForLine(from: back, seconds: 10) { $0.hasPrefix("isp0 ") } != nil,
                    "the client's new connections did not return to isp0: \(client.lines.suffix(10))")
        }
    }

    // MARK: 17. Reload with another set of WANs

    @Test func reloadAddsAndRemovesAWAN() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 3) { lab in
            let kernel = LabKernel(lab: lab)
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab, count: 2) + LabConfig.failoverGroup(lab, count: 2))
            guard await daemon.waitReady() else { return }
            #expect(try !kernel.ownedRules().contains { $0.contains("0x3000000/0xff000000") })

            // eth2 joins, preferred.
            try lab.watchEchoRequests()
            var mark = daemon.lines.count
            try daemon.writeConfig(LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab, order: [2, 0, 1]))
            daemon.signal(SIGHUP)
            guard await daemon.expectLog("configuration reloaded", from: mark, seconds: 10) != nil else { return }
            // The core logs the reload before the loop executes the new plan: wait for the rebuild.
            await daemon.expectLog("dataplane rebuilt", from: mark, seconds: 10)
            let rules = try kernel.ownedRules()
            #expect(rules.contains { $0.contains("fwmark 0x3000000/0xff000000 lookup 10002") }, "\(rules)")
            #expect(try kernel.routes(table: 10002) == ["default via 100.64.2.1 dev eth2"])
            #expect(await eventually(seconds: 10) { try lab.isp(for: .tcp(Self.lan[0]), timeout: 1) == "isp2" }, "\(daemon.tail)")
            let probed = await eventually(seconds: 10) {
                try lab.echoRequests(at: 2).contains { $0.source == lab.isps[2].address && lab.isps[2].targets.contains($0.destination) }
            }
            #expect(probed, "no probes of eth2 at isp2: \((try? lab.echoRequests(at: 2)) ?? [])")
            // A fault on the new WAN is noticed like on the others.
            mark = daemon.lines.count
            try lab.blackhole(2)
            await daemon.expectLog("failover: group default: eth2 -> eth0", from: mark, seconds: 20)
            try lab.repair(2)

            // eth2 leaves: nothing of it stays.
            mark = daemon.lines.count
            try daemon.writeConfig(LabConfig.interfaces(lab, count: 2) + LabConfig.failoverGroup(lab, order: [1, 0]))
            daemon.signal(SIGHUP)
            guard await daemon.expectLog("configuration reloaded", from: mark, seconds: 10) != nil else { return }
            let snapshot = try kernel.snapshot()
            #expect(!snapshot.rules.contains { $0.contains("0x3000000/0xff000000") || $0.contains("lookup 10002") }, "\(snapshot.rules)")
            #expect(!snapshot.routes.contains { $0.contains("eth2") }, "\(snapshot.routes)")
            #expect(snapshot.table?.contains("eth2") == false, "eth2 is still in the ruleset")
            #expect(await eventually(seconds: 10) { try lab.isp(for: .tcp(Self.lan[1]), timeout: 1) == "isp1" }, "\(daemon.tail)")
            #expect(Set(snapshot.rules).count == snapshot.rules.count, "duplicate ip rules: \(snapshot.rules)")
        }
    }

    // MARK: 18. Router-local traffic

    @Test func theRoutersOwnConnectionsFollowThePlanNotTheMainTable() async throws {
        guard LabDaemon.check() else { return }
        // The main table says eth1; the plan says eth0.
        try await withLab(wans: 2, mainDefault: 1) { lab in
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let local = LabTopology.Flow.tcp("0.0.0.0")
            var outcome = try lab.connect([local], from: lab.router).first
            #expect(outcome?.isp == "isp0" && outcome?.seenFrom?.hasPrefix("100.64.0.2:") == true,
                    "the router's own connection: \(String(describing: outcome))")
            let mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20) != nil else { return }
            let moved = await eventually(seconds: 5) { try lab.connect([local], timeout: 1, from: lab.router).first?.isp == "isp1" }
            outcome = try lab.connect([local], from: lab.router).first
            #expect(moved && outcome?.seenFrom?.hasPrefix("100.64.1.2:") == true, "after failover: \(String(describing: outcome))")
        }
    }

    // MARK: 19. Device unplugged and plugged back

    @Test func anUplinkDeviceThatDisappearsAndReturnsIsUsedAgain() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let kernel = LabKernel(lab: lab)
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }

            var mark = daemon.lines.count
            try lab.unplug(1)
            guard await daemon.expectLog("wan_down: eth1", from: mark, seconds: 20) != nil else { return }
            try await Task.sleep(for: .seconds(1))
            #expect(daemon.process.exitStatus == nil, "the daemon exited when eth1 went away; \(daemon.tail)")

            mark = daemon.lines.count
            try lab.plugIn(1)
            guard await daemon.expectLog("wan_up: eth1", from: mark, seconds: 20) != nil else { return }
            let restored = await eventually(seconds: 10) { try kernel.routes(table: 10001) == ["default via 100.64.1.1 dev eth1"] }
            #expect(restored, "eth1's pin table after it returned: \((try? kernel.routes(table: 10001)) ?? [])")

            // It carries traffic again when it must.
            mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20) != nil else { return }
            let moved = await eventually(seconds: 10) { try lab.isp(for: .tcp(Self.lan[0]), timeout: 1) == "isp1" }
            #expect(moved, "new connections do not reach isp1 through the new eth1; slot routes: \((try? kernel.routes(table: 20000)) ?? []); \(daemon.tail)")
        }
    }

    // MARK: 20. Interface taken down and up on the router

    @Test func aWANTakenDownAndUpOnTheRouterGetsItsRoutesBack() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let kernel = LabKernel(lab: lab)
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            #expect(try kernel.routes(table: 10001) == ["default via 100.64.1.1 dev eth1"])

            var mark = daemon.lines.count
            try lab.bounceRouterSide(1)
            await daemon.expectLog("wan_down: eth1", from: mark, seconds: 20)
            await daemon.expectLog("wan_up: eth1", from: mark, seconds: 20)
            let restored = await eventually(seconds: 10) { try kernel.routes(table: 10001) == ["default via 100.64.1.1 dev eth1"] }
            #expect(restored, "eth1's pin table after ifdown/ifup: \((try? kernel.routes(table: 10001)) ?? [])")

            mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20) != nil else { return }
            let moved = await eventually(seconds: 10) { try lab.isp(for: .tcp(Self.lan[0]), timeout: 1) == "isp1" }
            #expect(moved, "new connections do not reach isp1 after eth1 was bounced; table 20000: \((try? kernel.routes(table: 20000)) ?? []); \(daemon.tail)")
        }
    }

    // MARK: 21. DHCP lease lost and regained

    @Test func dhcpLeaseReleasedAndRegainedIsUsedAgain() async throws {
        guard LabDaemon.check(), Self.dhcpToolsPresent() else { return }
        try await withLab(wans: 2, staticWANs: [1], mainDefault: nil) { lab in
            let kernel = LabKernel(lab: lab)
            let client = try Self.startDHCP(lab).client
            let leased = await eventually(seconds: 20) { try lab.ip(lab.router, "-4 addr show dev eth0").contains("inet 100.64.0.") }
            #expect(leased, "no DHCP address on eth0: \(client.text)")
            guard leased else { return }
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab, [.init(priority: 1, dhcp: true), .init(priority: 2)])
                                       + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let learned = await eventually(seconds: 10) { try kernel.routes(table: 10000) == ["default via 100.64.0.1 dev eth0"] }
            #expect(learned, "table 10000: \((try? kernel.routes(table: 10000)) ?? [])")
            let carried = await eventually(seconds: 10) { try lab.isp(for: .tcp(Self.lan[0]), timeout: 1) == "isp0" }
            #expect(carried, "\(daemon.tail)")

            // The lease is released (the hook flushes the address; the kernel drops every route
            // through eth0 with it), then a new one is bound.
            var mark = daemon.lines.count
            client.signal(SIGUSR2)
            await daemon.expectLog("wan_down: eth0", from: mark, seconds: 20)
            let movedAway = await eventually(seconds: 10) { try lab.isp(for: .tcp(Self.lan[1]), timeout: 1) == "isp1" }
            #expect(movedAway, "\(daemon.tail)")
            mark = daemon.lines.count
            client.signal(SIGUSR1)
            let again = await eventually(seconds: 20) { try lab.ip(lab.router, "-4 addr show dev eth0").contains("inet 100.64.0.") }
            #expect(again, "no new lease: \(client.lines.suffix(5))")
            await daemon.expectLog("wan_up: eth0", from: mark, seconds: 20)
            let restored = await eventually(seconds: 10) { try kernel.routes(table: 10000) == ["default via 100.64.0.1 dev eth0"] }
            #expect(restored, "eth0's pin table after the new lease: \((try? kernel.routes(table: 10000)) ?? [])")
            let back = await eventually(seconds: 10) { try lab.isp(for: .tcp(Self.lan[2]), timeout: 1) == "isp0" }
            #expect(back, "LAN traffic does not return to the DHCP WAN; table 20000: \((try? kernel.routes(table: 20000)) ?? []); \(daemon.tail)")
        }
    }
}
