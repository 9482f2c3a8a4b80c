import Domain
import Testing
@testable import Simulator

/// Hand-built scenarios run against the real core.
enum Build {
    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    static func check(interval: Duration = .seconds(5)) -> HealthCheck {
        HealthCheck(targets: [ip("1.1.1.1"), ip("8.8.8.8")], interval: interval, timeout: .seconds(2))
    }

    static func dualWAN(mode: UplinkGroup.Mode = .failover, eth0Address: CIDR? = nil) -> FlywallConfig {
        FlywallConfig(
            interfaces: [
                Interface(name: "eth0", zone: "WAN", dhcp: eth0Address == nil, address: eth0Address,
                          wan: WANSettings(priority: 1)),
                Interface(name: "eth1", zone: "WAN", dhcp: true, wan: WANSettings(priority: 2)),
            ],
            uplinkGroups: [
                UplinkGroup(name: "default", mode: mode, members: [
                    Member(interface: "eth0", priority: 1, healthCheck: check()),
                    Member(interface: "eth1", priority: 2, healthCheck: check()),
                ]),
            ])
    }

    static let lan = TrafficSource(name: "lan", sources: [ip("192.168.1.10"), ip("192.168.1.11")], rate: 4)

    static func scenario(_ faults: [TimedFault] = [], traffic: [TrafficSource] = [lan], duration: Int64 = 60,
                         config: FlywallConfig = dualWAN()) -> Scenario {
        Scenario(name: "test", duration: .seconds(duration), seed: 3, config: config, traffic: traffic, faults: faults)
    }

    static func at(_ seconds: Int64, _ interface: String, _ change: LinkChange) -> TimedFault {
        TimedFault(time: .seconds(seconds), action: .link(interface, change))
    }
}

@Suite struct SimulationTests {
    @Test func pullingTheCableIsImmediate() {
        let result = Simulation(scenario: Build.scenario([Build.at(20, "eth0", LinkChange(carrier: false))])).run()
        let events = result.observations.events
        #expect(events.map(\.kind) == [.wanDown, .failover])
        #expect(events.allSatisfy { $0.time == .seconds(20) })
        #expect(events[1].to == ["eth1"])
        // Connections opened at the fault's instant already follow the new plan.
        let at20 = result.observations.flows.filter { $0.time == .seconds(20) }
        #expect(!at20.isEmpty && at20.allSatisfy { $0.uplink == "eth1" })
        #expect(result.observations.flows.filter { $0.time < .seconds(20) }.allSatisfy { $0.uplink == "eth0" })
        #expect(result.flushes == [FlushRecord(time: .seconds(20), interface: "eth0")])
        #expect(result.faults == [FaultRecord(time: .seconds(20), interface: "eth0", description: "eth0: carrier = false")])
    }

    @Test func aBlackHoleIsNoticedAtTheThirdFailedRoundsTimeout() {
        // Rounds at 30s, 35s, 40s fail; the third is judged at its 2s timeout.
        let result = Simulation(scenario: Build.scenario([Build.at(30, "eth0", LinkChange(blackhole: true))])).run()
        let down = result.observations.events.first { $0.kind == .wanDown }
        #expect(down?.time == .seconds(42))
        #expect(down?.interface == "eth0")
    }

    @Test func trafficIsEvenlySpacedRoundRobin() {
        var lan = Build.lan
        lan.destinations = [Build.ip("203.0.113.7"), Build.ip("203.0.113.8"), Build.ip("203.0.113.9")]
        lan.start = .seconds(2)
        lan.stop = .seconds(7)
        let flows = Simulation(scenario: Build.scenario(traffic: [lan, Build.lan], duration: 10)).run().observations.flows
        let first = flows.filter { $0.traffic == "lan" && $0.destination != Build.ip("198.51.100.1") }
        #expect(first.count == 20)
        #expect(first.map(\.time) == (0..<20).map { Instant(nanoseconds: 2_000_000_000 + Int64($0) * 250_000_000) })
        #expect(first.prefix(4).map(\.source.description) == ["192.168.1.10", "192.168.1.11", "192.168.1.10", "192.168.1.11"])
        #expect(first.prefix(4).map(\.destination.description) == ["203.0.113.7", "203.0.113.8", "203.0.113.9", "203.0.113.7"])
        let second = flows.filter { $0.destination == Build.ip("198.51.100.1") }
        #expect(second.count == 40)
        #expect(second.first?.time == .zero)
        #expect(flows.map(\.time) == flows.map(\.time).sorted())
    }

    @Test func probesFollowTheCoresSchedule() {
        let result = Simulation(scenario: Build.scenario(traffic: [])).run()
        // Rounds at 0, 5, ..., 60s: 13 rounds x 2 targets x 2 WANs; all answered on healthy links, except
        // the last round's, whose replies would arrive 10ms after the end of the run.
        #expect(result.probesSent == 52)
        #expect(result.probesAnswered == 48)
        #expect(result.observations.events.isEmpty)
        #expect(result.samples.count == 61)
        #expect(result.samples.first?.time == .zero)
        #expect(result.samples.last?.time == .seconds(60))
        #expect(result.samples.last?.wans.map(\.interface) == ["eth0", "eth1"])
        #expect(result.samples.last?.wans.map(\.latencyMs) == [10, 10])
        #expect(result.finalStatus.map(\.state) == [.up, .up])
    }

    @Test func manualCommandsReachTheCore() {
        let faults = [TimedFault(time: .seconds(10), action: .manual(.maintenance(interface: "eth0", enabled: true))),
                      TimedFault(time: .seconds(20), action: .manual(.maintenance(interface: "eth0", enabled: false)))]
        let result = Simulation(scenario: Build.scenario(faults)).run()
        let kinds = result.observations.events.map { "\($0.kind.rawValue)@\($0.time)" }
        #expect(kinds == ["wan_down@10.000s", "failover@10.000s", "wan_up@20.000s", "failback@20.000s"])
        #expect(result.faults.map(\.description) == ["eth0: maintenance on", "eth0: maintenance off"])
        #expect(result.samples.first { $0.time == .seconds(15) }?.wans.first?.state == .maintenance)
    }

    @Test func addressesComeFromTheConfigOrAreInvented() {
        let config = Build.dualWAN(eth0Address: CIDR("203.0.113.2/30")!)
        let plan = Simulation(scenario: Build.scenario(traffic: [], duration: 1, config: config)).run().observations.plans.last?.plan
        #expect(plan?.uplinks.map { $0.gateway?.description } == ["203.0.113.1", "100.64.2.1"])
    }

    @Test func lossyLinksAreReproducible() {
        var scenario = Build.scenario([Build.at(10, "eth0", LinkChange(loss: 50, jitter: .milliseconds(30)))],
                                      duration: 300, config: Build.dualWAN(mode: .balance))
        let a = Simulation(scenario: scenario).evaluate()
        let b = Simulation(scenario: scenario).evaluate()
        #expect(TextReporter.render(a) == TextReporter.render(b))
        #expect(a.result.observations.flows == b.result.observations.flows)
        #expect(a.result.probesAnswered < a.result.probesSent)
        scenario.seed = 4
        let c = Simulation(scenario: scenario).evaluate()
        #expect(c.result.observations.flows.map(\.uplink) != a.result.observations.flows.map(\.uplink))
    }
}
