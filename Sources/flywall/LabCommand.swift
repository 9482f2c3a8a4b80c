import ArgumentParser
import Domain
import Foundation
import Lab
import Simulator

#if canImport(Glibc)
import Glibc
#endif

/// `flywall lab FILE`: the scenario for real, in network namespaces against the real daemon.
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Run a scenario file for real: namespaces, the real daemon, real traffic and faults.",
        discussion: """
            Builds a router namespace with one veth per WAN to its own ISP namespace (health-check \
            targets and servers on its loopback, dnsmasq for DHCP WANs) and a LAN namespace with the \
            traffic sources, starts `flywall daemon` in the router, plays the scenario's faults and \
            traffic on the wall clock, reads which uplink each connection used from packets captured \
            on the ISP side, and judges the expectations as `flywall simulate` does, with windows \
            adjusted by --tolerance. Also prints the measured failover time per fault next to its \
            arithmetic bound. Needs root, ip, nft, python3 (and dnsmasq, udhcpc for DHCP WANs). \
            Namespaces are named fwlab-<pid>-...; they are removed at the end, on Ctrl-C and on \
            SIGTERM, and a later run removes those of a run that was killed.

            Exit status: 0 if every expectation holds, 1 if any fails, 2 if the file or an option \
            is invalid or the --svg file cannot be written (checked before the run: it may not be \
            one of the run's own input files, and its directory must be writable; a write that \
            fails after the run still prints the report, then exits 2), 3 if the lab could not run \
            (130 if it was interrupted).
            """
    )

    @Argument(help: "The scenario file (HCL).")
    var file: String

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: ArgumentHelp("Also draw the run into this SVG file.", valueName: "file"))
    var svg: String?

    @Option(help: ArgumentHelp("Widen event windows (narrow share/sticky/policy windows) by this: a duration, optionally plus a percentage of the window.", valueName: "100ms+2%"))
    var tolerance: String = "100ms+2%"

    @Option(name: .customLong("duration-scale"), help: ArgumentHelp("Scale every duration of the scenario by this factor (0.001...1); default: lab_duration / duration, or 1.", valueName: "factor"))
    var durationScale: Double?

    @Flag(help: "Also run the simulator on the same (scaled) scenario and show both timelines side by side.")
    var compare = false

    @Option(help: ArgumentHelp("Keep the output of every process of the run (daemon log included) in this directory.", valueName: "dir"))
    var keepLogs: String?

    @Flag(help: "Include the daemon's log lines in the report.")
    var verbose = false

    func run() async throws {
        guard let tolerance = Self.parseTolerance(tolerance) else {
            printError(Diagnostic.readable("--tolerance: expected a duration with an optional percentage, e.g. \"100ms+2%\", got \"\(self.tolerance)\""))
            throw ExitCode(2)
        }
        let source: String
        do {
            source = try readConfigFile(file)
        } catch {
            printError("\(file): error: cannot read: \(error.localizedDescription)")
            throw ExitCode(2)
        }
        let lab: LabScenario
        var inputs = [file]
        do {
            lab = try LabScenario.load(source: source, file: file, scale: durationScale) { referenced in
                inputs.append(referenced)
                return try readConfigFile(referenced)
            }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        if let svg, let problem = SVGOutput.problem(writing: svg, inputs: inputs) {
            printError("\(svg): error: \(problem)")
            throw ExitCode(2)
        }
        guard getuid() == 0 else {
            printError("flywall lab: needs root (network namespaces, nftables, packet capture)")
            throw ExitCode(3)
        }

        let interrupted = LabInterruption()
        let options = LabOptions(daemonBinary: Self.ownBinary(), tolerance: tolerance, logDirectory: keepLogs)
        let report: LabReport
        do {
            report = try LabRun.run(lab, options: options, cancelled: { interrupted.happened })
        } catch {
            printError("flywall lab: \(error)")
            throw ExitCode(interrupted.happened ? 130 : 3)
        }

        // Written before the report is printed, so the drawing is in place when the report is read; a
        // failed write is reported after it, so that the report of a long run is not lost.
        let svgProblem = svg.flatMap { SVGOutput.write(SVGRenderer.render(report.report), to: $0) }
        if compare {
            let simulated = Simulation(scenario: lab.scenario).evaluate()
            let comparison = LabComparison(simulated: simulated, lab: report)
            FileHandle.standardOutput.write(Data(comparison.text.utf8))
        } else {
            let text = json ? report.json(verbose: verbose) : report.text(verbose: verbose)
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        if let svg, let svgProblem {
            printError("\(svg): error: cannot write: \(svgProblem)")
            throw ExitCode(2)
        }
        if !report.allPassed { throw ExitCode(1) }
    }

    /// `100ms+2%`, `50ms`, `5%`.
    static func parseTolerance(_ text: String) -> LabTolerance? {
        var base = Duration.zero, fraction = 0.0
        for part in text.split(separator: "+").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if part.hasSuffix("%") {
                guard let p = Double(part.dropLast()), p >= 0, p <= 100 else { return nil }
                fraction = p / 100
            } else {
                guard case .success(let d) = DurationText.parse(part), d <= .seconds(3600) else { return nil }
                base = d
            }
        }
        return text.isEmpty ? nil : LabTolerance(base: base, fraction: fraction)
    }

    /// This very binary: the daemon the lab runs is the same build.
    static func ownBinary() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// SIGINT and SIGTERM during a run: noted, so the run stops at its next step and removes
/// everything it built (instead of dying with namespaces left behind).
final class LabInterruption: @unchecked Sendable {
    private let flag = LabLocked(false)
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [flag] in flag.withLock { $0 = true } }
            source.resume()
            sources.append(source)
        }
    }

    var happened: Bool { flag.withLock { $0 } }
}
