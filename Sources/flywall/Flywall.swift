import ArgumentParser

@main
struct Flywall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flywall",
        abstract: "Multi-WAN failover, load balancing and policy routing.",
        version: "flywall 0.1.0",
        subcommands: [SimulateCommand.self, ConfigCommand.self, DaemonCommand.self, LabCommand.self, WanCommand.self,
                      NotifyCommand.self]
    )
}
