/// Turns a parsed HCL file into a validated `FlywallConfig`, reporting every problem of the file at
/// once as `file:line:col: error: message` (see docs/configuration.md for the language).
public enum ConfigDecoder {
    /// The blocks a config file may hold at its top level.
    public static let topLevelBlocks = ["interface", "uplink_group", "policy_route", "ipset", "notifications", "health_check",
                                        "api", "history", "ha_pair"]

    /// ICMP targets of a health check that names none (the LTE example on the spec page): two
    /// independent public resolvers, so one of them failing does not take a WAN down.
    public static let defaultICMPTargets: [IPAddress] = [IPAddress("1.1.1.1")!, IPAddress("8.8.8.8")!]

    /// Decodes and validates a parsed config. Throws all problems found, sorted by position.
    public static func decode(_ body: HCLBody) throws(DiagnosticList) -> FlywallConfig {
        let sink = DiagnosticSink()
        let config = decode(body, sink: sink)
        try sink.throwIfAny()
        return config
    }

    /// Parses and decodes a config file's text; `file` names the file in diagnostics.
    public static func load(source: String, file: String) throws(DiagnosticList) -> FlywallConfig {
        let body = try HCLParser.parse(source, file: file)
        return try decode(body)
    }

    /// Best-effort decoding of the config blocks of a body: always returns a config (invalid parts
    /// dropped or defaulted) and reports every problem to `sink`, at the same positions and with the
    /// same messages as `decode(_:)`. For files that hold a config among other blocks (the
    /// simulator's scenario files): pass only the blocks named in `topLevelBlocks`, then check the
    /// other blocks against the returned config, into the same sink.
    public static func decode(_ body: HCLBody, sink: DiagnosticSink) -> FlywallConfig {
        var decoding = ConfigDecoding(sink: sink)
        return decoding.run(body)
    }
}

/// The state of one decoding run.
struct ConfigDecoding {
    let sink: DiagnosticSink

    static let interfaceAttributes = ["zone", "dhcp", "address", "gateway", "gateway6"]
    static let interfaceBlocks = ["wan", "pppoe", "health_check"]
    static let wanAttributes = ["priority", "weight", "bandwidth", "nat_address"]
    static let healthCheckAttributes = ["type", "targets", "url", "expected_status", "ca_file", "interval", "timeout",
                                        "failure_interval", "recovery_interval", "standby_interval",
                                        "threshold_down", "threshold_up", "reliability", "window",
                                        "max_latency", "recover_latency", "max_loss", "recover_loss"]
    static let groupAttributes = ["mode", "sticky", "sticky_timeout", "all_down", "failback_moves_connections"]
    static let memberAttributes = ["priority", "weight"]
    static let policyAttributes = ["uplink", "fallback"]
    static let matchAttributes = ["protocol", "dest_port", "source", "destination"]
    static let emailAttributes = ["enabled", "smtp", "from", "to", "events", "username", "password", "tls", "ca_file"]
    static let webhookAttributes = ["enabled", "url", "events", "secret", "ca_file"]

    static let healthCheckKinds: [HealthCheck.Kind] = [.icmp, .http, .passive]
    static let groupModes: [UplinkGroup.Mode] = [.failover, .balance]
    static let allDownPolicies: [UplinkGroup.AllDownPolicy] = [.lastActive, .unreachable]

    init(sink: DiagnosticSink) { self.sink = sink }

    /// health_check blocks of zone-"WAN" interfaces without a wan block: an error unless a group
    /// makes the interface a WAN.
    var checksOnNonWANs: [(interface: String, location: SourceLocation)] = []

    mutating func run(_ body: HCLBody) -> FlywallConfig {
        let top = BodyReader(body, context: "", attributes: [], blocks: ConfigDecoder.topLevelBlocks, sink: sink)

        let ipsets = decodeIPSets(top.blocks("ipset"))
        var interfaces = decodeInterfaces(top.blocks("interface"))
        let global = top.singleBlock("health_check").flatMap { healthCheck($0) }
        let groups = decodeGroups(top.blocks("uplink_group"), interfaces: &interfaces)
        let wanNames = Set(interfaces.filter { $0.wan != nil }.map(\.name))
        for (name, location) in checksOnNonWANs where !wanNames.contains(name) {
            sink.error(location, "health_check applies to WANs, and interface \"\(name)\" is in zone \"WAN\" but no uplink_group has it as a member and it has no wan or pppoe block (add member \"\(name)\" { } to a group, or give it a wan { } block)")
        }
        var config = FlywallConfig(interfaces: interfaces, uplinkGroups: groups, ipsets: ipsets)
        checkDataplaneLimits(config)
        // A top-level health_check is the default for every WAN without its own; a WAN with no
        // check anywhere gets the built-in one (`HealthCheck.builtInDefault`), marked as such.
        let checked = config.effectiveHealthChecks
        for i in config.interfaces.indices where config.interfaces[i].wan != nil && checked[config.interfaces[i].name] == nil {
            if let global {
                config.interfaces[i].healthCheck = global
            } else {
                config.interfaces[i].healthCheck = HealthCheck.builtInDefault
                config.interfaces[i].healthCheckIsBuiltInDefault = true
            }
        }
        config.policyRoutes = decodePolicyRoutes(top.blocks("policy_route"), config: config)
        if let block = top.singleBlock("notifications") {
            config.notifications = decodeNotifications(block)
        }
        if let block = top.singleBlock("api") { config.api = decodeAPI(block) }
        if let block = top.singleBlock("history") { config.history = decodeHistory(block) }
        if let block = top.singleBlock("ha_pair") { config.ha = decodeHA(block) }
        return config
    }

    // MARK: Labels and names

    func noLabels(_ block: HCLBlock) {
        if let label = block.labels.first {
            sink.error(label.location, "\(block.type) takes no name: write \(block.type) { ... }")
        }
    }

    // MARK: ipset

    func decodeIPSets(_ blocks: [HCLBlock]) -> [IPSet] {
        var seen = NameTable()
        var result: [IPSet] = []
        for block in blocks {
            let r = BodyReader(block.body, context: "ipset", attributes: ["entries"], sink: sink)
            guard let label = block.name(example: "streaming_services", sink: sink) else { continue }
            r.require("entries", at: label.location, example: "[\"198.51.100.0/24\"]")
            var entries: [CIDR] = []
            for (text, location) in r.stringList("entries", allowSingle: true) ?? [] {
                if let cidr = CIDR(text) { entries.append(cidr) }
                else { sink.error(location, "entries: \"\(text)\" is not an IP address or CIDR prefix") }
            }
            if seen.declare(label, kind: "ipset", sink: sink) { result.append(IPSet(name: label.value, entries: entries)) }
        }
        return result
    }

    // MARK: interface

    mutating func decodeInterfaces(_ blocks: [HCLBlock]) -> [Interface] {
        var seen = NameTable()
        var result: [Interface] = []
        for block in blocks {
            let label = block.name(example: "eth0", sink: sink)
            if let label, let problem = ConfigLimits.interfaceNameProblem(label.value) {
                sink.error(label.location, "interface name \"\(label.value)\" \(problem)")
            }
            let context = label.map { "interface \"\($0.value)\"" } ?? "interface"
            let r = BodyReader(block.body, context: context, attributes: Self.interfaceAttributes,
                               blocks: Self.interfaceBlocks, sink: sink)
            var interface = Interface(name: label?.value ?? "", location: block.location)
            interface.zone = r.string("zone")
            interface.dhcp = r.bool("dhcp") ?? false
            if let a = r.attribute("address"), let text = HCLValue.string(a.value, "address", sink) {
                if text.contains("/"), let cidr = CIDR(text) { interface.address = cidr }
                else if !text.contains("/"), IPAddress(text) != nil {
                    sink.error(a.value.location, "address: \"\(text)\" needs a prefix length, e.g. \"\(text)/24\"")
                } else {
                    sink.error(a.value.location, "address: \"\(text)\" is not an address with prefix (e.g. \"203.0.113.2/30\")")
                }
                if interface.dhcp {
                    sink.error(a.location, "address: a static address cannot be combined with dhcp = true")
                }
            }
            if let a = r.attribute("gateway"), let text = HCLValue.string(a.value, "gateway", sink) {
                if let ip = IPAddress(text) {
                    interface.gateway = ip
                    if let address = interface.address, address.address.isV4 != ip.isV4 {
                        sink.error(a.value.location, "gateway: \(text) is not in the same address family as address \(address.address)")
                    }
                } else {
                    sink.error(a.value.location, "gateway: \"\(text)\" is not an IP address")
                }
            }
            if let a = r.attribute("gateway6"), let text = HCLValue.string(a.value, "gateway6", sink) {
                if let ip = IPAddress(text), !ip.isV4 {
                    interface.gateway6 = ip
                    if let g = interface.gateway, !g.isV4 {
                        sink.error(a.location, "gateway6: gateway \(g) is already IPv6; give the IPv6 next hop once")
                    }
                } else {
                    sink.error(a.value.location, "gateway6: \"\(text)\" is not an IPv6 address (e.g. \"fe80::1\")")
                }
            }
            if let block = r.singleBlock("pppoe") {
                interface.pppoe = decodePPPoE(block)
                if let label, label.value.utf8.count > PPPoE.maxEthernetNameLength {
                    sink.error(block.location, "pppoe: interface name \"\(label.value)\" is too long for a PPPoE line: its session interface \"\(PPPoE.sessionDevice(for: label.value))\" must fit 15 characters (at most \(PPPoE.maxEthernetNameLength) here)")
                }
                if interface.dhcp || r.has("address") {
                    sink.error(block.location, "pppoe: a PPPoE interface gets its address from the PPP session; remove dhcp/address")
                }
            }
            if let block = r.singleBlock("wan") {
                interface.wan = decodeWAN(block)
                // The router's own traffic is told from the LAN's by its source in this network.
                if interface.wan?.natAddress != nil, interface.address?.address.isV4 != true,
                   let a = BodyReader.attributeLocation(block.body, "nat_address") {
                    sink.error(a, "nat_address: needs a static IPv4 address on interface \"\(interface.name)\" (address = \"...\"): the router's own traffic keeps its own address")
                }
            } else if interface.pppoe != nil {
                interface.wan = WANSettings()   // a PPPoE interface is an uplink even without `wan {}`
            }
            if let block = r.singleBlock("health_check") {
                let check = healthCheck(block)
                if interface.wan == nil && !interface.isWANZone {
                    sink.error(block.location,
                               "health_check applies to WANs, and \(context) has no wan or pppoe block")
                } else {
                    // In zone "WAN" without a wan block: a WAN if a group names it (checked later).
                    if interface.wan == nil, let label { checksOnNonWANs.append((label.value, block.location)) }
                    interface.healthCheck = check
                }
            }
            guard let label else { continue }
            if seen.declare(label, kind: "interface", sink: sink) { result.append(interface) }
        }
        return result
    }

    func decodeWAN(_ block: HCLBlock) -> WANSettings {
        noLabels(block)
        let r = BodyReader(block.body, context: "wan", attributes: Self.wanAttributes, sink: sink)
        var wan = WANSettings()
        if let p = r.integer("priority", in: ConfigLimits.priority) { wan.priority = p }
        if let w = r.integer("weight", in: ConfigLimits.weight) { wan.weight = w }
        if let a = r.attribute("bandwidth") {
            if case .string(let text) = a.value.kind {
                switch Self.parseBandwidth(text) {
                case .success(let bps): wan.bandwidthBitsPerSecond = bps
                case .failure(let p): sink.error(a.value.location, "bandwidth: invalid bandwidth \"\(text)\": \(p.message)")
                }
            } else {
                sink.error(a.value.location, "bandwidth: expected a string such as \"100Mbps\", got \(a.value.kindDescription)")
            }
        }
        if let a = r.attribute("nat_address"), let text = HCLValue.string(a.value, "nat_address", sink) {
            if case .v4 = IPAddress(text) {
                wan.natAddress = IPAddress(text)
            } else {
                sink.error(a.value.location, "nat_address: \"\(text.prefix(64))\" is not an IPv4 address (IPv6 is not translated)")
            }
        }
        return wan
    }

    /// "100Mbps", "1Gbps", "512kbps", "1.5Gbps", "64000bps" → bits per second.
    static func parseBandwidth(_ text: String) -> Result<Int64, DurationText.Problem> {
        let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = text.dropFirst(number.count).trimmingSpaces
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, let value = Double(number) else {
            return .failure(.init(message: "expected a number and a unit, e.g. \"100Mbps\""))
        }
        let scales: [String: Double] = ["bps": 1, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12]
        let units = "bps, kbps, Mbps, Gbps or Tbps"
        guard let scale = scales[unit.lowercased()] else {
            if unit.isEmpty { return .failure(.init(message: "missing unit (\(units))")) }
            return .failure(.init(message: "unknown unit \"\(unit)\" (use \(units))"))
        }
        let bps = value * scale
        let limits = ConfigLimits.bandwidth
        guard bps >= Double(limits.lowerBound) else { return .failure(.init(message: "too small, at least 1bps")) }
        guard bps <= Double(limits.upperBound) else {
            return .failure(.init(message: "too large, at most \(limits.upperBound / 1_000_000_000_000)Tbps"))
        }
        return .success(Int64(bps.rounded()))
    }

    func decodePPPoE(_ block: HCLBlock) -> PPPoE {
        noLabels(block)
        let r = BodyReader(block.body, context: "pppoe", attributes: ["username", "password"], sink: sink)
        r.require("username", at: block.location, example: "\"user@isp.example\"")
        r.require("password", at: block.location, example: "\"secret\"")
        let username = r.attribute("username").flatMap { a in HCLValue.string(a.value, "username", sink).map { ($0, a) } }
        let password = r.attribute("password").flatMap { a in HCLValue.string(a.value, "password", sink).map { ($0, a) } }
        // pppd reads both from the options file Flywall writes: one line each, within its limits.
        // The message never quotes the password.
        for (name, value) in [("username", username), ("password", password)] {
            guard let (text, a) = value else { continue }
            if let problem = PPPoE.credentialProblem(text) { sink.error(a.value.location, "\(name): \(problem)") }
        }
        return PPPoE(username: username?.0 ?? "", password: password?.0 ?? "")
    }

    // MARK: health_check

    /// Decodes a health_check block with every default filled in; nil when anything in it is wrong.
    func healthCheck(_ block: HCLBlock) -> HealthCheck? {
        noLabels(block)
        let before = sink.diagnostics.count
        let r = BodyReader(block.body, context: "health_check", attributes: Self.healthCheckAttributes, sink: sink)
        var hc = HealthCheck()

        let url: String? = r.attribute("url").flatMap { a in
            guard let text = HCLValue.string(a.value, "url", sink) else { return nil }
            if let problem = NetValues.urlProblem(text) { sink.error(a.value.location, "url: \(problem)"); return nil }
            return text
        }
        if r.has("type") {
            guard let kind = r.enumeration("type", Self.healthCheckKinds) else { return nil }
            hc.kind = kind
        } else {
            hc.kind = r.has("url") ? .http : .icmp
        }
        let typeText = "type is \"\(hc.kind.rawValue)\""

        // Targets (ICMP; for a passive check, what it probes while its WAN is down).
        let probesTargets = hc.kind == .icmp || hc.kind == .passive
        if let a = r.attribute("targets") {
            if !probesTargets {
                sink.error(a.location, "targets: only ICMP and passive checks use targets (this check's \(typeText))")
            } else if let items = HCLValue.list(a.value, "targets", sink, allowSingle: true) {
                var seen: Set<IPAddress> = []
                for item in items {
                    guard let text = HCLValue.string(item, "targets", sink) else { continue }
                    guard let ip = IPAddress(text) else {
                        sink.error(item.location, "targets: \"\(text)\" is not an IP address")
                        continue
                    }
                    if !seen.insert(ip).inserted {
                        sink.error(item.location, "targets: \(text) is listed twice")
                        continue
                    }
                    hc.targets.append(ip)
                }
                if items.isEmpty {
                    sink.error(a.value.location, "targets: an ICMP health check needs at least one target")
                } else if items.count > ConfigLimits.targets {
                    sink.error(a.value.location, "targets: too many, at most \(ConfigLimits.targets), got \(items.count)")
                }
            }
        } else if probesTargets {
            hc.targets = ConfigDecoder.defaultICMPTargets
        }

        // URL and status (HTTP).
        if hc.kind == .http {
            if r.has("url") { hc.url = url }
            else { sink.error(block.location, "an HTTP health check needs url = \"http://...\"") }
        } else if let a = r.attribute("url") {
            sink.error(a.location, "url: only HTTP checks use url (this check's \(typeText))")
        }
        if let a = r.attribute("ca_file"), let path = HCLValue.string(a.value, "ca_file", sink) {
            if hc.kind != .http || !(url?.lowercased().hasPrefix("https://") ?? false) {
                sink.error(a.location, "ca_file: only https checks use a CA file (this check's \(hc.kind == .http ? "url is not https://" : typeText))")
            } else if !path.hasPrefix("/") {
                sink.error(a.value.location, "ca_file: must be an absolute path, got \"\(path)\"")
            } else {
                hc.caFile = path
            }
        }
        if let a = r.attribute("expected_status") {
            if hc.kind != .http {
                sink.error(a.location, "expected_status: only HTTP checks use expected_status (this check's \(typeText))")
            } else if let status = HCLValue.integer(a.value, "expected_status", sink, range: .between(100, 599)) {
                hc.expectedStatus = status
            }
        }

        // Timing.
        if let interval = r.duration("interval", in: ConfigLimits.probeTime) { hc.interval = interval }
        hc.failureInterval = hc.interval
        hc.recoveryInterval = hc.interval
        // The cadences of a probing check; a passive check has no probes to space out.
        var cadences: [(name: String, value: Duration)] = [("interval", hc.interval)]
        for name in ["failure_interval", "recovery_interval", "standby_interval"] {
            guard let a = r.attribute(name) else { continue }
            if hc.kind == .passive {
                sink.error(a.location, "\(name): passive checks send no probes to space out (this check's \(typeText))")
                continue
            }
            guard let value = HCLValue.duration(a.value, name, sink, range: ConfigLimits.probeTime) else { continue }
            switch name {
            case "failure_interval": hc.failureInterval = value
            case "recovery_interval": hc.recoveryInterval = value
            default: hc.standbyInterval = value
            }
            cadences.append((name, value))
        }
        // One round at a time: a probe's timeout must end before the next round can start.
        let shortest = cadences.min { $0.value < $1.value }!
        hc.timeout = min(.seconds(2), shortest.value)
        if let a = r.attribute("timeout"), let timeout = HCLValue.duration(a.value, "timeout", sink, range: ConfigLimits.probeTime) {
            if timeout > shortest.value {
                sink.error(a.value.location,
                           "timeout: must not be longer than \(shortest.name) (\(DurationText.format(shortest.value))), got \"\(DurationText.format(timeout))\"")
            } else {
                hc.timeout = timeout
            }
        }
        if let n = r.integer("threshold_down", in: ConfigLimits.threshold) { hc.thresholdDown = n }
        if let n = r.integer("threshold_up", in: ConfigLimits.threshold) { hc.thresholdUp = n }
        if let n = r.integer("window", in: ConfigLimits.window) { hc.window = n }
        if let a = r.attribute("reliability"), let n = HCLValue.integer(a.value, "reliability", sink, range: .positive) {
            let available = probesTargets ? hc.targets.count : 1
            if n > available && (!probesTargets || !hc.targets.isEmpty) {
                let what = probesTargets ? "\(available) target\(available == 1 ? "" : "s")" : "one target (its URL)"
                sink.error(a.value.location, "reliability: \(n) targets must answer, but the check has only \(what)")
            } else {
                hc.reliability = n
            }
        }

        // Quality thresholds with hysteresis.
        if let maxLatency = r.duration("max_latency", in: ConfigLimits.latency) {
            hc.maxLatency = maxLatency
            hc.recoverLatency = maxLatency / 5 * 4
        }
        if let a = r.attribute("recover_latency"),
           let recover = HCLValue.duration(a.value, "recover_latency", sink, range: ConfigLimits.latency) {
            if let maxLatency = hc.maxLatency {
                if recover > maxLatency {
                    sink.error(a.value.location,
                               "recover_latency: must not be above max_latency (\(DurationText.format(maxLatency))), got \"\(DurationText.format(recover))\"")
                } else {
                    hc.recoverLatency = recover
                }
            } else if !r.has("max_latency") {
                sink.error(a.location, "recover_latency: only meaningful with max_latency")
            }
        }
        if let maxLoss = r.number("max_loss", in: 0...100) {
            hc.maxLoss = maxLoss
            hc.recoverLoss = maxLoss / 2
        }
        if let a = r.attribute("recover_loss"), let recover = HCLValue.number(a.value, "recover_loss", sink, range: 0...100) {
            if let maxLoss = hc.maxLoss {
                if recover > maxLoss {
                    sink.error(a.value.location,
                               "recover_loss: must not be above max_loss (\(HCLFormatter.number(maxLoss))), got \(HCLFormatter.number(recover))")
                } else {
                    hc.recoverLoss = recover
                }
            } else if !r.has("max_loss") {
                sink.error(a.location, "recover_loss: only meaningful with max_loss")
            }
        }
        return sink.diagnostics.count == before ? hc : nil
    }

    // MARK: uplink_group

    /// Decodes the groups; an interface in zone "WAN" without a wan block that a group names
    /// becomes a WAN, with the settings of the first member block that names it.
    func decodeGroups(_ blocks: [HCLBlock], interfaces: inout [Interface]) -> [UplinkGroup] {
        var seen = NameTable()
        var result: [UplinkGroup] = []
        // The health check each WAN got from a member block, for the one-check-per-WAN rule.
        var memberChecks: [String: (check: HealthCheck, location: SourceLocation, group: String)] = [:]
        let interfaceNames = interfaces.map(\.name)
        // Lookups by name, so decoding stays linear in the size of the file.
        var interfaceIndex: [String: Int] = [:]
        for (i, interface) in interfaces.enumerated() where interfaceIndex[interface.name] == nil { interfaceIndex[interface.name] = i }

        for block in blocks {
            let label = block.name(example: "default", sink: sink)
            let context = label.map { "uplink_group \"\($0.value)\"" } ?? "uplink_group"
            let r = BodyReader(block.body, context: context, attributes: Self.groupAttributes, blocks: ["member"], sink: sink)
            var group = UplinkGroup(name: label?.value ?? "", members: [], location: block.location)
            if let mode = r.enumeration("mode", Self.groupModes) { group.mode = mode }
            if let sticky = r.bool("sticky") { group.sticky = sticky }
            if let timeout = r.duration("sticky_timeout", in: ConfigLimits.stickyTimeout) { group.stickyTimeout = timeout }
            if let policy = r.enumeration("all_down", Self.allDownPolicies) { group.allDown = policy }
            if let moves = r.bool("failback_moves_connections") { group.failbackMovesConnections = moves }

            var memberSeen = NameTable()
            let memberBlocks = r.blocks("member")
            for memberBlock in memberBlocks {
                let memberLabel = memberBlock.name(example: "eth0", sink: sink)
                let memberContext = memberLabel.map { "member \"\($0.value)\"" } ?? "member"
                let mr = BodyReader(memberBlock.body, context: memberContext, attributes: Self.memberAttributes,
                                    blocks: ["health_check"], sink: sink)
                let priority = mr.integer("priority", in: ConfigLimits.priority)
                let weight = mr.integer("weight", in: ConfigLimits.weight)
                let checkBlock = mr.singleBlock("health_check")
                let check = checkBlock.flatMap { healthCheck($0) }
                guard let memberLabel else { continue }
                let ifname = memberLabel.value
                guard let index = interfaceIndex[ifname] else {
                    sink.error(memberLabel.location,
                               "member \"\(ifname)\": no interface named \"\(ifname)\"\(Suggest.hint(ifname, interfaceNames, quote: "\""))")
                    continue
                }
                if interfaces[index].wan == nil && interfaces[index].isWANZone {
                    // In zone "WAN" and named by a group: a WAN; this member says how it ranks.
                    interfaces[index].wan = WANSettings(priority: priority ?? 1, weight: weight ?? 1)
                }
                guard let wan = interfaces[index].wan else {
                    sink.error(memberLabel.location,
                               "member \"\(ifname)\": interface \"\(ifname)\" is not a WAN (give it a wan { } or pppoe { } block, or zone = \"WAN\")")
                    continue
                }
                guard memberSeen.declare(memberLabel, kind: "member", sink: sink) else { continue }
                let member = Member(interface: ifname, priority: priority ?? wan.priority, weight: weight ?? wan.weight,
                                    healthCheck: check)
                if let check, let checkBlock {
                    if let first = memberChecks[ifname] {
                        if first.check != check {
                            sink.error(checkBlock.location,
                                       "conflicting health_check for \"\(ifname)\": uplink_group \"\(first.group)\" gives it a different one at \(first.location.description(relativeTo: checkBlock.location)) (a WAN has one health check)")
                        }
                    } else {
                        memberChecks[ifname] = (check, checkBlock.location, group.name)
                    }
                }
                group.members.append(member)
            }
            guard let label else { continue }
            if memberBlocks.isEmpty {
                sink.error(label.location, "uplink_group \"\(label.value)\" has no members; add member \"eth0\" { }")
            }
            checkWeightSums(group, at: label.location, named: "uplink_group \"\(label.value)\"")
            if interfaceIndex[label.value] != nil {
                sink.error(label.location,
                           "uplink_group \"\(label.value)\" has the name of an interface; policy routes could not tell them apart")
            }
            if seen.declare(label, kind: "uplink_group", sink: sink) { result.append(group) }
        }
        return result
    }

    /// The members that share new connections by weight (all of them when balancing, one priority
    /// tier at a time in failover mode) have reduced weights of at most `ConfigLimits.groupWeightSum`.
    func checkWeightSums(_ group: UplinkGroup, at location: SourceLocation, named name: String) {
        var tiers: [Int: [Int]] = [:]
        for m in group.members { tiers[group.mode == .balance ? 0 : m.priority, default: []].append(m.weight) }
        for (priority, weights) in tiers.sorted(by: { $0.key < $1.key }) {
            let weightSum = GroupWeights.reducedSum(weights)
            guard weightSum > ConfigLimits.groupWeightSum else { continue }
            let which = group.mode == .balance ? "member weights" : "weights of its priority-\(priority) members"
            sink.error(location,
                       "\(name): \(which) add up to \(weightSum) (divided by their common factor); too large, at most \(ConfigLimits.groupWeightSum), the dataplane's hash slots")
        }
    }

    /// The limits of the dataplane's mark fields over the whole config (`ConfigLimits.uplinks`,
    /// `stickyMembers`, `hashSlots`), each reported once, at the block that goes beyond it: a
    /// config `config check` accepts is one the daemon can program.
    func checkDataplaneLimits(_ config: FlywallConfig) {
        let wans = config.wans
        let start = SourceLocation(file: "", line: 1, column: 1)
        if wans.count > ConfigLimits.uplinks {
            let first = wans[ConfigLimits.uplinks]
            sink.error(first.location ?? start, "interface \"\(first.name)\": too many WANs, at most \(ConfigLimits.uplinks) (the dataplane's uplink marks), got \(wans.count)")
        }
        let groups = config.effectiveGroups
        // The implicit group has no block of its own: its first WAN's stands for it.
        func location(_ group: UplinkGroup) -> SourceLocation { group.location ?? wans.first?.location ?? start }
        if config.uplinkGroups.isEmpty, let implicit = groups.first {
            checkWeightSums(implicit, at: location(implicit), named: "the implicit uplink_group \"default\" of all WANs")
        }
        let sticky = groups.filter(\.sticky)
        let stickyMembers = sticky.reduce(0) { $0 + $1.members.count }
        if stickyMembers > ConfigLimits.stickyMembers {
            var total = 0
            let over = sticky.first { total += $0.members.count; return total > ConfigLimits.stickyMembers }!
            sink.error(location(over), "uplink_group \"\(over.name)\": too many members of sticky groups, at most \(ConfigLimits.stickyMembers) over all groups (the dataplane's sticky marks), got \(stickyMembers)")
        }
        let slots = groups.map(GroupSelector.mostSlots)
        let totalSlots = slots.reduce(0, +)
        if totalSlots > ConfigLimits.hashSlots {
            var total = 0
            let over = groups.indices.first { total += slots[$0]; return total > ConfigLimits.hashSlots }!
            sink.error(location(groups[over]), "uplink_group \"\(groups[over].name)\": too many hash slots, at most \(ConfigLimits.hashSlots) over all groups (the dataplane's hash marks), got \(totalSlots) (\(groups.count) group\(groups.count == 1 ? "" : "s"); this one takes up to \(slots[over]), every group at least \(GroupSelector.minimumBuckets)); lower the weights or use fewer groups")
        }
    }

    // MARK: policy_route

    func decodePolicyRoutes(_ blocks: [HCLBlock], config: FlywallConfig) -> [PolicyRoute] {
        var seen = NameTable()
        var result: [PolicyRoute] = []
        let groupNames = config.effectiveGroups.map(\.name)
        let uplinkNames = config.wans.map(\.name) + groupNames
        let uplinkSet = Set(uplinkNames)
        let ipsets = IPSetNames(config.ipsets)
        var isWAN: [String: Bool] = [:]
        for interface in config.interfaces where isWAN[interface.name] == nil { isWAN[interface.name] = interface.wan != nil }
        for block in blocks {
            let label = block.name(example: "work-vpn", sink: sink)
            let context = label.map { "policy_route \"\($0.value)\"" } ?? "policy_route"
            let r = BodyReader(block.body, context: context, attributes: Self.policyAttributes, blocks: ["match"], sink: sink)
            let at = label?.location ?? block.location
            var route = PolicyRoute(name: label?.value ?? "", match: .init(), uplink: "", location: block.location)
            if let block = r.singleBlock("match") {
                route.match = decodeMatch(block, ipsets: ipsets)
            } else {
                sink.error(at, "\(context) needs a match block, e.g. match { protocol = \"udp\" }")
            }
            r.require("uplink", at: at, example: "\"eth0\"")
            if let a = r.attribute("uplink"), let uplink = HCLValue.string(a.value, "uplink", sink) {
                route.uplink = uplink
                if isWAN[uplink] == false {
                    sink.error(a.value.location, "uplink: interface \"\(uplink)\" is not a WAN (give it a wan { } or pppoe { } block)")
                } else if !uplinkSet.contains(uplink) {
                    sink.error(a.value.location,
                               "uplink: no WAN or uplink_group named \"\(uplink)\"\(Suggest.hint(uplink, uplinkNames, quote: "\""))")
                }
            }
            if let fallback = r.bool("fallback") { route.fallback = fallback }
            guard let label else { continue }
            if seen.declare(label, kind: "policy_route", sink: sink) { result.append(route) }
        }
        return result
    }

    /// The declared ipsets' names, in order (for suggestions) and as a set (for lookups).
    struct IPSetNames {
        let ordered: [String]
        let all: Set<String>
        init(_ ipsets: [IPSet]) {
            ordered = ipsets.map(\.name)
            all = Set(ordered)
        }
    }

    func decodeMatch(_ block: HCLBlock, ipsets: IPSetNames) -> PolicyRoute.Match {
        noLabels(block)
        let r = BodyReader(block.body, context: "match", attributes: Self.matchAttributes, sink: sink)
        var match = PolicyRoute.Match()
        for item in r.list("protocol", allowSingle: true) ?? [] {
            if let p = HCLValue.enumeration(item, "protocol", TransportProtocol.allCases, sink), !match.protocols.contains(p) {
                match.protocols.append(p)
            }
        }
        if let a = r.attribute("dest_port") {
            for item in HCLValue.list(a.value, "dest_port", sink, allowSingle: true) ?? [] {
                switch item.kind {
                case .number(let value, let text):
                    if value.rounded() == value, abs(value) < 1e6, let port = NetValues.port(Int(value)) {
                        match.destPorts.append(PortRange(port))
                    } else if value.rounded() != value {
                        sink.error(item.location, "dest_port: expected a whole number, got \(text)")
                    } else {
                        sink.error(item.location, "dest_port: port \(text) is out of range (1-65535)")
                    }
                case .string(let text):
                    switch NetValues.portRange(text) {
                    case .success(let range): match.destPorts.append(range)
                    case .failure(let p): sink.error(item.location, "dest_port: \(p.message)")
                    }
                default:
                    sink.error(item.location, "dest_port: expected a port number or a string such as \"1000-2000\", got \(item.kindDescription)")
                }
            }
            if !match.protocols.isEmpty && !match.protocols.contains(.tcp) && !match.protocols.contains(.udp) {
                sink.error(a.location, "dest_port: ports apply to tcp and udp, but this route matches only icmp")
            }
        }
        match.sources = addressMatches(r, "source", ipsets: ipsets)
        match.destinations = addressMatches(r, "destination", ipsets: ipsets)
        return match
    }

    func addressMatches(_ r: BodyReader, _ name: String, ipsets: IPSetNames) -> [AddressMatch] {
        var result: [AddressMatch] = []
        for (text, location) in r.stringList(name, allowSingle: true) ?? [] {
            if text.hasPrefix("@") {
                let set = String(text.dropFirst())
                if set.isEmpty {
                    sink.error(location, "\(name): \"@\" needs an ipset name, e.g. \"@streaming_services\"")
                } else if !ipsets.all.contains(set) {
                    sink.error(location, "\(name): no ipset named \"\(set)\"\(Suggest.hint(set, ipsets.ordered, quote: "\""))")
                } else {
                    result.append(.ipset(set))
                }
            } else if let cidr = CIDR(text) {
                result.append(.cidr(cidr))
            } else {
                sink.error(location, "\(name): \"\(text)\" is not an IP address, CIDR prefix or @ipset")
            }
        }
        return result
    }

    // MARK: notifications

    func decodeNotifications(_ block: HCLBlock) -> Notifications {
        noLabels(block)
        let r = BodyReader(block.body, context: "notifications", attributes: ["coalesce"], blocks: ["email", "webhook"], sink: sink)
        var notifications = Notifications()
        if let coalesce = r.duration("coalesce", in: ConfigLimits.coalesce) { notifications.coalesce = coalesce }
        for email in r.blocks("email") {
            noLabels(email)
            let er = BodyReader(email.body, context: "email", attributes: Self.emailAttributes, sink: sink)
            er.require("smtp", at: email.location, example: "\"smtp.example.com:587\"")
            er.require("to", at: email.location, example: "[\"admin@example.com\"]")
            var smtp = ""
            if let a = er.attribute("smtp"), let text = HCLValue.string(a.value, "smtp", sink) {
                if let problem = NetValues.hostPortProblem(text) { sink.error(a.value.location, "smtp: \(problem)") }
                smtp = text
            }
            var from: String?
            if let a = er.attribute("from"), let text = HCLValue.string(a.value, "from", sink) {
                if !NetValues.isPlausibleEmail(text) { sink.error(a.value.location, "from: \"\(text)\" is not an email address") }
                from = text
            }
            var to: [String] = []
            if let a = er.attribute("to"), let items = HCLValue.list(a.value, "to", sink, allowSingle: true) {
                if items.isEmpty { sink.error(a.value.location, "to: needs at least one address") }
                for item in items {
                    guard let text = HCLValue.string(item, "to", sink) else { continue }
                    if !NetValues.isPlausibleEmail(text) { sink.error(item.location, "to: \"\(text)\" is not an email address") }
                    to.append(text)
                }
            }
            let port = smtp.split(separator: ":").last.flatMap { Int($0) }
            var value = Notifications.Email(enabled: er.bool("enabled") ?? true, smtp: smtp, from: from, to: to,
                                            events: events(er), tls: port == 465 ? .implicit : .starttls)
            value.username = secretText(er, "username")
            value.password = secretText(er, "password")
            if value.password != nil && value.username == nil, let a = er.attribute("password") {
                sink.error(a.location, "password: needs username = \"...\" too (SMTP AUTH sends both)")
            }
            if let tls = er.enumeration("tls", Notifications.EmailTLS.allCases) { value.tls = tls }
            value.caFile = caFile(er, usable: value.tls != .none, why: "tls = \"none\" verifies no certificate")
            notifications.email.append(value)
        }
        for hook in r.blocks("webhook") {
            noLabels(hook)
            let wr = BodyReader(hook.body, context: "webhook", attributes: Self.webhookAttributes, sink: sink)
            wr.require("url", at: hook.location, example: "\"https://hooks.example.com/...\"")
            var url = ""
            if let a = wr.attribute("url"), let text = HCLValue.string(a.value, "url", sink) {
                // The path is a credential: the message names the URL without it.
                if let problem = NetValues.urlProblem(text) {
                    sink.error(a.value.location, "url: " + problem.replacing(text, with: NotificationPolicy.redactedURL(text)))
                }
                url = text
            }
            var value = Notifications.Webhook(enabled: wr.bool("enabled") ?? true, url: url, events: events(wr))
            value.secret = secretText(wr, "secret")
            value.caFile = caFile(wr, usable: url.lowercased().hasPrefix("https://"), why: "the url is not https://")
            notifications.webhook.append(value)
        }
        return notifications
    }

    /// A password, secret or user name: a non-empty string of bounded size. Errors never quote it.
    func secretText(_ r: BodyReader, _ name: String) -> String? {
        guard let a = r.attribute(name) else { return nil }
        guard case .string(let text) = a.value.kind else {
            sink.error(a.value.location, "\(name): must be a string")
            return nil
        }
        if text.isEmpty { sink.error(a.value.location, "\(name): must not be empty") }
        if text.utf8.count > ConfigLimits.secretBytes { sink.error(a.value.location, "\(name): longer than \(ConfigLimits.secretBytes) bytes") }
        if text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) {
            sink.error(a.value.location, "\(name): must not contain line breaks or NUL")
        }
        return text
    }

    func caFile(_ r: BodyReader, usable: Bool, why: String) -> String? {
        guard let a = r.attribute("ca_file"), let path = HCLValue.string(a.value, "ca_file", sink) else { return nil }
        if !usable {
            sink.error(a.location, "ca_file: unused, \(why)")
        } else if !path.hasPrefix("/") {
            sink.error(a.value.location, "ca_file: must be an absolute path, got \"\(path)\"")
        }
        return path
    }

    /// `events = [...]`; default: every event kind.
    func events(_ r: BodyReader) -> [WANEventKind] {
        guard let items = r.list("events", allowSingle: true) else { return WANEventKind.allCases }
        var result: [WANEventKind] = []
        for item in items {
            if let kind = HCLValue.enumeration(item, "events", WANEventKind.allCases, sink), !result.contains(kind) {
                result.append(kind)
            }
        }
        return result
    }
}
