@testable import Domain
import Testing

/// The operations edges (notifications, API, HA role file) run with what the core says, on start
/// and on a reload that changes them; commands are refused by the core with a typed reason; the
/// status names the counter that moves each WAN next.
@Suite("Core: operations effects, command refusals, the next counter")
struct OperationsEffectsTests {
    static func config(token: String = "old-token-0123456789", listen: String = "127.0.0.1:8080",
                       webhook: String? = nil, roleFile: String? = nil) throws -> FlywallConfig {
        try ConfigDecoder.load(source: PPPoESessionTests.source(line: "  dhcp = true") + """
            api {
              listen = "\(listen)"
              token  = "\(token)"
            }
            \(webhook.map { "notifications {\n  webhook { url = \"\($0)\" }\n}" } ?? "")
            \(roleFile.map { "ha_pair {\n  role_file = \"\($0)\"\n}" } ?? "")
            """, file: "t.hcl")
    }

    @Test func startConfiguresEveryOperationsEdgeOnce() throws {
        let config = try Self.config(webhook: "http://127.0.0.1:9000/hook")
        var d = CoreDriver(config)
        d.run(until: .seconds(3))
        #expect(d.operations == [
            .configureNotifications(config.notifications), .configureAPI(config.api), .watchRoleFile(nil),
        ])
    }

    @Test func aReloadSendsOnlyWhatChanged() throws {
        var d = CoreDriver(try Self.config())
        d.run(until: .seconds(1))
        d.operations = []
        var logs: [String] = []
        func reload(_ config: FlywallConfig) {
            for effect in d.core.handle(.configReplaced(config), at: d.now) {
                switch effect {
                case .configureNotifications, .configureAPI, .watchRoleFile: d.operations.append(effect)
                case .log(_, let text): logs.append(text)
                default: break
                }
            }
        }
        let newToken = try Self.config(token: "new-token-9876543210")
        reload(newToken)
        #expect(d.operations == [.configureAPI(newToken.api)])

        d.operations = []
        reload(newToken)
        #expect(d.operations.isEmpty, "an unchanged config reconfigures nothing")

        let hooked = try Self.config(token: "new-token-9876543210", webhook: "http://127.0.0.1:9000/hook")
        reload(hooked)
        #expect(d.operations == [.configureNotifications(hooked.notifications)])

        d.operations = []
        let paired = try Self.config(token: "new-token-9876543210", webhook: "http://127.0.0.1:9000/hook",
                                     roleFile: "/run/flywall/ha-role")
        reload(paired)
        #expect(d.operations == [.watchRoleFile("/run/flywall/ha-role")])
        #expect(logs.contains { $0.hasPrefix("ha: role from /run/flywall/ha-role; dataplane layout ") })

        // The listen address is bound once: the core sends it and says it waits for a restart.
        d.operations = []
        let moved = try Self.config(token: "new-token-9876543210", listen: "127.0.0.1:9090",
                                    webhook: "http://127.0.0.1:9000/hook", roleFile: "/run/flywall/ha-role")
        reload(moved)
        #expect(d.operations == [.configureAPI(moved.api)])
        #expect(logs.contains("reload: api { listen } changed to 127.0.0.1:9090; the API keeps listening on 127.0.0.1:8080 until a restart"))
        // No secret in what the core logs.
        #expect(!logs.contains { $0.contains("token-") })
    }

    @Test func refusalsCarryTheirReason() throws {
        var d = CoreDriver(try Self.config())
        d.run(until: .seconds(1))
        let origin = CommandOrigin(source: "test")
        d.send(.manual(.maintenance(interface: "eth9", enabled: true), origin: origin))
        d.send(.manual(.forceActive(group: "nope", interface: "eth0"), origin: origin))
        d.send(.manual(.forceActive(group: "default", interface: "eth9"), origin: origin))
        d.send(.manual(.maintenance(interface: "eth0", enabled: true), origin: origin))
        #expect(d.commands.map(\.refusal) == [.unknownWAN, .unknownGroup, .notAMember, nil])
        #expect(d.commands.map(\.accepted) == [false, false, false, true])
        #expect(d.commands.map(\.result) == ["maintenance: no WAN named eth9", "force: no uplink group named nope",
                                             "force: eth9 is not a member of default", "eth0: maintenance on"])
    }

    @Test func theStatusNamesTheCounterThatMovesNext() throws {
        var d = CoreDriver(try Self.config())
        d.send(.carrier(interface: "eth0", up: true))
        d.send(.carrier(interface: "eth1", up: true))
        d.run(until: .seconds(2.9))
        func counter(_ name: String) -> WANStatus.RoundCounter? { d.core.status.first { $0.interface == name }?.nextCounter }
        // Up: failed rounds toward threshold_down.
        #expect(counter("eth0") == .init(kind: .failed, value: 0, threshold: 2))
        d.answering["eth0"] = false
        d.run(until: .seconds(3.6))
        #expect(counter("eth0") == .init(kind: .failed, value: 1, threshold: 2))
        d.run(until: .seconds(4.6))
        // Down by its probes with its link up: good rounds toward threshold_up.
        #expect(d.core.status.first { $0.interface == "eth0" }?.state == .down)
        #expect(counter("eth0") == .init(kind: .good, value: 0, threshold: 2))
        d.answering["eth0"] = true
        d.run(until: .seconds(5.6))
        #expect(counter("eth0") == .init(kind: .good, value: 1, threshold: 2))
        // Without its link: it waits for carrier, not for rounds; the failed counter is shown.
        d.send(.carrier(interface: "eth0", up: false))
        #expect(counter("eth0")?.kind == .failed)
    }
}

@Suite("Passive observations timed by their capture")
struct PassiveCaptureTimeTests {
    let s = PassiveCore.second

    @Test("an answer captured within the timeout counts even when the loop serves it after the deadline")
    func queueDelayIsNoTimingError() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 101 * s)  // deadline 103 s
        // Captured at 102.9 s, served at 104 s (a busy queue): answered, so a good round at 105 s.
        c.take(c.core.handle(.passive(interface: "wan0", .answer(PassiveCore.tuple(1), acknowledgment: 1001),
                                      capturedAt: PassiveCore.at(103 * s - 100_000_000)), at: PassiveCore.at(104 * s)))
        c.tick(at: 105 * s)
        #expect(c.rounds == (1, 1, 0))
        #expect(c.verdicts.isEmpty)

        // The same answer stamped when served (no capture time) is late: a failed round.
        var late = PassiveCore()
        late.attempt(port: 1, at: 101 * s)
        late.take(late.core.handle(.passive(interface: "wan0", .answer(PassiveCore.tuple(1), acknowledgment: 1001)),
                                   at: PassiveCore.at(104 * s)))
        late.tick(at: 105 * s)
        #expect(late.rounds == (1, 0, 1))
    }

    @Test("a capture time after the event's instant counts as the instant")
    func futureCaptureIsClamped() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 101 * s)
        // A capture "at 200 s" served at 102 s is taken as 102 s: within the timeout.
        c.take(c.core.handle(.passive(interface: "wan0", .answer(PassiveCore.tuple(1), acknowledgment: 1001),
                                      capturedAt: PassiveCore.at(200 * s)), at: PassiveCore.at(102 * s)))
        c.tick(at: 105 * s)
        #expect(c.rounds == (1, 1, 0))
    }
}

@Suite("Plan decisions the dataplane only executes")
struct PlanDecisionTests {
    static let config = FlywallConfig(
            interfaces: [Interface(name: "lan0"), Interface(name: "wan0", wan: WANSettings()), Interface(name: "wan1", wan: WANSettings(priority: 2))],
            uplinkGroups: [UplinkGroup(name: "default", mode: .failover, sticky: true, stickyTimeout: .seconds(60),
                                       members: [Member(interface: "wan0"), Member(interface: "wan1", priority: 2)])],
            policyRoutes: [PolicyRoute(name: "dns", match: .init(protocols: [.udp], destPorts: [PortRange(53)]), uplink: "wan1", fallback: true)])

    @Test("a sticky source stays on its member while that member is usable and active")
    func keepsSticky() throws {
        var d = CoreDriver(Self.config)
        d.run(until: .seconds(1))
        let group = try #require(d.core.plan.group(named: "default"))
        #expect(d.core.plan.keepsSticky("wan0", in: group))
        #expect(!d.core.plan.keepsSticky("wan1", in: group), "usable but not active in a failover group")
        d.send(.manual(.maintenance(interface: "wan0", enabled: true), origin: CommandOrigin(source: "test")))
        let after = try #require(d.core.plan.group(named: "default"))
        #expect(!d.core.plan.keepsSticky("wan0", in: after), "not usable")
        #expect(d.core.plan.keepsSticky("wan1", in: after))
    }

    @Test("a policy route falls back only where a default group exists")
    func fallbackNeedsADefaultGroup() {
        var with = CoreDriver(Self.config)
        with.run(until: .seconds(1))
        #expect(with.core.plan.policies.first?.fallback == true)
        // No WAN, so no group at all (a config with WANs always has one, "default" if none is named).
        var without = CoreDriver(FlywallConfig(
            interfaces: [Interface(name: "lan0"), Interface(name: "wan1")],
            policyRoutes: [PolicyRoute(name: "dns", match: .init(protocols: [.udp], destPorts: [PortRange(53)]), uplink: "wan1", fallback: true)]))
        without.run(until: .seconds(1))
        #expect(without.core.plan.policies.first?.fallback == false)
    }
}
