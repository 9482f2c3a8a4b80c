import Domain

/// Turns a scenario file (design.md, "Scenario files"; docs/scenarios.md) into a validated `Scenario`.
///
/// The file holds config blocks inline, or names a config file with `scenario "x" { config = "path.hcl" }`
/// (relative to the scenario file; both may be combined), plus `link`, `traffic`, `at` and `expect`
/// blocks. Every problem of the scenario and of its config is reported at once, each at its own
/// file's position.
public enum ScenarioDecoder {
    /// The blocks a scenario file adds to those of a config file.
    public static let topLevelBlocks = ["scenario", "link", "traffic", "at", "expect"]

    /// The run length when `scenario { duration }` is not given.
    public static let defaultDuration: Duration = .seconds(60)

    /// The bounds of the scenario's own numbers (docs/scenarios.md, "Limits").
    public enum Limits {
        /// `scenario { duration }`: up to 30 days of virtual time.
        public static let duration: ClosedRange<Duration> = .milliseconds(1) ... .seconds(30 * 86_400)
        /// `traffic { rate }`: new connections per second.
        public static let rate: ClosedRange<Double> = 0.001 ... 10_000
        /// `link { latency, jitter }`.
        public static let delay: ClosedRange<Duration> = .zero ... .seconds(60)
        /// `scenario { seed }`: the largest whole number HCL writes exactly.
        public static let seed = IntRange.limited(0, HCLValue.largestExactInteger)
        /// The work of one run, checked before it runs: probes sent (cheap: nothing is kept per
        /// probe) and connections opened (each one is kept as a flow, and read again by every
        /// expectation that scans flows). Each limit alone takes a few seconds and well under a
        /// gigabyte (docs/benchmarks.md).
        public static let probes = 10_000_000
        public static let connections = 1_000_000
    }

    /// Decodes a parsed scenario file. `loadFile` reads a file by path (for `config = "..."`).
    public static func decode(_ body: HCLBody, file: String, loadFile: (String) throws -> String) throws(DiagnosticList) -> Scenario {
        let sink = DiagnosticSink()
        let scenario = withoutActuallyEscaping(loadFile) { loadFile in
            var decoding = ScenarioDecoding(sink: sink, file: file, loadFile: loadFile)
            return decoding.run(body)
        }
        try sink.throwIfAny()
        return scenario
    }

    /// Parses and decodes a scenario file's text; `file` is its path (diagnostics, relative config paths).
    public static func load(source: String, file: String, loadFile: (String) throws -> String) throws(DiagnosticList) -> Scenario {
        let body = try HCLParser.parse(source, file: file)
        return try decode(body, file: file, loadFile: loadFile)
    }

    /// `path` relative to the directory of `file` (absolute paths stay as they are).
    public static func resolve(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return path }
        var relative = Substring(path)
        while relative.hasPrefix("./") { relative = relative.dropFirst(2) }
        guard let slash = file.lastIndex(of: "/") else { return String(relative) }
        return String(file[...slash]) + relative
    }
}

struct ScenarioDecoding {
    let sink: DiagnosticSink
    let file: String
    let loadFile: (String) throws -> String

    static let scenarioAttributes = ["description", "duration", "seed", "config", "lab_duration"]
    static let linkAttributes = ["carrier", "blackhole", "loss", "latency", "jitter", "unreachable", "http_status"]
    static let trafficAttributes = ["sources", "source_count", "rate", "protocol", "dest_port", "destination", "start", "stop"]
    static let expectAttributes = ["event", "uplink", "group", "after", "before", "count", "share", "min", "max",
                                   "sticky", "policy"]
    static let checkKinds = ["event", "share", "sticky", "policy"]
    /// Which attributes each check kind takes besides its own and after/before.
    static let checkAttributes: [String: [String]] = [
        "event": ["uplink", "group", "count"], "share": ["min", "max"], "sticky": [], "policy": ["uplink"],
    ]
    /// The first address of `source_count`.
    static let firstSource = IPAddress("192.168.1.10")!

    init(sink: DiagnosticSink, file: String, loadFile: @escaping (String) throws -> String) {
        self.sink = sink
        self.file = file
        self.loadFile = loadFile
    }

    // Filled in while decoding.
    var config = FlywallConfig()
    /// False when the config could not be read or parsed: then names are not checked against it.
    var configKnown = true
    var duration: Duration = ScenarioDecoder.defaultDuration
    /// Names of the config's WANs, interfaces and groups, for lookups in linear time.
    var wanNames: Set<String> = []
    var interfaceNames: Set<String> = []
    var groupNames: [String] = []
    var groupNameSet: Set<String> = []
    var durationGiven = false

    mutating func run(_ body: HCLBody) -> Scenario {
        let configBlocks = Set(ConfigDecoder.topLevelBlocks)
        let scenarioBlocks = Set(ScenarioDecoder.topLevelBlocks)
        let allBlocks = ConfigDecoder.topLevelBlocks + ScenarioDecoder.topLevelBlocks
        var configItems: [HCLBodyItem] = []
        var blocks: [String: [HCLBlock]] = [:]
        for item in body.items {
            switch item {
            case .attribute(let a):
                sink.error(a.location, "unknown attribute '\(a.name)'\(Suggest.hint(a.name, allBlocks))")
            case .block(let b) where configBlocks.contains(b.type):
                configItems.append(item)
            case .block(let b) where scenarioBlocks.contains(b.type):
                blocks[b.type, default: []].append(b)
            case .block(let b):
                sink.error(b.location, "unknown block '\(b.type)'\(Suggest.hint(b.type, allBlocks))")
            }
        }

        // scenario { ... }
        let scenarioBlocksFound = blocks["scenario"] ?? []
        for extra in scenarioBlocksFound.dropFirst() {
            sink.error(extra.location, "only one scenario block is allowed; first defined at \(scenarioBlocksFound[0].location.description(relativeTo: extra.location))")
        }
        var name = Self.baseName(file)
        var description = ""
        var seed: UInt64 = 1
        var labDuration: (Duration, SourceLocation)?
        var referencedItems: [HCLBodyItem] = []
        var configReference: SourceLocation?
        if let block = scenarioBlocksFound.first {
            if let label = block.labels.first {
                if label.value.isEmpty { sink.error(label.location, "scenario name must not be empty") } else { name = label.value }
                if block.labels.count > 1 {
                    sink.error(block.labels[1].location, "scenario takes one name, got \(block.labels.count)")
                }
            }
            let r = BodyReader(block.body, context: "scenario", attributes: Self.scenarioAttributes, sink: sink)
            description = r.string("description") ?? ""
            if let d = r.duration("duration", in: ScenarioDecoder.Limits.duration) { duration = d; durationGiven = true }
            if r.has("duration") { durationGiven = true }
            if let s = r.integer("seed", in: ScenarioDecoder.Limits.seed) { seed = UInt64(s) }
            if let a = r.attribute("lab_duration"), let d = r.duration("lab_duration") { labDuration = (d, a.value.location) }
            if let a = r.attribute("config"), let path = HCLValue.string(a.value, "config", sink) {
                configReference = a.location
                referencedItems = loadConfig(path, at: a.value.location)
            }
        }

        // The config: the referenced file's blocks, then the inline ones.
        let configBody = HCLBody(items: referencedItems + configItems)
        if configBody.items.isEmpty && configKnown {
            sink.error(configReference ?? scenarioBlocksFound.first?.location ?? SourceLocation(file: file, line: 1, column: 1),
                       "the scenario has no config: add interface blocks or scenario { config = \"config.hcl\" }")
            configKnown = false
        }
        config = ConfigDecoder.decode(configBody, sink: sink)
        wanNames = Set(config.wans.map(\.name))
        interfaceNames = Set(config.interfaces.map(\.name))
        groupNames = config.effectiveGroups.map(\.name)
        groupNameSet = Set(groupNames)

        var links: [String: LinkState] = [:]
        var seenLinks = NameTable()
        for block in blocks["link"] ?? [] {
            guard let label = block.name(example: "eth0", sink: sink) else { _ = linkChange(block, context: "link"); continue }
            let change = linkChange(block, context: "link \"\(label.value)\"")
            guard seenLinks.declare(label, kind: "link", sink: sink),
                  checkWAN(label.value, at: label.location, what: "link") else { continue }
            links[label.value] = change.applied(to: LinkState())
        }

        var traffic: [TrafficSource] = []
        var seenTraffic = NameTable()
        for block in blocks["traffic"] ?? [] {
            let label = block.name(example: "lan", sink: sink)
            let source = trafficSource(block, name: label?.value ?? "")
            if let label, seenTraffic.declare(label, kind: "traffic", sink: sink), let source { traffic.append(source) }
        }

        var faults: [(index: Int, fault: TimedFault)] = []
        for block in blocks["at"] ?? [] {
            for fault in timedFaults(block) { faults.append((faults.count, fault)) }
        }
        faults.sort { ($0.fault.time, $0.index) < ($1.fault.time, $1.index) }

        var expectations: [Expectation] = []
        var seenExpectations = NameTable()
        for block in blocks["expect"] ?? [] {
            let label = block.name(example: "moves to eth1", sink: sink)
            let expectation = self.expectation(block, name: label?.value ?? "")
            if let label, seenExpectations.declare(label, kind: "expect", sink: sink), let expectation {
                expectations.append(expectation)
            }
        }

        if let (d, location) = labDuration, d > duration {
            sink.error(location, "lab_duration: must not be longer than duration (\(DurationText.format(duration))), got \"\(DurationText.format(d))\"")
        }
        var scenario = Scenario(name: name, description: description, duration: duration, seed: seed, file: file,
                                config: config, links: links, traffic: traffic, faults: faults.map(\.fault),
                                expectations: expectations)
        scenario.labDuration = labDuration?.0
        if sink.isEmpty {
            let where_ = scenarioBlocksFound.first.map { block in
                BodyReader.attributeLocation(block.body, "duration") ?? block.location
            } ?? SourceLocation(file: file, line: 1, column: 1)
            if let problem = ScenarioWork(scenario).problem { sink.error(where_, problem) }
        }
        return scenario
    }

    static func baseName(_ path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? path
        if base.hasSuffix(".hcl") { base.removeLast(4) }
        return base
    }

    /// Reads and parses a referenced config file; its problems are reported with its own name.
    mutating func loadConfig(_ path: String, at location: SourceLocation) -> [HCLBodyItem] {
        let resolved = ScenarioDecoder.resolve(path, relativeTo: file)
        let source: String
        do {
            source = try loadFile(resolved)
        } catch let problems as DiagnosticList {
            // Read, but not text Flywall takes (not UTF-8, CR-only lines): located in that file.
            sink.append(contentsOf: problems)
            configKnown = false
            return []
        } catch {
            sink.error(location, "config: cannot read \"\(resolved)\": \(error)")
            configKnown = false
            return []
        }
        do throws(DiagnosticList) {
            let body = try parseHCL(source, file: resolved)
            for item in body.items {
                // Scenario blocks belong in the scenario file, not in the config it points to.
                if case .block(let b) = item, ScenarioDecoder.topLevelBlocks.contains(b.type) {
                    sink.error(b.location, "'\(b.type)' blocks belong in the scenario file, not in its config")
                }
            }
            return body.items.filter {
                if case .block(let b) = $0 { !ScenarioDecoder.topLevelBlocks.contains(b.type) } else { true }
            }
        } catch {
            sink.append(contentsOf: error)
            configKnown = false
            return []
        }
    }

    func parseHCL(_ source: String, file: String) throws(DiagnosticList) -> HCLBody {
        try HCLParser.parse(source, file: file)
    }

    // MARK: Names

    /// Reports unless `name` is a WAN of the config.
    @discardableResult
    func checkWAN(_ name: String, at location: SourceLocation, what: String) -> Bool {
        guard configKnown else { return true }
        if wanNames.contains(name) { return true }
        if interfaceNames.contains(name) {
            sink.error(location, "\(what): interface \"\(name)\" is not a WAN")
        } else {
            sink.error(location, "\(what): no WAN named \"\(name)\"\(Suggest.hint(name, config.wans.map(\.name), quote: "\""))")
        }
        return false
    }

    @discardableResult
    func checkGroup(_ name: String, at location: SourceLocation, what: String) -> Bool {
        guard configKnown else { return true }
        if groupNameSet.contains(name) { return true }
        sink.error(location, "\(what): no uplink_group named \"\(name)\"\(Suggest.hint(name, groupNames, quote: "\""))")
        return false
    }

    /// A time within the run; `what` names it in messages.
    func time(_ e: HCLExpression, _ what: String) -> Duration? {
        guard let d = HCLValue.duration(e, what, sink, allowZero: true) else { return nil }
        return withinRun(d, what, at: e.location)
    }

    func withinRun(_ d: Duration, _ what: String, at location: SourceLocation) -> Duration? {
        if d > duration {
            let note = durationGiven ? "" : ", the default; set scenario { duration = ... }"
            sink.error(location, "\(what): \(DurationText.format(d)) is after the end of the run (duration \(DurationText.format(duration))\(note))")
            return nil
        }
        return d
    }

    // MARK: link

    func linkChange(_ block: HCLBlock, context: String) -> LinkChange {
        let r = BodyReader(block.body, context: context, attributes: Self.linkAttributes, sink: sink)
        var change = LinkChange()
        change.carrier = r.bool("carrier")
        change.blackhole = r.bool("blackhole")
        change.loss = r.number("loss", in: 0...100)
        change.latency = r.duration("latency", allowZero: true, in: ScenarioDecoder.Limits.delay)
        change.jitter = r.duration("jitter", allowZero: true, in: ScenarioDecoder.Limits.delay)
        if let items = r.list("unreachable", allowSingle: true) {
            var set: Set<IPAddress> = []
            for item in items {
                guard let text = HCLValue.string(item, "unreachable", sink) else { continue }
                if let ip = IPAddress(text) { set.insert(ip) }
                else { sink.error(item.location, "unreachable: \"\(text)\" is not an IP address") }
            }
            change.unreachable = set
        }
        change.httpStatus = r.integer("http_status", in: .between(100, 599))
        return change
    }

    // MARK: traffic

    func trafficSource(_ block: HCLBlock, name: String) -> TrafficSource? {
        let context = name.isEmpty ? "traffic" : "traffic \"\(name)\""
        let r = BodyReader(block.body, context: context, attributes: Self.trafficAttributes, sink: sink)
        let at = block.labels.first?.location ?? block.location
        var sources: [IPAddress] = [Self.firstSource]
        if let a = r.attribute("sources") {
            if let b = r.attribute("source_count") {
                sink.error(b.location, "source_count: give either sources or source_count, not both")
            }
            if let items = HCLValue.list(a.value, "sources", sink, allowSingle: true) {
                sources = []
                for item in items {
                    guard let text = HCLValue.string(item, "sources", sink) else { continue }
                    if let ip = IPAddress(text) { sources.append(ip) }
                    else { sink.error(item.location, "sources: \"\(text)\" is not an IP address") }
                }
                if items.isEmpty { sink.error(a.value.location, "sources: needs at least one address") }
            }
        } else if let n = r.integer("source_count", in: .limited(1, 65536)) {
            sources = (0..<n).map { Self.firstSource.advanced(by: $0) }
        }
        r.require("rate", at: at, example: "20")
        let rate = r.number("rate", mustBePositive: true).flatMap { value -> Double? in
            let limits = ScenarioDecoder.Limits.rate
            guard !limits.contains(value), let a = r.attribute("rate") else { return value }
            sink.error(a.value.location, value > limits.upperBound
                ? "rate: too large, at most \(HCLFormatter.number(limits.upperBound)) new connections per second, got \(HCLFormatter.number(value))"
                : "rate: too small, at least \(HCLFormatter.number(limits.lowerBound)) new connections per second, got \(HCLFormatter.number(value))")
            return nil
        }
        let proto = r.enumeration("protocol", TransportProtocol.allCases) ?? .tcp
        var destPort: UInt16?
        if let a = r.attribute("dest_port") {
            var port: Int?
            switch a.value.kind {
            case .string(let text) where Int(text) != nil: port = Int(text)
            default: port = HCLValue.integer(a.value, "dest_port", sink)
            }
            if let port {
                if (1...65535).contains(port) { destPort = UInt16(port) }
                else { sink.error(a.value.location, "dest_port: port \(port) is out of range (1-65535)") }
            }
        }
        var destinations: [IPAddress] = []
        for item in r.list("destination", allowSingle: true) ?? [] {
            guard let text = HCLValue.string(item, "destination", sink) else { continue }
            if let ip = IPAddress(text) { destinations.append(ip) }
            else { sink.error(item.location, "destination: \"\(text)\" is not an IP address") }
        }
        let start = r.attribute("start").flatMap { time($0.value, "start") }
        let stop = r.attribute("stop").flatMap { time($0.value, "stop") }
        if let start, let stop, let a = r.attribute("stop"), stop <= start {
            sink.error(a.value.location, "stop: must be after start (\(DurationText.format(start))), got \(DurationText.format(stop))")
        }
        guard let rate else { return nil }
        return TrafficSource(name: name, sources: sources, rate: rate, proto: proto, destPort: destPort,
                             destinations: destinations, start: start, stop: stop)
    }

    // MARK: at

    func timedFaults(_ block: HCLBlock) -> [TimedFault] {
        _ = BodyReader(block.body, context: "at", attributes: [], blocks: ["link", "maintenance", "force"], sink: sink)
        var time: Duration?
        if let label = block.name(example: "30s", sink: sink) {
            if let d = HCLValue.durationText(label.value, "at", at: label.location, sink, allowZero: true) {
                time = withinRun(d, "at", at: label.location)
            }
        }
        var faults: [TimedFault] = []
        for item in block.body.blocks {
            switch item.type {
            case "link":
                let l = item.name(example: "eth0", sink: sink)
                let change = linkChange(item, context: l.map { "link \"\($0.value)\"" } ?? "link")
                guard let l, checkWAN(l.value, at: l.location, what: "link") else { continue }
                if change == LinkChange() {
                    sink.error(item.location, "link \"\(l.value)\" changes nothing; set carrier, blackhole, loss, latency, jitter, unreachable or http_status")
                    continue
                }
                if let time { faults.append(TimedFault(time: time, action: .link(l.value, change), location: item.location)) }
            case "maintenance":
                let l = item.name(example: "eth0", sink: sink)
                let mr = BodyReader(item.body, context: "maintenance", attributes: ["enabled"], sink: sink)
                let enabled = mr.bool("enabled") ?? true
                guard let l, checkWAN(l.value, at: l.location, what: "maintenance") else { continue }
                if let time {
                    faults.append(TimedFault(time: time, action: .manual(.maintenance(interface: l.value, enabled: enabled)),
                                             location: item.location))
                }
            case "force":
                let l = item.name(example: "default", sink: sink)
                let fr = BodyReader(item.body, context: "force", attributes: ["uplink"], sink: sink)
                var uplink: String?
                if let a = fr.attribute("uplink"), let u = HCLValue.string(a.value, "uplink", sink) {
                    uplink = u
                    if let l, configKnown, let group = config.effectiveGroups.first(where: { $0.name == l.value }),
                       !group.members.contains(where: { $0.interface == u }) {
                        let members = group.members.map(\.interface)
                        sink.error(a.value.location,
                                   "uplink: \"\(u)\" is not a member of uplink_group \"\(l.value)\"\(Suggest.hint(u, members, quote: "\""))")
                        continue
                    }
                }
                guard let l, checkGroup(l.value, at: l.location, what: "force") else { continue }
                if let time {
                    faults.append(TimedFault(time: time, action: .manual(.forceActive(group: l.value, interface: uplink)),
                                             location: item.location))
                }
            default:
                break   // reported by the reader
            }
        }
        return faults
    }

    // MARK: expect

    func expectation(_ block: HCLBlock, name: String) -> Expectation? {
        let context = name.isEmpty ? "expect" : "expect \"\(name)\""
        let r = BodyReader(block.body, context: context, attributes: Self.expectAttributes, sink: sink)
        let at = block.labels.first?.location ?? block.location
        let before = sink.diagnostics.count

        let given = Self.checkKinds.filter { r.has($0) }
        guard let kind = given.first else {
            sink.error(at, "\(context) needs one check: event, share, sticky or policy")
            return nil
        }
        for extra in given.dropFirst() {
            sink.error(r.attribute(extra)!.location,
                       "\(extra): \(context) already checks \(kind); write one expect block per check")
        }
        let allowed = Set([kind, "after", "before"] + Self.checkAttributes[kind]!)
        for attribute in Self.expectAttributes where !allowed.contains(attribute) && !Self.checkKinds.contains(attribute) {
            if let a = r.attribute(attribute) {
                let users = Self.checkAttributes.filter { $0.value.contains(attribute) }.keys.sorted()
                sink.error(a.location, "\(attribute): only \(users.joined(separator: " and ")) checks use \(attribute), this is a\(kind == "event" ? "n" : "") \(kind) check")
            }
        }

        let after = r.attribute("after").flatMap { time($0.value, "after") }
        let beforeTime = r.attribute("before").flatMap { time($0.value, "before") }
        if let after, let beforeTime, beforeTime <= after, let a = r.attribute("before") {
            sink.error(a.value.location, "before: must be after 'after' (\(DurationText.format(after))), got \(DurationText.format(beforeTime))")
        }

        var check: Expectation.Check?
        switch kind {
        case "event":
            let event = r.enumeration("event", WANEventKind.allCases)
            var uplink: String?
            if let a = r.attribute("uplink"), let u = HCLValue.string(a.value, "uplink", sink) {
                if checkWAN(u, at: a.value.location, what: "uplink") { uplink = u }
            }
            var group: String?
            if let a = r.attribute("group"), let g = HCLValue.string(a.value, "group", sink) {
                if checkGroup(g, at: a.value.location, what: "group") { group = g }
            }
            if let a = r.attribute("group"), let event, event == .wanUp || event == .wanDown {
                sink.error(a.location, "group: \(event.rawValue) events belong to a WAN, not a group; use uplink")
            }
            let count = r.integer("count", in: .nonNegative)
            if let event { check = .event(kind: event, uplink: uplink, group: group, count: count) }
        case "share":
            var uplink: String?
            if let a = r.attribute("share"), let u = HCLValue.string(a.value, "share", sink),
               checkWAN(u, at: a.value.location, what: "share") { uplink = u }
            let minimum = r.number("min", in: 0...1) ?? 0
            let maximum = r.number("max", in: 0...1) ?? 1
            if minimum > maximum, let a = r.attribute("min") {
                sink.error(a.value.location, "min: \(HCLFormatter.number(minimum)) is greater than max (\(HCLFormatter.number(maximum)))")
            }
            if !r.has("min") && !r.has("max") {
                sink.error(at, "\(context): a share check needs min and/or max (fractions 0...1)")
            }
            if let uplink { check = .share(uplink: uplink, min: minimum, max: maximum) }
        case "sticky":
            if let a = r.attribute("sticky"), let sticky = HCLValue.bool(a.value, "sticky", sink) {
                if sticky { check = .sticky }
                else { sink.error(a.value.location, "sticky: false checks nothing; write sticky = true") }
            }
        case "policy":
            var policy: String?
            if let a = r.attribute("policy"), let p = HCLValue.string(a.value, "policy", sink) {
                let names = config.policyRoutes.map(\.name)
                if !configKnown || names.contains(p) { policy = p }
                else { sink.error(a.value.location, "policy: no policy_route named \"\(p)\"\(Suggest.hint(p, names, quote: "\""))") }
            }
            r.require("uplink", at: at, example: "\"eth0\"")
            var uplink: String?
            if let a = r.attribute("uplink"), let u = HCLValue.string(a.value, "uplink", sink),
               checkWAN(u, at: a.value.location, what: "uplink") { uplink = u }
            if let policy, let uplink { check = .policy(name: policy, uplink: uplink) }
        default:
            break
        }
        guard let check, sink.diagnostics.count == before else { return nil }
        return Expectation(name: name, check: check, after: after, before: beforeTime, location: block.location)
    }
}
