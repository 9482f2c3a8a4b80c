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

            Exit status: 0 if every expectation holds, 1 if any fails, 2 if the file is invalid.
            """
    )

    @Argument(help: "The scenario file (HCL). Default: the built-in scenario.")
    var file: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: ArgumentHelp("Also draw the run into this SVG file.", valueName: "file"))
    var svg: String?

    @Option(help: "Use this seed instead of the scenario's.")
    var seed: UInt64?

    @Flag(help: "Include the core's log lines in the report.")
    var verbose = false

    func run() async throws {
        let source: String
        let path: String
        if let file {
            do {
                source = try readConfigFile(file)
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
        do {
            scenario = try ScenarioDecoder.load(source: source, file: path) { referenced in
                try readConfigFile(referenced)
            }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        if let seed { scenario.seed = seed }

        let report = Simulation(scenario: scenario).evaluate()
        let text = json ? JSONReporter.render(report, verbose: verbose) : TextReporter.render(report, verbose: verbose)
        FileHandle.standardOutput.write(Data(text.utf8))

        if let svg {
            do {
                try Data(SVGRenderer.render(report).utf8).write(to: URL(fileURLWithPath: svg))
            } catch {
                printError("\(svg): error: cannot write: \(error.localizedDescription)")
                throw ExitCode(2)
            }
        }
        if !report.allPassed { throw ExitCode(1) }
    }
}
