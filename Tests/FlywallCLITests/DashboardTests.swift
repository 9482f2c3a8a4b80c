import Foundation
import Testing

/// The web dashboard at `/` of the demo daemon (docs/dashboard.md): its files, the samples
/// endpoint behind its charts, and the page itself in headless Chromium (Debian's `chromium`,
/// scripts/install-deps.sh), read through the DevTools protocol by scripts/dashboard-browser.py.
@Suite("web dashboard", .serialized)
struct DashboardTests {
    /// The scenario without its repair at 60s: eth0 stays down, so the page's "after" is stable.
    static func withoutRepair(_ scenario: String) -> String {
        scenario.replacingOccurrences(of: "at \"60s\" {\n  link \"eth0\" { blackhole = false }\n}\n", with: "")
    }

    @Test func thePageIsServedWithoutTheTokenAndHoldsNone() throws {
        let d = try DemoDaemon(speed: 20)
        defer { d.stop() }
        let page = try Response(HTTP.request(port: d.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
        #expect(page.status == 200)
        #expect(page.header("content-type") == "text/html; charset=utf-8")
        #expect(page.header("content-security-policy")?.contains("script-src 'self'") == true)
        #expect(page.header("x-frame-options") == "DENY")
        #expect(page.body.contains("<script src=\"dashboard.js\" defer></script>"))
        for path in ["/dashboard.js", "/dashboard.css"] {
            let r = try Response(HTTP.request(port: d.port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
            #expect(r.status == 200, "\(path)")
            #expect(!r.body.contains(DemoDaemon.token), "\(path) must not hold the token")
        }
        #expect(!page.body.contains(DemoDaemon.token))
        let post = try Response(HTTP.request(port: d.port, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
        #expect(post.status == 401, "a write to the page's path still needs the token")
        let wrongMethod = try Response(HTTP.request(port: d.port, "POST /dashboard.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\(Self.auth)Content-Length: 0\r\nConnection: close\r\n\r\n"))
        #expect(wrongMethod.status == 405 && wrongMethod.header("allow") == "GET")
    }

    static let auth = "Authorization: Bearer \(DemoDaemon.token)\r\n"

    /// DNS rebinding: a page that points its own name at 127.0.0.1 makes the browser read from
    /// loopback under that name. Such reads need the token; loopback by number or `localhost` do not.
    @Test func loopbackReadsUnderAForeignHostNameNeedTheToken() throws {
        let d = try DemoDaemon(speed: 20)
        defer { d.stop() }
        func status(_ host: String, _ extra: String = "") throws -> Int {
            try Response(HTTP.request(port: d.port, "GET /api/wan/status HTTP/1.1\r\nHost: \(host)\r\n\(extra)Connection: close\r\n\r\n")).status
        }
        #expect(try status("rebind.example:\(d.port)") == 401)
        #expect(try status("127.0.0.1.rebind.example") == 401)
        #expect(try status("rebind.example", Self.auth) == 200)
        #expect(try status("127.0.0.1:\(d.port)") == 200)
        #expect(try status("localhost:\(d.port)") == 200)
        #expect(try status("[::1]:\(d.port)") == 200)
        // The page itself holds no data and still loads; the data it asks for is what is guarded.
        #expect(try Response(HTTP.request(port: d.port, "GET / HTTP/1.1\r\nHost: rebind.example\r\nConnection: close\r\n\r\n")).status == 200)
    }

    @Test func samplesAndHistoryFiltersAnswerAndRefuseBadInput() throws {
        let d = try DemoDaemon(speed: 20)
        defer { d.stop() }
        _ = try d.wait(["wan", "history"]) { $0.contains("failover") }
        let all = try json(d, "/api/wan/samples")
        #expect(all["capacity"] as? Int == 720)
        #expect(all["resolution_seconds"] as? Double == 5)
        let wans = try #require(all["wans"] as? [[String: Any]])
        #expect(wans.map { $0["interface"] as? String } == ["eth0", "eth1"])
        let eth0 = wans[0]
        let times = try #require(eth0["time_ms"] as? [Int])
        #expect(times.count >= 5, "a round every 5 s of core time, 0.25 s at 20x: \(times)")
        #expect(times == times.sorted())
        for key in ["latency_ms", "loss_percent", "status"] {
            #expect((eth0[key] as? [Any])?.count == times.count, "\(key)")
        }
        #expect((eth0["status"] as? [String])?.contains("DOWN") == true, "eth0's black hole shows in its samples")
        #expect(((eth0["loss_percent"] as? [Double])?.max() ?? 0) > 0, "the lost rounds show as loss")

        // Only what is new: from the last sample on, the last sample included.
        let since = ISO8601DateFormatter.withMilliseconds.string(from: Date(timeIntervalSince1970: Double(times.last!) / 1000))
        let recent = try json(d, "/api/wan/samples?since=\(since)&interface=eth0")
        let recentTimes = try #require((recent["wans"] as? [[String: Any]])?.first?["time_ms"] as? [Int])
        #expect(recentTimes.first == times.last, "\(recentTimes) after \(times.last!)")
        #expect(recentTimes.count < times.count)

        for (query, status) in [("?interface=eth9", 404), ("?since=yesterday", 400)] {
            let r = try Response(HTTP.request(port: d.port, "GET /api/wan/samples\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
            #expect(r.status == status, "\(query): \(r.body)")
            #expect(r.body.hasPrefix(#"{"error":"#))
        }
        let failovers = try json(d, "/api/wan/history?kind=failover")["events"] as? [[String: Any]]
        #expect(failovers?.isEmpty == false)
        #expect(failovers?.allSatisfy { $0["kind"] as? String == "failover" } == true)
        let bad = try Response(HTTP.request(port: d.port, "GET /api/wan/history?kind=outage HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
        #expect(bad.status == 400 && bad.body.contains("kind: expected one of"))
        let cli = try d.cli(["wan", "history", "--kind", "failover"]).stdout
        #expect(cli.contains("failover  default  eth0 → eth1") && !cli.contains("wan_down"), "\(cli)")
    }

    /// The whole page in a real browser, on one load: the WANs before the fault, the failover as
    /// it happens (no reload), its evidence, the charts, the filters, then the controls with the
    /// token pasted in.
    @Test func aRealBrowserShowsTheFailoverAsItHappens() throws {
        // At 4x the black hole starts 7.5 s after start and eth0 is declared down at 10.5 s.
        let d = try DemoDaemon(speed: 4, edit: Self.withoutRepair)
        defer { d.stop() }
        let card = { (wan: String) in "document.querySelector('[data-wan=\"\(wan)\"]')" }
        let group = "document.querySelector('[data-group=\"default\"]')"
        let snapshot = """
        ({ states: Object.fromEntries([...document.querySelectorAll('[data-wan]')].map(c => [c.dataset.wan, c.dataset.state])),
           active: \(group).dataset.active,
           points: Object.fromEntries([...document.querySelectorAll('[data-wan] svg')].map(s => [s.closest('[data-wan]').dataset.wan, Number(s.dataset.rttPoints || 0)])),
           kinds: [...document.querySelectorAll('#history li')].map(li => li.dataset.kind),
           ids: [...document.querySelectorAll('#history li')].map(li => Number(li.dataset.id)),
           controls: document.querySelectorAll('[data-control]').length,
           facts: Object.fromEntries([...\(card("eth1")).querySelectorAll('dd')].map(dd => [dd.dataset.fact, dd.textContent])) })
        """
        let steps: [[String: Any]] = [
            // UP holds from the start (assumed up); a latency shows once the first round is in.
            ["until": "\(card("eth0"))?.dataset.state === 'UP' && \(card("eth1"))?.dataset.state === 'UP' && \(group)?.dataset.active === 'eth0' && \(card("eth1")).querySelector('dd[data-fact=\"latency\"]')?.textContent.endsWith(' ms')", "timeout": 20],
            ["eval": snapshot, "name": "before"],
            ["until": "\(card("eth0")).dataset.state === 'DOWN' && \(group).dataset.active === 'eth1' && document.querySelector('#history li[data-kind=\"failover\"]')", "timeout": 30],
            // A round more, so the charts hold samples from after the fault too.
            ["until": "document.querySelector('[data-wan=\"eth0\"] svg rect.band-DOWN')", "timeout": 10],
            ["eval": snapshot, "name": "after"],
            ["eval": "(() => { const d = document.querySelector('#history li[data-kind=\"failover\"] details'); d.open = true; return d.querySelector('.evidence').textContent; })()", "name": "evidence"],
            ["eval": "(() => { const s = document.getElementById('filter-kind'); s.value = 'wan_down'; s.dispatchEvent(new Event('change')); return true; })()"],
            ["until": "[...document.querySelectorAll('#history li')].every(li => li.dataset.kind === 'wan_down') && document.querySelector('#history li')", "timeout": 10],
            ["eval": "[...document.querySelectorAll('#history li')].map(li => li.dataset.kind)", "name": "filtered"],
            ["type": DemoDaemon.token, "into": "#token"],
            ["eval": "document.querySelector('#token-form button').click()"],
            ["until": "\(card("eth1")).querySelector('[data-control=\"maintenance\"]')", "timeout": 10],
            ["eval": "\(card("eth1")).querySelector('[data-control=\"maintenance\"]').click()"],
            ["until": "\(card("eth1")).dataset.state === 'MAINTENANCE'", "timeout": 10],
            ["eval": "({ notice: document.getElementById('notice').textContent, controls: document.querySelectorAll('[data-control]').length, tokenInPage: document.documentElement.outerHTML.includes(\(Self.quoted(DemoDaemon.token))) })", "name": "controlled"],
        ]
        let result = try Browser.run("\(d.api)/", steps)
        let before = try #require(result["before"] as? [String: Any])
        #expect(before["states"] as? [String: String] == ["eth0": "UP", "eth1": "UP"])
        #expect(before["active"] as? String == "eth0")
        #expect(before["controls"] as? Int == 0, "no controls without the token")
        let facts = try #require(before["facts"] as? [String: String])
        #expect(facts["priority"] == "2" && facts["check"] == "icmp, 2 targets, every 5s", "\(facts)")
        #expect(facts["latency"]?.hasSuffix(" ms") == true, "\(facts)")

        let after = try #require(result["after"] as? [String: Any])
        #expect(after["states"] as? [String: String] == ["eth0": "DOWN", "eth1": "UP"])
        #expect(after["active"] as? String == "eth1")
        let kinds = try #require(after["kinds"] as? [String])
        #expect(kinds.contains("failover") && kinds.contains("wan_down"), "\(kinds)")
        let ids = try #require(after["ids"] as? [Int])
        #expect(ids == ids.sorted(by: >), "newest first: \(ids)")
        let points = try #require(after["points"] as? [String: Int])
        #expect((points["eth0"] ?? 0) >= 3 && (points["eth1"] ?? 0) >= 3, "chart points: \(points)")

        let evidence = try #require(result["evidence"] as? String)
        #expect(evidence.contains("3/3 failed probe rounds"), "\(evidence)")
        #expect(evidence.contains("1.1.1.1") && evidence.contains("lost"), "\(evidence)")
        #expect(result["filtered"] as? [String] == ["wan_down"])

        let controlled = try #require(result["controlled"] as? [String: Any])
        #expect(controlled["notice"] as? String == "wan disable eth1: eth1: maintenance on")
        #expect((controlled["controls"] as? Int ?? 0) >= 4, "maintenance per WAN, pin and automatic per group")
        #expect(controlled["tokenInPage"] as? Bool == false, "the token never goes into the page's DOM")
        #expect(result["errors"] as? [String] == [], "the page reported errors: \(result["errors"] ?? "")")
        // The command is in history as the dashboard's.
        let history = try d.cli(["wan", "history", "--json", "--limit", "5"]).stdout
        #expect(history.contains(#""source":"dashboard""#), "\(history)")
    }

    static func quoted(_ s: String) -> String { "'" + s + "'" }

    func json(_ d: DemoDaemon, _ path: String) throws -> [String: Any] {
        let r = try Response(HTTP.request(port: d.port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
        #expect(r.status == 200, "\(path): \(r.body)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any], "\(path): \(r.body)")
    }
}

/// scripts/dashboard-browser.py: one headless Chromium run through `steps`.
enum Browser {
    static func run(_ url: String, _ steps: [[String: Any]]) throws -> [String: Any] {
        let plan = String(decoding: try JSONSerialization.data(withJSONObject: steps), as: UTF8.self)
        let script = CLI.repository.appendingPathComponent("scripts/dashboard-browser.py").path
        let r = try Subprocess.run("python3", [script, url, plan])
        guard r.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
            throw DemoError("dashboard-browser.py failed (\(r.status); Debian's chromium: scripts/install-deps.sh): \(r.stderr)\(r.stdout)")
        }
        return object
    }
}

/// An HTTP/1.1 response as `HTTP.request` returns it.
struct Response {
    var status: Int
    var headers: [(String, String)]
    var body: String

    init(_ text: String) throws {
        guard let split = text.range(of: "\r\n\r\n") else { throw DemoError("no HTTP response: \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].split(separator: "\r\n")
        status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        headers = lines.dropFirst().compactMap { line in
            line.firstIndex(of: ":").map { (String(line[..<$0]).lowercased(), line[line.index(after: $0)...].trimmingCharacters(in: .whitespaces)) }
        }
        body = String(text[split.upperBound...])
    }

    func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
}

extension ISO8601DateFormatter {
    static var withMilliseconds: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}
