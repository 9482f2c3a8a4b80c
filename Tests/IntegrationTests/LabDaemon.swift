import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `flywall daemon`, built beside the test runner, running in the lab's router namespace.
final class LabDaemon: @unchecked Sendable {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("flywall")
    }

    /// Whether the binary has a `daemon` subcommand (`flywall daemon --help` exits 0).
    static let available: Bool = {
        (try? LabShell.runStatus([binary.path, "daemon", "--help"]).status) == 0
    }()

    /// Records a failure (never a silent pass) when the lab or the daemon is missing.
    static func check(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        guard LabRequirements.check(sourceLocation: sourceLocation) else { return false }
        guard available else {
            Issue.record("`\(binary.path) daemon --help` failed: the binary has no `daemon` subcommand yet",
                         sourceLocation: sourceLocation)
            return false
        }
        return true
    }

    let lab: LabTopology
    let configPath: String
    private(set) var process: LabProcess
    /// Log lines of earlier runs (before `restart`/`start`), oldest first.
    private(set) var earlierRuns: [[String]] = []

    /// `flywall daemon` and its options; FWLAB_DAEMON_LOG_LEVEL=debug shows more in failure messages.
    /// The history goes beside the config, so runs never share (or leave) /var/lib/flywall.
    private static func command(_ configPath: String, _ extra: [String]) -> [String] {
        [binary.path, "daemon", "--config", configPath] + extra + [
         "--state-dir", URL(fileURLWithPath: configPath).deletingLastPathComponent().appendingPathComponent("state").path]
            + (ProcessInfo.processInfo.environment["FWLAB_DAEMON_LOG_LEVEL"].map { ["--log-level", $0] } ?? [])
    }

    /// Writes `config` to the lab's directory and starts the daemon on it (not waiting for anything).
    /// `arguments`: more daemon options (e.g. `--pppd PATH`), kept for `start()`.
    init(lab: LabTopology, config: String, arguments: [String] = []) throws {
        self.lab = lab
        self.arguments = arguments
        configPath = lab.directory.appendingPathComponent("flywall.hcl").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        process = try lab.spawn("flywall daemon", in: lab.router, Self.command(configPath, arguments))
    }
    private let arguments: [String]

    /// The daemon's state directory (history, PPPoE files).
    var stateDirectory: String { URL(fileURLWithPath: configPath).deletingLastPathComponent().appendingPathComponent("state").path }

    /// Starts another daemon on the same config file (after the previous one exited or was killed).
    func start() throws {
        earlierRuns.append(process.lines)
        process = try lab.spawn("flywall daemon", in: lab.router, Self.command(configPath, arguments))
    }

    func writeConfig(_ config: String) throws {
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    var lines: [String] { process.lines }

    /// The last lines of the log, for failure messages.
    var tail: String {
        "daemon log (last 40 lines):\n" + process.lines.suffix(40).joined(separator: "\n")
    }

    /// Waits for a log line containing `text` (from line `from` on).
    func waitForLog(_ text: String, from: Int = 0, seconds: Double = 15) async -> String? {
        await process.waitForLine(from: from, seconds: seconds) { $0.contains(text) }
    }

    /// Waits for a log line matching `pattern` (from line `from` on).
    func waitForLog(matching pattern: Regex<Substring>, from: Int = 0, seconds: Double = 15) async -> String? {
        await process.waitForLine(from: from, seconds: seconds) { $0.contains(pattern) }
    }

    /// Waits for `dataplane ready`; records a failure with the log when it does not come.
    func waitReady(seconds: Double = 20, sourceLocation: SourceLocation = #_sourceLocation) async -> Bool {
        if await waitForLog("dataplane ready", seconds: seconds) != nil { return true }
        Issue.record("no `dataplane ready` within \(Int(seconds))s (exit status \(process.exitStatus.map(String.init) ?? "none: still running")); \(tail)",
                     sourceLocation: sourceLocation)
        return false
    }

    /// Waits for a log line; records a failure naming what was expected when it does not come.
    @discardableResult
    func expectLog(_ text: String, from: Int = 0, seconds: Double = 15,
                   sourceLocation: SourceLocation = #_sourceLocation) async -> String? {
        if let line = await waitForLog(text, from: from, seconds: seconds) { return line }
        Issue.record("no log line containing `\(text)` within \(Int(seconds))s; \(tail)", sourceLocation: sourceLocation)
        return nil
    }

    func signal(_ number: Int32) { process.signal(number) }

    /// SIGTERM and wait for the exit status.
    func terminate(seconds: Double = 15) -> Int32? {
        process.signal(SIGTERM)
        return process.waitForExit(seconds: seconds)
    }

    /// SIGKILL (a crash): nothing of the daemon runs afterwards, whatever it left in the kernel.
    func kill9() {
        process.signal(SIGKILL)
        _ = process.waitForExit(seconds: 10)
    }
}

/// Config text for the lab: every WAN of the lab with a fast ICMP check on its own ISP's targets,
/// and the LAN interface. Groups and policies are added by each test.
enum LabConfig {
    struct WAN {
        var priority = 1
        var weight = 1
        var dhcp = false
        /// The lines inside `health_check { }`; nil: ICMP to the ISP's targets, every second.
        var check: [String]? = nil
    }

    /// The check every lab WAN gets unless told otherwise: fast, so a fault shows in 2-3 s.
    static func icmpCheck(_ isp: LabTopology.ISP) -> [String] {
        ["targets        = [\(isp.targets.map { "\"\($0)\"" }.joined(separator: ", "))]"] + timing
    }

    static let timing = ["interval       = \"1s\"", "timeout        = \"500ms\"", "threshold_down = 2", "threshold_up   = 2"]

    /// The WAN interfaces (all of the lab's, or the first `count`) and the LAN interface.
    static func interfaces(_ lab: LabTopology, _ wans: [WAN]? = nil, count: Int? = nil) -> String {
        let wans = wans ?? lab.isps.map { WAN(priority: $0.index + 1) }
        var text = ""
        for (isp, wan) in zip(lab.isps.prefix(count ?? lab.isps.count), wans) {
            let addressing = wan.dhcp
                ? "  dhcp = true\n"
                : "  address = \"\(isp.address)/\(isp.prefixLength)\"\n  gateway = \"\(isp.gateway)\"\n"
            text += """
                interface "\(isp.wan)" {
                  zone = "WAN"
                \(addressing)  wan {
                    priority = \(wan.priority)
                    weight   = \(wan.weight)
                  }
                  health_check {
                \((wan.check ?? icmpCheck(isp)).map { "    " + $0 }.joined(separator: "\n"))
                  }
                }


                """
        }
        text += """
            interface "lan0" {
              zone    = "LAN"
              address = "\(LabTopology.lanGateway)/24"
            }

            """
        return text
    }

    /// A policy route that pins TCP to port 7001 to eth1, for a connection that lives on the backup
    /// while the primary carries the rest.
    static let holdOnBackup = """
        policy_route "hold-on-backup" {
          match {
            protocol  = "tcp"
            dest_port = 7001
          }
          uplink = "eth1"
        }

        """

    /// A failover group of all the lab's WANs, in index order (eth0 preferred).
    static func failoverGroup(_ lab: LabTopology, order: [Int]? = nil, count: Int? = nil) -> String {
        let order = order ?? Array(lab.isps.indices.prefix(count ?? lab.isps.count))
        let members = order.enumerated().map { "  member \"eth\($1)\" { priority = \($0 + 1) }" }
        return "uplink_group \"default\" {\n  mode = \"failover\"\n" + members.joined(separator: "\n") + "\n}\n"
    }
}

/// What the kernel of the router namespace holds, read with the CLI tools.
struct LabKernel {
    let lab: LabTopology

    static let ownedRulePriorities = 10000...10999
    static func isOwnedTable(_ id: Int) -> Bool { (10000...10999).contains(id) || (20000...85535).contains(id) }

    /// `nft list table inet flywall`, or nil if there is none.
    func flywallTable() -> String? {
        try? lab.exec(lab.router, ["nft", "list", "table", "inet", "flywall"])
    }

    /// The tables nft lists (`table inet flywall`, ...).
    func nftTables() throws -> [String] {
        try lab.exec(lab.router, ["nft", "list", "tables"]).split(separator: "\n").map(String.init)
    }

    /// `ip rule` lines (IPv4 or IPv6) as printed, e.g. `10100:\tfrom all fwmark 0x1000000/0xff000000 lookup 10000`.
    func rules(v6: Bool = false) throws -> [String] {
        try lab.exec(lab.router, ["ip"] + (v6 ? ["-6"] : []) + ["rule", "show"]).split(separator: "\n").map(String.init)
    }

    /// The rules in Flywall's priority range.
    func ownedRules(v6: Bool = false) throws -> [String] {
        try rules(v6: v6).filter { line in
            Int(line.prefix { $0 != ":" }).map(Self.ownedRulePriorities.contains) ?? false
        }
    }

    /// Routes in Flywall's tables (`ip route show table all`), each line with its `table N`.
    func ownedRoutes(v6: Bool = false) throws -> [String] {
        let text = try lab.exec(lab.router, ["ip"] + (v6 ? ["-6"] : []) + ["route", "show", "table", "all"])
        return text.split(separator: "\n").map(String.init).filter { line in
            guard let m = line.firstMatch(of: /\btable (\d+)\b/), let id = Int(m.1) else { return false }
            return Self.isOwnedTable(id)
        }
    }

    /// `ip route show table N`, trimmed lines without `proto ...` (who installed a route is not
    /// what these tests check).
    func routes(table: Int) throws -> [String] {
        try lab.exec(lab.router, ["ip", "route", "show", "table", String(table)])
            .split(separator: "\n").map { $0.replacing(#/ proto \S+/#, with: "").trimmingCharacters(in: .whitespaces) }
    }

    /// Tables among `tables` whose routes are not `expected`, with what they hold.
    func tables(_ tables: [Int], notRouting expected: [String]) throws -> [Int: [String]] {
        var wrong: [Int: [String]] = [:]
        for table in tables {
            let routes = try routes(table: table)
            if routes != expected { wrong[table] = routes }
        }
        return wrong
    }

    /// Everything Flywall owns in the kernel, for before/after comparisons.
    struct Snapshot: Equatable {
        var table: String?
        var rules: [String]
        var routes: [String]
    }

    func snapshot() throws -> Snapshot {
        Snapshot(table: flywallTable(), rules: try ownedRules(), routes: try ownedRoutes().sorted())
    }

    /// One conntrack entry of the router.
    struct Connection: CustomStringConvertible {
        var line: String
        var proto: String
        var source: String
        var destination: String
        var sourcePort: Int?
        var destinationPort: Int?
        var mark: UInt32
        /// When the kernel created the entry (`[start=...]`, to the second), when the router
        /// namespace has `net.netfilter.nf_conntrack_timestamp=1`: a flushed and re-created
        /// connection has a later one. (Its `id` may repeat: the kernel hashes it from the tuple.)
        var started: String?
        var pin: UInt32 { mark >> 24 }
        var description: String { line }
    }

    func connections() throws -> [Connection] {
        let text = try lab.exec(lab.router, ["conntrack", "-L", "-o", "ktimestamp"])
        return text.split(separator: "\n").compactMap { raw in
            let line = String(raw)
            let fields = line.split(separator: " ")
            guard let proto = fields.first.map(String.init) else { return nil }
            func first(_ key: String) -> String? {
                fields.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
            }
            guard let src = first("src"), let dst = first("dst") else { return nil }
            return Connection(line: line, proto: proto, source: src, destination: dst,
                              sourcePort: first("sport").flatMap { Int($0) }, destinationPort: first("dport").flatMap { Int($0) },
                              mark: first("mark").flatMap { UInt32($0) } ?? 0,
                              started: line.firstMatch(of: /\[start=([^\]]+)\]/).map { String($0.1) })
        }
    }

    /// LAN connections (source in 192.168.1.0/24).
    func lanConnections() throws -> [Connection] {
        try connections().filter { $0.source.hasPrefix("192.168.1.") }
    }
}
