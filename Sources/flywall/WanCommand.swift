import Adapters
import ArgumentParser
import Domain
import Foundation

/// `flywall wan ...`: what an operator asks the running daemon, through its HTTP API.
struct WanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wan",
        abstract: "Show WAN status, history and health; take WANs out of service; force a group's uplink.",
        discussion: """
        Talks to the running daemon's HTTP API (--api, default http://127.0.0.1:8080). Exit codes: 0 \
        done, 1 the daemon refused (the message says why), 69 the daemon could not be reached.
        """,
        subcommands: [WanStatus.self, WanHistory.self, WanHealth.self, WanDisable.self, WanEnable.self, WanFailover.self]
    )
}

/// Writes text to standard output.
func printOut(_ text: String) {
    FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Aligned columns separated by two spaces, as the spec's `wan status` shows them.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    let widths = first.indices.map { i in rows.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
        }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}

func milliseconds(_ ms: Double?) -> String { ms.map { "\(Int($0.rounded()))ms" } ?? "-" }
func percent(_ p: Double) -> String { String(format: "%.1f%%", p) }

/// An RFC 3339 time from the API as local time, ISO 8601 with milliseconds.
func localTime(_ text: String) -> String {
    guard let ns = WallClockText.parse(text) else { return text }
    return WallClockText.rfc3339(ns, local: true)
}

struct WanStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "One line per WAN: status, priority, latency, packet loss.")
    @OptionGroup var options: APIOptions

    func run() async throws {
        let (status, data) = try await options.client().get("/api/wan/status", as: APIViews.Status.self)
        if options.json { return printOut(String(decoding: data, as: UTF8.self)) }
        var rows = [["INTERFACE", "STATUS", "PRIORITY", "LATENCY", "PACKET LOSS"]]
        for w in status.wans {
            rows.append([w.interface, w.status, "\(w.priority)", milliseconds(w.latencyMs), percent(w.lossPercent)])
        }
        // Only in an HA pair, so a standalone router prints the spec's table alone.
        let ha = status.role.map { "role: \($0)" + (status.layoutFingerprint.map { "  layout: \($0)" } ?? "") + "\n" } ?? ""
        printOut(ha + table(rows))
    }
}

struct WanHistory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Failover, failback, up, down and all_down events and manual commands, newest first, with their evidence.")
    @OptionGroup var options: APIOptions
    @Option(help: "Only events at or after this time (RFC 3339, e.g. 2026-12-01T10:00:00Z).")
    var since: String?
    @Option(help: "At most this many events (1-\(HistoryStore.maxLimit)).")
    var limit: Int = 50
    @Option(help: "Only events about this WAN.")
    var interface: String?
    @Option(help: "Only events of this kind: wan_down, wan_up, failover, failback, all_down or command.")
    var kind: String?

    func run() async throws {
        var query = [URLQueryItem(name: "limit", value: "\(limit)")]
        if let since { query.append(URLQueryItem(name: "since", value: since)) }
        if let interface { query.append(URLQueryItem(name: "interface", value: interface)) }
        if let kind { query.append(URLQueryItem(name: "kind", value: kind)) }
        let (history, data) = try await options.client().get("/api/wan/history", query: query, as: APIViews.History.self)
        if options.json { return printOut(String(decoding: data, as: UTF8.self)) }
        if history.events.isEmpty { return printOut("no events") }
        var lines: [String] = []
        for e in history.events {
            let subject: String
            switch e.kind {
            case "wan_up", "wan_down": subject = e.interface ?? "?"
            case "command": subject = (e.accepted ?? false) ? "accepted" : "refused"
            default:
                let from = e.from.isEmpty ? "none" : e.from.joined(separator: ",")
                let to = e.to.isEmpty ? "none" : e.to.joined(separator: ",")
                subject = "\(e.group ?? "?")  \(from) → \(to)"
            }
            lines.append("\(localTime(e.time))  \(e.kind)  \(subject)  \(e.reason)")
            if let evidence = e.evidence, !evidence.summary.isEmpty { lines.append("    evidence: \(evidence.summary)") }
        }
        printOut(lines.joined(separator: "\n"))
    }
}

struct WanHealth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Per WAN and target: the check, last result, RTT, loss, jitter, threshold counters, last change.")
    @OptionGroup var options: APIOptions

    func run() async throws {
        let (health, data) = try await options.client().get("/api/wan/health", as: APIViews.Health.self)
        if options.json { return printOut(String(decoding: data, as: UTF8.self)) }
        var out: [String] = []
        for w in health.wans {
            out.append("\(w.interface)  \(w.status)  carrier \(w.carrier ? "up" : "down")")
            if let c = w.check {
                let what = c.type == "http" ? "http \(c.url ?? "") (expect \(c.expectedStatus ?? 200))"
                    : c.type == "icmp" ? "icmp \(c.targets.joined(separator: ", "))" : c.type
                out.append("  check: \(what), every \(c.interval), timeout \(c.timeout), down after \(c.thresholdDown), up after \(c.thresholdUp), reliability \(c.reliability)")
            } else {
                out.append("  check: none")
            }
            out.append("  counter: \(w.counter)  rounds: \(w.roundsTotal)  probes: \(w.probesSent) sent, \(w.probesLost) lost")
            out.append("  latency \(milliseconds(w.latencyMs)), loss \(percent(w.lossPercent)), jitter \(milliseconds(w.jitterMs))")
            out.append("  last change: \(localTime(w.lastChange))  (\(w.reason))")
            if let evidence = w.evidence, !evidence.summary.isEmpty { out.append("  evidence: \(evidence.summary)") }
            if !w.targets.isEmpty {
                var rows = [["  TARGET", "LAST RESULT", "RTT", "LOSS", "JITTER"]]
                for t in w.targets {
                    rows.append(["  " + t.target, t.lastResult ?? "-", milliseconds(t.latencyMs), percent(t.lossPercent),
                                 milliseconds(t.jitterMs)])
                }
                out.append(table(rows).trimmingCharacters(in: .newlines))
            }
            out.append("")
        }
        out.append("round lateness: last \(String(format: "%.2f", health.roundLateness.lastMs))ms, max \(String(format: "%.2f", health.roundLateness.maxMs))ms")
        if let problem = health.historyProblem { out.append("history unavailable: \(problem)") }
        printOut(out.joined(separator: "\n"))
    }
}

/// Prints what the core did with a command, in its words. A refusal (the core's 404/409) has
/// already ended the command with the daemon's message and exit code 1 (`APIClient`).
func reportCommand(_ data: Data, json: Bool) throws {
    let result = try? APIViews.decoder().decode(APIViews.CommandResult.self, from: data)
    if json {
        printOut(String(decoding: data, as: UTF8.self))
    } else if let result {
        printOut(result.handled ? "\(result.command): \(result.result ?? "done")"
                 : "\(result.command): accepted, not yet handled by the core")
    } else {
        printOut(String(decoding: data, as: UTF8.self))
    }
    if result?.accepted == false { throw ExitCode(APIClient.refused) }
}

/// `POST /api/wan/IFACE/disable|enable`.
func maintenance(_ interface: String, _ action: String, _ options: APIOptions) async throws {
    let path = "/api/wan/\(interface.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? interface)/\(action)"
    try reportCommand(try await options.client().post(path, body: nil), json: options.json)
}

struct WanDisable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable", abstract: "Maintenance: take a WAN out of every group (probes go on).")
    @OptionGroup var options: APIOptions
    @Argument(help: "The WAN interface.") var interface: String

    func run() async throws { try await maintenance(interface, "disable", options) }
}

struct WanEnable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "End maintenance: the WAN rejoins its groups.")
    @OptionGroup var options: APIOptions
    @Argument(help: "The WAN interface.") var interface: String

    func run() async throws { try await maintenance(interface, "enable", options) }
}

struct WanFailover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover",
        abstract: "Pin a group's new connections to one member (IFACE), or give the choice back to health and priority (--auto).")
    @OptionGroup var options: APIOptions
    @Argument(help: "The uplink group.") var group: String
    @Argument(help: "The member to pin the group to.") var interface: String?
    @Flag(help: "Release the pin: the group follows health and priority again.") var auto = false

    func validate() throws {
        if auto == (interface != nil) { throw ValidationError("give either an interface or --auto") }
    }

    func run() async throws {
        let body = try JSONSerialization.data(withJSONObject: interface.map { ["interface": $0] } ?? ["auto": true])
        let path = "/api/groups/\(group.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? group)/failover"
        try reportCommand(try await options.client().post(path, body: body), json: options.json)
    }
}
