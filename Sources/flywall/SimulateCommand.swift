import ArgumentParser
import Domain
import Foundation
import Simulator

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a scenario file in virtual time.",
        discussion: """
            Runs the scenario's config against the real core with simulated links, traffic and faults, \
            prints the timeline of WAN events and one PASS/FAIL line per expectation. The same file and \
            seed always give the same output. Without FILE, runs the built-in default scenario (the \
            primary ISP black-holes traffic at 30s; traffic fails over to eth1 and back).

            Exit status: 0 if every expectation holds, 1 if any fails, 2 if the file is invalid or \
            cannot be read, or the --svg file cannot be written (checked before the run: it may not \
            be one of the run's own input files, and its directory must be writable).
            """
    )

    @Argument(help: "The scenario file (HCL). Default: the built-in scenario.")
    var file: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    // `.unconditional`: "--seed -1" is a bad seed, not a missing one followed by an unknown option.
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Also draw the run into this SVG file.", valueName: "file"))
    var svg: String?

    // `.unconditional`: "--seed -1" is a bad seed, not a missing one followed by an unknown option.
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Use this seed instead of the scenario's: a whole number from 0 to \(UInt64.max).",
                               valueName: "n"),
            transform: SimulateCommand.parseSeed)
    var seed: UInt64?

    static func parseSeed(_ text: String) throws -> UInt64 {
        guard let seed = UInt64(text) else {
            let shown = text.count > 40 ? String(text.prefix(37)) + "..." : text
            throw ValidationError("must be a whole number from 0 to \(UInt64.max), got '\(shown)'")
        }
        return seed
    }

    @Flag(help: "Include the core's log lines in the report.")
    var verbose = false

    func run() async throws {
        let source: String
        let path: String
        if let file {
            do {
                source = try readConfigFile(file)
            } catch let problems as DiagnosticList {
                printError(problems.description)
                throw ExitCode(2)
            } catch {
                printError("\(file): error: cannot read: \(error.localizedDescription)")
                throw ExitCode(2)
            }
            path = file
        } else {
            source = DefaultScenario.source
            path = DefaultScenario.displayPath
        }

        var scenario: Scenario
        var inputs = file.map { [$0] } ?? []
        do {
            scenario = try ScenarioDecoder.load(source: source, file: path) { referenced in
                inputs.append(referenced)
                return try readConfigFile(referenced)
            }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        if let seed { scenario.seed = seed }
        if let svg, let problem = SVGOutput.problem(writing: svg, inputs: inputs) {
            printError("\(svg): error: \(problem)")
            throw ExitCode(2)
        }

        let report = Simulation(scenario: scenario).evaluate()
        let text = json ? JSONReporter.render(report, verbose: verbose) : TextReporter.render(report, verbose: verbose)
        FileHandle.standardOutput.write(Data(text.utf8))

        if let svg, let problem = SVGOutput.write(SVGRenderer.render(report), to: svg) {
            printError("\(svg): error: cannot write: \(problem)")
            throw ExitCode(2)
        }
        if !report.allPassed { throw ExitCode(1) }
    }
}
