import Domain

/// How much work a scenario asks of the simulator, computed from its values before it runs, so a
/// file cannot make `flywall simulate` run for minutes or eat the machine's memory.
///
/// Probes: per WAN, one round per shortest cadence over the run, times its targets. The tracker
/// spaces rounds by `interval`, but by `recovery_interval` while down, `failure_interval` after a
/// failed round and `standby_interval` on standby, and a link may hold any of those states the
/// whole run, so the shortest of them bounds the rounds (a passive WAN probes only while down).
/// Connections: per traffic block, rate times the seconds it is on; each connection is stored as a
/// flow and read again by every expectation that scans flows (share, sticky, policy), so it counts
/// once plus once per such expectation. Probes and connections have limits of their own
/// (`ScenarioDecoder.Limits`): a kept flow costs far more.
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
            let cadence = Self.shortestCadence(check)
            let rounds = Int64(min(9e15, (run / Double(max(1, cadence.value.nanoseconds))).rounded(.up) + 1))
            probes = probes.saturatingAdd(rounds.multipliedReportingOverflow(by: Int64(targets)).partialValue)
            let which = cadence.name == "interval" ? "" : " (\(cadence.name) \(DurationText.format(cadence.value)))"
            probeTerms.append("\(wan.name): \(rounds) rounds × \(targets) target\(targets == 1 ? "" : "s")\(which)")
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

    /// The shortest time between two rounds of `check`, and the attribute that sets it (`interval`
    /// when the others are no shorter).
    static func shortestCadence(_ check: HealthCheck) -> (name: String, value: Duration) {
        var shortest = (name: "interval", value: check.interval)
        let others = [("failure_interval", check.failureInterval), ("recovery_interval", check.recoveryInterval),
                      ("standby_interval", check.standbyInterval ?? check.interval)]
        for (name, value) in others where value < shortest.value { shortest = (name, value) }
        return shortest
    }

    /// Connections counted once when stored and once per expectation that reads them all.
    var connectionWork: Int64 { connections.multipliedReportingOverflow(by: 1 + flowReaders).partialValue }

    /// The located error's message when the work exceeds `ScenarioDecoder.Limits`, else nil.
    var problem: String? {
        func terms(_ list: [String]) -> String { list.prefix(3).joined(separator: ", ") + (list.count > 3 ? ", ..." : "") }
        var parts: [String] = []
        if probes > Int64(ScenarioDecoder.Limits.probes) {
            parts.append("too many probes, at most \(ScenarioDecoder.Limits.probes), got \(probes) (\(terms(probeTerms)))")
        }
        if connectionWork > Int64(ScenarioDecoder.Limits.connections) {
            let readers = flowReaders > 0 ? " × \(1 + flowReaders) (stored, then read by \(flowReaders) expectation\(flowReaders == 1 ? "" : "s"))" : ""
            parts.append("too many connections, at most \(ScenarioDecoder.Limits.connections), got \(connectionWork): \(connections) (\(terms(connectionTerms)))\(readers)")
        }
        guard !parts.isEmpty else { return nil }
        return "scenario: \(parts.joined(separator: "; ")); shorten duration, lower rate or lengthen intervals"
    }
}
