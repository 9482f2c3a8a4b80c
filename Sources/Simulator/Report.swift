import Domain

/// A run and the verdicts on its expectations: what the reporters print.
public struct SimulationReport: Sendable {
    public var result: SimulationResult
    public var expectations: [ExpectationResult]

    public init(result: SimulationResult, expectations: [ExpectationResult]) {
        self.result = result
        self.expectations = expectations
    }

    public var passedCount: Int { expectations.filter(\.passed).count }
    public var failedCount: Int { expectations.count - passedCount }
    /// True when every expectation holds (`flywall simulate` exits 0).
    public var allPassed: Bool { failedCount == 0 }

    /// New connections per uplink over the whole run, in config order; refused ones separately.
    public var flowCounts: (total: Int, perUplink: [(uplink: String, count: Int)], refused: Int) {
        let flows = result.observations.flows
        var counts = result.uplinks.map { (uplink: $0, count: 0) }
        var refused = 0
        for f in flows {
            guard let u = f.uplink else { refused += 1; continue }
            if let i = counts.firstIndex(where: { $0.uplink == u }) {
                counts[i].count += 1
            } else {
                counts.append((u, 1))
            }
        }
        return (flows.count, counts, refused)
    }
}

/// Plain text for a terminal: header, timeline, flow shares, final status, verdicts.
public enum TextReporter {
    public static func render(_ report: SimulationReport, verbose: Bool = false) -> String {
        let r = report.result
        var out: [String] = []
        out.append("scenario \"\(r.scenarioName)\"" + (r.file.isEmpty ? "" : " (\(r.file))"))
        if !r.description.isEmpty { out.append("  \(r.description)") }
        out.append("  seed \(r.seed), duration \(Instant.zero + r.duration), uplinks \(r.uplinks.joined(separator: ", "))")
        out.append("")

        out.append("timeline:")
        let lines = timeline(r)
        if lines.isEmpty { out.append("  (no faults, no events)") }
        out += lines
        out.append("")

        let counts = report.flowCounts
        out.append("new connections: \(counts.total)")
        let width = max(8, counts.perUplink.map(\.uplink.count).max() ?? 0)
        for (uplink, count) in counts.perUplink {
            out.append("  \(Format.padRight(uplink, width))  \(Format.padLeft("\(count)", 7))  \(percent(count, of: counts.total))")
        }
        if counts.refused > 0 {
            out.append("  \(Format.padRight("refused", width))  \(Format.padLeft("\(counts.refused)", 7))  \(percent(counts.refused, of: counts.total))")
        }
        if !r.flushes.isEmpty {
            let flushed = r.flushes.map { "\($0.interface) at \($0.time)" }.joined(separator: ", ")
            out.append("  connections flushed: \(flushed)")
        }
        out.append("")

        if !r.finalStatus.isEmpty {
            out.append("status at \(Instant.zero + r.duration):")
            out += statusTable(r.finalStatus).map { "  " + $0 }
            out.append("")
        }

        if verbose && !r.logs.isEmpty {
            out.append("log:")
            for log in r.logs {
                out.append("  \(Format.padLeft(log.time.description, 9))  \(Format.padRight(log.level.rawValue, 7))  \(log.message)")
            }
            out.append("")
        }

        out.append("expectations:")
        if report.expectations.isEmpty { out.append("  (none)") }
        for e in report.expectations {
            out.append("\(e.passed ? "PASS" : "FAIL") \(e.name) — \(e.detail)")
        }
        out.append("\(report.passedCount) passed, \(report.failedCount) failed")
        return out.joined(separator: "\n") + "\n"
    }

    static func percent(_ n: Int, of total: Int) -> String {
        total == 0 ? "  0.0%" : Format.padLeft(Format.fixed(Double(n) * 100 / Double(total), 1) + "%", 6)
    }

    /// Faults and events merged in time order (a fault before the events of the same instant).
    static func timeline(_ r: SimulationResult) -> [String] {
        var items: [(time: Instant, order: Int, line: String)] = []
        for (i, f) in r.faults.enumerated() {
            items.append((f.time, i, "  \(Format.padLeft(f.time.description, 9))  \(Format.padRight("fault", 9))  \(f.description)"))
        }
        let base = r.faults.count
        for (i, e) in r.observations.events.enumerated() {
            items.append((e.time, base + i, eventLine(e)))
        }
        return items.sorted { ($0.time, $0.order) < ($1.time, $1.order) }.map(\.line)
    }

    /// `  36.000s  failover   group=default  eth0 -> eth1  (eth0 down: 3 consecutive failed probe rounds)`
    public static func eventLine(_ e: WANEvent) -> String {
        var subject: String
        switch e.kind {
        case .wanDown, .wanUp:
            subject = e.interface ?? "?"
            if let g = e.group { subject = "group=\(g)  " + subject }
        case .failover, .failback, .allDown:
            let from = e.from.isEmpty ? "none" : e.from.joined(separator: ",")
            let to = e.to.isEmpty ? "none" : e.to.joined(separator: ",")
            subject = "group=\(e.group ?? "?")  \(from) -> \(to)"
        }
        let reason = e.reason.isEmpty ? "" : "  (\(e.reason))"
        return "  \(Format.padLeft(e.time.description, 9))  \(Format.padRight(e.kind.rawValue, 9))  \(subject)\(reason)"
    }

    /// The spec's `flywall wan status` columns.
    static func statusTable(_ status: [WANStatus]) -> [String] {
        let rows = status.map { s -> [String] in
            [s.interface, s.state.rawValue, "\(s.priority)",
             s.latencyMs.map { Format.fixed($0, 0) + "ms" } ?? "-", Format.fixed(s.lossPercent, 1) + "%"]
        }
        let header = ["INTERFACE", "STATUS", "PRIORITY", "LATENCY", "PACKET LOSS"]
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, c) in cells.enumerated() { parts.append(i == cells.count - 1 ? c : Format.padRight(c, widths[i])) }
            return parts.joined(separator: "  ")
        }
        return [line(header)] + rows.map(line)
    }
}

/// The same content as `TextReporter`, as JSONValue with a fixed key order.
public enum JSONReporter {
    /// `extra`: keys appended at the end of the object (the lab adds its measurements).
    public static func render(_ report: SimulationReport, verbose: Bool = false, extra: [(String, JSONValue)] = []) -> String {
        let r = report.result
        let counts = report.flowCounts
        var root: [(String, JSONValue)] = [
            ("scenario", .object([
                ("name", .string(r.scenarioName)),
                ("description", .string(r.description)),
                ("file", .string(r.file)),
                ("seed", .number("\(r.seed)")),
                ("duration_s", seconds(Instant.zero + r.duration)),
                ("uplinks", .array(r.uplinks.map(JSONValue.string))),
            ])),
            ("faults", .array(r.faults.map { f in
                .object([
                    ("time_s", seconds(f.time)),
                    ("interface", f.interface.map(JSONValue.string) ?? .null),
                    ("description", .string(f.description)),
                ])
            })),
            ("events", .array(r.observations.events.map(event))),
            ("flows", .object([
                ("total", .number("\(counts.total)")),
                ("refused", .number("\(counts.refused)")),
                ("by_uplink", .array(counts.perUplink.map { u in
                    .object([
                        ("uplink", .string(u.uplink)),
                        ("count", .number("\(u.count)")),
                        ("share", .number(counts.total == 0 ? "0" : Format.fixed(Double(u.count) / Double(counts.total), 4))),
                    ])
                })),
            ])),
            ("flushes", .array(r.flushes.map { f in
                .object([("time_s", seconds(f.time)), ("interface", .string(f.interface))])
            })),
            ("status", .array(r.finalStatus.map { s in
                .object([
                    ("interface", .string(s.interface)),
                    ("status", .string(s.state.rawValue)),
                    ("priority", .number("\(s.priority)")),
                    ("latency_ms", s.latencyMs.map { .number(Format.fixed($0, 3)) } ?? .null),
                    ("loss_percent", .number(Format.fixed(s.lossPercent, 3))),
                    ("probe_bytes", .number("\(s.probeBytes)")),
                ])
            })),
            ("probes", .object([
                ("sent", .number("\(r.probesSent)")),
                ("answered", .number("\(r.probesAnswered)")),
            ])),
            ("expectations", .array(report.expectations.map { e in
                .object([
                    ("name", .string(e.name)),
                    ("result", .string(e.passed ? "PASS" : "FAIL")),
                    ("detail", .string(e.detail)),
                ])
            })),
            ("passed", .number("\(report.passedCount)")),
            ("failed", .number("\(report.failedCount)")),
            ("ok", .bool(report.allPassed)),
        ]
        if verbose {
            root.append(("log", .array(r.logs.map { l in
                .object([("time_s", seconds(l.time)), ("level", .string(l.level.rawValue)), ("message", .string(l.message))])
            })))
        }
        root += extra
        return JSONValue.object(root).serialized() + "\n"
    }

    static func seconds(_ t: Instant) -> JSONValue { .number(Format.fixed(t.seconds, 3)) }

    static func event(_ e: WANEvent) -> JSONValue {
        .object([
            ("time_s", seconds(e.time)),
            ("kind", .string(e.kind.rawValue)),
            ("group", e.group.map(JSONValue.string) ?? .null),
            ("interface", e.interface.map(JSONValue.string) ?? .null),
            ("from", .array(e.from.map(JSONValue.string))),
            ("to", .array(e.to.map(JSONValue.string))),
            ("reason", .string(e.reason)),
        ])
    }
}
