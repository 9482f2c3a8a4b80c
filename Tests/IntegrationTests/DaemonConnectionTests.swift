import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What happens to connections across a crash and over time: established connections outlive a
/// kill -9 and the restart while a WAN is down, and sticky memory expires in the kernel.
@Suite("flywall daemon: connections in network namespaces", .serialized, .timeLimit(.minutes(2)))
struct DaemonConnectionTests {
    static let lan = LabTopology.clients

    /// eth0 is black-holed, a connection lives on eth1, the daemon is killed and started again while
    /// eth0 is still dead. The connection works throughout (also in the first seconds after the
    /// restart, while the new daemon has not yet seen eth0 fail), nothing of it is flushed, the new
    /// daemon finds eth0 down again and new connections end on eth1.
    @Test func killNineAndRestartWhileAWANIsDownKeepsEstablishedConnections() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            // Creation times on conntrack entries, to tell the held connection's entry from a new one.
            try lab.exec(lab.router, ["sysctl", "-qw", "net.netfilter.nf_conntrack_timestamp=1"])
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let kernel = LabKernel(lab: lab)
            let mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 15) != nil else { return }
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[1]), timeout: 1) == "isp1" }, "\(daemon.tail)")
            let held = try lab.hold(.tcp(Self.lan[0]))
            #expect(await held.waitForLine(seconds: 5) { $0.hasPrefix("isp1 ") } != nil, "\(held.text)")
            let snapshot = try kernel.snapshot()
            func heldEntry() throws -> LabKernel.Connection? {
                try kernel.lanConnections().first { $0.source == Self.lan[0] && $0.destinationPort == 7 && $0.proto == "tcp" }
            }
            let entry = try #require(try heldEntry(), "no conntrack entry for the held connection")
            #expect(entry.pin == 2 && entry.started != nil, "\(entry)")
            // A re-created entry would start at least a second later, whatever the clock's second.
            try await Task.sleep(for: .seconds(1.1))

            func talk(_ text: String) async -> Bool {
                let before = held.lines.count
                held.send(text)
                return await held.waitForLine(from: before, seconds: 5) { $0 == "isp1 \(text)" } != nil
            }
            daemon.kill9()
            #expect(await talk("daemon dead"), "\(held.text)")
            try daemon.start()
            guard await daemon.waitReady() else { return }
            #expect(await talk("daemon restarted"), "the established connection broke on restart: \(held.text)")
            await daemon.expectLog("wan_down: eth0", from: 0, seconds: 15)
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[2]), timeout: 1) == "isp1" }, "\(daemon.tail)")
            #expect(await talk("after detection"), "\(held.text)")
            #expect(!daemon.lines.contains { $0.contains("eth1: flushed") }, "the restart flushed eth1's connections; \(daemon.tail)")
            // The same conntrack entry, not one re-created after a flush (TCP's retransmissions and the
            // masquerade's kept port can make a re-created one carry the stream on).
            let after = try heldEntry()
            #expect(after?.started == entry.started && after?.pin == 2, "before the crash \(entry), after the restart \(after.map(\.description) ?? "none")")
            let state = try kernel.snapshot()
            #expect(state.table == snapshot.table && state.rules == snapshot.rules, "the restart left another ruleset or other rules")
            #expect(try kernel.nftTables().filter { $0.contains("flywall") } == ["table inet flywall"])
        }
    }

    /// A source remembered on the backup while the primary was down is forgotten by the kernel
    /// after `sticky_timeout` of idleness: its set element expires and the hash decides again.
    @Test func stickyEntriesExpireInTheKernelAfterStickyTimeout() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let config = LabConfig.interfaces(lab) + """
                uplink_group "default" {
                  mode           = "balance"
                  sticky         = true
                  sticky_timeout = "4s"
                  member "eth0" { weight = 1 }
                  member "eth1" { weight = 1 }
                }
                """
            let daemon = try LabDaemon(lab: lab, config: config)
            guard await daemon.waitReady() else { return }
            let kernel = LabKernel(lab: lab)
            func route(_ sources: [String]) throws -> [String?] { try lab.connect(sources.map { .tcp($0) }, timeout: 1).map(\.isp) }
            /// The sources among `sources` that a sticky set of the ruleset holds.
            func remembered(_ sources: [String]) -> [String] {
                let table = kernel.flywallTable() ?? ""
                return sources.filter { table.contains(try! Regex("\\b" + $0.replacing(".", with: "\\.") + "(?![0-9])")) }
            }
            let first = try route(Self.lan)
            let hashedToEth0 = zip(Self.lan, first).filter { $0.1 == "isp0" }.map(\.0)
            #expect(hashedToEth0.count >= 10, "\(first)")

            // eth0 dies: its sources move to eth1 and are remembered there.
            var mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("wan_down: eth0", from: mark, seconds: 15) != nil else { return }
            #expect(try route(hashedToEth0).allSatisfy { $0 == "isp1" })
            // eth0 returns; they keep using eth1 (kept fresh every second meanwhile, well inside 4 s).
            mark = daemon.lines.count
            try lab.repair(0)
            let up = await eventually(seconds: 15, every: 1) {
                _ = try route(hashedToEth0)
                return daemon.lines[mark...].contains { $0.contains("wan_up: eth0") }
            }
            #expect(up, "\(daemon.tail)")
            let stayed = try route(hashedToEth0)
            #expect(stayed.allSatisfy { $0 == "isp1" }, "remembered sources left eth1 while it was up: \(stayed)")
            #expect(remembered(hashedToEth0) == hashedToEth0, "not in the sticky sets: \(kernel.flywallTable() ?? "no table")")

            // Idle for longer than sticky_timeout: the kernel forgot them and the hash (eth0) decides.
            try await Task.sleep(for: .seconds(5.5))
            #expect(remembered(hashedToEth0).isEmpty, "still remembered after 5.5 s idle: \(remembered(hashedToEth0))")
            let later = try route(hashedToEth0)
            #expect(later.allSatisfy { $0 == "isp0" }, "after the sticky timeout: \(later)")
        }
    }
}
