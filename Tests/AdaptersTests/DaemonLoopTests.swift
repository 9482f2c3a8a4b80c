@testable import Adapters
import Domain
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// In-memory ports: every call the loop makes, in order, with the instant of the input it served.
final class RecordingPorts: ProbeSending, InterfaceWatching, PassiveCapturing, DataplaneApplying, WANEventRecording,
    SessionRunning, NotificationConfiguring, APIConfiguring, RoleFileWatching, Sendable {
    enum Call: Equatable, CustomStringConvertible {
        case configureProbes([ProbeBinding])
        case watch([String])
        case capture([String])
        case probe(ProbeID)
        case apply(ForwardingPlan)
        case repair(ForwardingPlan)
        case flush(String)
        case record(WANEventKind, String)
        case removeAll
        case startSession(String)
        case stopSession(String)
        case stopAllSessions
        case notifications(Notifications)
        case api(APISettings)
        case roleFile(String?)

        /// Without the plans' and probes' details, for comparing sequences.
        var description: String {
            switch self {
            case .configureProbes(let b): "configureProbes(\(b.map { "\($0.interface)#\($0.index)" }.joined(separator: ",")))"
            case .watch(let names): "watch(\(names.joined(separator: ",")))"
            case .capture(let names): "capture(\(names.joined(separator: ",")))"
            case .probe(let id): "probe(\(id.interface))"
            case .apply(let plan): "apply(\(Self.active(plan)))"
            case .repair(let plan): "repair(\(Self.active(plan)))"
            case .flush(let uplink): "flush(\(uplink))"
            case .record(let kind, let about): "record(\(kind.rawValue) \(about))"
            case .removeAll: "removeAll"
            case .startSession(let name): "startSession(\(name))"
            case .stopSession(let name): "stopSession(\(name))"
            case .stopAllSessions: "stopAllSessions"
            case .notifications(let n): "notifications(\(n.email.count + n.webhook.count))"
            case .api(let api): "api(\(api.listen), \(api.token == nil ? "no token" : "token"))"
            case .roleFile(let path): "roleFile(\(path ?? "none"))"
            }
        }

        private static func active(_ plan: ForwardingPlan) -> String {
            plan.groups.map { "\($0.name)=\($0.active.joined(separator: "+"))" }.joined(separator: " ")
        }
    }

    private let log = Mutex<[(at: Instant, call: Call)]>([])
    /// The instant of the input the loop is serving (the rig sets it before each one).
    let now = Mutex(Instant.zero)
    /// The next this many `apply` calls throw.
    let failingApplies = Mutex(0)

    var calls: [Call] { log.withLock { $0.map(\.call) } }
    /// The calls without probes, as text.
    var trace: [String] { timedTrace.map(\.call) }
    /// The calls without probes, as text, with their instants.
    var timedTrace: [(at: Instant, call: String)] {
        log.withLock { $0 }.filter { if case .probe = $0.call { false } else { true } }.map { ($0.at, $0.call.description) }
    }
    /// The operations edges' calls of the loop's first tick, before the probe paths.
    static let operationsAtStart = ["notifications(0)", "api(127.0.0.1:8080, no token)", "roleFile(none)"]
    func clear() { log.withLock { $0 = [] } }

    private func note(_ call: Call) {
        let at = now.withLock { $0 }
        log.withLock { $0.append((at, call)) }
    }

    func configure(_ bindings: [ProbeBinding]) throws { note(.configureProbes(bindings)) }
    func send(_ request: ProbeRequest) { note(.probe(request.id)) }
    func watch(interfaces: [String]) { note(.watch(interfaces)) }
    func capture(interfaces: [String]) -> [SystemError] {
        note(.capture(interfaces))
        return []
    }
    func apply(_ plan: ForwardingPlan) throws {
        note(.apply(plan))
        let fail = failingApplies.withLock { n -> Bool in
            guard n > 0 else { return false }
            n -= 1
            return true
        }
        if fail { throw SystemError(operation: "route replace", subject: "table 20000", errno: .noSuchDevice) }
    }
    func repair(_ plan: ForwardingPlan) throws { note(.repair(plan)) }
    func flushConnections(uplink: ForwardingPlan.Uplink) throws -> Int {
        note(.flush(uplink.name))
        return 3
    }
    func removeAll() throws { note(.removeAll) }
    func record(_ event: WANEvent, unixNanoseconds: Int64, logLine: String) { note(.record(event.kind, event.interface ?? event.to.joined(separator: "+"))) }

    func start(_ session: PPPoESessionSpec) { note(.startSession(session.interface)) }
    func stop(interface: String) { note(.stopSession(interface)) }
    func stopAll() { note(.stopAllSessions) }
    func configure(_ notifications: Notifications) { note(.notifications(notifications)) }
    func configure(_ api: APISettings) { note(.api(api)) }
    func watch(path: String?) { note(.roleFile(path)) }

    var ports: DaemonPorts {
        var ports = DaemonPorts(probes: self, interfaces: self, passive: self, dataplane: self, recorder: self,
                                sessions: self)
        ports.notifications = self
        ports.api = self
        ports.roleFile = self
        return ports
    }
}

/// The config file the loop reads on `.reload`, as a test changes it.
final class ConfigFile: Sendable {
    let text: Mutex<String>
    init(_ text: String) { self.text = Mutex(text) }
    func load() throws -> FlywallConfig { try ConfigDecoder.load(source: text.withLock { $0 }, file: "flywall.hcl") }
}

/// The daemon's shell driven with in-memory ports and virtual instants: no kernel, no root.
@Suite("Daemon loop with in-memory ports")
struct DaemonLoopTests {
    static let twoWANs = """
        interface "eth0" {
          zone = "WAN"
          gateway = "10.0.0.1"
          wan { priority = 1 }
        }
        interface "eth1" {
          zone = "WAN"
          gateway = "10.0.1.1"
          wan { priority = 2 }
        }
        uplink_group "default" {
          mode = "failover"
          member "eth0" {
            priority = 1
            health_check {
              targets        = ["192.0.2.1"]
              interval       = "1s"
              timeout        = "500ms"
              threshold_down = 2
              threshold_up   = 2
            }
          }
          member "eth1" {
            priority = 2
            health_check {
              targets        = ["192.0.2.2"]
              interval       = "1s"
              timeout        = "500ms"
              threshold_down = 2
              threshold_up   = 2
            }
          }
        }
        """

    static let threeWANs = twoWANs.replacingOccurrences(of: "uplink_group", with: """
        interface "eth2" {
          zone = "WAN"
          gateway = "10.0.2.1"
          wan { priority = 3 }
        }
        uplink_group
        """).replacingOccurrences(of: "  member \"eth1\" {", with: """
          member "eth2" { priority = 3 }
          member "eth1" {
        """)

    /// The loop with recording ports, and the world in virtual time: probes to WANs not in
    /// `silent` are answered 10 ms after they were sent.
    final class Rig {
        let ports = RecordingPorts()
        let inputs: DaemonInputQueue
        let file: ConfigFile
        let loop: DaemonLoop
        var silent: Set<String> = []
        private var seen = 0
        private var replies: [(at: Instant, id: ProbeID)] = []

        /// `api`: a real API port instead of the recording one.
        init(_ text: String = DaemonLoopTests.twoWANs, board: StatusBoard? = nil,
             inputs: DaemonInputQueue = DaemonInputQueue(capacity: 64), api: (any APIConfiguring)? = nil) throws {
            file = ConfigFile(text)
            self.inputs = inputs
            let file = self.file
            var ports = self.ports.ports
            if let api { ports.api = api }
            loop = DaemonLoop(config: try file.load(), loadConfig: { try file.load() }, inputs: inputs,
                              ports: ports, board: board, logger: Logger(label: "test"))
        }

        func start() {
            ports.now.withLock { $0 = .zero }
            loop.start(at: .zero)
            collectProbes(sentAt: .zero)
        }

        @discardableResult
        func handle(_ input: DaemonInput?, at now: Instant) throws -> Bool {
            ports.now.withLock { $0 = now }
            let running = try loop.handle(input, at: now)
            collectProbes(sentAt: now)
            return running
        }

        /// Delivers replies and serves the core's deadlines in time order, up to `end`.
        func run(until end: Instant) throws {
            while true {
                let reply = replies.first?.at
                let next = [reply, loop.nextDeadline].compactMap { $0 }.min()
                guard let now = next, now <= end else { return }
                if let reply, reply == now {
                    let id = replies.removeFirst().id
                    try handle(.core(.probeResult(id, .reply(rtt: .milliseconds(10)))), at: now)
                } else {
                    try handle(nil, at: now)
                }
            }
        }

        private func collectProbes(sentAt now: Instant) {
            let calls = ports.calls
            for call in calls.dropFirst(seen) {
                if case .probe(let id) = call, !silent.contains(id.interface) {
                    replies.append((now + .milliseconds(10), id))
                }
            }
            seen = calls.count
        }
    }

    @Test("start: probe paths, watched interfaces, first probes, then the first plan")
    func start() throws {
        let rig = try Rig()
        rig.start()
        let calls = rig.ports.calls
        #expect(calls[3] == .configureProbes([
            ProbeBinding(interface: "eth0", index: 0, ipv6: false), ProbeBinding(interface: "eth1", index: 1, ipv6: false),
        ]))
        #expect(rig.ports.trace == RecordingPorts.operationsAtStart
            + ["configureProbes(eth0#0,eth1#1)", "watch(eth0,eth1)", "capture()", "apply(default=eth0)"])
        // Probes go out after the paths are open and before the plan.
        let probes = calls.indices.filter { if case .probe = calls[$0] { true } else { false } }
        #expect(probes.count == 2 && probes.allSatisfy { $0 > 5 && $0 < calls.count - 1 })
    }

    @Test("eth0 stops answering: wan_down, failover, the new plan and eth0's flush, in that order")
    func probeTimeoutsFailOver() throws {
        let rig = try Rig()
        rig.start()
        // The link monitor's start state: carrier up on both (addresses are static).
        for name in ["eth0", "eth1"] { try rig.handle(.core(.carrier(interface: name, up: true)), at: .zero) }
        try rig.run(until: .seconds(2.9))
        rig.ports.clear()
        // Rounds at 3 s and 4 s time out at 3.5 s and 4.5 s: the second makes two failed rounds
        // (threshold_down = 2), so everything happens at 4.5 s exactly and nothing before it (a
        // threshold off by one would act at 3.5 s or 5.5 s).
        rig.silent = ["eth0"]
        try rig.run(until: .seconds(5.6))
        let downAt = Instant.seconds(4.5).nanoseconds
        #expect(rig.ports.timedTrace.map { "\($0.at.nanoseconds) \($0.call)" } == [
            "record(wan_down eth0)", "record(failover eth1)", "apply(default=eth1)", "flush(eth0)",
        ].map { "\(downAt) \($0)" })
        #expect(rig.loop.status.first { $0.interface == "eth0" }?.state == .down)
        #expect(rig.loop.plan.uplink(named: "eth0")?.usable == false)
    }

    @Test("a link that comes back gets a repair, not a plain apply")
    func carrierBackRepairs() throws {
        let rig = try Rig()
        rig.start()
        try rig.run(until: .seconds(0.99))
        try rig.handle(.core(.carrier(interface: "eth0", up: false)), at: .seconds(1))
        try rig.run(until: .seconds(1.99))
        rig.ports.clear()
        try rig.handle(.core(.carrier(interface: "eth0", up: true)), at: .seconds(2))
        // Still down (threshold_up good rounds needed), but the kernel dropped eth0's routes.
        #expect(rig.ports.trace == ["repair(default=eth1)"])
    }

    @Test("a failed apply makes the next programming a repair")
    func failedApplyRepairsNext() throws {
        let rig = try Rig()
        rig.start()
        rig.ports.failingApplies.withLock { $0 = 1 }
        try rig.run(until: .seconds(0.99))
        try rig.handle(.core(.manual(.maintenance(interface: "eth0", enabled: true), origin: CommandOrigin(source: "test"))), at: .seconds(1))
        try rig.run(until: .seconds(1.99))
        try rig.handle(.core(.manual(.maintenance(interface: "eth0", enabled: false), origin: CommandOrigin(source: "test"))), at: .seconds(2))
        #expect(rig.ports.trace.suffix(4) == [
            "apply(default=eth1)", "record(wan_up eth0)", "record(failback eth0)", "repair(default=eth0)",
        ])
    }

    @Test("reload: a broken config changes nothing; a changed one reconfigures the edges and the plan")
    func reload() throws {
        let rig = try Rig()
        rig.start()
        try rig.run(until: .seconds(1.5))
        let plan = rig.loop.plan
        rig.ports.clear()

        rig.file.text.withLock { $0 = DaemonLoopTests.twoWANs.replacingOccurrences(of: "member \"eth1\"", with: "member \"eth9\"") }
        #expect(try rig.handle(.reload, at: .seconds(1.6)))
        #expect(rig.ports.calls.isEmpty)
        #expect(rig.loop.plan == plan)

        rig.file.text.withLock { $0 = DaemonLoopTests.twoWANs }
        try rig.handle(.reload, at: .seconds(1.7))
        #expect(rig.ports.calls.isEmpty, "an unchanged config is not a reconfiguration")

        rig.file.text.withLock { $0 = DaemonLoopTests.threeWANs }
        try rig.handle(.reload, at: .seconds(1.8))
        #expect(Array(rig.ports.trace.prefix(2)) == ["configureProbes(eth0#0,eth1#1,eth2#2)", "watch(eth0,eth1,eth2)"])
        #expect(rig.loop.plan.uplinks.map(\.name) == ["eth0", "eth1", "eth2"])
        #expect(rig.ports.calls.contains { if case .apply(let p) = $0 { p.uplinks.count == 3 } else { false } })
    }

    @Test("terminate removes everything Flywall owns, last, and ends the loop")
    func terminate() throws {
        let rig = try Rig()
        rig.start()
        rig.ports.clear()
        #expect(try rig.handle(.terminate, at: .seconds(1)) == false)
        // Sessions end before their routes go; nothing else happens.
        #expect(rig.ports.trace == ["stopAllSessions", "removeAll"])
    }

    static let pppoe = twoWANs.replacingOccurrences(of: """
        interface "eth1" {
          zone = "WAN"
          gateway = "10.0.1.1"
        """, with: """
        interface "eth1" {
          zone = "WAN"
          pppoe {
            username = "user@isp.example"
            password = "line-secret"
          }
        """)

    @Test("a PPPoE WAN: its session starts with the first tick and stops when a reload removes the line")
    func pppoeSessions() throws {
        let rig = try Rig(Self.pppoe)
        rig.start()
        #expect(rig.ports.trace.contains("startSession(eth1)"))
        #expect(!rig.ports.trace.contains { $0.hasPrefix("stopSession") })
        try rig.run(until: .seconds(1.5))
        rig.ports.clear()
        rig.file.text.withLock { $0 = DaemonLoopTests.twoWANs }
        try rig.handle(.reload, at: .seconds(1.6))
        #expect(rig.ports.trace.first == "stopSession(eth1)")
        #expect(!rig.ports.trace.contains { $0.hasPrefix("startSession") })
        rig.ports.clear()
        #expect(try rig.handle(.terminate, at: .seconds(2)) == false)
        #expect(rig.ports.trace == ["stopAllSessions", "removeAll"])
    }

    static func withToken(_ token: String) -> String {
        twoWANs + "\napi {\n  token = \"\(token)\"\n}\n"
    }

    @Test("reload: a new api token reaches the API port, and only that")
    func reloadChangesTheToken() throws {
        let rig = try Rig(Self.withToken("old-token-0123456789"))
        rig.start()
        #expect(rig.ports.calls.contains(.api(APISettings(listen: "127.0.0.1:8080", token: "old-token-0123456789"))))
        try rig.run(until: .seconds(1.5))
        rig.ports.clear()
        rig.file.text.withLock { $0 = Self.withToken("new-token-9876543210") }
        try rig.handle(.reload, at: .seconds(1.6))
        let operations = rig.ports.calls.filter {
            switch $0 {
            case .api, .notifications, .roleFile: true
            default: false
            }
        }
        #expect(operations == [.api(APISettings(listen: "127.0.0.1:8080", token: "new-token-9876543210"))])

        // The real port: the guard checks writes against the new token from the next request on.
        let access = APIAccess(logger: Logger(label: "test"))
        let real = try Rig(Self.withToken("old-token-0123456789"), api: access)
        real.start()
        let guardian = APIGuard(access: access)
        #expect(guardian.authorize("Bearer old-token-0123456789") == nil)
        real.file.text.withLock { $0 = Self.withToken("new-token-9876543210") }
        try real.handle(.reload, at: .seconds(0.1))
        #expect(guardian.authorize("Bearer old-token-0123456789")?.status.code == 403)
        #expect(guardian.authorize("Bearer new-token-9876543210") == nil)
        #expect(access.token == "new-token-9876543210")
    }

    @Test("the loop on its own thread: probes on the real clock, then terminate from another thread")
    func runsOnItsThread() async throws {
        let rig = try Rig()
        let loop = rig.loop
        let finished = Mutex(false)
        let thread = try DedicatedThread.start(name: "test-core") {
            try? loop.run()
            finished.withLock { $0 = true }
        }
        for _ in 0..<200 where !rig.ports.calls.contains(where: { if case .probe = $0 { true } else { false } }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        rig.inputs.push(.terminate)
        DedicatedThread.join(thread)
        #expect(finished.withLock { $0 })
        #expect(rig.ports.calls.first { if case .configureProbes = $0 { true } else { false } } == .configureProbes([
            ProbeBinding(interface: "eth0", index: 0, ipv6: false), ProbeBinding(interface: "eth1", index: 1, ipv6: false),
        ]))
        #expect(rig.ports.calls.last == .removeAll)
    }
}

extension DaemonLoopTests {
    @Test("the board: throttled snapshots, at once after a change; commands counted")
    func statusBoard() throws {
        let board = StatusBoard(clock: MonotonicClock())
        let rig = try Rig(board: board)
        rig.start()
        let first = try #require(board.snapshot)
        #expect(first.status.map(\.interface) == ["eth0", "eth1"])
        #expect(first.groups.first?.active == ["eth0"])
        // Probe replies within 100 ms of core time change nothing an operator must see at once;
        // the next round, a second later, is published.
        try rig.run(until: .seconds(0.05))
        #expect(board.snapshot?.generation == first.generation)
        try rig.run(until: .seconds(1.5))
        let later = try #require(board.snapshot)
        #expect(later.generation > first.generation)
        // A command is published at once, with its count, whatever the throttle.
        try rig.handle(.core(.manual(.maintenance(interface: "eth0", enabled: true), origin: CommandOrigin(source: "test"))),
                       at: .seconds(1.51))
        let after = try #require(board.snapshot)
        #expect(after.generation > later.generation)
        #expect(after.commandsHandled == 1)
        #expect(after.status[0].state == .maintenance)
        #expect(after.groups.first?.active == ["eth1"])
    }
}

extension DaemonLoopTests {
    @Test("commands get through a queue full of other events; one over their own cap is refused and takes no ticket")
    func commandsSurviveAFullQueue() async throws {
        let board = StatusBoard(clock: MonotonicClock())
        let inputs = DaemonInputQueue(capacity: 2, manualCapacity: 2)
        let rig = try Rig(board: board, inputs: inputs)
        rig.start()
        let carrier = CoreEvent.carrier(interface: "eth0", up: true)
        #expect(inputs.push(.core(carrier)) && inputs.push(.core(carrier)))
        #expect(!inputs.push(.core(carrier)), "full for other events")
        let origin = CommandOrigin(source: "test")
        let first = board.submit(.maintenance(interface: "eth0", enabled: true), origin: origin, into: inputs)
        let second = board.submit(.maintenance(interface: "eth9", enabled: true), origin: origin, into: inputs)
        #expect(first == 1 && second == 2)
        #expect(board.submit(.maintenance(interface: "eth1", enabled: true), origin: origin, into: inputs) == nil)
        #expect(inputs.takeDropped() == 1, "only the carrier event counts as dropped")
        let now = timespec()
        while let input = inputs.pop(until: now) { try rig.handle(input, at: .seconds(0.5)) }
        let accepted = await board.waitHandled(1, timeout: .milliseconds(200))
        let refused = await board.waitHandled(2, timeout: .milliseconds(200))
        #expect(accepted?.accepted == true && accepted?.result == "eth0: maintenance on")
        #expect(refused?.accepted == false && refused?.refusal == .unknownWAN)
        #expect(refused?.result == "maintenance: no WAN named eth9")
        // The refused submission took no ticket: the next is 3 and is answered as itself.
        let third = board.submit(.maintenance(interface: "eth0", enabled: false), origin: origin, into: inputs)
        #expect(third == 3)
        while let input = inputs.pop(until: now) { try rig.handle(input, at: .seconds(0.6)) }
        let released = await board.waitHandled(3, timeout: .milliseconds(200))
        #expect(released?.result == "eth0: maintenance off")
    }
}

@Suite("Daemon input queue")
struct DaemonInputQueueTests {
    @Test("bounded: events beyond the capacity are dropped and counted; signals never are")
    func bounded() {
        let queue = DaemonInputQueue(capacity: 2)
        let event = CoreEvent.carrier(interface: "eth0", up: true)
        #expect(queue.push(.core(event)))
        #expect(queue.push(.core(event)))
        #expect(!queue.push(.core(event)))
        #expect(queue.push(.reload))
        #expect(queue.takeDropped() == 1)
        #expect(queue.takeDropped() == 0)
        let now = timespec()
        #expect(queue.pop(until: now) == .core(event))
        #expect(queue.pop(until: now) == .core(event))
        #expect(queue.pop(until: now) == .reload)
        #expect(queue.pop(until: now) == nil)
    }

    @Test("terminate comes first; reload after the events queued before it, and a burst of reloads is one")
    func order() {
        let queue = DaemonInputQueue(capacity: 8)
        let a = CoreEvent.carrier(interface: "a", up: true), b = CoreEvent.carrier(interface: "b", up: true)
        queue.push(.core(a))
        queue.push(.reload)
        queue.push(.reload)
        queue.push(.core(b))
        queue.push(.terminate)
        let now = timespec()
        #expect(queue.pop(until: now) == .terminate)
        #expect(queue.pop(until: now) == .core(a))
        #expect(queue.pop(until: now) == .core(b))
        #expect(queue.pop(until: now) == .reload)
        #expect(queue.pop(until: now) == nil)
    }

    @Test("a timed pop with nothing queued returns nil once the deadline passed")
    func timedPop() {
        let queue = DaemonInputQueue()
        let clock = MonotonicClock()
        #expect(queue.pop(until: clock.absolute(clock.now + .milliseconds(20))) == nil)
        #expect(clock.now >= Instant.zero + .milliseconds(20))
    }
}
