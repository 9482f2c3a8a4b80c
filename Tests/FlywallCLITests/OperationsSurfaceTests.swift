import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The operator-facing edges of the demo daemon one test each: secrets in no response or log line,
/// `--api`, `--json` on writes, a DEGRADED row, journald's lines, a chunked body over the limit.
@Suite("operations surface against the demo daemon", .serialized)
struct OperationsSurfaceTests {
    static let checkKey = "QUERYKEY-4f1b9c"

    static func get(_ d: DemoDaemon, _ path: String) throws -> String {
        try HTTP.request(port: d.port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    }

    /// eth1 checked over HTTP with a key in the query, notifications by mail (password) and
    /// webhook (secret, secret path): none of them in any GET endpoint's answer or the log.
    @Test func secretsAppearInNoResponseAndNoLogLine() throws {
        let servers = try NotifyServers()
        try servers.start()
        defer { servers.stop() }
        let d = try DemoDaemon(extra: servers.block(hookEvents: "[\"wan_down\"]")) { scenario in
            DashboardTests.withoutRepair(scenario).replacingOccurrences(
                of: "      targets        = [\"1.0.0.1\", \"8.8.4.4\"]\n",
                with: "      type           = \"http\"\n      url            = \"http://status.example.net/ping?key=\(Self.checkKey)\"\n")
                // eth1 fails too, so its check's URL is in evidence, history, the log and the mail.
                + "\nat \"35s\" {\n  link \"eth1\" { blackhole = true }\n}\n"
        }
        defer { d.stop() }
        _ = try d.wait(["wan", "status"]) { $0.contains("eth0       DOWN") && $0.contains("eth1       DOWN") }
        try servers.waitFor("wan_down by webhook and mail", timeout: 20) { !servers.records("hook").isEmpty && !servers.records("mail").isEmpty }

        let secrets = [DemoDaemon.token, NotifyServers.password, NotifyServers.secret, NotifyServers.hookPath, Self.checkKey]
        let since = "1970-01-01T00:00:00Z"
        var answers: [String: String] = [:]
        for path in ["/api/wan/status", "/api/wan/health", "/api/wan/history?limit=1000", "/api/wan/samples?since=\(since)",
                     "/metrics", "/", "/dashboard.js"] {
            let r = try Self.get(d, path)
            #expect(r.hasPrefix("HTTP/1.1 200"), "\(path): \(r.prefix(300))")
            answers[path] = r
        }
        answers["wan health"] = try d.cli(["wan", "health"]).stdout
        answers["wan history"] = try d.cli(["wan", "history"]).stdout
        // What the messages say (the receiver itself of course knows its own path).
        answers["mail and webhook bodies"] = "\(servers.records("mail").map { "\($0["subject"] ?? "") \($0["body"] ?? "")" })"
            + "\(servers.records("hook").map { $0["body"] ?? "" })"
        answers["log"] = d.logText
        for (source, text) in answers {
            for secret in secrets { #expect(!text.contains(secret), "\(source) shows a secret") }
        }
        // What is shown instead: the check's URL without its query, the webhook without its path.
        #expect(answers["/api/wan/health"]?.contains("http://status.example.net/ping?<redacted>") == true,
                "\(answers["/api/wan/health"] ?? "")")
        #expect(answers["log"]?.contains("/<redacted>") == true)
        #expect(answers["log"]?.contains("wan_down: eth1") == true && answers["log"]?.contains("http://status.example.net/ping?<redacted>") == true,
                "\(answers["log"] ?? "")")
    }

    /// `flywall daemon --api ADDR:PORT` with no `listen` in the config: the API is where the flag says.
    @Test func theAPIListensWhereTheFlagSays() throws {
        let d = try DemoDaemon(listenByFlag: true)
        defer { d.stop() }
        #expect(try Self.get(d, "/api/wan/status").hasPrefix("HTTP/1.1 200"))
        #expect(d.logText.contains("api: listening on http://127.0.0.1:\(d.port)"), "\(d.logText)")
        #expect(!d.logText.contains("127.0.0.1:8080"))
    }

    /// `--json` on the writes: the API's answer, the command and whether the loop handled it.
    @Test func writesAnswerInJSON() throws {
        let d = try DemoDaemon(speed: 1)
        defer { d.stop() }
        for (args, command) in [(["wan", "disable", "eth1"], "wan disable eth1"), (["wan", "enable", "eth1"], "wan enable eth1"),
                                (["wan", "failover", "default", "eth1"], "wan failover default eth1"),
                                (["wan", "failover", "default", "--auto"], "wan failover default --auto")] {
            let r = try d.cli(args + ["--json"], token: true)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(args): \(r.stdout)")
            #expect(json["command"] as? String == command, "\(json)")
            #expect(json["handled"] as? Bool == true, "\(json)")
        }
    }

    /// latency-max: eth0's RTT passes max_latency from 30 s, degraded at 55.4 s, back at 110 s.
    @Test func aWanPastItsQualityLimitShowsDegraded() throws {
        let scenario = try String(contentsOf: CLI.repository.appendingPathComponent("Scenarios/latency-max.hcl"), encoding: .utf8)
        let d = try DemoDaemon(speed: 10, base: scenario)
        defer { d.stop() }
        let status = try d.wait(["wan", "status"], timeout: 30) { $0.contains("eth0       DEGRADED") }
        let row = try #require(status.split(separator: "\n").first { $0.hasPrefix("eth0") })
        #expect(row.range(of: #"^eth0       DEGRADED  1         \d+ms +\d+\.\d%$"#, options: .regularExpression) != nil, "\(row)")
    }

    /// Under journald (`JOURNAL_STREAM` set) lines carry the priority and no timestamp.
    @Test func underJournaldLinesHaveNoTimestamp() throws {
        let d = try DemoDaemon(environment: ["JOURNAL_STREAM": "8:12345"])
        defer { d.stop() }
        _ = try d.wait(["wan", "status"]) { $0.contains("eth0       DOWN") }
        let lines = d.logText.split(separator: "\n").filter { $0.hasPrefix("<") }
        #expect(lines.contains { $0.hasPrefix("<5>wan_down: eth0") }, "\(d.logText)")
        #expect(!lines.contains { $0.range(of: #"^<\d>\d{4}-\d\d-\d\dT"#, options: .regularExpression) != nil }, "\(d.logText)")
    }

    /// A chunked body (no Content-Length) that grows past 64 KiB is refused with 413.
    @Test func anOversizedChunkedBodyIs413() throws {
        let d = try DemoDaemon(speed: 1)
        defer { d.stop() }
        let chunk = String(repeating: "x", count: 8192)
        let chunks = String(repeating: "2000\r\n\(chunk)\r\n", count: 10) + "0\r\n\r\n"
        let r = try HTTP.request(port: d.port, "POST /api/groups/default/failover HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Authorization: Bearer \(DemoDaemon.token)\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            + "Connection: close\r\n\r\n" + chunks)
        #expect(r.hasPrefix("HTTP/1.1 413"), "\(r.prefix(300))")
        #expect(try Self.get(d, "/api/wan/status").hasPrefix("HTTP/1.1 200"))
    }
}
