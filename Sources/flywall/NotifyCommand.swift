import Adapters
import ArgumentParser
import Domain
import Foundation

struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Notifications.",
        subcommands: [NotifyTestCommand.self]
    )
}

/// `flywall notify test`: one test message through every enabled channel, now, past the outbox.
struct NotifyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send a test message through every enabled email and webhook channel and print what each answered.",
        discussion: """
        Sends directly (not through the daemon's outbox), so it also works while the daemon is stopped. \
        Prints one line per channel: its id (email-1, webhook-1, ...), where it went (webhook URLs \
        without their path) and the server's answer. Exits 1 if any channel failed or none is enabled.
        """
    )

    @Option(name: .shortAndLong, help: "The config file (HCL).")
    var config: String = "/etc/flywall/flywall.hcl"

    func run() async throws {
        let parsed: FlywallConfig
        do {
            parsed = try ConfigDecoder.load(source: try readConfigFile(config), file: config)
        } catch let error as DiagnosticList {
            printError(error.description)
            throw ExitCode(1)
        } catch {
            printError("flywall: cannot read \(config): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        let policy = NotificationPolicy(parsed.notifications)
        guard !policy.channels.isEmpty else {
            printError("flywall: no enabled email or webhook channel in \(config)")
            throw ExitCode(1)
        }
        var failed = 0
        for channel in policy.channels {
            let answer = NotificationTransport.send(NotificationMessage(items: []), to: channel,
                                                    unixNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
            if !answer.delivered { failed += 1 }
            print("\(channel.id) \(channel.destination): \(answer.delivered ? "ok" : "FAILED"): \(answer.text)")
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
