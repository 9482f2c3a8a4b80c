import Domain
import Logging

/// The production shell around the core: sleeps until the core's deadline or the next input,
/// stamps it with the monotonic clock, feeds it to the core and carries out the effects in order.
///
/// It decides nothing: what to probe, watch, program, repair and flush comes from the core's
/// effects. Its own work is I/O: reading the config file on `.reload` (a file with any error is
/// rejected whole and the core never sees it) and reporting effects that failed back to the core.
public final class DaemonLoop: @unchecked Sendable {
    /// Reads and validates the config file; throws its diagnostics.
    public typealias ConfigLoader = @Sendable () throws -> FlywallConfig

    private var core: MultiWANStateMachine
    private let loadConfig: ConfigLoader
    private let inputs: DaemonInputQueue
    private let ports: DaemonPorts
    private let clock: MonotonicClock
    private let logger: Logger
    /// Where the API reads status and metrics from; nil: nobody reads (tests).
    private let board: StatusBoard?
    /// Set by effects an operator must see at once (events, plans, commands): the next offer to
    /// the board publishes regardless of its throttle.
    private var publishNow = true
    private var commandsHandled: UInt64 = 0
    private var maxLateness: Int64 = 0
    private var lastLateness: Int64 = 0
    /// The HA layout of the plan it was computed from: recomputed only when the plan changes.
    private var layout: (plan: ForwardingPlan, fingerprint: String)?

    public init(config: FlywallConfig, loadConfig: @escaping ConfigLoader, inputs: DaemonInputQueue, ports: DaemonPorts,
                clock: MonotonicClock = MonotonicClock(), board: StatusBoard? = nil, logger: Logger) {
        self.core = MultiWANStateMachine(config: config)
        self.loadConfig = loadConfig
        self.inputs = inputs
        self.ports = ports
        self.clock = clock
        self.board = board
        self.logger = logger
    }

    /// The core's current view, for status requests and tests.
    public var status: [WANStatus] { core.status }
    public var plan: ForwardingPlan { core.plan }
    /// When the core next wants a tick.
    public var nextDeadline: Instant? { core.nextDeadline }

    /// Runs until a `.terminate` input, then removes everything Flywall owns from the kernel.
    public func run() throws {
        start(at: clock.now)
        while true {
            let deadline = core.nextDeadline
            let input = inputs.pop(until: deadline.map(clock.absolute))
            let now = clock.now
            // How late this wake-up is for the deadline (a round's start or timeout): the schedule
            // an operator can check (`flywall_probe_round_lateness_seconds`).
            if input == nil, let deadline, let board { noteLateness(clock.realNanoseconds(since: deadline), board) }
            if try !handle(input, at: now) { return }
        }
    }

    private func noteLateness(_ nanos: Int64, _ board: StatusBoard) {
        lastLateness = max(0, nanos)
        maxLateness = max(maxLateness, lastLateness)
        board.metrics.recordLateness(nanoseconds: lastLateness)
    }

    /// The first tick: the core opens probe paths, watches interfaces, sends the first probes and
    /// programs the first plan.
    public func start(at now: Instant) {
        perform(core.handle(.tick, at: now), at: now)
        offerSnapshot(at: now)
    }

    /// Serves one input (nil: the core's deadline passed). Returns false after `.terminate`.
    public func handle(_ input: DaemonInput?, at now: Instant) throws -> Bool {
        let dropped = inputs.takeDropped()
        if dropped > 0 {
            logger.error("input queue full: \(dropped) events dropped (capacity \(inputs.capacity)); the loop fell behind")
        }
        switch input {
        case nil:
            perform(core.handle(.tick, at: now), at: now)
        case .core(let event):
            if case .manual = event { commandsHandled += 1 }
            if case .roleChanged = event { publishNow = true }
            perform(core.handle(event, at: now), at: now)
        case .reload:
            reload(at: now)
        case .terminate:
            logger.notice("terminating: stopping PPPoE sessions, removing Flywall's nftables table, ip rules and routes")
            ports.sessions.stopAll()
            try ports.dataplane.removeAll()
            return false
        }
        // Deadlines that passed while inputs queued up are served right away.
        if let d = core.nextDeadline, d <= now {
            if let board { noteLateness(clock.realNanoseconds(since: d), board) }
            perform(core.handle(.tick, at: now), at: now)
        }
        offerSnapshot(at: now)
        return true
    }

    /// Publishes the core's view for the API when the board wants one (throttled, or at once after
    /// a change an operator must see).
    private func offerSnapshot(at now: Instant) {
        guard let board, board.wants(at: now, force: publishNow) else { return }
        publishNow = false
        let plan = core.plan
        var checks: [String: HealthCheck] = [:]
        for wan in core.config.wans { checks[wan.name] = core.config.healthCheck(for: wan.name) }
        board.publish(DaemonSnapshot(
            generation: 0, takenAt: now, status: core.status,
            groups: plan.groups.map { .init(name: $0.name, mode: $0.mode.rawValue, members: $0.members, active: $0.active) },
            checks: checks, commandsHandled: commandsHandled, maxLatenessNanos: maxLateness,
            lastLatenessNanos: lastLateness, historyProblem: nil,
            role: core.role, layoutFingerprint: core.role == nil ? nil : layoutFingerprint(plan)))
    }

    private func layoutFingerprint(_ plan: ForwardingPlan) -> String {
        if let layout, layout.plan == plan { return layout.fingerprint }
        let fingerprint = DataplaneLayout(plan: plan).fingerprint
        layout = (plan, fingerprint)
        return fingerprint
    }

    /// SIGHUP: a config with any error is rejected whole and the running one stays.
    private func reload(at now: Instant) {
        let newConfig: FlywallConfig
        do {
            newConfig = try loadConfig()
        } catch let error as DiagnosticList {
            for d in error.diagnostics { logger.error("\(d)") }
            logger.error("reload rejected: \(error.diagnostics.count) error(s); the running configuration stays")
            return
        } catch {
            logger.error("reload rejected: \(error); the running configuration stays")
            return
        }
        publishNow = true
        perform(core.handle(.configReplaced(newConfig), at: now), at: now)
    }

    private func perform(_ effects: [CoreEffect], at now: Instant) {
        var failures: [String] = []
        for effect in effects {
            switch effect {
            case .configureProbes(let bindings):
                do {
                    try ports.probes.configure(bindings)
                } catch {
                    logger.error("probes could not be configured: \(error)")
                }
            case .watchInterfaces(let names):
                ports.interfaces.watch(interfaces: names)
            case .sendProbe(let request):
                ports.probes.send(request)
            case .applyPlan(let plan):
                publishNow = true
                let started = KernelClock.monotonic()
                defer { board?.metrics.recordApply(nanoseconds: KernelClock.monotonic() - started) }
                do {
                    try ports.dataplane.apply(plan)
                } catch {
                    logger.error("dataplane: could not apply the plan: \(error)")
                    failures.append("applying the plan failed: \(error)")
                }
            case .repairDataplane(let plan):
                publishNow = true
                let started = KernelClock.monotonic()
                defer { board?.metrics.recordApply(nanoseconds: KernelClock.monotonic() - started) }
                do {
                    try ports.dataplane.repair(plan)
                } catch {
                    logger.warning("dataplane: repair incomplete: \(error)")
                    failures.append("repair incomplete: \(error)")
                }
            case .flushConnections(let uplink):
                do {
                    let n = try ports.dataplane.flushConnections(uplink: uplink)
                    board?.metrics.recordFlushed(n)
                    logger.info("\(uplink.name): flushed \(n) tracked connections")
                } catch {
                    logger.error("\(uplink.name): could not flush connections: \(error)")
                }
            case .capturePassive(let interfaces):
                for error in ports.passive.capture(interfaces: interfaces) { logger.warning("passive health: \(error)") }
            case .emit(let event):
                publishNow = true
                let line = "\(event.kind.rawValue): \(describe(event))"
                if let recorder = ports.recorder {
                    recorder.record(event, unixNanoseconds: clock.unixNanoseconds(of: event.time), logLine: line)
                } else {
                    logger.notice("\(line)")
                }
                board?.metrics.recordEvent(event)
            case .commandHandled(let record):
                publishNow = true
                // Only `.manual` inputs make this effect, so the count is the command's ticket.
                board?.noteHandled(record, ticket: commandsHandled)
                ports.recorder?.record(record, unixNanoseconds: clock.unixNanoseconds(of: record.time))
            case .log(let level, let message):
                logger.log(level: Logger.Level(level), "\(message)")
            case .startSession(let session):
                ports.sessions.start(session)
            case .stopSession(let interface):
                ports.sessions.stop(interface: interface)
            case .configureNotifications(let notifications):
                ports.notifications.configure(notifications)
            case .configureAPI(let api):
                ports.api.configure(api)
            case .watchRoleFile(let path):
                ports.roleFile.watch(path: path)
            }
        }
        // After the batch, so the core hears of it once whatever failed.
        if !failures.isEmpty {
            perform(core.handle(.dataplaneFailed(failures.joined(separator: "; ")), at: now), at: now)
        }
    }

    private func uplinks(_ names: [String]) -> String {
        names.isEmpty ? "none" : names.joined(separator: ",")
    }

    /// The event's log line. A verdict of the health checks says `health` and its evidence, so
    /// `journalctl -u flywall | grep -i health` finds every one.
    private func describe(_ event: WANEvent) -> String {
        let subject = switch event.kind {
        case .wanDown, .wanUp: "\(event.interface ?? "?") (\(event.reason))"
        case .failover, .failback, .allDown:
            "group \(event.group ?? "?"): \(uplinks(event.from)) -> \(uplinks(event.to)) (\(event.reason))"
        }
        guard let evidence = event.evidence else { return subject }
        let label = switch evidence.cause {
        case .probes, .passive, .quality, .carrier: "health evidence"
        case .manual, .config: "evidence"
        }
        return "\(subject); \(label): \(evidence.summary)"
    }
}

extension Logger.Level {
    init(_ level: LogLevel) {
        switch level {
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        }
    }
}
