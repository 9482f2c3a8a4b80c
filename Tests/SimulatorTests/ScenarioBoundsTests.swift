import Domain
import Testing
@testable import Simulator

// Issue #10: a scenario's numbers are bounded with located errors, its work is bounded before it
// runs, and the simulator's arithmetic cannot trap even on a hand-built scenario.

private let file = "Scenarios/bounds.hcl"

/// Two WANs with explicit checks; the scenario text that follows starts on line 8.
private let wans = """
    interface "eth0" {
      wan { priority = 1 }
      health_check { targets = ["192.0.2.1"] }
    }
    interface "eth1" {
      wan { priority = 2 }
    }

    """

private func problems(_ source: String) -> [String] {
    do {
        _ = try ScenarioDecoder.load(source: wans + source, file: file) { _ in "" }
        return []
    } catch {
        return error.diagnostics.map { "\($0.location.line):\($0.location.column): \($0.message)" }
    }
}

@Suite("Hardening: scenario bounds")
struct ScenarioBoundsTests {
    @Test(arguments: [
        ("duration = \"720h\"", nil),
        ("duration = \"720h1ms\"", "8:27: duration: too long, at most 720h, got \"720h1ms\""),
        ("seed = 9007199254740991", nil),
        ("seed = 9007199254740992", "8:23: seed: too large, at most 9007199254740991, got 9007199254740992"),
        ("seed = -1", "8:23: seed: must not be negative, got -1"),
    ] as [(String, String?)])
    func scenarioBlock(_ line: String, _ message: String?) {
        #expect(problems("scenario \"s\" { \(line) }") == (message.map { [$0] } ?? []))
    }

    @Test(arguments: [
        ("latency = \"60s\"", nil),
        ("latency = \"1m1ms\"", "8:25: latency: too long, at most 1m, got \"1m1ms\""),
        ("jitter = \"1m\"", nil),
        ("jitter = \"2562047h\"", "8:24: jitter: too long, at most 1m, got \"2562047h\""),
    ] as [(String, String?)])
    func linkDelays(_ line: String, _ message: String?) {
        #expect(problems("link \"eth0\" { \(line) }") == (message.map { [$0] } ?? []))
    }

    @Test func rateBounds() {
        #expect(problems("traffic \"lan\" {\n  rate = 10000\n}") == [])
        #expect(problems("traffic \"lan\" {\n  rate = 10001\n}") ==
                ["9:10: rate: too large, at most 10000 new connections per second, got 10001"])
        #expect(problems("traffic \"lan\" {\n  rate = 1e308\n}").first?.hasPrefix("9:10: rate: too large, at most 10000") == true)
        #expect(problems("traffic \"lan\" {\n  rate = 0.001\n}") == [])
        #expect(problems("traffic \"lan\" {\n  rate = 0.0009\n}") ==
                ["9:10: rate: too small, at least 0.001 new connections per second, got 0.0009"])
    }

    @Test func sourceCountBounds() {
        #expect(problems("traffic \"lan\" {\n  source_count = 65536\n  rate = 1\n}") == [])
        #expect(problems("traffic \"lan\" {\n  source_count = 65537\n  rate = 1\n}") ==
                ["9:18: source_count: too large, at most 65536, got 65537"])
        #expect(problems("traffic \"lan\" {\n  source_count = 0\n  rate = 1\n}").count == 1)
    }

    @Test func workBeyondTheLimitIsRejectedBeforeTheRunNamingTheProduct() {
        // 10,000/s for 720h is 25.9 billion connections.
        let found = problems("""
            scenario "s" { duration = "720h" }
            traffic "lan" {
              rate = 10000
            }
            """)
        #expect(found == ["8:27: scenario: too many connections, at most 1000000, got 25920000000: 25920000000 (traffic \"lan\": 10000/s × 2592000s); shorten duration, lower rate or lengthen intervals"])
    }

    @Test func connectionsJustInsideTheLimitAreAccepted() {
        #expect(problems("""
            scenario "s" { duration = "1000s" }
            traffic "lan" {
              rate = 1000
            }
            """) == [])
        #expect(problems("""
            scenario "s" { duration = "1000.001s" }
            traffic "lan" {
              rate = 1000
            }
            """).first?.contains("too many connections, at most 1000000, got 1000001") == true)
    }

    @Test func probesAreBoundedOnTheirOwn() {
        // 16 targets every 10 ms: 720h gives 259,200,001 rounds × 16 = 4,147,200,016, plus eth0's
        // 518,401 and eth1's 1,036,802.
        let targets = (1...16).map { "\"192.0.2.\($0)\"" }.joined(separator: ", ")
        let found = problems("""
            interface "eth2" {
              wan {}
              health_check {
                targets  = [\(targets)]
                interval = "10ms"
              }
            }
            scenario "s" { duration = "720h" }
            """)
        #expect(found.first?.contains("too many probes, at most 10000000, got 4148755219 (eth0: 518401 rounds × 1 target, eth1: 518401 rounds × 2 targets, eth2: 259200001 rounds × 16 targets)") == true, "\(found)")
        // eth0 and eth1 alone for 720h: 518,401 + 1,036,802 probes, inside the limit.
        #expect(problems("scenario \"s\" { duration = \"720h\" }") == [])
    }

    /// Issue #10 after #11: a WAN held down, failing or on standby probes at that cadence the whole
    /// run, so a short recovery, failure or standby interval bounds the rounds, not `interval`.
    @Test(arguments: ["recovery_interval", "failure_interval", "standby_interval"])
    func probesAreCountedAtTheShortestCadence(_ name: String) {
        let targets = (1...16).map { "\"192.0.2.\($0)\"" }.joined(separator: ", ")
        /// eth2 with 16 targets, probed hourly but every `cadence` in state `name`, black-holed from 0s.
        func eth2(_ cadence: String) -> String {
            """
            interface "eth2" {
              wan {}
              health_check {
                targets  = [\(targets)]
                interval = "1h"
                \(name) = "\(cadence)"
              }
            }
            scenario "s" { duration = "720h" }
            link "eth2" {
              blackhole = true
            }
            """
        }
        // 720h / 10ms + 1 = 259,200,001 rounds × 16 targets, plus eth0's and eth1's 1,555,203.
        let found = problems(eth2("10ms"))
        #expect(found.first?.contains("too many probes, at most 10000000, got 4148755219 (eth0: 518401 rounds × 1 target, eth1: 518401 rounds × 2 targets, eth2: 259200001 rounds × 16 targets (\(name) 10ms))") == true, "\(found)")
        // With that cadence at 1h as well, it fits easily.
        #expect(problems(eth2("1h")) == [])
    }

    @Test func everyFlowReadingExpectationCountsTheConnectionsAgain() {
        let found = problems("""
            scenario "s" { duration = "100s" }
            traffic "lan" {
              rate = 2000
            }
            expect "a" {
              share = "eth0"
              min   = 0.5
            }
            expect "b" {
              share = "eth1"
              max   = 0.5
            }
            expect "c" {
              share = "eth0"
              min   = 0.1
            }
            expect "d" {
              share = "eth0"
              min   = 0.2
            }
            expect "e" {
              share = "eth0"
              min   = 0.3
            }
            """)
        #expect(found.first?.contains("got 1200000: 200000 (traffic \"lan\": 2000/s × 100s) × 6 (stored, then read by 5 expectations)") == true, "\(found)")
    }
}

@Suite("Hardening: simulator arithmetic at the bounds")
struct SimulatorArithmeticTests {
    @Test func theLargestDecodedValuesRun() throws {
        let scenario = try ScenarioDecoder.load(source: """
            interface "eth0" {
              wan { priority = 1 }
              health_check {
                targets        = ["192.0.2.1"]
                interval       = "1h"
                timeout        = "1h"
                threshold_down = 100
                threshold_up   = 100
                window         = 1000
              }
            }
            scenario "s" {
              duration = "720h"
              seed     = 9007199254740991
            }
            link "eth0" {
              latency = "1m"
              jitter  = "1m"
            }
            """, file: file) { _ in "" }
        let result = Simulation(scenario: scenario).run()
        #expect(result.probesSent == 721)
        #expect(result.finalStatus.first?.state == .up)
        #expect((result.finalStatus.first?.latencyMs ?? 0) >= 60_000)
    }

    @Test func aHandBuiltScenarioWithHugeDelaysDoesNotTrap() {
        var link = LinkState()
        link.latency = .seconds(Int64.max)
        link.jitter = .seconds(Int64.max)
        let config = FlywallConfig(interfaces: [
            Interface(name: "eth0", wan: WANSettings(), healthCheck: HealthCheck(targets: [IPAddress("192.0.2.1")!])),
        ])
        let scenario = Scenario(name: "huge", duration: .seconds(60), config: config, links: ["eth0": link],
                                traffic: [TrafficSource(name: "lan", sources: [IPAddress("192.168.1.10")!], rate: 100,
                                                        start: .seconds(59))])
        let result = Simulation(scenario: scenario).run()
        // Replies would arrive at the end of time: none in the run; the WAN goes down on timeouts.
        #expect(result.probesAnswered == 0)
        #expect(result.finalStatus.first?.state == .down)
    }
}
