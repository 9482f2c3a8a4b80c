import Domain
import Simulator

/// A lab run judged: the simulator's report (same timeline, expectations and reporters), with
/// windows adjusted by the tolerance, the measured failovers and the lab's own notes.
///
/// Windows that must hold an event are widened by the tolerance on both sides (real time is late
/// by the daemon's and the kernel's overheads). Windows that must hold none (`count = 0`), and
/// share, sticky and policy windows, are narrowed by it instead: an event or a connection a few ms
/// from an edge may fairly fall either side, so what is near the edges doesn't count.
public struct LabReport: Sendable {
    public var report: SimulationReport
    public var scale: Double
    public var tolerance: LabTolerance
    public var failovers: [FailoverMeasurement]
    public var latency: LatencyAccuracy?
    public var notes: [String]

    init(lab: LabScenario, observation: LabObservation, tolerance: LabTolerance, notes: [String]) {
        let scenario = lab.scenario
        var adjusted: [Expectation] = []
        var widths: [Duration] = []
        for e in scenario.expectations {
            let (after, before) = scenario.span(e)
            let amount = tolerance.amount(forWindow: before - after)
            var a = e
            let widen = if case .event(_, _, _, let count) = e.check { count != 0 } else { false }
            if widen {
                if e.after != nil { a.after = max(.zero, after - amount) }
                if e.before != nil { a.before = before + amount }
            } else {
                if e.after != nil { a.after = after + amount }
                if e.before != nil { a.before = max(a.after ?? .zero, before - amount) }
            }
            adjusted.append(a)
            widths.append(e.after == nil && e.before == nil ? .zero : amount)
        }
        var results = ExpectationChecker.check(adjusted, against: observation.result.observations)
        for (i, e) in scenario.expectations.enumerated() where widths[i] > .zero {
            let how = if case .event(_, _, _, let count) = e.check, count != 0 { "widened" } else { "narrowed" }
            results[i].detail += " [window \(how) by \(DurationText.milliseconds(widths[i]))]"
        }
        report = SimulationReport(result: observation.result, expectations: results)
        scale = lab.scale
        self.tolerance = tolerance
        failovers = observation.failovers
        latency = observation.latency
        var notes = notes
        if scenario.config.effectiveGroups.contains(where: \.sticky) {
            notes.append("sticky hashing: the kernel's jhash picks other uplinks per source than the simulator's Jenkins hash; "
                + "the lab judges shares and the sticky property, not which source went where")
        }
        if scenario.config.wans.contains(where: { $0.pppoe != nil }) {
            notes.append("PPPoE WANs: this kernel has no PPP, so the lab makes the session's device (ppp-<wan>) as a veth with a static address and the daemon's pppd is a stand-in that holds it")
        }
        self.notes = notes
    }

    public var allPassed: Bool { report.allPassed }

    /// The lab's header lines, printed before the simulator's report.
    public var preamble: [String] {
        var out = ["lab: real daemon in network namespaces; uplinks judged from ISP-side packet captures"]
        if scale != 1 {
            out.append("  durations scaled by \(Format.number(scale)) (intervals, timeouts, latencies, faults and windows; traffic rates by 1/\(Format.number(scale)))")
        }
        out.append("  tolerance: \(tolerance.description) (windows that need an event widened; count = 0, share, sticky and policy windows narrowed)")
        out.append("  latency model: userspace ICMP responder in each ISP (probe replies only)"
            + (latency.map { ", reply delay vs configured over \($0.samples) replies: median \(signed($0.medianError)), max |error| \(DurationText.milliseconds($0.maxError))" } ?? ""))
        return out
    }

    /// Measured failover lines, printed after the report.
    public var failoverLines: [String] {
        guard !failovers.isEmpty else { return [] }
        var out = ["failover (fault to first new connection on another uplink, from ISP-side captures):"]
        for m in failovers {
            var line = "  \(Format.padLeft(Instant(m.faultTime).description, 9))  \(m.fault): "
            line += m.measured.map { "measured \(DurationText.milliseconds($0))" } ?? "not measured"
            if let bound = m.bound { line += ", bound \(DurationText.milliseconds(bound))" }
            if let beyond = m.beyondBound { line += ", beyond bound \(signed(beyond))" }
            if let r = m.resolution { line += " (connections every \(DurationText.milliseconds(r)))" }
            if let note = m.note { line += " — \(note)" }
            out.append(line)
        }
        return out
    }

    public func text(verbose: Bool = false) -> String {
        var out = preamble.joined(separator: "\n") + "\n\n" + TextReporter.render(report, verbose: verbose)
        let tail = failoverLines + (notes.isEmpty ? [] : ["notes:"] + notes.map { "  " + $0 })
        if !tail.isEmpty { out += "\n" + tail.joined(separator: "\n") + "\n" }
        return out
    }

    public func json(verbose: Bool = false) -> String {
        let lab: JSONValue = .object([
            ("scale", .number(Format.number(scale))),
            ("tolerance", .object([("base_ms", .number(Format.fixed(tolerance.base.milliseconds, 3))),
                                   ("fraction", .number(Format.number(tolerance.fraction)))])),
            ("failovers", .array(failovers.map { m in
                .object([
                    ("interface", .string(m.interface)), ("fault", .string(m.fault)),
                    ("fault_s", .number(Format.fixed(m.faultTime.seconds, 3))),
                    ("measured_ms", m.measured.map { .number(Format.fixed($0.milliseconds, 3)) } ?? .null),
                    ("bound_ms", m.bound.map { .number(Format.fixed($0.milliseconds, 3)) } ?? .null),
                    ("beyond_bound_ms", m.beyondBound.map { .number(Format.fixed($0.milliseconds, 3)) } ?? .null),
                    ("note", m.note.map(JSONValue.string) ?? .null),
                ])
            })),
            ("latency_error_ms", latency.map { .object([("samples", .number("\($0.samples)")),
                                                        ("median", .number(Format.fixed($0.medianError.milliseconds, 3))),
                                                        ("max_abs", .number(Format.fixed($0.maxError.milliseconds, 3)))]) } ?? .null),
            ("notes", .array(notes.map(JSONValue.string))),
        ])
        return JSONReporter.render(report, verbose: verbose, extra: [("lab", lab)])
    }

    func signed(_ d: Duration) -> String { Self.signed(d) }

    static func signed(_ d: Duration) -> String { (d < .zero ? "-" : "+") + DurationText.milliseconds(d < .zero ? .zero - d : d) }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1e3 + Double(components.attoseconds) / 1e15 }
    var seconds: Double { milliseconds / 1e3 }
}
