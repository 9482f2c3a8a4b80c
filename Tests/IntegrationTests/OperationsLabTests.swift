import Foundation
import Lab
import Testing

/// `flywall wan ...` against the real daemon on the namespace router: the API listens on the
/// router namespace's own loopback (127.0.0.1:8080, the default), and the CLI runs in that
/// namespace, as an operator logged into the router would run it.
@Suite("flywall wan commands against the real daemon", .serialized, .timeLimit(.minutes(2)))
struct OperationsLabTests {
    static let token = "lab-token-0123456789abcdef"

    func wan(_ lab: LabTopology, _ arguments: [String]) throws -> LabShell.Result {
        try LabShell.runStatus(["ip", "netns", "exec", lab.router, LabDaemon.binary.path, "wan"] + arguments)
    }

    @Test func everyCommandAgainstTheRealDaemonAndHistoryAcrossKillMinus9() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let config = LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab) + """
                api {
                  token = "\(Self.token)"
                }
                """
            let daemon = try LabDaemon(lab: lab, config: config)
            guard await daemon.waitReady() else { return }
            guard await daemon.expectLog("api: listening on http://127.0.0.1:8080") != nil else { return }

            let status = try wan(lab, ["status"])
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
            #expect(status.stdout.hasPrefix("INTERFACE  STATUS  PRIORITY  LATENCY  PACKET LOSS\n"), "\(status.stdout)")
            #expect(status.stdout.contains("eth0       UP      1"), "\(status.stdout)")

            let mark = daemon.lines.count
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1", from: mark, seconds: 20) != nil else { return }
            #expect(daemon.lines[mark...].contains { $0.contains("wan_down: eth0") && $0.contains("health evidence:") }, "\(daemon.tail)")
            let down = await eventually(seconds: 5) { try wan(lab, ["status"]).stdout.contains("eth0       DOWN") }
            #expect(down)
            let history = try wan(lab, ["history"])
            #expect(history.stdout.contains("failover  default  eth0 → eth1"), "\(history.stdout)")
            #expect(history.stdout.contains("failed probe rounds;"), "\(history.stdout)")
            let health = try wan(lab, ["health"])
            #expect(health.stdout.contains("good rounds") && health.stdout.contains("check: icmp"), "\(health.stdout)")

            #expect(try wan(lab, ["disable", "eth1"]).status == 1, "a write without the token must be refused")
            #expect(try wan(lab, ["disable", "eth1", "--token", Self.token]).stdout.contains("eth1: maintenance on"))
            #expect(try wan(lab, ["status"]).stdout.contains("eth1       MAINTENANCE"))
            #expect(try wan(lab, ["enable", "eth1", "--token", Self.token]).status == 0)
            #expect(try wan(lab, ["failover", "default", "eth1", "--token", Self.token]).status == 0)
            #expect(try wan(lab, ["failover", "default", "--auto", "--token", Self.token]).status == 0)
            #expect(try wan(lab, ["status", "--json"]).stdout.hasPrefix("{"))

            let before = try wan(lab, ["history", "--json", "--limit", "1000"]).stdout
            daemon.kill9()
            #expect(try wan(lab, ["status"]).status == 69, "no daemon: its own exit code")
            try daemon.start()
            guard await daemon.waitReady() else { return }
            _ = await daemon.expectLog("api: listening")
            let after = try wan(lab, ["history", "--json", "--limit", "1000"]).stdout
            #expect(ids(after).isSuperset(of: ids(before)) && !ids(before).isEmpty, "before: \(before)\nafter: \(after)")
        }
    }

    func ids(_ json: String) -> Set<Int> {
        let events = (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["events"] as? [[String: Any]]
        return Set((events ?? []).compactMap { $0["id"] as? Int })
    }
}
