import Domain
import Simulator

/// A scenario file prepared for the lab: validated as written, then with every duration scaled
/// (`--duration-scale`, or `lab_duration / duration`), and the config the real daemon runs.
///
/// Scaling works on the syntax tree, before decoding, so the scaled scenario is decoded by the
/// same `ScenarioDecoder` and the daemon reads the same config the simulator would: every string
/// attribute that reads as a duration (intervals, timeouts, `max_latency`, `sticky_timeout`,
/// latencies, windows, `duration` itself) and every `at "..."` label is multiplied by the scale.
/// Traffic rates are divided by it, so a shortened run opens as many connections as the full one.
public struct LabScenario: Sendable {
    /// The file as written.
    public var original: Scenario
    /// What the lab runs: `original` with every duration scaled.
    public var scenario: Scenario
    /// 1: real time; 0.1: ten times shorter.
    public var scale: Double
    /// The config the daemon is started with (HCL): the scenario's config blocks, scaled, plus
    /// the LAN interface `lan0` when the scenario names none.
    public var daemonConfig: String
    /// The bearer token of the daemon's API, for the scenario's operator commands: the config's
    /// own, else one made up per load and added as `api { token }`; nil when the config has an
    /// `api` block without one (the daemon then refuses every command). Never printed.
    var apiToken: String?

    /// The smallest scale accepted: below it, intervals would fall under a millisecond.
    public static let minimumScale = 0.001

    /// Reads and validates `file`; `scale` (from `--duration-scale`) overrides `lab_duration`.
    /// Errors are `file:line:col: error: message` (the scenario's own positions).
    public static func load(source: String, file: String, scale requested: Double?,
                            loadFile: (String) throws -> String) throws(DiagnosticList) -> LabScenario {
        let original = try ScenarioDecoder.load(source: source, file: file, loadFile: loadFile)
        let scale: Double
        if let requested {
            guard requested.isFinite, requested >= minimumScale, requested <= 1 else {
                throw DiagnosticList([Diagnostic(SourceLocation(file: file, line: 1, column: 1),
                                                 "--duration-scale: must be between \(minimumScale) and 1, got \(requested)")])
            }
            scale = requested
        } else if let lab = original.labDuration, original.duration > .zero {
            scale = max(minimumScale, Double(lab.nanoseconds) / Double(original.duration.nanoseconds))
        } else {
            scale = 1
        }
        // A WAN with only the built-in default check gets it written out, so that its timings
        // scale with the rest of the scenario.
        let defaulted = Set(original.config.interfaces.filter(\.healthCheckIsBuiltInDefault).map(\.name))
        let body = DurationScaling(scale: scale).scaled(LabScenario.spellingOutDefaultTimeouts(
            LabScenario.spellingOutDefaultChecks(try HCLParser.parse(source, file: file), for: defaulted)))
        let scaledLoad: (String) throws -> String = { path in
            let text = try loadFile(path)
            guard scale != 1 else { return text }
            return HCLFormatter.format(DurationScaling(scale: scale).scaled(LabScenario.spellingOutDefaultTimeouts(
                LabScenario.spellingOutDefaultChecks(try HCLParser.parse(text, file: path), for: defaulted))))
        }
        var scenario: Scenario
        do {
            scenario = try ScenarioDecoder.decode(body, file: file, loadFile: scaledLoad)
        } catch {
            // Valid as written but not once scaled (an interval under its minimum, ...).
            throw DiagnosticList(error.diagnostics.map { d in
                var d = d
                d.message += " (after scaling every duration by \(Format.number(scale)))"
                return d
            })
        }
        scenario.labDuration = original.labDuration
        for i in scenario.traffic.indices { scenario.traffic[i].rate = original.traffic[i].rate / scale }
        let config = try configBody(body, file: file, loadFile: scaledLoad)
        var text = daemonConfig(config, scenario.config)
        var token = scenario.config.api.token
        if token == nil && !config.blocks.contains(where: { $0.type == "api" }) {
            var random = SystemRandomNumberGenerator()
            let made = (0..<2).map { _ in
                let hex = String(random.next() as UInt64, radix: 16)
                return String(repeating: "0", count: 16 - hex.count) + hex
            }.joined()
            text += "\n# Added by `flywall lab`: the token it gives operator commands with.\napi {\n  token = \"\(made)\"\n}\n"
            token = made
        }
        var lab = LabScenario(original: original, scenario: scenario, scale: scale, daemonConfig: text)
        lab.apiToken = token
        return lab
    }

    /// The referenced config file's items, then the inline config blocks (as `ScenarioDecoder` does).
    static func configBody(_ body: HCLBody, file: String, loadFile: (String) throws -> String) throws(DiagnosticList) -> HCLBody {
        let configBlocks = Set(ConfigDecoder.topLevelBlocks)
        var items: [HCLBodyItem] = []
        for block in body.blocks where block.type == "scenario" {
            for attribute in block.body.attributes where attribute.name == "config" {
                guard case .string(let path) = attribute.value.kind else { continue }
                let resolved = ScenarioDecoder.resolve(path, relativeTo: file)
                let text: String
                do { text = try loadFile(resolved) } catch {
                    throw DiagnosticList([Diagnostic(attribute.value.location, "cannot read \(resolved): \(error)")])
                }
                items += try HCLParser.parse(text, file: resolved).items
            }
        }
        items += body.items.filter { if case .block(let b) = $0 { configBlocks.contains(b.type) } else { false } }
        return HCLBody(items: items)
    }

    /// Adds the built-in default check's timings as an explicit `health_check` block to each named
    /// interface block that has none (its targets stay the default ones).
    static func spellingOutDefaultChecks(_ body: HCLBody, for names: Set<String>) -> HCLBody {
        let d = HealthCheck.builtInDefault
        let text = "health_check {\n  interval = \"\(DurationText.format(d.interval))\"\n  timeout = \"\(DurationText.format(d.timeout))\"\n}\n"
        guard !names.isEmpty, let check = (try? HCLParser.parse(text, file: "<lab>"))?.blocks.first else { return body }
        return HCLBody(items: body.items.map { item in
            guard case .block(var b) = item, b.type == "interface", let name = b.labels.first?.value,
                  names.contains(name), !b.body.blocks.contains(where: { $0.type == "health_check" }) else { return item }
            b.body.items.append(.block(check))
            return .block(b)
        })
    }

    /// Writes out the default `timeout` of every `health_check` block that has none: it is
    /// min(2s, the check's cadences), and the fixed 2s would not scale (with `interval = "5s"`
    /// scaled to 500ms the daemon would wait 500ms for a probe instead of 200ms).
    static func spellingOutDefaultTimeouts(_ body: HCLBody) -> HCLBody {
        HCLBody(items: body.items.map { item in
            guard case .block(var b) = item else { return item }
            b.body = spellingOutDefaultTimeouts(b.body)
            guard b.type == "health_check", !b.body.attributes.contains(where: { $0.name == "timeout" }) else { return .block(b) }
            var cadences: [String: Duration] = [:]
            for a in b.body.attributes where ["interval", "failure_interval", "recovery_interval", "standby_interval"].contains(a.name) {
                guard case .string(let text) = a.value.kind, case .success(let d) = DurationText.parse(text) else { continue }
                cadences[a.name] = d
            }
            let interval = cadences["interval"] ?? HealthCheck.builtInDefault.interval
            let timeout = min(.seconds(2), cadences.values.reduce(interval, min))
            b.body.items.append(.attribute(HCLAttribute(
                name: "timeout", location: b.location,
                value: HCLExpression(.string(DurationText.format(timeout)), at: b.location))))
            return .block(b)
        })
    }

    /// The lab's router has its LAN on `lan0`: declared as the LAN unless the config has it.
    static func daemonConfig(_ body: HCLBody, _ config: FlywallConfig) -> String {
        var text = "# Written by `flywall lab` from the scenario's config (durations scaled).\n" + HCLFormatter.format(body)
        if config.interface(named: LabTopology.lanDevice) == nil {
            text += "\ninterface \"\(LabTopology.lanDevice)\" {\n  zone    = \"LAN\"\n  address = \"\(LabTopology.lanGateway)/24\"\n}\n"
        }
        return text
    }
}

/// Multiplies every duration of an HCL tree by one factor (see `LabScenario`).
struct DurationScaling {
    var scale: Double

    /// Attributes that read as durations but are about retention, not timing.
    static let unscaled: Set<String> = ["retention"]

    func scaled(_ body: HCLBody) -> HCLBody {
        guard scale != 1 else { return body }
        return HCLBody(items: body.items.map { item in
            switch item {
            case .attribute(var a):
                if !Self.unscaled.contains(a.name) { a.value = scaled(a.value) }
                return .attribute(a)
            case .block(var b):
                if b.type == "at" { b.labels = b.labels.map { HCLLabel(value: scaled($0.value), location: $0.location) } }
                b.body = scaled(b.body)
                return .block(b)
            }
        })
    }

    func scaled(_ e: HCLExpression) -> HCLExpression {
        guard case .string(let text) = e.kind else { return e }
        return HCLExpression(.string(scaled(text)), at: e.location)
    }

    /// A duration's text scaled and rounded to the microsecond; any other text as it was.
    func scaled(_ text: String) -> String {
        guard text.first?.isNumber == true, case .success(let d) = DurationText.parse(text) else { return text }
        let ns = (Double(d.nanoseconds) * scale / 1000).rounded() * 1000
        return DurationText.format(.nanoseconds(Int64(ns)))
    }
}

extension Scenario {
    /// The window of an expectation on the run's clock, with open ends at the run's start and end.
    func span(_ e: Expectation) -> (after: Duration, before: Duration) {
        (e.after ?? .zero, e.before ?? duration)
    }
}
