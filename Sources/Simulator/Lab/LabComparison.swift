import Domain
import Simulator

/// `flywall lab --compare`: the simulator's prediction and the lab's run of one scenario, event by
/// event (paired in order by kind and uplinks) with the difference in ms, and whether every
/// expectation got the same verdict.
public struct LabComparison: Sendable {
    public var simulated: SimulationReport
    public var lab: LabReport

    public init(simulated: SimulationReport, lab: LabReport) {
        self.simulated = simulated
        self.lab = lab
    }

    struct Pair {
        var simulated: WANEvent?
        var lab: WANEvent?
    }

    /// Events paired by (kind, uplinks, group) in order; the unpaired stay alone.
    var pairs: [Pair] {
        var remaining = lab.report.result.observations.events
        var pairs: [Pair] = []
        for e in simulated.result.observations.events {
            if let i = remaining.firstIndex(where: { $0.kind == e.kind && $0.uplinks == e.uplinks && $0.group == e.group }) {
                pairs.append(Pair(simulated: e, lab: remaining.remove(at: i)))
            } else {
                pairs.append(Pair(simulated: e, lab: nil))
            }
        }
        pairs += remaining.map { Pair(simulated: nil, lab: $0) }
        return pairs.sorted { ($0.simulated ?? $0.lab)!.time < ($1.simulated ?? $1.lab)!.time }
    }

    public var expectationsAgree: Bool {
        zip(simulated.expectations, lab.report.expectations).allSatisfy { $0.passed == $1.passed }
    }

    public var text: String {
        var out = lab.preamble + [""]
        out.append("scenario \"\(simulated.result.scenarioName)\": simulate vs lab")
        out.append("  " + Format.padRight("event", 40) + Format.padLeft("simulate", 10) + Format.padLeft("lab", 10) + Format.padLeft("lab - sim", 12))
        for p in pairs {
            let e = (p.simulated ?? p.lab)!
            let subject: String
            switch e.kind {
            case .wanDown, .wanUp: subject = e.interface ?? "?"
            default: subject = "\(e.group ?? "?"): \(e.from.isEmpty ? "none" : e.from.joined(separator: ",")) -> \(e.to.isEmpty ? "none" : e.to.joined(separator: ","))"
            }
            let sim = p.simulated.map { $0.time.description } ?? "-"
            let real = p.lab.map { $0.time.description } ?? "-"
            var diff = "only in \(p.simulated == nil ? "lab" : "simulate")"
            if let s = p.simulated, let l = p.lab {
                let d = l.time.duration - s.time.duration
                diff = (d < .zero ? "-" : "+") + DurationText.milliseconds(d < .zero ? .zero - d : d)
            }
            out.append("  " + Format.padRight("\(e.kind.rawValue) \(subject)", 40) + Format.padLeft(sim, 10) + Format.padLeft(real, 10) + Format.padLeft(diff, 12))
        }
        out.append("")
        out.append("expectations:        simulate  lab")
        for (s, l) in zip(simulated.expectations, lab.report.expectations) {
            out.append("  \(s.passed ? "PASS" : "FAIL")  \(l.passed ? "PASS" : "FAIL")  \(s.passed == l.passed ? "agree " : "DIFFER")  \(s.name) — lab: \(l.detail)")
        }
        out.append(expectationsAgree ? "every expectation agrees" : "expectations differ")
        out += lab.failoverLines
        if !lab.notes.isEmpty { out += ["notes:"] + lab.notes.map { "  " + $0 } }
        return out.joined(separator: "\n") + "\n"
    }
}
