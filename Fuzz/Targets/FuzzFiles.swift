import Domain
import Simulator

/// What the scenario targets share: the one config file `config = "..."` can name, and the
/// shortening of runs.
enum FuzzFiles {
    struct Missing: Error {}

    static let config = """
        interface "eth0" {
          zone = "WAN"
          dhcp = true
          wan { priority = 1 }
          health_check {
            targets  = ["1.1.1.1", "8.8.8.8"]
            interval = "5s"
          }
        }
        interface "eth1" {
          zone = "WAN"
          dhcp = true
          wan { priority = 2 }
        }
        """

    static func read(_ path: String) throws -> String {
        guard path.hasSuffix(".hcl"), !path.contains("missing") else { throw Missing() }
        return config
    }

    /// The longest virtual run and the most traffic one input may cause (the decoder already
    /// bounds the work; this keeps one execution within milliseconds).
    static let longestRun: Duration = .seconds(600)
    static let mostConnections = 20_000.0

    /// Cuts the run to `longestRun` and drops traffic beyond `mostConnections`; false when there is
    /// nothing left worth running.
    static func shorten(_ scenario: inout Scenario) -> Bool {
        if scenario.duration > longestRun { scenario.duration = longestRun }
        let seconds = Double(scenario.duration.nanoseconds) / 1e9
        scenario.traffic = scenario.traffic.filter { $0.rate * seconds <= mostConnections }
        return true
    }
}
