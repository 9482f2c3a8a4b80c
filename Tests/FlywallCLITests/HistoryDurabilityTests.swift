import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// History as the operator relies on it: what the log showed is in history after `kill -9`,
/// `--since` cuts where it says, and a disk that fills up mid-run stops only history.
@Suite("history durability against the demo daemon", .serialized)
struct HistoryDurabilityTests {
    /// The WAN event lines of a daemon log, as (kind, subject): `wan_down: eth0 (...)` ->
    /// ("wan_down", "eth0"), `failover: group default: eth0 -> eth1 (...)` -> ("failover", "default").
    static func loggedEvents(_ log: String) -> [(kind: String, subject: String)] {
        log.split(separator: "\n").compactMap { line in
            guard let m = line.firstMatch(of: #/^<5>(?:\S+Z )?(wan_down|wan_up|failover|failback|all_down): (?:group )?([^ :(]+)/#)
            else { return nil }
            return (String(m.1), String(m.2))
        }
    }

    static func historyEvents(_ d: DemoDaemon, query: [String] = []) throws -> [[String: Any]] {
        let out = try d.cli(["wan", "history", "--json", "--limit", "1000"] + query).stdout
        return try #require((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["events"] as? [[String: Any]],
                            "\(out)")
    }

    /// Killed the moment `wan_down: eth0` reaches the log, three times: every event line already
    /// logged is in history once the daemon is back. The restarted run goes at speed 1, so its own
    /// `wan_down` (42 s of scenario time) cannot stand in for the one logged before the kill.
    @Test func anEventInTheLogIsInHistoryAfterKillMinus9() throws {
        for attempt in 1...3 {
            let d = try DemoDaemon()
            defer { d.stop() }
            let end = Date().addingTimeInterval(30)
            while Date() < end, !d.logText.contains("wan_down: eth0") { usleep(200) }
            d.kill9()
            let logged = Self.loggedEvents(d.logText)
            try #require(logged.contains { $0 == ("wan_down", "eth0") }, "attempt \(attempt): no wan_down in \(d.logText)")

            try d.start(speed: 1)
            let events = try Self.historyEvents(d)
            for kind in Set(logged.map(\.kind)) {
                let inLog = logged.filter { $0.kind == kind }.count
                let kept = events.filter { $0["kind"] as? String == kind }.count
                #expect(kept >= inLog, "attempt \(attempt): \(inLog) \(kind) logged before kill -9, \(kept) in history: \(events)")
            }
            #expect(events.contains { $0["kind"] as? String == "wan_down" && $0["interface"] as? String == "eth0" },
                    "attempt \(attempt): \(events)")
            d.stop()
        }
    }

    /// `--since` through the CLI and the API: of two commands 50 ms apart, a cut between them keeps
    /// only the second; a bad time is a clear error.
    @Test func sinceCutsAtTheGivenTime() throws {
        let d = try DemoDaemon(speed: 1)
        defer { d.stop() }
        #expect(try d.cli(["wan", "disable", "eth1"], token: true).status == 0)
        usleep(50_000)
        let cut = Date()
        usleep(50_000)
        #expect(try d.cli(["wan", "enable", "eth1"], token: true).status == 0)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let since = formatter.string(from: cut)

        let all = try d.cli(["wan", "history"]).stdout
        #expect(all.contains("wan disable eth1") && all.contains("wan enable eth1"), "\(all)")
        let cli = try d.cli(["wan", "history", "--since", since]).stdout
        #expect(cli.contains("wan enable eth1") && !cli.contains("wan disable eth1"), "--since \(since):\n\(cli)")

        let query = since.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? since
        let raw = try HTTP.request(port: d.port, "GET /api/wan/history?since=\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let body = String(raw[raw.range(of: "\r\n\r\n")!.upperBound...])
        let events = try #require((try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["events"] as? [[String: Any]], "\(raw)")
        // The enable and what it caused (eth1 up again); nothing of the disable.
        let reasons = events.compactMap { $0["reason"] as? String }
        #expect(reasons.contains("eth1: maintenance off"), "\(events)")
        #expect(!reasons.contains("eth1: maintenance on") && !reasons.contains("maintenance"), "\(events)")

        let bad = try d.cli(["wan", "history", "--since", "yesterday"])
        #expect(bad.status != 0 && bad.stderr.contains("since: expected an RFC 3339 time"), "\(bad.stderr)")
    }

    /// The state directory on a 1 MiB tmpfs that is filled once the daemon runs: the write of the
    /// failover's events fails, the daemon says so in its log, health and metrics, and the failover
    /// happens all the same (and is logged). Root only (mounting); the mount is always removed.
    @Test(.enabled(if: getuid() == 0, "needs root to mount a tmpfs"))
    func aDiskThatFillsUpStopsOnlyHistory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flywall-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let mount = try Subprocess.run("mount", ["-t", "tmpfs", "-o", "size=1m", "flywall-full", dir.path])
        try #require(mount.status == 0, "\(mount.stderr)")
        defer {
            _ = try? Subprocess.run("umount", ["-l", dir.path])
            try? FileManager.default.removeItem(at: dir)
        }
        // Speed 5: the failover comes 8.4 s after start, well after the disk is full.
        let d = try DemoDaemon(speed: 5, stateDir: dir.path, edit: DashboardTests.withoutRepair)
        defer { d.stop() }
        let fill = try Subprocess.run("sh", ["-c", "cat /dev/zero > \(dir.path)/filler"])
        #expect(fill.status != 0, "the tmpfs must fill up")

        _ = try d.wait(["wan", "status"], timeout: 30) { $0.contains("eth0       DOWN") }
        let status = try d.cli(["wan", "status", "--json"]).stdout
        #expect(status.contains("\"active\":[\"eth1\"]") || status.contains("\"active\" : [\"eth1\"]"), "failover must go on: \(status)")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !d.logText.contains("history unavailable") { usleep(50_000) }
        let log = d.logText
        #expect(log.contains("history unavailable") && log.contains("failover goes on"), "\(log)")
        #expect(log.contains("wan_down: eth0") && log.contains("failover: group default: eth0 -> eth1"), "\(log)")
        #expect(try d.cli(["wan", "health"]).stdout.contains("history unavailable"))
        let metrics = try HTTP.request(port: d.port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect(metrics.contains("flywall_history_available 0"), "\(metrics.suffix(600))")
        #expect(d.process?.isRunning == true)
    }
}
