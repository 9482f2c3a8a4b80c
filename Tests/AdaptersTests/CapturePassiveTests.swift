@testable import Adapters
import Domain
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The passive health check against real connections from a LAN namespace through a masquerading
/// router namespace to an ISP namespace (`CaptureTestLab.routed()`), watched on the router's WAN.
@Suite("Capture: passive health in network namespaces")
struct CapturePassiveTests {
    typealias Lab = CaptureTestLab

    /// One observation as the monitor reported it.
    struct Seen: Sendable, Equatable {
        var interface: String
        var observation: PassiveObservation
    }

    /// Starts a monitor in the router's namespace watching rw0.
    static func monitor(_ lab: Lab, _ log: CaptureTestLog<Seen>) throws -> PassiveHealthMonitor {
        try lab.inside("router") {
            let monitor = try PassiveHealthMonitor(onObservation: { interface, observation, _ in log.append(Seen(interface: interface, observation: observation)) })
            #expect(monitor.watch(interfaces: ["rw0"]).isEmpty)
            return monitor
        }
    }

    static func attempts(_ seen: [Seen]) -> [ConnectionTuple: UInt32] {
        var attempts: [ConnectionTuple: UInt32] = [:]
        for s in seen { if case .attempt(let tuple, let sequence) = s.observation { attempts[tuple] = sequence } }
        return attempts
    }

    /// Attempts that some answer acknowledges (same 4-tuple, ack = seq + 1), as the core matches them.
    static func answered(_ seen: [Seen]) -> Int {
        let attempts = attempts(seen)
        var answered = Set<ConnectionTuple>()
        for s in seen {
            if case .answer(let tuple, let ack) = s.observation, let seq = attempts[tuple], ack == seq &+ 1 { answered.insert(tuple) }
        }
        return answered.count
    }

    /// What the core makes of the observations (fed at 0.5 s into its first 1 s interval): rw0's status.
    static func judged(_ seen: [Seen]) -> WANStatus {
        let check = HealthCheck(kind: .passive, interval: .seconds(1), timeout: .seconds(1), thresholdDown: 1, thresholdUp: 1)
        var core = MultiWANStateMachine(config: FlywallConfig(interfaces: [
            Interface(name: "rw0", wan: WANSettings(), healthCheck: check),
            Interface(name: "rl0", wan: WANSettings(priority: 2)),
        ]))
        #expect(core.handle(.tick, at: .zero).contains(.capturePassive(interfaces: ["rw0"])))
        for s in seen { _ = core.handle(.passive(interface: s.interface, s.observation), at: .seconds(0.5)) }
        _ = core.handle(.tick, at: .seconds(1))
        _ = core.handle(.tick, at: .seconds(2))
        return core.status.first { $0.interface == "rw0" }!
    }

    @Test("masqueraded connections that are answered give attempts and matching answers (IPv4 and IPv6), then silence",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func answered() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let servers = try lab.inside("isp") {
            [try CaptureTestSocket.listen(Lab.isp4, port: 8080), try CaptureTestSocket.listen(Lab.isp6, port: 8080)]
        }
        defer { servers.forEach { close($0) } }
        let log = CaptureTestLog<Seen>()
        let monitor = try Self.monitor(lab, log)
        defer { monitor.shutdown() }
        #expect(monitor.interfaces == ["rw0"])

        let outcomes = try lab.inside("lan") {
            [try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 41001, to: Lab.isp4, port: 8080),
             try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 41002, to: Lab.isp4, port: 8080),
             try CaptureTestSocket.connect(from: Lab.lan6, sourcePort: 41003, to: Lab.isp6, port: 8080)]
        }
        #expect(outcomes == [.connected, .connected, .connected])
        let seen = await log.wait { Self.answered($0) >= 3 }
        #expect(Self.attempts(seen).count == 3)
        #expect(Self.answered(seen) == 3)
        #expect(seen.allSatisfy { $0.interface == "rw0" })
        // Seen on the WAN: after masquerading, from the router's own WAN addresses.
        #expect(Set(Self.attempts(seen).keys.map(\.local)) == [Lab.wan4, Lab.wan6])
        #expect(Set(Self.attempts(seen).keys.map(\.remote)) == [Lab.isp4, Lab.isp6])
        let status = Self.judged(seen)
        #expect(status.state == .up && status.goodRounds == 1 && status.roundsTotal == 1)

        // Idle: no connections, no observations.
        let count = log.all.count
        try await Task.sleep(for: .seconds(3))
        #expect(log.all.count == count)
    }

    @Test("connections whose SYNs the far side drops give attempts without answers, one each",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func unanswered() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        // Something listens on 8082, but the ISP's firewall drops the SYNs before it sees them.
        let server = try lab.inside("isp") { try CaptureTestSocket.listen(Lab.isp4, port: 8082) }
        defer { close(server) }
        let log = CaptureTestLog<Seen>()
        let monitor = try Self.monitor(lab, log)
        defer { monitor.shutdown() }

        // Each client gives up right after its SYN, so exactly one SYN per connection leaves.
        let outcomes = try lab.inside("lan") {
            [try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 42001, to: Lab.isp4, port: 8082, wait: .zero),
             try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 42002, to: Lab.isp4, port: 8082, wait: .zero)]
        }
        #expect(outcomes == [.pending, .pending])
        let seen = await log.wait { Self.attempts($0).count >= 2 }
        try await Task.sleep(for: .seconds(1))  // an answer, if any, would have come by now
        #expect(log.all.count == 2)
        #expect(Self.attempts(log.all).count == 2)
        #expect(Self.answered(log.all) == 0)
        #expect(seen.allSatisfy { $0.interface == "rw0" })
        let status = Self.judged(log.all)
        #expect(status.state == .down && status.failedRounds == 1)
        #expect(status.reason.hasSuffix("(0/2 connection attempts answered)"))
        let count = log.all.count
        try await Task.sleep(for: .seconds(3))
        #expect(log.all.count == count)
    }

    @Test("a refused connection (RST-ACK) proves the path and counts as answered",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func refused() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let log = CaptureTestLog<Seen>()
        let monitor = try Self.monitor(lab, log)
        defer { monitor.shutdown() }
        let outcome = try lab.inside("lan") {
            try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 43001, to: Lab.isp4, port: 8081)
        }
        #expect(outcome == .refused)
        let seen = await log.wait { Self.answered($0) >= 1 }
        #expect(seen.count == 2)
        #expect(Self.answered(seen) == 1)
        #expect(Self.judged(seen).goodRounds == 1)
    }

    @Test("a WAN whose interface disappears is reported, and watched again once it is back",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func interfaceComesBack() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let log = CaptureTestLog<Seen>()
        let errors = CaptureTestLog<SystemError>()
        let monitor = try lab.inside("router") {
            let monitor = try PassiveHealthMonitor(retryPeriod: .seconds(1),
                                                   onObservation: { interface, observation, _ in log.append(Seen(interface: interface, observation: observation)) },
                                                   onError: errors.append)
            #expect(monitor.watch(interfaces: ["rw0"]).isEmpty)
            return monitor
        }
        defer { monitor.shutdown() }

        try lab.sh("router", "ip link del rw0")
        let reported = await errors.wait { !$0.isEmpty }
        #expect(reported.count == 1)
        #expect(reported.first?.subject == "rw0")
        #expect(reported.first?.operation == "pcap_dispatch")

        // The same uplink comes back (a new veth, as after a modem reset); the monitor reopens it.
        try lab.sh("router", "ip link add rw0 type veth peer name iw0 netns \(lab.name("isp"))")
        try lab.sh("router", "ip addr add 100.64.31.2/24 dev rw0 && ip link set rw0 up")
        try lab.sh("isp", "ip addr add 100.64.31.1/24 dev iw0 && ip link set iw0 up")
        let server = try lab.inside("isp") { try CaptureTestSocket.listen(Lab.isp4, port: 8080) }
        defer { close(server) }
        // Connect until the monitor has a capture again (it retries every second). The deadline is
        // only against a hang: the parallel suite on a 2-core machine has kept this waiting 20 s.
        var port: UInt16 = 45001
        let start = ContinuousClock.now
        while Self.answered(log.all) == 0, ContinuousClock.now - start < .seconds(60) {
            let outcome = try lab.inside("lan") { try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: port, to: Lab.isp4, port: 8080) }
            #expect(outcome == .connected)
            port += 1
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(Self.answered(log.all) > 0, "seen: \(log.all.count) observations, errors: \(errors.all)")
        #expect(log.all.allSatisfy { $0.interface == "rw0" })
        #expect(errors.all.count == 1)  // reopening failed quietly until the interface was back

        // Taken down and up again (same interface): watched again too, whether libpcap reported it or not.
        try await Task.sleep(for: .seconds(1))
        let before = Self.answered(log.all)
        try lab.sh("router", "ip link set rw0 down")
        try await Task.sleep(for: .milliseconds(1500))
        try lab.sh("router", "ip link set rw0 up")
        let restart = ContinuousClock.now
        while Self.answered(log.all) == before, ContinuousClock.now - restart < .seconds(60) {
            let outcome = try lab.inside("lan") { try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: port, to: Lab.isp4, port: 8080) }
            #expect(outcome == .connected)
            port += 1
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(Self.answered(log.all) > before)
    }

    @Test("watch reports a missing interface, keeps what it already watches, and stops observing what it drops",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func watchFollowsTheCore() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let server = try lab.inside("isp") { try CaptureTestSocket.listen(Lab.isp4, port: 8080) }
        defer { close(server) }
        let log = CaptureTestLog<Seen>()
        let monitor = try Self.monitor(lab, log)
        defer { monitor.shutdown() }

        // The core's list: the missing WAN is reported and left out, rw0 stays watched.
        let errors = try lab.inside("router") { monitor.watch(interfaces: ["rw0", "fw-none0"]) }
        #expect(errors.map(\.subject) == ["fw-none0"])
        #expect(errors.first?.errno == .noSuchDevice)
        #expect(monitor.interfaces == ["rw0"])
        _ = try lab.inside("lan") { try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 44001, to: Lab.isp4, port: 8080) }
        #expect(Self.answered(await log.wait { Self.answered($0) >= 1 }) == 1)

        // Nothing passive any more: captures close, connections are no longer observed.
        #expect(try lab.inside("router") { monitor.watch(interfaces: []) }.isEmpty)
        #expect(monitor.interfaces == [])
        let count = log.all.count
        let outcome = try lab.inside("lan") {
            try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 44002, to: Lab.isp4, port: 8080)
        }
        #expect(outcome == .connected)
        try await Task.sleep(for: .seconds(2))
        #expect(log.all.count == count)
    }
}
