/// Renders a validated config as `flywall config check` shows it: every default filled in, members
/// with their effective priority, weight and health check, the implicit default group spelled out.
///
/// The text form is itself valid config (HCL): decoding it gives the same effective configuration
/// (with `redactSecrets: false`; otherwise PPPoE passwords read "********").
public enum ResolvedConfigPrinter {
    public static func text(_ config: FlywallConfig, redactSecrets: Bool = true) -> String {
        var w = HCLWriter()
        let groups = config.effectiveGroups
        let grouped = Set(groups.flatMap { $0.members.map(\.interface) })
        let checks = config.effectiveHealthChecks
        let builtIn = Set(config.interfaces.filter(\.healthCheckIsBuiltInDefault).map(\.name))
        let interfaceNames = Set(config.interfaces.map(\.name))
        w.comment("Resolved configuration: every default filled in.")
        if let name = config.defaultGroupName ?? groups.first?.name {
            w.comment("Default group (traffic no policy route claims): \"\(name)\"")
        } else {
            w.comment("No WANs: nothing to route.")
        }

        for i in config.interfaces {
            w.blank()
            w.open("interface \(HCLFormatter.quote(i.name))")
            var attributes: [(String, String)] = []
            if let zone = i.zone { attributes.append(("zone", HCLFormatter.quote(zone))) }
            attributes.append(("dhcp", "\(i.dhcp)"))
            if let a = i.address { attributes.append(("address", HCLFormatter.quote("\(a.address)/\(a.prefixLength)"))) }
            if let g = i.gateway { attributes.append(("gateway", HCLFormatter.quote(g.description))) }
            if let g = i.gateway6 { attributes.append(("gateway6", HCLFormatter.quote(g.description))) }
            w.attributes(attributes)
            if let p = i.pppoe {
                w.open("pppoe")
                w.attributes([("username", HCLFormatter.quote(p.username)), ("password", HCLFormatter.quote(redactSecrets ? "********" : p.password))])
                w.close()
            }
            if let wan = i.wan {
                w.open("wan")
                var a = [("priority", "\(wan.priority)"), ("weight", "\(wan.weight)")]
                if let bps = wan.bandwidthBitsPerSecond { a.append(("bandwidth", HCLFormatter.quote(formatBandwidth(bps)))) }
                w.attributes(a)
                w.close()
                if !grouped.contains(i.name), let hc = i.healthCheck {
                    healthCheck(hc, &w, builtIn: builtIn.contains(i.name))
                }
            }
            w.close()
        }

        for group in groups {
            w.blank()
            let implicit = config.uplinkGroups.isEmpty
            w.open("uplink_group \(HCLFormatter.quote(group.name))", comment: implicit ? "implicit: no uplink_group is declared" : nil)
            w.attributes([
                ("mode", HCLFormatter.quote(group.mode.rawValue)),
                ("sticky", "\(group.sticky)"),
                ("sticky_timeout", HCLFormatter.quote(DurationText.format(group.stickyTimeout))),
                ("all_down", HCLFormatter.quote(group.allDown.rawValue)),
                ("failback_moves_connections", "\(group.failbackMovesConnections)"),
            ])
            for member in group.members {
                w.blank()
                w.open("member \(HCLFormatter.quote(member.interface))")
                w.attributes([("priority", "\(member.priority)"), ("weight", "\(member.weight)")])
                if let hc = checks[member.interface] {
                    healthCheck(hc, &w, builtIn: builtIn.contains(member.interface))
                } else {
                    w.comment("no health check: judged by carrier only")
                }
                w.close()
            }
            w.close()
        }

        for set in config.ipsets {
            w.blank()
            w.open("ipset \(HCLFormatter.quote(set.name))")
            w.attributes([("entries", list(set.entries.map(\.description)))])
            w.close()
        }

        let defaultGroup = config.defaultGroupName ?? groups.first?.name
        for route in config.policyRoutes {
            w.blank()
            w.open("policy_route \(HCLFormatter.quote(route.name))")
            w.open("match")
            var m: [(String, String)] = []
            if !route.match.protocols.isEmpty { m.append(("protocol", list(route.match.protocols.map(\.rawValue)))) }
            if !route.match.destPorts.isEmpty { m.append(("dest_port", list(route.match.destPorts.map(\.description)))) }
            if !route.match.sources.isEmpty { m.append(("source", list(route.match.sources.map(\.description)))) }
            if !route.match.destinations.isEmpty { m.append(("destination", list(route.match.destinations.map(\.description)))) }
            if m.isEmpty { w.comment("matches all traffic") }
            w.attributes(m)
            w.close()
            let kind = interfaceNames.contains(route.uplink) ? "WAN" : "uplink_group"
            let fallbackNote = route.fallback
                ? "when \(route.uplink) is down: the default group" + (defaultGroup.map { " \(HCLFormatter.quote($0))" } ?? "")
                : "when \(route.uplink) is down: dropped"
            w.attributes([("uplink", HCLFormatter.quote(route.uplink)), ("fallback", "\(route.fallback)")],
                         comments: ["uplink": kind, "fallback": fallbackNote])
            w.close()
        }

        let n = config.notifications
        if !n.email.isEmpty || !n.webhook.isEmpty {
            w.blank()
            w.open("notifications")
            w.attributes([("coalesce", HCLFormatter.quote(DurationText.format(n.coalesce)))])
            func secret(_ value: String) -> String { HCLFormatter.quote(redactSecrets ? "<redacted>" : value) }
            for email in n.email {
                w.open("email")
                var a = [("enabled", "\(email.enabled)"), ("smtp", HCLFormatter.quote(email.smtp))]
                if let from = email.from { a.append(("from", HCLFormatter.quote(from))) }
                a.append(("to", list(email.to)))
                a.append(("events", list(email.events.map(\.rawValue))))
                if let username = email.username { a.append(("username", HCLFormatter.quote(username))) }
                if let password = email.password { a.append(("password", secret(password))) }
                a.append(("tls", HCLFormatter.quote(email.tls.rawValue)))
                if let caFile = email.caFile { a.append(("ca_file", HCLFormatter.quote(caFile))) }
                w.attributes(a)
                w.close()
            }
            for hook in n.webhook {
                w.open("webhook")
                let url = redactSecrets ? NotificationPolicy.redactedURL(hook.url) : hook.url
                var a = [("enabled", "\(hook.enabled)"), ("url", HCLFormatter.quote(url)),
                         ("events", list(hook.events.map(\.rawValue)))]
                if let value = hook.secret { a.append(("secret", secret(value))) }
                if let caFile = hook.caFile { a.append(("ca_file", HCLFormatter.quote(caFile))) }
                w.attributes(a)
                w.close()
            }
            w.close()
        }
        operations(config, redactSecrets: redactSecrets, &w)
        return w.output
    }

    /// `api` and `history`; the token shows as "<redacted>" unless asked for.
    static func operations(_ config: FlywallConfig, redactSecrets: Bool, _ w: inout HCLWriter) {
        w.blank()
        w.open("api")
        var a = [("listen", HCLFormatter.quote(config.api.listen))]
        if let token = config.api.token { a.append(("token", HCLFormatter.quote(redactSecrets ? "<redacted>" : token))) }
        w.attributes(a, comments: config.api.token == nil ? ["listen": "no token: every write endpoint is refused"] : [:])
        w.close()
        w.blank()
        w.open("history")
        w.attributes([("retention", HCLFormatter.quote(DurationText.format(config.history.retention))),
                      ("max_events", "\(config.history.maxEvents)")])
        w.close()
        guard let ha = config.ha else { return }
        w.blank()
        w.open("ha_pair", comment: "dataplane layout \(DataplaneLayout(config: config).fingerprint): must be equal on both routers")
        w.attributes([("role_file", HCLFormatter.quote(ha.roleFile))])
        w.close()
    }

    static func healthCheck(_ hc: HealthCheck, _ w: inout HCLWriter, builtIn: Bool) {
        w.open("health_check", comment: builtIn ? "built-in default: the file gives this WAN no health_check" : nil)
        var a: [(String, String)] = [("type", HCLFormatter.quote(hc.kind.rawValue))]
        switch hc.kind {
        case .icmp, .passive: a.append(("targets", list(hc.targets.map(\.description))))
        case .http:
            if let url = hc.url { a.append(("url", HCLFormatter.quote(url))) }
            a.append(("expected_status", "\(hc.expectedStatus)"))
            if let caFile = hc.caFile { a.append(("ca_file", HCLFormatter.quote(caFile))) }
        }
        a += [
            ("interval", HCLFormatter.quote(DurationText.format(hc.interval))),
            ("timeout", HCLFormatter.quote(DurationText.format(hc.timeout))),
        ]
        if hc.kind != .passive {
            a.append(("failure_interval", HCLFormatter.quote(DurationText.format(hc.failureInterval))))
            a.append(("recovery_interval", HCLFormatter.quote(DurationText.format(hc.recoveryInterval))))
            if let v = hc.standbyInterval { a.append(("standby_interval", HCLFormatter.quote(DurationText.format(v)))) }
        }
        a += [
            ("threshold_down", "\(hc.thresholdDown)"),
            ("threshold_up", "\(hc.thresholdUp)"),
            ("reliability", "\(hc.reliability)"),
            ("window", "\(hc.window)"),
        ]
        if let v = hc.maxLatency { a.append(("max_latency", HCLFormatter.quote(DurationText.format(v)))) }
        if let v = hc.recoverLatency, hc.maxLatency != nil { a.append(("recover_latency", HCLFormatter.quote(DurationText.format(v)))) }
        if let v = hc.maxLoss { a.append(("max_loss", HCLFormatter.number(v))) }
        if let v = hc.recoverLoss, hc.maxLoss != nil { a.append(("recover_loss", HCLFormatter.number(v))) }
        w.attributes(a)
        w.close()
    }

    /// 100000000 → "100Mbps"; falls back to a smaller unit when not a whole number of the larger.
    public static func formatBandwidth(_ bps: Int64) -> String {
        for (unit, scale) in [("Tbps", Int64(1_000_000_000_000)), ("Gbps", 1_000_000_000), ("Mbps", 1_000_000), ("kbps", 1_000)]
        where bps >= scale && bps % scale == 0 {
            return "\(bps / scale)\(unit)"
        }
        return "\(bps)bps"
    }

    static func list(_ items: [String]) -> String { "[" + items.map(HCLFormatter.quote).joined(separator: ", ") + "]" }

    // MARK: JSON

    /// The same resolved view as JSON (for `flywall config check --json`).
    public static func json(_ config: FlywallConfig) -> String {
        let groups = config.effectiveGroups
        func hcJSON(_ hc: HealthCheck?) -> JSONValue {
            guard let hc else { return .null }
            var o: [(String, JSONValue)] = [("type", .string(hc.kind.rawValue))]
            if hc.kind != .http { o.append(("targets", .array(hc.targets.map { .string($0.description) }))) }
            if hc.kind == .http {
                o.append(("url", hc.url.map(JSONValue.string) ?? .null))
                o.append(("expected_status", .int(hc.expectedStatus)))
                o.append(("ca_file", hc.caFile.map(JSONValue.string) ?? .null))
            }
            o += [
                ("interval", .string(DurationText.format(hc.interval))),
                ("timeout", .string(DurationText.format(hc.timeout))),
                ("failure_interval", hc.kind == .passive ? .null : .string(DurationText.format(hc.failureInterval))),
                ("recovery_interval", hc.kind == .passive ? .null : .string(DurationText.format(hc.recoveryInterval))),
                ("standby_interval", hc.standbyInterval.map { .string(DurationText.format($0)) } ?? .null),
                ("threshold_down", .int(hc.thresholdDown)), ("threshold_up", .int(hc.thresholdUp)),
                ("reliability", .int(hc.reliability)), ("window", .int(hc.window)),
                ("max_latency", hc.maxLatency.map { .string(DurationText.format($0)) } ?? .null),
                ("recover_latency", hc.maxLatency == nil ? .null : hc.recoverLatency.map { .string(DurationText.format($0)) } ?? .null),
                ("max_loss", hc.maxLoss.map(JSONValue.double) ?? .null),
                ("recover_loss", hc.maxLoss == nil ? .null : hc.recoverLoss.map(JSONValue.double) ?? .null),
            ]
            return .object(o)
        }
        let checks = config.effectiveHealthChecks
        func address(_ ip: IPAddress?) -> JSONValue { ip.map { .string($0.description) } ?? .null }
        let interfaces: [JSONValue] = config.interfaces.map { i in
            .object([
                ("name", .string(i.name)),
                ("zone", i.zone.map(JSONValue.string) ?? .null),
                ("dhcp", .bool(i.dhcp)),
                ("address", i.address.map { .string("\($0.address)/\($0.prefixLength)") } ?? .null),
                ("gateway", address(i.gateway)),
                ("gateway6", address(i.gateway6)),
                ("wan", i.wan.map { wan in
                    .object([("priority", .int(wan.priority)), ("weight", .int(wan.weight)),
                             ("bandwidth_bps", wan.bandwidthBitsPerSecond.map { .double(Double($0)) } ?? .null)])
                } ?? .null),
                ("pppoe", i.pppoe.map { .object([("username", .string($0.username))]) } ?? .null),
                ("health_check", hcJSON(i.wan == nil ? nil : checks[i.name])),
                ("health_check_is_default", .bool(i.healthCheckIsBuiltInDefault)),
            ])
        }
        let groupValues: [JSONValue] = groups.map { g in
            .object([
                ("name", .string(g.name)),
                ("implicit", .bool(config.uplinkGroups.isEmpty)),
                ("mode", .string(g.mode.rawValue)),
                ("sticky", .bool(g.sticky)),
                ("sticky_timeout", .string(DurationText.format(g.stickyTimeout))),
                ("all_down", .string(g.allDown.rawValue)),
                ("failback_moves_connections", .bool(g.failbackMovesConnections)),
                ("members", .array(g.members.map { m in
                    .object([("interface", .string(m.interface)), ("priority", .int(m.priority)),
                             ("weight", .int(m.weight)), ("health_check", hcJSON(checks[m.interface]))])
                })),
            ])
        }
        let routes: [JSONValue] = config.policyRoutes.map { r in
            .object([
                ("name", .string(r.name)),
                ("match", .object([
                    ("protocol", .array(r.match.protocols.map { .string($0.rawValue) })),
                    ("dest_port", .array(r.match.destPorts.map { .string($0.description) })),
                    ("source", .array(r.match.sources.map { .string($0.description) })),
                    ("destination", .array(r.match.destinations.map { .string($0.description) })),
                ])),
                ("uplink", .string(r.uplink)),
                ("fallback", .bool(r.fallback)),
            ])
        }
        let ipsets: [JSONValue] = config.ipsets.map { s in
            .object([("name", .string(s.name)), ("entries", .array(s.entries.map { .string($0.description) }))])
        }
        let n = config.notifications
        let redacted: (String?) -> JSONValue = { $0 == nil ? .null : .string("<redacted>") }
        let notifications: JSONValue = .object([
            ("coalesce", .string(DurationText.format(n.coalesce))),
            ("email", .array(n.email.map { e in
                .object([("enabled", .bool(e.enabled)), ("smtp", .string(e.smtp)), ("from", e.from.map(JSONValue.string) ?? .null),
                         ("to", .array(e.to.map(JSONValue.string))), ("events", .array(e.events.map { .string($0.rawValue) })),
                         ("username", e.username.map(JSONValue.string) ?? .null), ("password", redacted(e.password)),
                         ("tls", .string(e.tls.rawValue)), ("ca_file", e.caFile.map(JSONValue.string) ?? .null)])
            })),
            ("webhook", .array(n.webhook.map { h in
                .object([("enabled", .bool(h.enabled)), ("url", .string(NotificationPolicy.redactedURL(h.url))),
                         ("events", .array(h.events.map { .string($0.rawValue) })), ("secret", redacted(h.secret)),
                         ("ca_file", h.caFile.map(JSONValue.string) ?? .null)])
            })),
        ])
        return JSONValue.object([
            ("default_group", (config.defaultGroupName ?? groups.first?.name).map(JSONValue.string) ?? .null),
            ("interfaces", .array(interfaces)),
            ("uplink_groups", .array(groupValues)),
            ("policy_routes", .array(routes)),
            ("ipsets", .array(ipsets)),
            ("notifications", notifications),
            ("api", .object([("listen", .string(config.api.listen)),
                             ("token", config.api.token == nil ? .null : .string("<redacted>"))])),
            ("history", .object([("retention", .string(DurationText.format(config.history.retention))),
                                 ("max_events", .number("\(config.history.maxEvents)"))])),
            ("ha_pair", config.ha.map { .object([("role_file", .string($0.roleFile)),
                                            ("layout_fingerprint", .string(DataplaneLayout(config: config).fingerprint))]) } ?? .null),
        ]).serialized(scalarArraysOnOneLine: true) + "\n"
    }

    /// Diagnostics as JSON: `{"ok": false, "errors": [{"file", "line", "column", "message"}]}`.
    public static func json(_ diagnostics: DiagnosticList) -> String {
        JSONValue.object([
            ("ok", .bool(false)),
            ("errors", .array(diagnostics.diagnostics.map { d in
                .object([("file", .string(d.location.file)), ("line", .int(d.location.line)),
                         ("column", .int(d.location.column)), ("message", .string(d.message))])
            })),
        ]).serialized(scalarArraysOnOneLine: true) + "\n"
    }
}

/// Builds indented HCL text with aligned `=` signs.
struct HCLWriter {
    var output = ""
    var depth = 0

    var indent: String { String(repeating: "  ", count: depth) }

    mutating func blank() { if !output.isEmpty && !output.hasSuffix("{\n") { output += "\n" } }
    mutating func comment(_ text: String) { output += "\(indent)# \(text)\n" }

    mutating func open(_ header: String, comment: String? = nil) {
        output += "\(indent)\(header) {" + (comment.map { "  # \($0)" } ?? "") + "\n"
        depth += 1
    }

    mutating func close() {
        depth -= 1
        output += "\(indent)}\n"
    }

    mutating func attributes(_ items: [(String, String)], comments: [String: String] = [:]) {
        let width = items.map(\.0.count).max() ?? 0
        let valueWidth = items.filter { comments[$0.0] != nil }.map(\.1.count).max() ?? 0
        for (key, value) in items {
            let pad = String(repeating: " ", count: width - key.count)
            if let c = comments[key] {
                let vpad = String(repeating: " ", count: valueWidth - value.count)
                output += "\(indent)\(key)\(pad) = \(value)\(vpad)  # \(c)\n"
            } else {
                output += "\(indent)\(key)\(pad) = \(value)\n"
            }
        }
    }
}
