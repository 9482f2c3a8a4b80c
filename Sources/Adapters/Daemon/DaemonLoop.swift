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

    public init(config: FlywallConfig, loadConfig: @escaping ConfigLoader, inputs: DaemonInputQueue, ports: DaemonPorts,
                clock: MonotonicClock = MonotonicClock(), logger: Logger) {
        self.core = MultiWANStateMachine(config: config)
        self.loadConfig = loadConfig
        self.inputs = inputs
        self.ports = ports
        self.clock = clock
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
            let input = inputs.pop(until: core.nextDeadline.map(clock.absolute))
            if try !handle(input, at: clock.now) { return }
        }
    }

    /// The first tick: the core opens probe paths, watches interfaces, sends the first probes and
    /// programs the first plan.
    public func start(at now: Instant) {
        perform(core.handle(.tick, at: now), at: now)
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
            perform(core.handle(event, at: now), at: now)
        case .reload:
            reload(at: now)
        case .terminate:
            logger.notice("terminating: removing Flywall's nftables table, ip rules and routes")
            try ports.dataplane.removeAll()
            return false
        }
        // Deadlines that passed while inputs queued up are served right away.
        if let d = core.nextDeadline, d <= now { perform(core.handle(.tick, at: now), at: now) }
        return true
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
                do {
                    try ports.dataplane.apply(plan)
                } catch {
                    logger.error("dataplane: could not apply the plan: \(error)")
                    failures.append("applying the plan failed: \(error)")
                }
            case .repairDataplane(let plan):
                do {
                    try ports.dataplane.repair(plan)
                } catch {
                    logger.warning("dataplane: repair incomplete: \(error)")
                    failures.append("repair incomplete: \(error)")
                }
            case .flushConnections(let uplink):
                do {
                    let n = try ports.dataplane.flushConnections(uplink: uplink)
                    logger.info("\(uplink.name): flushed \(n) tracked connections")
                } catch {
                    logger.error("\(uplink.name): could not flush connections: \(error)")
                }
            case .capturePassive(let interfaces):
                for error in ports.passive.capture(interfaces: interfaces) { logger.warning("passive health: \(error)") }
            case .emit(let event):
                logger.notice("\(event.kind.rawValue): \(describe(event))")
                ports.recorder?.record(event)
            case .log(let level, let message):
                logger.log(level: Logger.Level(level), "\(message)")
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

    private func describe(_ event: WANEvent) -> String {
        switch event.kind {
        case .wanDown, .wanUp: "\(event.interface ?? "?") (\(event.reason))"
        case .failover, .failback, .allDown:
            "group \(event.group ?? "?"): \(uplinks(event.from)) -> \(uplinks(event.to)) (\(event.reason))"
        }
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
