import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Health claims of the core, checked in the real daemon: k-of-N reliability, quality thresholds
/// that do not flush, carrier loss that does, and a reload that keeps what the daemon knows.
///
/// Checks run every second with a 500 ms timeout and 2 rounds down (LabConfig.timing), so a WAN
/// that should go down does within about 3 s; "stays up" is watched for 5 s, two full thresholds.
@Suite("flywall daemon: health in network namespaces", .serialized, .timeLimit(.minutes(2)))
struct DaemonHealthTests {
    static let lan = LabTopology.clients

    /// The check lines for ISP `isp`'s three targets with this reliability.
    static func threeTargets(_ isp: LabTopology.ISP, reliability: Int) -> [String] {
        let targets = (isp.targets + [isp.thirdTarget]).map { "\"\($0)\"" }.joined(separator: ", ")
        return ["targets        = [\(targets)]", "reliability    = \(reliability)"] + LabConfig.timing
    }

    /// Whether a log line of `wan_down` for `wan` appeared from line `from` on.
    static func wentDown(_ daemon: LabDaemon, _ wan: String, from: Int) -> Bool {
        daemon.lines[from...].contains { $0.contains("wan_down: \(wan)") }
    }

    @Test func reliabilityTwoOfThreeAndOneOfThree() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let wans = [LabConfig.WAN(priority: 1, check: Self.threeTargets(lab.isps[0], reliability: 2)),
                        LabConfig.WAN(priority: 2, check: Self.threeTargets(lab.isps[1], reliability: 1))]
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab, wans) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let t0 = lab.isps[0].targets + [lab.isps[0].thirdTarget], t1 = lab.isps[1].targets + [lab.isps[1].thirdTarget]

            // One dead target of three on eth0 (2 must answer) and two of three on eth1 (1 must): both stay up.
            var mark = daemon.lines.count
            try lab.silence(0, targets: [t0[0]])
            try lab.silence(1, targets: [t1[0], t1[1]])
            try await Task.sleep(for: .seconds(5))
            #expect(!Self.wentDown(daemon, "eth0", from: mark), "eth0 went down with 2 of 3 targets answering; \(daemon.tail)")
            #expect(!Self.wentDown(daemon, "eth1", from: mark), "eth1 went down with 1 of 3 targets answering; \(daemon.tail)")
            #expect(try lab.isp(for: .tcp(Self.lan[0])) == "isp0")

            // A second dead target on eth0: one answer is below 2, so it goes down and traffic moves.
            mark = daemon.lines.count
            try lab.silence(0, targets: [t0[0], t0[1]])
            guard await daemon.expectLog("wan_down: eth0", from: mark, seconds: 10) != nil else { return }
            await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 5)
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[1]), timeout: 1) == "isp1" }, "\(daemon.tail)")

            // The third target of eth1 dies too: now none answers and eth1 goes down.
            mark = daemon.lines.count
            try lab.silence(1, targets: t1)
            await daemon.expectLog("wan_down: eth1", from: mark, seconds: 10)
        }
    }

    /// `max_loss`: eth0 answers every round (one target of two is enough) but loses half its probes,
    /// so it is degraded: new connections leave it, its established ones stay and keep working.
    @Test func aDegradedWANIsAvoidedButNotFlushed() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let isp0 = lab.isps[0]
            let check = ["targets        = [\(isp0.targets.map { "\"\($0)\"" }.joined(separator: ", "))]",
                         "window         = 4", "max_loss       = 20"] + LabConfig.timing
            let wans = [LabConfig.WAN(priority: 1, check: check), LabConfig.WAN(priority: 2)]
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab, wans) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            let kernel = LabKernel(lab: lab)
            let held = try lab.hold(.tcp(Self.lan[0]))
            #expect(await held.waitForLine(seconds: 5) { $0.hasPrefix("isp0 ") } != nil, "\(held.text)")

            let mark = daemon.lines.count
            try lab.silence(0, targets: [isp0.targets[0]])
            let down = await daemon.expectLog("wan_down: eth0", from: mark, seconds: 15)
            #expect(down?.contains("max_loss") == true, "the reason should name max_loss: \(down ?? "none")")
            #expect(!daemon.lines[mark...].contains { $0.contains("consecutive failed") }, "eth0 failed rounds, it should only be degraded; \(daemon.tail)")
            await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 5)
            #expect(await eventually(seconds: 5) { try lab.isp(for: .tcp(Self.lan[1]), timeout: 1) == "isp1" }, "\(daemon.tail)")
            // A flush would come with the failover; give it a moment to show.
            try await Task.sleep(for: .seconds(1))
            #expect(!daemon.lines[mark...].contains { $0.contains("eth0: flushed") }, "a degraded WAN's connections were flushed; \(daemon.tail)")
            let tracked = try kernel.lanConnections()
            #expect(tracked.contains { $0.source == Self.lan[0] && $0.destinationPort == 7 && $0.pin == 1 }, "the connection on eth0 is gone: \(tracked)")
            let before = held.lines.count
            held.send("still on eth0")
            #expect(await held.waitForLine(from: before, seconds: 5) { $0 == "isp0 still on eth0" } != nil, "\(held.text)")
        }
    }

    /// Carrier loss marks the WAN down at once and flushes its connections (and only its own).
    /// eth0's probes are slow (3 rounds of 10 s), so only the carrier can take it down, and flush
    /// it, within the seconds this test waits.
    @Test func carrierLossFlushesThatWANsConnections() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let slow = ["targets        = [\(lab.isps[0].targets.map { "\"\($0)\"" }.joined(separator: ", "))]",
                        "interval       = \"10s\"", "timeout        = \"1s\"", "threshold_down = 3"]
            let wans = [LabConfig.WAN(priority: 1, check: slow), LabConfig.WAN(priority: 2)]
            let config = LabConfig.interfaces(lab, wans) + LabConfig.failoverGroup(lab) + LabConfig.holdOnBackup
            let daemon = try LabDaemon(lab: lab, config: config)
            guard await daemon.waitReady() else { return }
            let kernel = LabKernel(lab: lab)
            let onPrimary = try lab.hold(.tcp(Self.lan[0], LabTopology.server, 7))
            let onBackup = try lab.hold(.tcp(Self.lan[1], LabTopology.server, 7001))
            #expect(await onPrimary.waitForLine(seconds: 5) { $0.hasPrefix("isp0 ") } != nil, "\(onPrimary.text)")
            #expect(await onBackup.waitForLine(seconds: 5) { $0.hasPrefix("isp1 ") } != nil, "\(onBackup.text)")
            #expect(try kernel.lanConnections().contains { $0.source == Self.lan[0] && $0.pin == 1 })

            let mark = daemon.lines.count
            try lab.pullCable(0)
            let down = await daemon.expectLog("wan_down: eth0", from: mark, seconds: 10)
            #expect(down?.contains("carrier") == true, "\(down ?? "none")")
            let flushed = await daemon.expectLog("eth0: flushed", from: mark, seconds: 5)
            let count = flushed?.firstMatch(of: /flushed (\d+) tracked/).flatMap { Int($0.1) }
            #expect((count ?? 0) >= 1, "the flush should have removed the held connection: \(flushed ?? "none")")
            let tracked = try kernel.lanConnections()
            #expect(!tracked.contains { $0.pin == 1 }, "LAN connections still pinned to eth0: \(tracked.filter { $0.pin == 1 })")
            #expect(tracked.contains { $0.source == Self.lan[1] && $0.destinationPort == 7001 && $0.pin == 2 }, "eth1's connection was flushed too: \(tracked)")
            let before = onBackup.lines.count
            onBackup.send("still there")
            #expect(await onBackup.waitForLine(from: before, seconds: 5) { $0 == "isp1 still there" } != nil, "\(onBackup.text)")
        }
    }

    /// A reload that leaves eth0 as it was keeps what the daemon knows of it: down stays down, with
    /// no new round of detection, no failback to the dead link, no lost connections meanwhile.
    @Test func sighupKeepsTheHealthOfUnchangedWANs() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab))
            guard await daemon.waitReady() else { return }
            var mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 15) != nil else { return }

            // Only eth1 changes (its weight, and a policy route that pins nothing of this test).
            let changed = LabConfig.interfaces(lab, [.init(priority: 1), .init(priority: 2, weight: 3)]) + LabConfig.failoverGroup(lab) + """
                policy_route "unused" {
                  match {
                    protocol  = "udp"
                    dest_port = 9999
                  }
                  uplink = "eth1"
                }
                """
            try daemon.writeConfig(changed)
            mark = daemon.lines.count
            daemon.signal(SIGHUP)
            guard await daemon.expectLog("configuration reloaded", from: mark, seconds: 10) != nil else { return }
            // For two detection times after the reload, every new connection goes to isp1.
            var outcomes: [LabTopology.Outcome] = []
            for _ in 0..<8 {
                outcomes += try lab.connect(Self.lan[2..<6].map { .tcp($0) }, timeout: 1)
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(outcomes.allSatisfy { $0.isp == "isp1" }, "after the reload: \(outcomes.filter { $0.isp != "isp1" })")
            let after = daemon.lines[mark...]
            #expect(!after.contains { $0.contains("wan_up: eth0") || $0.contains("failback") || $0.contains("wan_down: eth0") },
                    "the reload reset eth0's health; \(daemon.tail)")
        }
    }
}
