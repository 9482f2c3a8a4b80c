import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The HA pair of docs/ha.md for real: two router namespaces with keepalived, conntrackd and
/// flywall from dist/ha as they are (Benchmarks/HA/pair.sh builds it), two shared ISP segments,
/// a LAN client with a long-lived TCP and UDP flow (Benchmarks/HA/flows.py).
@Suite("HA pair: keepalived + conntrackd + flywall in network namespaces", .serialized, .timeLimit(.minutes(2)))
struct HAPairTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let pairScript = repository.appendingPathComponent("Benchmarks/HA/pair.sh").path
    static let flowsScript = repository.appendingPathComponent("Benchmarks/HA/flows.py").path

    /// One pair: its namespaces (`fwlab-<pid>-...`, so the lab's sweep removes them after a crash),
    /// the routers' process groups and the client.
    final class Pair: @unchecked Sendable {
        let prefix = "fwlab-\(getpid())-" + String(format: "%06x", UInt32.random(in: 0..<0x100_0000)) + "-ha"
        let directory: URL
        var routers: [String: LabProcess] = [:]

        init() throws {
            directory = LabShell.scratch.appendingPathComponent(prefix)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            do {
                try LabShell.run(["bash", HAPairTests.pairScript, "up", prefix, directory.path], timeout: 30)
            } catch {
                remove()
                throw error
            }
        }

        /// keepalived, conntrackd and flywall of router `r` ("a" or "b"), one process group.
        func start(_ r: String) throws {
            routers[r] = try LabProcess("router \(r)", ["bash", HAPairTests.pairScript, "router", prefix, directory.path,
                                                        LabDaemon.binary.path, r])
        }

        /// The router dies: its whole process group at once, and its links (a dead box forwards nothing).
        func kill(_ r: String) throws {
            if let process = routers[r] { _ = Glibc.kill(-process.pid, SIGKILL); _ = process.waitForExit(seconds: 5) }
            for link in ["lan0", "wan0", "wan1", "sync0"] { try LabShell.run("ip", "-n", "\(prefix)-r\(r)", "link", "set", link, "down") }
        }

        func revive(_ r: String) throws {
            for link in ["lan0", "wan0", "wan1", "sync0"] { try LabShell.run("ip", "-n", "\(prefix)-r\(r)", "link", "set", link, "up") }
            try start(r)
        }

        /// `flywall wan status --json` of router `r`, or nil while its API does not answer.
        func status(_ r: String) -> [String: Any]? {
            guard let text = try? LabShell.run(["ip", "netns", "exec", "\(prefix)-r\(r)", LabDaemon.binary.path, "wan", "status", "--json"], timeout: 5),
                  let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
            return object
        }

        func role(_ r: String) -> String? { status(r)?["role"] as? String }

        /// Black-holes ISP `i` (both routers see it the same): everything addressed to it is dropped.
        func blackhole(_ i: Int) throws {
            try LabShell.run(["ip", "netns", "exec", "\(prefix)-isp\(i)", "nft", "-f", "-"], input: """
                table inet blackhole {
                  chain input {
                    type filter hook input priority -10
                    iifname "br0" drop
                  }
                }
                """)
        }

        func log(_ r: String) -> String { "router \(r):\n" + (routers[r]?.lines.suffix(30).joined(separator: "\n") ?? "not started") }

        func remove() {
            for process in routers.values { _ = Glibc.kill(-process.pid, SIGKILL); _ = process.waitForExit(seconds: 5) }
            _ = try? LabShell.run(["bash", HAPairTests.pairScript, "down", prefix], timeout: 30)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// The LAN client's flows, with their reports.
    struct FlowsFailed: Error, CustomStringConvertible {
        var description: String
    }

    struct Flows {
        let process: LabProcess

        init(_ pair: Pair) async throws {
            process = try LabProcess("flows", ["ip", "netns", "exec", "\(pair.prefix)-lan", "python3", HAPairTests.flowsScript,
                                               "--dst", "203.0.113.10"])
            guard await process.waitForLine(seconds: 10, { $0.hasPrefix("ready") }) != nil else {
                throw FlowsFailed(description: "the LAN client's flows did not start: \(process.text)")
            }
        }

        /// One JSON line answering `command` ("report" or "new").
        func ask(_ command: String) async -> [String: Any]? {
            let from = process.lines.count
            process.send(command)
            guard let line = await process.waitForLine(from: from, seconds: 5, { $0.hasPrefix("{") }) else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    static var available: Bool {
        guard LabDaemon.check() else { return false }
        for tool in ["keepalived", "conntrackd"] where !LabShell.has(tool) {
            Issue.record("\(tool) is not installed (scripts/install-deps.sh installs it)")
            return false
        }
        return true
    }

    /// Router failover (kill -9 of the master's process group), the old master's return, and an
    /// uplink failing on the master while both live.
    @Test func masterDiesReturnsAndAnUplinkFails() async throws {
        guard Self.available else { return }
        let pair = try Pair()
        defer { pair.remove() }
        try pair.start("a")
        #expect(await eventually(seconds: 15) { pair.role("a") == "master" }, "\(pair.log("a"))")
        try pair.start("b")
        #expect(await eventually(seconds: 15) { pair.role("b") == "backup" }, "\(pair.log("b"))")
        // Both routers program the same dataplane, so a synced ct mark names the same uplink.
        let layoutA = pair.status("a")?["layout_fingerprint"] as? String
        #expect(layoutA != nil && layoutA == pair.status("b")?["layout_fingerprint"] as? String)

        let flows = try await Flows(pair)
        defer { flows.process.stop(grace: 1) }
        // conntrackd's FTFW sync reaches the backup's external cache within a second or two.
        try await Task.sleep(for: .seconds(2))
        _ = await flows.ask("report")

        // 1. The master dies: the backup takes over, the established flows go on without a reset.
        try pair.kill("a")
        #expect(await eventually(seconds: 10) { pair.role("b") == "master" }, "\(pair.log("b"))")
        try await Task.sleep(for: .seconds(1.5))
        let afterFailover = try #require(await flows.ask("report"))
        #expect(afterFailover["tcp_error"] is NSNull, "the TCP flow broke at the takeover: \(afterFailover)")
        let received = afterFailover["udp_received"] as? Int ?? 0
        // A generous sanity bound; the gap itself is measured by Benchmarks/HA/run.sh.
        #expect((afterFailover["udp_gap_ms"] as? Double ?? .infinity) < 5_000, "\(afterFailover)")
        #expect((afterFailover["tcp_gap_ms"] as? Double ?? .infinity) < 5_000, "\(afterFailover)")
        #expect((await flows.ask("new"))?["new"] as? String == "isp0", "a new connection after the takeover: \(pair.log("b"))")

        // 2. The old master returns: it stays backup (nopreempt), nothing moves, the flows go on.
        try pair.revive("a")
        #expect(await eventually(seconds: 15) { pair.role("a") == "backup" }, "\(pair.log("a"))")
        try await Task.sleep(for: .seconds(1))
        let afterReturn = try #require(await flows.ask("report"))
        #expect(pair.role("b") == "master")
        #expect(afterReturn["tcp_error"] is NSNull && (afterReturn["udp_received"] as? Int ?? 0) > received, "\(afterReturn)")

        // 3. ISP 0 fails while both live: both routers see it, the master moves new connections to
        // wan1 and flushes wan0's dead ones; the backup, which holds none, flushes nothing.
        let marks = (a: pair.routers["a"]!.lines.count, b: pair.routers["b"]!.lines.count)
        try pair.blackhole(0)
        for (r, from) in [("a", marks.a), ("b", marks.b)] {
            #expect(await pair.routers[r]!.waitForLine(from: from, seconds: 10) { $0.contains("failover: group default: wan0 -> wan1") } != nil,
                    "\(pair.log(r))")
        }
        #expect(await pair.routers["b"]!.waitForLine(from: marks.b, seconds: 5) { $0.contains("wan0: flushed") } != nil, "\(pair.log("b"))")
        #expect(!pair.routers["a"]!.lines[marks.a...].contains { $0.contains("flushed") }, "the backup flushed: \(pair.log("a"))")
        #expect((await flows.ask("new"))?["new"] as? String == "isp1", "\(pair.log("b"))")
    }
}
