import Domain
import Logging

/// The production shell around the core: one thread that sleeps until the core's deadline or the
/// next input, stamps it with the monotonic clock, and carries out the effects in order.
public final class DaemonLoop {
    /// Reads and validates the config file; throws its diagnostics.
    public typealias ConfigLoader = () throws -> FlywallConfig

    private var core: MultiWANStateMachine
    private let loadConfig: ConfigLoader
    private let inbox: DaemonInbox
    private let probes: ProbeSending
    private let dataplane: DataplaneApplying
    private let recorder: WANEventRecording?
    private let clock: MonotonicClock
    private var logger: Logger
    private var config: FlywallConfig
    private let onReload: (FlywallConfig) -> Void
    private let capturePassive: ([String]) -> Void

    /// - Parameter capturePassive: carries out `.capturePassive` (the daemon: the passive monitor's
    ///   `watch(interfaces:)`, whose observations come back as `.core(.passive(...))` inputs).
    public init(config: FlywallConfig, loadConfig: @escaping ConfigLoader, inbox: DaemonInbox, probes: ProbeSending,
                dataplane: DataplaneApplying, recorder: WANEventRecording? = nil, clock: MonotonicClock = MonotonicClock(),
                logger: Logger, onReload: @escaping (FlywallConfig) -> Void = { _ in },
                capturePassive: @escaping ([String]) -> Void = { _ in }) {
        self.onReload = onReload
        self.capturePassive = capturePassive
        self.config = config
        self.core = MultiWANStateMachine(config: config)
        self.loadConfig = loadConfig
        self.inbox = inbox
        self.probes = probes
        self.dataplane = dataplane
        self.recorder = recorder
        self.clock = clock
        self.logger = logger
    }

    /// The core's current view, for status requests and tests.
    public var status: [WANStatus] { core.status }
    public var plan: ForwardingPlan { core.plan }

    /// Runs until a `.terminate` input, then removes everything Flywall owns from the kernel.
    public func run() throws {
        try probes.configure(uplinks: uplinks(), config: config)
        perform(core.handle(.tick, at: clock.now))
        while true {
            let input = inbox.pop(until: core.nextDeadline.map(clock.absolute))
            let now = clock.now
            switch input {
            case nil:
                perform(core.handle(.tick, at: now))
            case .core(let event):
                perform(core.handle(event, at: now))
                if event.bringsLinkStateBack {
                    do {
                        try dataplane.resynchronize()
                    } catch {
                        logger.warning("dataplane: repair after a link change incomplete (retried on the next change): \(error)")
                    }
                }
                // Deadlines that passed while events queued up are served right away.
                if let d = core.nextDeadline, d <= now { perform(core.handle(.tick, at: now)) }
            case .reload:
                reload(at: now)
            case .terminate:
                logger.notice("terminating: removing Flywall's nftables table, ip rules and routes")
                try dataplane.removeAll()
                return
            }
        }
    }

    private func uplinks() -> [ForwardingPlan.Uplink] {
        // Before the first plan exists, index WANs in config order, as the core does.
        core.plan.uplinks.isEmpty
            ? config.wans.enumerated().map { ForwardingPlan.Uplink(name: $1.name, index: $0, usable: true) }
            : core.plan.uplinks
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
        guard newConfig != config else {
            logger.info("reload: configuration unchanged")
            return
        }
        config = newConfig
        onReload(newConfig)
        perform(core.handle(.configReplaced(newConfig), at: now))
        do {
            try probes.configure(uplinks: core.plan.uplinks, config: newConfig)
        } catch {
            logger.error("reload: probes could not be reconfigured: \(error)")
        }
        logger.notice("configuration reloaded")
    }

    private func perform(_ effects: [CoreEffect]) {
        for effect in effects {
            switch effect {
            case .sendProbe(let request):
                probes.send(request)
            case .applyPlan(let plan):
                do {
                    try dataplane.apply(plan, config: config)
                } catch {
                    logger.error("dataplane: could not apply the plan: \(error)")
                }
            case .flushConnections(let interface):
                guard let uplink = core.plan.uplink(named: interface) else { continue }
                do {
                    let n = try dataplane.flushConnections(uplink: uplink)
                    logger.info("\(interface): flushed \(n) tracked connections")
                } catch {
                    logger.error("\(interface): could not flush connections: \(error)")
                }
            case .emit(let event):
                logger.notice("\(event.kind.rawValue): \(describe(event))")
                recorder?.record(event)
            case .log(let level, let message):
                logger.log(level: Logger.Level(level), "\(message)")
            case .capturePassive(let interfaces):
                capturePassive(interfaces)
            }
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

extension CoreEvent {
    /// A link or address came (back): the kernel may have dropped routes through it meanwhile.
    var bringsLinkStateBack: Bool {
        switch self {
        case .carrier(_, let up): up
        case .addressLearned: true
        default: false
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
