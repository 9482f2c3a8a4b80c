import Domain

/// How much work a scenario asks of the simulator, computed from its values before it runs, so a
/// file cannot make `flywall simulate` run for minutes or eat the machine's memory.
///
/// Probes: per WAN, one round per interval over the run (a passive WAN probes only while down, and
/// may be down the whole run) times its targets. Connections: per traffic block, rate times the
/// seconds it is on; each connection is stored as a flow and read again by every expectation that
/// scans flows (share, sticky, policy), so it counts once plus once per such expectation.
struct ScenarioWork {
    var probes: Int64 = 0
    var connections: Int64 = 0
    var flowReaders: Int64 = 0
    var probeTerms: [String] = []
    var connectionTerms: [String] = []

    init(_ scenario: Scenario) {
        let run = Double(scenario.duration.nanoseconds)
        let checks = scenario.config.effectiveHealthChecks
        for wan in scenario.config.wans {
            guard let check = checks[wan.name] else { continue }
            let targets = check.kind == .http ? 1 : max(1, check.targets.count)
            let rounds = Int64(min(9e15, (run / Double(max(1, check.interval.nanoseconds))).rounded(.up) + 1))
            probes = probes.saturatingAdd(rounds.multipliedReportingOverflow(by: Int64(targets)).partialValue)
            probeTerms.append("\(wan.name): \(rounds) rounds × \(targets) target\(targets == 1 ? "" : "s")")
        }
        for traffic in scenario.traffic {
            let start = Double((traffic.start ?? .zero).nanoseconds)
            let stop = Double((traffic.stop ?? scenario.duration).nanoseconds)
            let seconds = max(0, min(stop, run) - start) / 1e9
            let count = Int64(min(9e15, (traffic.rate * seconds).rounded(.up)))
            connections = connections.saturatingAdd(count)
            connectionTerms.append("traffic \"\(traffic.name)\": \(HCLFormatter.number(traffic.rate))/s × \(HCLFormatter.number(seconds))s")
        }
        flowReaders = Int64(scenario.expectations.filter {
            if case .event = $0.check { false } else { true }
        }.count)
    }

    var total: Int64 {
        probes.saturatingAdd(connections.multipliedReportingOverflow(by: 1 + flowReaders).partialValue)
    }

    /// The located error's message when the work exceeds `ScenarioDecoder.Limits.work`, else nil.
    var problem: String? {
        let limit = ScenarioDecoder.Limits.work
        guard total > Int64(limit) else { return nil }
        var parts: [String] = []
        if probes > 0 { parts.append("\(probes) probes (\(probeTerms.prefix(3).joined(separator: ", "))\(probeTerms.count > 3 ? ", ..." : ""))") }
        if connections > 0 {
            let readers = flowReaders > 0 ? " × \(1 + flowReaders) (stored, then read by \(flowReaders) expectation\(flowReaders == 1 ? "" : "s"))" : ""
            parts.append("\(connections) connections (\(connectionTerms.prefix(3).joined(separator: ", "))\(connectionTerms.count > 3 ? ", ..." : ""))\(readers)")
        }
        return "scenario: too much work, at most \(limit) probes and connections, got \(total): \(parts.joined(separator: " + ")); shorten duration, lower rate or lengthen intervals"
    }
}
