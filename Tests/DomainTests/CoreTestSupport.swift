@testable import Domain

/// A tiny driver for the core in tests: answers probes per WAN as told, ticks through time, records events.
struct CoreDriver {
    var core: MultiWANStateMachine
    var now = Instant.zero
    var events: [WANEvent] = []
    var flushed: [String] = []
    var plans = 0
    /// Every `.capturePassive` effect's WAN list, in order.
    var captured: [[String]] = []
    /// WAN -> answers? ; per target override
    var answering: [String: Bool] = [:]
    var deadTargets: Set<IPAddress> = []
    var rtt: [String: Duration] = [:]
    private var pending: [(Instant, ProbeID, ProbeOutcome)] = []
    var commands: [CommandRecord] = []
    /// Every `.startSession` / `.stopSession` effect, as "start eth1" / "stop eth1", with its time.
    var sessions: [(Instant, String)] = []
    var probeBindings: [[ProbeBinding]] = []
    /// Every `.configureNotifications`, `.configureAPI` and `.watchRoleFile` effect, in order.
    var operations: [CoreEffect] = []

    init(_ config: FlywallConfig) {
        core = MultiWANStateMachine(config: config)
        for wan in config.wans { answering[wan.name] = true }
        take(core.handle(.tick, at: now))
    }

    mutating func take(_ effects: [CoreEffect]) {
        for e in effects {
            switch e {
            case .sendProbe(let req):
                guard answering[req.id.interface] == true else { continue }
                if case .icmp(let ip) = req.target, deadTargets.contains(ip) { continue }
                let delay = rtt[req.id.interface] ?? .milliseconds(10)
                if delay <= req.timeout {
                    pending.append((now + delay, req.id, .reply(rtt: delay)))
                }
            case .emit(let ev): events.append(ev)
            case .flushConnections(let uplink): flushed.append(uplink.name)
            case .applyPlan, .repairDataplane: plans += 1
            case .log, .watchInterfaces: break
            case .configureProbes(let bindings): probeBindings.append(bindings)
            case .startSession(let spec): sessions.append((now, "start \(spec.interface)"))
            case .stopSession(let interface): sessions.append((now, "stop \(interface)"))
            case .capturePassive(let names): captured.append(names)
            case .commandHandled(let record): commands.append(record)
            case .configureNotifications, .configureAPI, .watchRoleFile: operations.append(e)
            }
        }
    }

    mutating func send(_ event: CoreEvent) {
        take(core.handle(event, at: now))
    }

    /// Advances to `end`, delivering replies and ticks in time order.
    mutating func run(until end: Instant) {
        while true {
            pending.sort { $0.0 < $1.0 }
            let nextReply = pending.first?.0
            let deadline = core.nextDeadline
            let next = [nextReply, deadline].compactMap { $0 }.min()
            guard let t = next, t <= end else { break }
            now = t
            if let r = nextReply, r == t {
                let (_, id, outcome) = pending.removeFirst()
                take(core.handle(.probeResult(id, outcome), at: now))
            } else {
                take(core.handle(.tick, at: now))
            }
        }
        now = end
    }

    mutating func run(seconds: Double) { run(until: now + .milliseconds(Int64(seconds * 1000))) }

    func events(_ kind: WANEventKind) -> [WANEvent] { events.filter { $0.kind == kind } }
}

func ip(_ s: String) -> IPAddress { IPAddress(s)! }

func dualWAN(mode: UplinkGroup.Mode = .failover, check: HealthCheck? = HealthCheck(targets: [ip("1.1.1.1"), ip("8.8.8.8")]),
             weights: (Int, Int) = (1, 1), sticky: Bool = false, allDown: UplinkGroup.AllDownPolicy = .lastActive,
             policies: [PolicyRoute] = [], ipsets: [IPSet] = []) -> FlywallConfig {
    FlywallConfig(
        interfaces: [
            Interface(name: "eth0", zone: "WAN", dhcp: true, wan: WANSettings(priority: 1, weight: weights.0)),
            Interface(name: "eth1", zone: "WAN", dhcp: true, wan: WANSettings(priority: 2, weight: weights.1)),
        ],
        uplinkGroups: [UplinkGroup(name: "default", mode: mode, sticky: sticky, members: [
            Member(interface: "eth0", priority: 1, weight: weights.0, healthCheck: check),
            Member(interface: "eth1", priority: 2, weight: weights.1, healthCheck: check),
        ], allDown: allDown)],
        policyRoutes: policies, ipsets: ipsets)
}

/// What `config check` would say about `source`, as "line:col: message" (a diagnostic in another
/// file keeps its file name); empty when it decodes.
func decodingProblems(_ source: String, file: String) -> [String] {
    do {
        _ = try ConfigDecoder.load(source: source, file: file)
        return []
    } catch {
        return error.diagnostics.map { d in
            d.location.file == file ? "\(d.location.line):\(d.location.column): \(d.message)"
                                    : "\(d.location): \(d.message)"
        }
    }
}
