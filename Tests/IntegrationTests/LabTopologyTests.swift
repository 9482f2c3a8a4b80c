import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The harness itself, without the daemon: the topology carries traffic the way the daemon tests
/// assume, faults do what they say, and teardown leaves nothing.
@Suite("Lab topology (harness)", .serialized)
struct LabTopologyTests {
    @Test func staticRoutesCarryTrafficToTheChosenISPAndFaultsStopIt() async throws {
        guard LabRequirements.check() else { return }
        var namespaces: [String] = []
        try await withLab(wans: 2) { lab in
            namespaces = [lab.router, lab.lan] + lab.isps.map(\.namespace)
            let listed = try LabShell.run("ip", "netns", "list")
            for ns in namespaces { #expect(listed.contains(ns)) }
            // Stand-in for the daemon: masquerade on the WANs, default route via isp0.
            try lab.exec(lab.router, ["nft", "-f", "-"], input: """
                table ip fwlab_nat {
                  chain post {
                    type nat hook postrouting priority srcnat; policy accept;
                    oifname { "eth0", "eth1" } masquerade
                  }
                }
                """)
            let tcp = LabTopology.Flow.tcp("192.168.1.10")
            let udp = LabTopology.Flow.udp("192.168.1.11")
            var outcomes = try lab.connect([tcp, udp, .tcp("192.168.1.12", LabTopology.otherServer, 443)])
            #expect(outcomes.map(\.isp) == ["isp0", "isp0", "isp0"], "\(outcomes)")
            #expect(outcomes[0].seenFrom?.hasPrefix("100.64.0.2:") == true, "\(outcomes[0])")

            try lab.setMainDefault(via: 1)
            outcomes = try lab.connect([tcp, udp])
            #expect(outcomes.map(\.isp) == ["isp1", "isp1"], "\(outcomes)")
            #expect(outcomes[0].seenFrom?.hasPrefix("100.64.1.2:") == true, "\(outcomes[0])")

            // A held connection answers line by line.
            let held = try lab.hold(.tcp("192.168.1.13", LabTopology.server, 7001))
            #expect(await held.waitForLine(seconds: 5) { $0.hasPrefix("isp1 100.64.1.2:") } != nil, "\(held.text)")
            held.send("ping")
            #expect(await held.waitForLine(seconds: 5) { $0 == "isp1 ping" } != nil, "\(held.text)")

            // Black hole: nothing comes back, the link stays up; repair restores it.
            try lab.blackhole(1)
            #expect(try lab.connect([tcp], timeout: 1).first?.error == "timeout")
            #expect(try lab.ip(lab.router, "link show eth1").contains("state UP"))
            try lab.repair(1)
            #expect(try lab.isp(for: tcp) == "isp1")

            // Cable pulled: the router's end loses carrier.
            try lab.pullCable(1)
            #expect(await eventually(seconds: 5) { try lab.ip(lab.router, "link show eth1").contains("NO-CARRIER") })
            #expect(try lab.connect([tcp], timeout: 1).first?.isp == nil)
            try lab.repair(1)
            #expect(await eventually(seconds: 5) { try lab.isp(for: tcp, timeout: 1) == "isp1" })
        }
        let listed = try LabShell.run("ip", "netns", "list")
        for ns in namespaces { #expect(!listed.contains(ns), "namespace \(ns) left behind") }
    }

    @Test func echoRequestsAreCountedPerSourceAndDestination() async throws {
        guard LabRequirements.check() else { return }
        try await withLab(wans: 2) { lab in
            try lab.watchEchoRequests()
            // A probe from the router to isp1's target, leaving on eth1 (python: no ping here).
            try lab.exec(lab.router, ["python3", "-c", """
                import socket, struct
                s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth1")
                s.bind(("100.64.1.2", 0))
                def csum(b):
                    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
                    return ~t & 0xffff
                h = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"lab!"
                s.sendto(struct.pack("!BBHHH", 8, 0, csum(h), 7, 1) + b"lab!", ("198.18.1.1", 0))
                s.settimeout(2); s.recv(100)
                """])
            #expect(try lab.echoRequests(at: 0) == [])
            #expect(try lab.echoRequests(at: 1) == [.init(source: "100.64.1.2", destination: "198.18.1.1", packets: 1)])
        }
    }

    @Test func childrenStartWithDefaultSignalHandling() throws {
        // The test runner's threads block most signals; children inherit that unless the lab resets
        // it, and then SIGTERM/SIGHUP to the daemon would never arrive.
        let script = "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('SigBlk')][0])"
        #expect(try LabShell.run("python3", "-c", script).trimmingCharacters(in: .whitespacesAndNewlines) == "0000000000000000")
        let process = try LabProcess("sigblk", ["python3", "-c", script])
        #expect(process.waitForExit(seconds: 10) == 0)
        #expect(process.lines == ["0000000000000000"])
    }

    @Test func staleNamespacesOfDeadRunsAreSwept() throws {
        guard LabRequirements.check() else { return }
        // A pid that cannot be running: above pid_max.
        let stale = LabTopology.prefix + "4194305-abcdef-router"
        try LabShell.run("ip", "netns", "add", stale)
        defer { _ = try? LabShell.run("ip", "netns", "delete", stale) }
        LabTopology.sweepStaleNow()
        #expect(try !LabShell.run("ip", "netns", "list").contains(stale))
    }
}

/// What every lab test needs; records a failure (never a silent pass) when it is missing.
enum LabRequirements {
    static func check(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        guard getuid() == 0 else {
            Issue.record("the namespace lab needs root (run the tests as root, as CI does)", sourceLocation: sourceLocation)
            return false
        }
        for tool in ["ip", "nft", "python3"] where !LabShell.has(tool) {
            Issue.record("the namespace lab needs `\(tool)` (scripts/install-deps.sh installs it)", sourceLocation: sourceLocation)
            return false
        }
        return true
    }
}
