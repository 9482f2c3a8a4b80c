import Adapters
import ArgumentParser
import Domain
import Foundation
import Logging
import ServiceLifecycle

/// `flywall daemon --config FILE`: the multi-WAN engine on a real router.
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
        """
    )

    @Option(name: .shortAndLong, help: "The config file (HCL).")
    var config: String = "/etc/flywall/flywall.hcl"

    @Option(help: "Lowest log level shown: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = JournalLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "flywall")

        let missing = Privileges.missing()
        guard missing.isEmpty else {
            logger.critical("flywall daemon needs root or the capabilities CAP_NET_ADMIN and CAP_NET_RAW; missing: \(missing.joined(separator: ", "))")
            throw ExitCode(1)
        }

        let path = config
        let load: DaemonLoop.ConfigLoader = { try ConfigDecoder.load(source: try readConfigFile(path), file: path) }
        let initial: FlywallConfig
        do {
            initial = try load()
        } catch let error as DiagnosticList {
            for d in error.diagnostics { logger.critical("\(d)") }
            logger.critical("\(error.diagnostics.count) error(s) in \(path): not starting")
            throw ExitCode(1)
        } catch {
            logger.critical("cannot read \(path): \(error)")
            throw ExitCode(1)
        }

        let inputs = DaemonInputQueue()
        let probes: KernelProbes
        let dataplane: KernelDataplane
        let links: LinkMonitor
        let passive: PassiveHealthMonitor
        do {
            probes = try KernelProbes(inputs: inputs)
            dataplane = try KernelDataplane(logger: logger)
            // Watches nothing until the core says which interfaces (`.watchInterfaces`).
            links = try LinkMonitor(interfaces: [], onEvent: { inputs.push(.core($0)) },
                                    onError: { error in logger.warning("link monitor: \(error)") })
            // `health_check { type = "passive" }`: outbound SYNs and their answers, judged by the core.
            passive = try PassiveHealthMonitor(onObservation: { interface, observation in
                inputs.push(.core(.passive(interface: interface, observation)))
            }, onError: { error in logger.warning("passive health: \(error)") })
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        for warning in initial.warnings { logger.warning("\(warning.location): \(warning.message)") }
        logger.notice("flywall starting: \(initial.wans.count) WANs (\(initial.wans.map(\.name).joined(separator: ", "))), config \(path)")
        let loop = DaemonLoop(config: initial, loadConfig: load, inputs: inputs,
                              ports: DaemonPorts(probes: probes, interfaces: links, passive: passive, dataplane: dataplane),
                              logger: logger)
        // Services stop in reverse order: the core loop first (it removes what Flywall owns in
        // the kernel), then the signal handler, then the input sources.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: InputSourceService("probes") { probes.shutdown() }),
                .init(service: InputSourceService("link monitor") { links.stop() }),
                .init(service: InputSourceService("passive capture") { passive.shutdown() }),
                .init(service: ReloadSignalService(inputs: inputs)),
                .init(service: CoreLoopService(loop: loop, inputs: inputs),
                      successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("stopped: \(error)")
            throw ExitCode(1)
        }
        logger.notice("flywall stopped; nothing of it is left in the kernel")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
