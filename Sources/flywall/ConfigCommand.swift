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

    @Option(help: "The other HA router's config: warn about every difference of the dataplane layout (marks, tables, ruleset) that would make a synced connection mean another uplink there.")
    var peer: String?

    func run() async throws {
        do {
            let config = try ConfigDecoder.load(source: try readConfigFile(file), file: file)
            for warning in config.warnings { printError("\(warning.location): warning: \(warning.message)") }
            if let peer { try comparePeer(peer, config) }
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

    /// Each layout line of one router the other lacks is one warning naming the setting's place in
    /// the layout (uplink order, group, policy route).
    private func comparePeer(_ peer: String, _ config: FlywallConfig) throws {
        let other: FlywallConfig
        do {
            other = try ConfigDecoder.load(source: try readConfigFile(peer), file: peer)
        } catch let error as DiagnosticList {
            printError(error.description)
            printError("--peer \(peer): not a valid config; nothing compared")
            throw ExitCode(1)
        } catch {
            printError("flywall: cannot read --peer \(peer): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        let mine = DataplaneLayout(config: config), theirs = DataplaneLayout(config: other)
        let (here, there) = mine.differences(from: theirs)
        for line in here { printError("\(file): warning: HA layout differs from \(peer): here \"\(line)\"") }
        for line in there { printError("\(file): warning: HA layout differs from \(peer): there \"\(line)\"") }
        if here.isEmpty && there.isEmpty {
            printError("\(file): dataplane layout \(mine.fingerprint) equals \(peer)'s")
        } else {
            printError("\(file): warning: dataplane layouts differ (\(mine.fingerprint) here, \(theirs.fingerprint) in \(peer)): a connection synced by conntrackd would leave on another uplink after a takeover")
        }
    }
}
