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

    /// One-second intervals and timeouts: quick tests, and the rule does not depend on the length.
    static let check = HealthCheck(kind: .passive, interval: .seconds(1), timeout: .seconds(1))

    /// Starts a monitor in the router's namespace watching rw0.
    static func monitor(_ lab: Lab, _ log: CaptureTestLog<PassiveHealthSample>) throws -> PassiveHealthMonitor {
        try lab.inside("router") {
            let monitor = try PassiveHealthMonitor(onSample: log.append)
            try monitor.attach(interface: "rw0", check: check)
            return monitor
        }
    }

    static func attempts(_ samples: [PassiveHealthSample]) -> Int { samples.reduce(0) { $0 + $1.attempts } }

    @Test("masqueraded connections that are answered give answered samples (IPv4 and IPv6), then silence",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func answered() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let servers = try lab.inside("isp") {
            [try CaptureTestSocket.listen(Lab.isp4, port: 8080), try CaptureTestSocket.listen(Lab.isp6, port: 8080)]
        }
        defer { servers.forEach { close($0) } }
        let log = CaptureTestLog<PassiveHealthSample>()
        let monitor = try Self.monitor(lab, log)
        defer { monitor.shutdown() }
        #expect(monitor.interfaces == ["rw0"])

        let outcomes = try lab.inside("lan") {
            [try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 41001, to: Lab.isp4, port: 8080),
             try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 41002, to: Lab.isp4, port: 8080),
             try CaptureTestSocket.connect(from: Lab.lan6, sourcePort: 41003, to: Lab.isp6, port: 8080)]
        }
        #expect(outcomes == [.connected, .connected, .connected])
        let samples = await log.wait { Self.attempts($0) >= 3 }
        #expect(Self.attempts(samples) == 3)
        #expect(samples.reduce(0) { $0 + $1.answeredAttempts } == 3)
        #expect(!samples.isEmpty && samples.allSatisfy { $0.answered && $0.interface == "rw0" })
        #expect(samples.map(\.coreEvent).allSatisfy { $0 == .passiveSample(interface: "rw0", answered: true) })
        #expect(monitor.waitingAttempts(interface: "rw0") == 0)

        // Idle is not failure: no connections, no samples.
        let count = log.all.count
        try await Task.sleep(for: .seconds(3))
        #expect(log.all.count == count)
    }

    @Test("connections whose SYNs the far side drops give unanswered samples, one attempt each",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func unanswered() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        // Something listens on 8082, but the ISP's firewall drops the SYNs before it sees them.
        let server = try lab.inside("isp") { try CaptureTestSocket.listen(Lab.isp4, port: 8082) }
        defer { close(server) }
        let log = CaptureTestLog<PassiveHealthSample>()
        let monitor = try Self.monitor(lab, log)
        defer { monitor.shutdown() }

        // Each client gives up right after its SYN, so exactly one SYN per connection leaves.
        let outcomes = try lab.inside("lan") {
            [try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 42001, to: Lab.isp4, port: 8082, wait: .zero),
             try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 42002, to: Lab.isp4, port: 8082, wait: .zero)]
        }
        #expect(outcomes == [.pending, .pending])
        let samples = await log.wait { Self.attempts($0) >= 2 }
        #expect(Self.attempts(samples) == 2)
        #expect(samples.reduce(0) { $0 + $1.answeredAttempts } == 0)
        #expect(!samples.isEmpty && samples.allSatisfy { !$0.answered && $0.interface == "rw0" })
        #expect(monitor.waitingAttempts(interface: "rw0") == 0)
        let count = log.all.count
        try await Task.sleep(for: .seconds(3))
        #expect(log.all.count == count)
    }

    @Test("a refused connection (RST-ACK) proves the path and counts as answered",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func refused() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let log = CaptureTestLog<PassiveHealthSample>()
        let monitor = try Self.monitor(lab, log)
        defer { monitor.shutdown() }
        let outcome = try lab.inside("lan") {
            try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 43001, to: Lab.isp4, port: 8081)
        }
        #expect(outcome == .refused)
        let samples = await log.wait { Self.attempts($0) >= 1 }
        #expect(samples == [PassiveHealthSample(interface: "rw0", answered: true, attempts: 1, answeredAttempts: 1)])
    }

    @Test("a WAN whose interface disappears is reported, and watched again once it is back",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func interfaceComesBack() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let log = CaptureTestLog<PassiveHealthSample>()
        let errors = CaptureTestLog<SystemError>()
        let monitor = try lab.inside("router") {
            let monitor = try PassiveHealthMonitor(onSample: log.append, onError: errors.append)
            try monitor.attach(interface: "rw0", check: Self.check)
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
        // Connect until the monitor has a capture again (it retries every interval).
        var port: UInt16 = 45001
        let start = ContinuousClock.now
        while log.all.isEmpty, ContinuousClock.now - start < .seconds(20) {
            let outcome = try lab.inside("lan") { try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: port, to: Lab.isp4, port: 8080) }
            #expect(outcome == .connected)
            port += 1
            try await Task.sleep(for: .milliseconds(500))
        }
        let samples = log.all
        #expect(!samples.isEmpty)
        #expect(samples.allSatisfy { $0.answered && $0.interface == "rw0" })
        #expect(errors.all.count == 1)  // reopening failed quietly until the interface was back

        // Taken down and up again (same interface): watched again too, whether libpcap reported it or not.
        try await Task.sleep(for: .seconds(2))  // let the last interval close
        let before = log.all.count
        try lab.sh("router", "ip link set rw0 down")
        try await Task.sleep(for: .milliseconds(1500))
        try lab.sh("router", "ip link set rw0 up")
        let restart = ContinuousClock.now
        while log.all.count == before, ContinuousClock.now - restart < .seconds(20) {
            let outcome = try lab.inside("lan") { try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: port, to: Lab.isp4, port: 8080) }
            #expect(outcome == .connected)
            port += 1
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(log.all.count > before)
        #expect(log.all.allSatisfy { $0.answered })
    }

    @Test("attach reports a missing interface; attaching twice keeps one capture; configure follows the config; detach stops samples",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func attachAndDetach() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let server = try lab.inside("isp") { try CaptureTestSocket.listen(Lab.isp4, port: 8080) }
        defer { close(server) }
        let log = CaptureTestLog<PassiveHealthSample>()
        let monitor = try Self.monitor(lab, log)
        defer { monitor.shutdown() }

        let missing = try lab.inside("router") { () -> SystemError? in
            do throws(SystemError) {
                try monitor.attach(interface: "fw-none0", check: Self.check)
                return nil
            } catch { return error }
        }
        #expect(missing?.errno == .noSuchDevice)
        #expect(missing?.subject == "fw-none0")
        try lab.inside("router") { try monitor.attach(interface: "rw0", check: HealthCheck(kind: .passive, interval: .seconds(2), timeout: .seconds(1))) }
        #expect(monitor.interfaces == ["rw0"])

        // A config decides which WANs are watched: only those whose check is passive.
        let passive = HealthCheck(kind: .passive, interval: .seconds(1), timeout: .seconds(1))
        let config = FlywallConfig(interfaces: [
            Interface(name: "rw0", wan: WANSettings(), healthCheck: passive),
            Interface(name: "fw-none1", wan: WANSettings(priority: 2), healthCheck: passive),
            Interface(name: "rl0", wan: WANSettings(priority: 3), healthCheck: HealthCheck(kind: .icmp, targets: [Lab.isp4])),
        ])
        let configErrors = try lab.inside("router") { monitor.configure(config) }
        #expect(configErrors.map(\.subject) == ["fw-none1"])
        #expect(monitor.interfaces == ["rw0"])
        let noPassive = FlywallConfig(interfaces: [Interface(name: "rw0", wan: WANSettings())])
        #expect(try lab.inside("router") { monitor.configure(noPassive) }.isEmpty)
        #expect(monitor.interfaces == [])
        try lab.inside("router") { try monitor.attach(interface: "rw0", check: Self.check) }

        monitor.detach(interface: "rw0")
        #expect(monitor.interfaces == [])
        let outcome = try lab.inside("lan") {
            try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 44001, to: Lab.isp4, port: 8080)
        }
        #expect(outcome == .connected)
        try await Task.sleep(for: .seconds(3))
        #expect(log.all.isEmpty)
    }
}
