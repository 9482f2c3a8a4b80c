import Foundation
import Domain
@testable import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flywall lab` as an operator runs it: the scenario files of Scenarios/ for real (shortened by
/// their `lab_duration`), a wrong expectation that must fail, and a SIGKILLed run whose namespaces
/// the next run sweeps.
@Suite("flywall lab (scenarios for real)", .serialized)
struct LabScenarioTests {
    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The scenarios that make sense in real time, each shortened by its `lab_duration` (1/10).
    /// Left out, with the reason (docs/lab.md, "Which scenarios run in CI"): latency-max (at 1/10
    /// its deciding round is 0.33 ms under max_latency, less than the real path adds to a reply);
    /// all-down (connections sent to a link without carrier never reach an ISP's capture, so its
    /// share window cannot be observed); random-loss-max-loss (the kernel's unseeded loss degrades
    /// eth0 inside the window in 93.5 % of runs, not always); fast-reprobing (its 100 ms timeout and
    /// 150 ms blip would be 10 ms and 15 ms, under the fault commands' own latency; the real daemon
    /// runs its timings in FastReprobingTests). cable-dsl runs with the lab's PPPoE stand-in (the
    /// session's device as a veth, a pppd that holds it: this kernel has no PPP).
    static let scenarios = [
        "balance-2to1.hcl", "basic-dual-wan.hcl", "basic-dual-wan-blackhole.hcl", "basic-dual-wan-default-check.hcl",
        "cable-dsl.hcl", "cable-pulled.hcl", "failback.hcl", "flapping.hcl", "health-check-targets.hcl", "http-check.hcl",
        "lte-backup.hcl", "lte-standby.hcl", "maintenance-and-force.hcl", "one-target-dead.hcl", "passive-blackhole.hcl",
        "passive-idle.hcl", "passive-last-active.hcl", "policy-routes.hcl", "random-loss-20.hcl",
        "reliability-k-of-three.hcl", "reliability-two-targets.hcl", "slow-failover-tuning.hcl", "sticky-sessions.hcl",
    ]

    static func lab(_ arguments: [String], timeout: Double = 240) throws -> LabShell.Result {
        try LabShell.runStatus([LabDaemon.binary.path, "lab"] + arguments, timeout: timeout)
    }

    @Test(arguments: LabScenarioTests.scenarios)
    func scenarioPassesInTheLab(_ name: String) throws {
        guard LabDaemon.check() else { return }
        let file = Self.repository.appendingPathComponent("Scenarios/\(name)").path
        let result = try Self.lab([file])
        #expect(result.status == 0, "flywall lab \(name) exited \(result.status):\n\(result.stdout)\n\(result.stderr)")
        // "N passed, 0 failed" with N > 0 (a bare contains would also take "10 failed" or "0 passed").
        let summaries = result.stdout.split(separator: "\n").compactMap { $0.wholeMatch(of: /(\d+) passed, (\d+) failed/) }
        let summary = try #require(summaries.last, "no summary line: \(result.stdout)")
        #expect(Int(summary.2) == 0, "\(result.stdout)")
        #expect(Int(summary.1)! > 0, "\(result.stdout)")
    }

    @Test func aWrongExpectationFailsInTheLabToo() throws {
        guard LabDaemon.check() else { return }
        let source = try String(contentsOfFile: Self.repository.appendingPathComponent("Scenarios/basic-dual-wan-blackhole.hcl").path, encoding: .utf8)
        let wrong = source + """

            expect "wrong: the backup goes down" {
              event  = "wan_down"
              uplink = "eth1"
            }

            """
        let file = LabShell.scratch.appendingPathComponent("wrong-\(UUID().uuidString).hcl").path
        try wrong.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let result = try Self.lab([file, "--json"])
        #expect(result.status == 1, "exit \(result.status): \(result.stdout)\n\(result.stderr)")
        let root = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let verdicts = (root?["expectations"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "") \($0["result"] ?? "")" }
        #expect(verdicts.contains("wrong: the backup goes down FAIL"), "\(result.stdout)")
        #expect(verdicts.filter { $0.hasSuffix(" FAIL") }.count == 1, "\(verdicts)")
        #expect(root?["lab"] is [String: Any], "\(result.stdout)")
    }

    @Test func aKilledRunsNamespacesAreSweptByTheNext() async throws {
        guard LabDaemon.check() else { return }
        let file = Self.repository.appendingPathComponent("Scenarios/basic-dual-wan-blackhole.hcl").path
        let run = try LabProcess("flywall lab", [LabDaemon.binary.path, "lab", file])
        let prefix = LabTopology.prefix + "\(run.pid)-"
        func leftovers() throws -> [String] {
            try LabShell.run("ip", "netns", "list").split(separator: "\n").map { String($0.split(separator: " ")[0]) }
                .filter { $0.hasPrefix(prefix) }
        }
        let built = await eventually(seconds: 30, every: 0.1) { try leftovers().count >= 4 }
        #expect(built, "the lab built no namespaces named \(prefix)...: \(run.text)")
        // Let it get as far as the daemon, so there are processes inside to kill too.
        try await Task.sleep(for: .seconds(3))
        run.signal(SIGKILL)
        #expect(run.waitForExit(seconds: 10) == 128 + SIGKILL)
        #expect(try !leftovers().isEmpty, "a SIGKILLed run cannot clean up; its namespaces should still be there")

        // The next run sweeps them before it builds its own.
        let next = try Self.lab([file], timeout: 120)
        #expect(next.status == 0, "\(next.stdout)\n\(next.stderr)")
        #expect(try leftovers().isEmpty, "namespaces of the killed run left behind: \((try? leftovers()) ?? [])")
    }

    @Test func sigtermRemovesEverything() async throws {
        guard LabDaemon.check() else { return }
        let file = Self.repository.appendingPathComponent("Scenarios/basic-dual-wan-blackhole.hcl").path
        let run = try LabProcess("flywall lab", [LabDaemon.binary.path, "lab", file])
        let prefix = LabTopology.prefix + "\(run.pid)-"
        func ours() throws -> [String] {
            try LabShell.run("ip", "netns", "list").split(separator: "\n").map { String($0.split(separator: " ")[0]) }
                .filter { $0.hasPrefix(prefix) }
        }
        #expect(await eventually(seconds: 30, every: 0.1) { try ours().count >= 4 }, "\(run.text)")
        try await Task.sleep(for: .seconds(3))
        run.signal(SIGTERM)
        #expect(run.waitForExit(seconds: 30) == 130, "\(run.text)")
        #expect(try ours().isEmpty, "left behind: \((try? ours()) ?? [])")
    }
}

/// The lab's preparation of a scenario, without namespaces (no root needed).
@Suite("lab scenario scaling")
struct LabScenarioScalingTests {
    static let file = LabScenarioTests.repository.appendingPathComponent("Scenarios/basic-dual-wan-blackhole.hcl").path

    static func load(scale: Double?) throws -> LabScenario {
        try LabScenario.load(source: try String(contentsOfFile: file, encoding: .utf8), file: file, scale: scale) {
            try String(contentsOfFile: $0, encoding: .utf8)
        }
    }

    @Test func labDurationScalesEveryDurationAndDividesRates() throws {
        let lab = try Self.load(scale: nil)
        #expect(lab.scale == 0.1)
        #expect(lab.scenario.duration == .seconds(12))
        #expect(lab.scenario.faults.map(\.time) == lab.original.faults.map { $0.time / 10 })
        #expect(lab.scenario.expectations.map(\.after) == lab.original.expectations.map { $0.after.map { $0 / 10 } })
        #expect(lab.scenario.config.healthCheck(for: "eth0")?.interval == .milliseconds(500))
        #expect(lab.scenario.config.healthCheck(for: "eth0")?.timeout == .milliseconds(200))
        #expect(lab.scenario.traffic.map(\.rate) == lab.original.traffic.map { $0.rate * 10 })
        // The daemon's config is the scaled config, with the lab's LAN interface added.
        #expect(lab.daemonConfig.contains(#/interval\s+= "500ms"/#), "\(lab.daemonConfig)")
        #expect(lab.daemonConfig.contains("interface \"lan0\""))
        #expect(!lab.daemonConfig.contains("scenario \""))
        #expect(!lab.daemonConfig.contains("expect \""))
    }

    @Test func anExplicitScaleWinsAndABadOneIsAnError() throws {
        #expect(try Self.load(scale: 1).scenario.duration == .seconds(120))
        #expect(try Self.load(scale: 0.5).scenario.duration == .seconds(60))
        for bad in [0, -1, 2, Double.nan] {
            #expect(throws: DiagnosticList.self) { try Self.load(scale: bad) }
        }
    }

    @Test func aDefaultTimeoutIsWrittenOutSoItScales() throws {
        // cable-dsl's check gives `interval = "5s"` and no timeout: min(2s, 5s) = 2s, 200ms at 1/10.
        let file = LabScenarioTests.repository.appendingPathComponent("Scenarios/cable-dsl.hcl").path
        let lab = try LabScenario.load(source: try String(contentsOfFile: file, encoding: .utf8), file: file, scale: nil) {
            try String(contentsOfFile: $0, encoding: .utf8)
        }
        #expect(lab.original.config.healthCheck(for: "eth0")?.timeout == .seconds(2))
        #expect(lab.scenario.config.healthCheck(for: "eth0")?.interval == .milliseconds(500))
        #expect(lab.scenario.config.healthCheck(for: "eth0")?.timeout == .milliseconds(200))
        #expect(lab.daemonConfig.contains(#/timeout\s+= "200ms"/#), "\(lab.daemonConfig)")
    }

    @Test func operatorCommandsGoToTheAPIWithATokenOfTheRun() throws {
        let lab = try Self.load(scale: nil)
        let token = try #require(lab.apiToken)
        #expect(token.count == 32)
        #expect(lab.daemonConfig.contains("token = \"\(token)\""))
        #expect(try Self.load(scale: nil).apiToken != token, "a token per run")
        #expect(LabAPIClient.request(for: .maintenance(interface: "eth0", enabled: true)) == ("/api/wan/eth0/disable", ""))
        #expect(LabAPIClient.request(for: .maintenance(interface: "eth0", enabled: false)) == ("/api/wan/eth0/enable", ""))
        #expect(LabAPIClient.request(for: .forceActive(group: "default", interface: "eth1"))
                == ("/api/groups/default/failover", #"{"interface": "eth1"}"#))
        #expect(LabAPIClient.request(for: .forceActive(group: "default", interface: nil)) == ("/api/groups/default/failover", #"{"auto": true}"#))
    }

    @Test func toleranceGrowsWithTheWindow() {
        let t = LabTolerance()
        #expect(t.amount(forWindow: .seconds(1)) == .milliseconds(120))
        #expect(t.amount(forWindow: .zero) == .milliseconds(100))
    }
}
