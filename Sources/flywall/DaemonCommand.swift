import Adapters
import ArgumentParser
import Domain
import Foundation
import Logging
import ServiceLifecycle
import Simulator

/// `flywall daemon --config FILE`: the multi-WAN engine on a real router; `--scenario FILE`: the same
/// daemon on a scenario's simulated links (no root).
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the multi-WAN engine: probe the uplinks, program routing and nftables, fail over.",
        discussion: """
        Runs in the foreground (a systemd service: see dist/flywall.service). Needs root, or \
        CAP_NET_ADMIN and CAP_NET_RAW. Logs to standard error with syslog priority prefixes for journald.
        SIGHUP reloads the config file; a config with any error is rejected and the running one stays. \
        SIGTERM or SIGINT removes everything Flywall owns in the kernel (table inet flywall, its ip \
        rules and routing tables) and exits. On start, leftovers of an earlier run are replaced, never \
        duplicated.
        With --scenario FILE it runs the same core loop, API, history and metrics on the scenario's \
        simulated links instead of the kernel, in real time or --speed N times faster, and needs no root.
        """
    )

    @Option(name: .shortAndLong, help: "The config file (HCL).")
    var config: String = "/etc/flywall/flywall.hcl"

    @Option(help: "Run on a scenario file's simulated links instead of the kernel (no root needed).")
    var scenario: String?

    @Option(help: "With --scenario: run N times faster than real time (1-\(MonotonicClock.maxSpeed)).")
    var speed: Int = 1

    @Option(help: "Where the HTTP API listens, ADDR:PORT (default: the config's api { listen }, else 127.0.0.1:8080).")
    var api: String?

    @Option(help: "Directory of the history store.")
    var stateDir: String = "/var/lib/flywall"

    @Option(help: "The pppd that runs PPPoE sessions (Debian's ppp package, with its rp-pppoe plugin).")
    var pppd: String = "/usr/sbin/pppd"

    @Option(help: "Lowest log level shown: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        if let api, splitListenAddress(api) == nil {
            throw ValidationError("--api: \"\(api)\" is not ADDR:PORT (an IP address or localhost, and a port 1-65535)")
        }
        guard (1...MonotonicClock.maxSpeed).contains(speed) else {
            throw ValidationError("--speed: must be 1-\(MonotonicClock.maxSpeed), got \(speed)")
        }
        if speed != 1 && scenario == nil { throw ValidationError("--speed: only with --scenario") }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = JournalLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "flywall")
        let inputs = DaemonInputQueue()
        let clock = MonotonicClock(speed: speed)
        let board = StatusBoard(clock: clock)

        let edges = try scenario.map { try demoEdges($0, inputs: inputs, board: board, logger: logger) }
            ?? kernelEdges(inputs: inputs, clock: clock, logger: logger)
        let initial = edges.config

        let (store, problem) = openHistory(initial.history)
        // Notifications wait in the history store's outbox; without a store none can be kept.
        let sender = store.map { NotificationSender(store: $0, logger: logger) }
        let writer = HistoryWriter(store: store, problem: problem, board: board, logger: logger, notifier: sender)
        // The loader only reads the file; what the operations edges run with comes from the core's
        // effects (`.configureNotifications`, `.configureAPI`, `.watchRoleFile`), on start and reload.
        let access = APIAccess(logger: logger)
        var ports = edges.ports
        ports.recorder = writer
        ports.notifications = sender.map { $0 as any NotificationConfiguring } ?? NoOutbox(logger: logger)
        ports.api = access
        let loop = DaemonLoop(config: initial, loadConfig: edges.load, inputs: inputs, ports: ports, clock: clock,
                              board: board, logger: logger)
        // Services stop in reverse order: the core loop first (it removes what Flywall owns in
        // the kernel), then the API and the signal handler, then the input sources, and the
        // notification sender last (what it has not delivered stays in the outbox).
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: (sender.map { [.init(service: NotificationService(sender: $0))] } ?? []) + edges.sources + [
                .init(service: ReloadSignalService(inputs: inputs)),
                .init(service: APIServer(listen: api.flatMap(splitListenAddress), access: access, board: board, inputs: inputs,
                                         history: store, logger: logger)),
                .init(service: CoreLoopService(loop: loop, inputs: inputs),
                      successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        edges.started()
        do {
            try await group.run()
        } catch {
            logger.critical("stopped: \(error)")
            throw ExitCode(1)
        }
        writer.drain()
        logger.notice(scenario == nil ? "flywall stopped; nothing of it is left in the kernel" : "flywall demo stopped")
    }

    /// What differs between the real daemon and the demo: the config's source and the edges.
    struct Edges {
        var config: FlywallConfig
        var load: DaemonLoop.ConfigLoader
        var ports: DaemonPorts
        var sources: [ServiceGroupConfiguration.ServiceConfiguration]
        var started: () -> Void = {}
    }

    /// A store that cannot be opened is reported and the daemon runs on without history.
    func openHistory(_ settings: HistorySettings) -> (HistoryStore?, String?) {
        do {
            return (try HistoryStore(directory: stateDir, settings: settings), nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    func kernelEdges(inputs: DaemonInputQueue, clock: MonotonicClock, logger: Logger) throws -> Edges {
        let missing = Privileges.missing()
        guard missing.isEmpty else {
            logger.critical("flywall daemon needs root or the capabilities CAP_NET_ADMIN and CAP_NET_RAW; missing: \(missing.joined(separator: ", ")) (try --scenario FILE for a demo without root)")
            throw ExitCode(1)
        }
        let path = config
        let load: DaemonLoop.ConfigLoader = { try ConfigDecoder.load(source: try readConfigFile(path), file: path) }
        let initial = try loadInitial(load, path: path, logger: logger)
        let probes: KernelProbes
        let dataplane: KernelDataplane
        let links: LinkMonitor
        let passive: PassiveHealthMonitor
        let sessions: PPPDSupervisor
        do {
            probes = try KernelProbes(inputs: inputs)
            dataplane = try KernelDataplane(logger: logger)
            // Watches nothing until the core says which interfaces (`.watchInterfaces`).
            links = try LinkMonitor(interfaces: [], onEvent: { inputs.push(.core($0)) },
                                    onError: { error in logger.warning("link monitor: \(error)") })
            // `health_check { type = "passive" }`: outbound SYNs and their answers, judged by the core.
            // Stamped with the capture's time, so a queue in front of the loop is no timing error.
            passive = try PassiveHealthMonitor(onObservation: { interface, observation, captured in
                inputs.push(.core(.passive(interface: interface, observation, capturedAt: clock.instant(ofMonotonic: captured))))
            }, onError: { error in logger.warning("passive health: \(error)") })
            // PPPoE lines: pppd's options files (with the password) in a root-only directory.
            sessions = try PPPDSupervisor(directory: stateDir + "/pppoe", pppd: pppd) { interface, exit in
                inputs.push(.core(.sessionEnded(interface: interface, exit)))
            }
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        for warning in initial.warnings { logger.warning("\(warning.location): \(warning.message)") }
        logger.notice("flywall starting: \(initial.wans.count) WANs (\(initial.wans.map(\.name).joined(separator: ", "))), config \(path)")
        var sources: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: InputSourceService("PPPoE sessions") { sessions.stopAll() }),
            .init(service: InputSourceService("probes") { probes.shutdown() }),
            .init(service: InputSourceService("link monitor") { links.stop() }),
            .init(service: InputSourceService("passive capture") { passive.shutdown() }),
        ]
        // `ha_pair { role_file }`: keepalived's word on this router's role, as `.roleChanged` inputs,
        // from the file the core names (`.watchRoleFile`).
        let roles = RoleFileSource(inputs: inputs, logger: logger)
        sources.append(.init(service: InputSourceService("ha role") { roles.stop() }))
        var ports = DaemonPorts(probes: probes, interfaces: links, passive: passive, dataplane: dataplane,
                                sessions: sessions)
        ports.roleFile = roles
        return Edges(config: initial, load: load, ports: ports, sources: sources)
    }

    func demoEdges(_ file: String, inputs: DaemonInputQueue, board: StatusBoard, logger: Logger) throws -> Edges {
        let loadScenario: @Sendable () throws -> Scenario = {
            let source: String
            do {
                source = try readConfigFile(file)
            } catch {
                throw DiagnosticList([Diagnostic(SourceLocation(file: file, line: 1, column: 1), "cannot read: \(error)")])
            }
            return try ScenarioDecoder.load(source: source, file: file) { try readConfigFile($0) }
        }
        let scenario: Scenario
        do {
            scenario = try loadScenario()
        } catch let error as DiagnosticList {
            for d in error.diagnostics { logger.critical("\(d)") }
            logger.critical("\(error.diagnostics.count) error(s) in \(file): not starting")
            throw ExitCode(1)
        }
        let links = DemoLinks(scenario: scenario, inputs: inputs, speed: speed)
        logger.notice("flywall demo: scenario \"\(scenario.name)\" (\(file)), \(scenario.config.wans.count) simulated WANs (\(scenario.config.wans.map(\.name).joined(separator: ", "))), speed \(speed)x; no kernel state is touched")
        return Edges(
            config: scenario.config, load: { try loadScenario().config },
            ports: DaemonPorts(probes: links, interfaces: links, passive: links, dataplane: links),
            sources: [],
            started: { links.startFaults(board: board) { logger.notice("\($0)") } })
    }

    func loadInitial(_ load: DaemonLoop.ConfigLoader, path: String, logger: Logger) throws -> FlywallConfig {
        do {
            return try load()
        } catch let error as DiagnosticList {
            for d in error.diagnostics { logger.critical("\(d)") }
            logger.critical("\(error.diagnostics.count) error(s) in \(path): not starting")
            throw ExitCode(1)
        } catch {
            logger.critical("cannot read \(path): \(error)")
            throw ExitCode(1)
        }
    }
}

/// Notifications when the history store (their outbox) could not be opened: none can be kept.
struct NoOutbox: NotificationConfiguring {
    let logger: Logger
    func configure(_ notifications: Notifications) {
        guard !NotificationPolicy(notifications).channels.isEmpty else { return }
        logger.error("notifications: not sent, the history store (their outbox) could not be opened")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
