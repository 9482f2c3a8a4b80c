import Domain
import Testing
@testable import Simulator

/// The simulator's model of passive checks: TCP connections on a captured WAN are the observations.
@Suite struct PassiveSimulationTests {
    static func passive(threshold: Int = 3) -> HealthCheck {
        HealthCheck(kind: .passive, interval: .seconds(5), timeout: .seconds(2), thresholdDown: threshold, thresholdUp: 2)
    }

    /// eth0 with a passive check (the primary), eth1 with none (carrier decides).
    static func config(eth0: HealthCheck? = passive()) -> FlywallConfig {
        FlywallConfig(interfaces: [
            Interface(name: "eth0", dhcp: true, wan: WANSettings(priority: 1), healthCheck: eth0),
            Interface(name: "eth1", dhcp: true, wan: WANSettings(priority: 2)),
        ])
    }

    static func run(_ traffic: TrafficSource = Build.lan, faults: [TimedFault] = [], links: [String: LinkState] = [:],
                    config: FlywallConfig = config(), duration: Int64 = 10) -> Runner {
        var scenario = Build.scenario(faults, traffic: [traffic], duration: duration, config: config)
        scenario.links = links
        var runner = Runner(scenario: scenario)
        _ = runner.run()
        return runner
    }

    static func eth0(_ runner: Runner) -> WANStatus { runner.orderedStatus()[0] }

    @Test func tcpConnectionsOnACapturedWANAreAttemptsAndTheirAnswers() {
        let runner = Self.run()
        // 4 connections a second for 10s, all on eth0, answered after 10ms.
        #expect(runner.connectionAttempts == 40)
        #expect(runner.connectionAnswers == 40)
        #expect(runner.capturing == [true, false])
        // Intervals close at 5s and 10s: two good rounds.
        #expect(Self.eth0(runner).roundsTotal == 2)
        #expect(Self.eth0(runner).goodRounds == 2)
        #expect(runner.logs.first { $0.message.contains("capturing") }?.message
                == "simulator: capturing connection attempts on eth0")
    }

    @Test func otherTrafficAndOtherChecksAreNotObserved() {
        var udp = Build.lan
        udp.proto = .udp
        #expect(Self.run(udp).connectionAttempts == 0)
        let icmp = Self.run(config: Self.config(eth0: Build.check()))
        #expect(icmp.connectionAttempts == 0)
        #expect(icmp.capturing == [false, false])
        #expect(!icmp.logs.contains { $0.message.contains("capturing") })
    }

    @Test func unreachableDestinationsAndBlackHolesAnswerNothing() {
        var state = LinkState()
        state.unreachable = [Build.ip("198.51.100.1")]
        let unreachable = Self.run(links: ["eth0": state], config: Self.config(eth0: Self.passive(threshold: 1)))
        #expect(unreachable.connectionAttempts > 0)
        #expect(unreachable.connectionAnswers == 0)
        // The first interval's attempts time out by 5s; that failed round takes eth0 down at once.
        let down = unreachable.events.first { $0.kind == .wanDown }
        #expect(down?.interface == "eth0" && down?.time == .seconds(5))
        #expect(down?.reason == "1 consecutive failed passive rounds (0/12 connection attempts answered)")

        let blackhole = Self.run(faults: [Build.at(0, "eth0", LinkChange(blackhole: true))])
        #expect(blackhole.connectionAnswers == 0)
    }

    @Test func lossDrawsFromTheWANsOwnStreamReproducibly() {
        var lossy = LinkState()
        lossy.loss = 50
        let a = Self.run(links: ["eth0": lossy], duration: 60)
        let b = Self.run(links: ["eth0": lossy], duration: 60)
        // About half answered (eth0 may go down on the way, which ends its attempts).
        #expect(a.connectionAttempts >= 20)
        #expect(a.connectionAnswers * 10 > a.connectionAttempts * 3 && a.connectionAnswers * 10 < a.connectionAttempts * 7)
        #expect(a.connectionAnswers == b.connectionAnswers)
        #expect(a.events == b.events)
        // Probes of another WAN draw from their own streams: passive traffic does not shift them.
        var probed = Self.config()
        probed.interfaces[1].healthCheck = Build.check()
        let withTraffic = Self.run(links: ["eth0": lossy, "eth1": lossy], config: probed, duration: 60)
        var quiet = Build.lan
        quiet.rate = 0.01
        let without = Self.run(quiet, links: ["eth0": lossy, "eth1": lossy], config: probed, duration: 60)
        #expect(withTraffic.probesAnswered == without.probesAnswered)
    }

    @Test func theIdleScenarioHasRoundsOnlyWhileThereIsTraffic() throws {
        var runner = Runner(scenario: try ScenarioFiles.load("Scenarios/passive-idle.hcl"))
        let result = runner.run()
        // Traffic until 20s: eth0's intervals closing at 5s, 10s, 15s, 20s; nothing after, nothing on eth1.
        #expect(result.finalStatus.map(\.roundsTotal) == [4, 0])
        #expect(result.finalStatus.map(\.state) == [.up, .up])
        #expect(runner.core.nextDeadline == nil)
    }

    @Test func thePassiveBlackholeScenarioIsByteStableAndAWrongExpectationFails() throws {
        var scenario = try ScenarioFiles.load("Scenarios/passive-blackhole.hcl")
        let a = Simulation(scenario: scenario).evaluate()
        let b = Simulation(scenario: scenario).evaluate()
        #expect(TextReporter.render(a, verbose: true) == TextReporter.render(b, verbose: true))
        #expect(JSONReporter.render(a, verbose: true) == JSONReporter.render(b, verbose: true))
        #expect(a.allPassed)

        scenario.expectations = [
            // Two intervals of unanswered connections are not enough with threshold_down = 3.
            Expectation(name: "too early", check: .event(kind: .failover, uplink: "eth1", group: nil, count: nil),
                        after: .seconds(30), before: .seconds(44)),
            // It does recover (65.012s), but not this early: recovery probes start at 50s and need two good rounds.
            Expectation(name: "recovers at once", check: .event(kind: .wanUp, uplink: "eth0", group: nil, count: nil),
                        after: .seconds(60), before: .seconds(65)),
            Expectation(name: "stays on eth0", check: .share(uplink: "eth0", min: 0.9, max: 1)),
        ]
        let report = Simulation(scenario: scenario).evaluate()
        #expect(report.expectations.map(\.passed) == [false, false, false])
        #expect(TextReporter.render(report).hasSuffix("0 passed, 3 failed\n"))
    }
}
