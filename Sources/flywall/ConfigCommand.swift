import ArgumentParser
import Domain
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate configuration files.",
        subcommands: [ConfigCheckCommand.self]
    )
}

struct ConfigCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a config file and print the resolved configuration.",
        discussion: """
        On success prints the resolved configuration (every default filled in: groups, members with \
        their effective priority and weight, effective health checks, policy routes, ipsets) and exits 0. \
        Warnings (file:line:col: warning: message, e.g. a WAN with only the built-in default health \
        check) go to standard error and do not change the exit status. \
        Otherwise prints every problem as file:line:col: error: message to standard error and exits 1.
        """
    )

    @Argument(help: "The config file (HCL).")
    var file: String

    @Flag(help: "Print the resolved configuration (or the errors) as JSON on standard output.")
    var json = false

    func run() async throws {
        do {
            let config = try ConfigDecoder.load(source: try readConfigFile(file), file: file)
            for warning in config.warnings { printError("\(warning.location): warning: \(warning.message)") }
            print(json ? ResolvedConfigPrinter.json(config) : ResolvedConfigPrinter.text(config), terminator: "")
        } catch let error as DiagnosticList {
            printError(error.description)
            let count = error.diagnostics.count
            printError("\(count) error\(count == 1 ? "" : "s") in \(file); nothing was applied")
            if json { print(ResolvedConfigPrinter.json(error), terminator: "") }
            throw ExitCode(1)
        } catch {
            printError("flywall: cannot read \(file): \(error.localizedDescription)")
            throw ExitCode(1)
        }
    }
}
