import Testing
@testable import Domain

// MARK: - Helpers

private let file = "flywall.hcl"

private func load(_ source: String) throws -> FlywallConfig {
    try ConfigDecoder.load(source: source, file: file)
}

/// The problems of `source` as "line:col: message" (file checked separately), or [] when it decodes.
private func problems(_ source: String) -> [String] { decodingProblems(source, file: file) }

private func addr(_ s: String) -> IPAddress { IPAddress(s)! }
private func net(_ s: String) -> CIDR { CIDR(s)! }

/// Two WANs as on the spec page ("Interface Configuration"), for snippets that need them.
private let specInterfaces = SpecSnippets.basicDualWAN

/// A compact base for error tests: 8 lines, so appended text starts on line 9.
private let base = """
interface "eth0" {
  wan { priority = 1 }
}
interface "eth1" {
  wan { priority = 2 }
}
interface "lan0" { zone = "LAN" }
ipset "cdn" { entries = ["198.51.100.0/24"] }
"""

// MARK: - Every snippet on the spec page

@Suite("Config decoder: spec page snippets")
struct ConfigSpecSnippetTests {
    @Test func basicDualWANInterfaces() throws {
        let config = try load(specInterfaces)
        #expect(config.interfaces.map(\.name) == ["eth0", "eth1"])
        let eth0 = try #require(config.interface(named: "eth0"))
        #expect(eth0.zone == "WAN")
        #expect(eth0.dhcp)
        #expect(eth0.wan == WANSettings(priority: 1, weight: 1))
        #expect(config.interface(named: "eth1")?.wan == WANSettings(priority: 2, weight: 1))
        #expect(eth0.location == Domain.SourceLocation(file: file, line: 2, column: 1))
        // No uplink_group: an implicit failover group "default" of all WANs.
        #expect(config.uplinkGroups.isEmpty)
        let implicit = try #require(config.effectiveGroups.first)
        #expect(implicit.name == "default" && implicit.mode == .failover)
        #expect(implicit.members.map(\.interface) == ["eth0", "eth1"])
        #expect(implicit.members.map(\.priority) == [1, 2])
    }

    @Test func uplinkGroupFailover() throws {
        let config = try load(specInterfaces + "\n" + SpecSnippets.uplinkGroups)
        let group = try #require(config.group(named: "default"))
        #expect(group.mode == .failover)
        #expect(group.members == [Member(interface: "eth0", priority: 1, weight: 1),
                                  Member(interface: "eth1", priority: 2, weight: 1)])
        #expect(group.sticky == false)
        #expect(group.stickyTimeout == .seconds(600))
        #expect(group.allDown == .lastActive)
        #expect(group.failbackMovesConnections == false)
        #expect(config.defaultGroupName == "default")
    }

    @Test func memberHealthChecks() throws {
        let config = try load(specInterfaces + "\n" + SpecSnippets.healthChecks)
        let eth0 = try #require(config.healthCheck(for: "eth0"))
        #expect(eth0.kind == .icmp)
        #expect(eth0.targets == [addr("1.1.1.1"), addr("8.8.8.8")])
        #expect(eth0.interval == .seconds(5))
        #expect(eth0.thresholdDown == 3)
        #expect(eth0.thresholdUp == 2)
        #expect(eth0.timeout == .seconds(2))
        let eth1 = try #require(config.healthCheck(for: "eth1"))
        #expect(eth1.targets == [addr("1.0.0.1"), addr("8.8.4.4")])
        // Defaults filled in.
        #expect(eth1.timeout == .seconds(2))
        #expect(eth1.reliability == 1)
        #expect(eth1.window == 10)
        #expect(eth1.maxLatency == nil && eth1.maxLoss == nil)
    }

    static let httpCheck = SpecSnippets.httpHealthCheck

    @Test func customHTTPCheckAsWritten() throws {
        // As written on the page: a top-level health_check, the default for every WAN without one.
        let alone = try load(Self.httpCheck)
        #expect(alone.interfaces.isEmpty)
        let config = try load(specInterfaces + "\n" + Self.httpCheck)
        for wan in ["eth0", "eth1"] {
            let hc = try #require(config.healthCheck(for: wan))
            #expect(hc.kind == .http)
            #expect(hc.url == "http://connectivitycheck.gstatic.com/generate_204")
            #expect(hc.expectedStatus == 204)
            #expect(hc.interval == .seconds(10))
            #expect(hc.thresholdDown == 2)
            #expect(hc.thresholdUp == 2)
            #expect(hc.timeout == .seconds(2))
            #expect(hc.targets.isEmpty)
        }
    }

    @Test func customHTTPCheckInsideAMember() throws {
        let config = try load(specInterfaces + """

        uplink_group "default" {
          member "eth0" {
        \(Self.httpCheck)
          }
          member "eth1" {}
        }
        """)
        let hc = try #require(config.group(named: "default")?.members.first?.healthCheck)
        #expect(hc.kind == .http && hc.expectedStatus == 204 && hc.interval == .seconds(10))
        #expect(config.healthCheck(for: "eth1") == HealthCheck.builtInDefault)
    }

    @Test func loadBalancing() throws {
        let config = try load(specInterfaces + "\n" + SpecSnippets.loadBalancing)
        let group = try #require(config.group(named: "balanced"))
        #expect(group.mode == .balance)
        #expect(group.members.map(\.weight) == [2, 1])
        // Priorities come from the interfaces' wan blocks.
        #expect(group.members.map(\.priority) == [1, 2])
        // Not named "default", but the only group: it is the default group.
        #expect(config.defaultGroupName == "balanced")
    }

    @Test func stickySessions() throws {
        let config = try load(specInterfaces + "\n" + SpecSnippets.stickySessions)
        let group = try #require(config.group(named: "balanced"))
        #expect(group.sticky)
        #expect(group.stickyTimeout == .seconds(3600))
        #expect(group.members.map(\.interface) == ["eth0", "eth1"])
        #expect(group.members.map(\.weight) == [1, 1])
    }

    @Test func policyRoutes() throws {
        let config = try load(specInterfaces + """

        ipset "streaming_services" {
          entries = ["198.51.100.0/24", "203.0.113.7"]
        }

        # Work VPN always through primary WAN
        policy_route "work-vpn" {
          match {
            protocol  = "udp"
            dest_port = ["1194"]  # OpenVPN
          }

          uplink = "eth0"
        }

        # Video streaming through secondary (if it's faster)
        policy_route "streaming" {
          match {
            destination = ["@streaming_services"]  # IPSet
          }

          uplink = "eth1"
        }

        # Gaming always through low-latency connection
        policy_route "gaming" {
          match {
            source    = ["192.168.1.50"]  # Gaming PC
            protocol  = "udp"
          }

          uplink = "eth0"
        }
        """)
        #expect(config.policyRoutes.map(\.name) == ["work-vpn", "streaming", "gaming"])
        let vpn = config.policyRoutes[0]
        #expect(vpn.match.protocols == [.udp])
        #expect(vpn.match.destPorts == [PortRange(1194)])
        #expect(vpn.uplink == "eth0")
        #expect(vpn.fallback == true)
        let streaming = config.policyRoutes[1]
        #expect(streaming.match.destinations == [.ipset("streaming_services")])
        #expect(streaming.uplink == "eth1")
        let gaming = config.policyRoutes[2]
        #expect(gaming.match.sources == [.cidr(net("192.168.1.50/32"))])
        #expect(gaming.match.protocols == [.udp])
        #expect(gaming.match.destPorts.isEmpty)
        #expect(config.ipset(named: "streaming_services")?.entries == [net("198.51.100.0/24"), net("203.0.113.7/32")])
    }

    @Test func cableAndDSL() throws {
        let config = try load(SpecSnippets.cableDSL)
        #expect(config.interface(named: "eth0")?.wan == WANSettings(priority: 1, weight: 1, bandwidthBitsPerSecond: 100_000_000))
        let dsl = try #require(config.interface(named: "eth1"))
        #expect(dsl.pppoe == PPPoE(username: "user@isp.com", password: "secret"))
        #expect(dsl.dhcp == false)
        #expect(dsl.wan == WANSettings(priority: 2, weight: 1, bandwidthBitsPerSecond: 20_000_000))
        #expect(config.effectiveGroups.first?.members.map(\.interface) == ["eth0", "eth1"])
    }

    @Test func lteBackup() throws {
        let config = try load(SpecSnippets.lteBackup)
        #expect(config.interface(named: "eth0")?.wan == WANSettings(priority: 1))
        // No health_check for eth0: the built-in default, marked as such (config check warns).
        #expect(config.interface(named: "eth0")?.healthCheck == HealthCheck.builtInDefault)
        #expect(config.interface(named: "eth0")?.healthCheckIsBuiltInDefault == true)
        #expect(config.warnings.map(\.location.line) == [1])
        #expect(config.warnings.first?.message.hasPrefix("WAN \"eth0\" has no health_check: it gets the built-in default") == true)
        let lte = try #require(config.interface(named: "usb0"))
        #expect(lte.wan?.priority == 10)
        let hc = try #require(lte.healthCheck)
        #expect(hc.kind == .icmp)
        #expect(hc.interval == .seconds(10))
        #expect(hc.thresholdDown == 2)
        #expect(hc.thresholdUp == 3)
        #expect(hc.timeout == .seconds(2))
        // No targets written: the documented default targets.
        #expect(hc.targets == ConfigDecoder.defaultICMPTargets)
        #expect(config.healthCheck(for: "usb0") == hc)
        #expect(config.effectiveGroups.first?.members.map(\.priority) == [1, 10])
    }

    @Test func notifications() throws {
        let config = try load(SpecSnippets.notifications)
        let email = try #require(config.notifications.email.first)
        #expect(email == Notifications.Email(enabled: true, smtp: "smtp.gmail.com:587", to: ["admin@example.com"],
                                             events: [.wanDown, .wanUp, .failover]))
        let hook = try #require(config.notifications.webhook.first)
        #expect(hook == Notifications.Webhook(enabled: true, url: "https://hooks.slack.com/services/xxx",
                                              events: [.wanDown, .failover]))
    }

    @Test func troubleshootingFragments() throws {
        let config = try load(specInterfaces + """

        uplink_group "default" {
          mode = "balance"  # Not "failover"
          member "eth0" {
            health_check {
              interval = "2s"
              threshold_down = 2
            }
          }
          member "eth1" {
            health_check {
              targets = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
            }
          }
        }
        """)
        #expect(config.group(named: "default")?.mode == .balance)
        let fast = try #require(config.healthCheck(for: "eth0"))
        #expect(fast.interval == .seconds(2) && fast.thresholdDown == 2 && fast.timeout == .seconds(2))
        #expect(config.healthCheck(for: "eth1")?.targets.count == 3)
    }
}

// MARK: - Defaults and extra features

@Suite("Config decoder: defaults and values")
struct ConfigDefaultsTests {
    @Test func healthCheckDefaults() throws {
        let config = try load(base + """

        uplink_group "g" {
          member "eth0" {
            health_check { targets = ["192.0.2.1"] }
          }
          member "eth1" {
            health_check { url = "https://example.com/health" }
          }
        }
        """)
        let icmp = try #require(config.healthCheck(for: "eth0"))
        #expect(icmp == HealthCheck(kind: .icmp, targets: [addr("192.0.2.1")], url: nil, expectedStatus: 200,
                                    interval: .seconds(5), timeout: .seconds(2), thresholdDown: 3, thresholdUp: 2,
                                    reliability: 1, window: 10))
        let http = try #require(config.healthCheck(for: "eth1"))
        #expect(http.kind == .http)   // inferred from url
        #expect(http.expectedStatus == 200)
        #expect(http.url == "https://example.com/health")
    }

    @Test func timeoutDefaultsToIntervalWhenShorterThanTwoSeconds() throws {
        let config = try load(base + """

        health_check {
          interval = "500ms"
        }
        """)
        #expect(config.healthCheck(for: "eth0")?.timeout == .milliseconds(500))
        #expect(config.healthCheck(for: "eth0")?.interval == .milliseconds(500))
        #expect(config.interface(named: "lan0")?.healthCheck == nil)
    }

    @Test func qualityThresholdsWithHysteresis() throws {
        let config = try load(base + """

        uplink_group "g" {
          member "eth0" {
            health_check {
              targets     = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
              reliability = 2
              window      = 20
              max_latency = "150ms"
              max_loss    = 10
            }
          }
          member "eth1" {
            health_check {
              type            = "icmp"
              targets         = ["1.1.1.1"]
              max_latency     = "1h"
              recover_latency = "30m"
              max_loss        = 20.5
              recover_loss    = 5
            }
          }
        }
        """)
        let a = try #require(config.healthCheck(for: "eth0"))
        #expect(a.reliability == 2 && a.window == 20)
        #expect(a.maxLatency == .milliseconds(150))
        #expect(a.recoverLatency == .milliseconds(120))   // 80% by default
        #expect(a.maxLoss == 10 && a.recoverLoss == 5)      // half by default
        let b = try #require(config.healthCheck(for: "eth1"))
        #expect(b.maxLatency == .seconds(3600) && b.recoverLatency == .seconds(1800))
        #expect(b.maxLoss == 20.5 && b.recoverLoss == 5)
    }

    @Test func memberDefaultsComeFromTheInterface() throws {
        let config = try load("""
        interface "eth0" {
          wan {
            priority = 3
            weight   = 5
          }
        }
        interface "ppp" {
          pppoe {
            username = "u"
            password = "p"
          }
        }
        uplink_group "g" {
          member "eth0" {}
          member "ppp" { priority = 0 }
        }
        """)
        let members = try #require(config.group(named: "g")?.members)
        #expect(members[0] == Member(interface: "eth0", priority: 3, weight: 5))
        // A PPPoE interface is a WAN even without a wan block (priority 1, weight 1).
        #expect(config.interface(named: "ppp")?.wan == WANSettings())
        #expect(members[1] == Member(interface: "ppp", priority: 0, weight: 1))
    }

    @Test func staticAddressingAndGroupSettings() throws {
        let config = try load("""
        interface "eth0" {
          zone    = "WAN"
          address = "203.0.113.2/30"
          gateway = "203.0.113.1"
          wan {}
        }
        interface "eth1" {
          address = "2001:db8::2/64"
          gateway = "2001:db8::1"
          wan {}
        }
        interface "lan0" {
          zone    = "LAN"
          address = "192.168.1.1/24"
        }
        uplink_group "default" {
          mode                       = failover
          all_down                   = "unreachable"
          failback_moves_connections = true
          sticky_timeout             = "90s"
          member "eth0" {}
          member "eth1" {}
        }
        policy_route "p" {
          match {
            protocol  = ["tcp", "udp"]
            dest_port = [443, "8000-8080", "53"]
            source    = "192.168.1.0/25"
          }
          uplink   = "default"
          fallback = false
        }
        """)
        let wan = try #require(config.interface(named: "eth0"))
        #expect(wan.address == net("203.0.113.2/30") && wan.gateway == addr("203.0.113.1") && !wan.dhcp)
        #expect(config.interface(named: "eth1")?.gateway == addr("2001:db8::1"))
        #expect(config.interface(named: "lan0")?.zone == "LAN" && config.interface(named: "lan0")?.wan == nil)
        #expect(config.wans.map(\.name) == ["eth0", "eth1"])
        let group = try #require(config.group(named: "default"))
        #expect(group.mode == .failover && group.allDown == .unreachable && group.failbackMovesConnections)
        #expect(group.stickyTimeout == .seconds(90))
        let route = config.policyRoutes[0]
        #expect(route.match.protocols == [.tcp, .udp])
        #expect(route.match.destPorts == [PortRange(443), PortRange(8000, 8080), PortRange(53)])
        #expect(route.match.sources == [.cidr(net("192.168.1.0/25"))])
        #expect(route.uplink == "default" && route.fallback == false)
    }

    @Test func notificationDefaults() throws {
        let config = try load("""
        notifications {
          email {
            smtp = "[2001:db8::25]:25"
            from = "router@example.com"
            to   = ["a@example.com", "b@example.com"]
          }
          webhook { url = "http://127.0.0.1:9000/hook" }
        }
        """)
        let email = try #require(config.notifications.email.first)
        #expect(email.enabled && email.from == "router@example.com" && email.to.count == 2)
        #expect(email.events == WANEventKind.allCases)
        #expect(config.notifications.webhook.first?.events == WANEventKind.allCases)
    }

    @Test(arguments: [("500ms", Int64(500_000_000)), ("5s", 5_000_000_000), ("2m", 120_000_000_000),
                      ("1h", 3_600_000_000_000), ("1h30m", 5_400_000_000_000), ("1.5s", 1_500_000_000),
                      ("0s", 0), ("250us", 250_000)])
    func durations(_ text: String, _ nanoseconds: Int64) throws {
        let d = try DurationText.parse(text).get()
        #expect(d.nanoseconds == nanoseconds)
        #expect(try DurationText.parse(DurationText.format(d)).get() == d)
    }

    @Test(arguments: [("5x", "unknown unit \"x\" (use ns, us, ms, s, m, h or d)"), ("5", "missing unit (e.g. \"5s\"; units: ns, us, ms, s, m, h, d)"),
                      ("", "empty (write e.g. \"5s\")"), ("s", "expected a number before \"s\""),
                      ("-5s", "must not be negative"), ("1h3", "missing unit (e.g. \"1h3s\"; units: ns, us, ms, s, m, h, d)"),
                      // Found by the scenario-decoder fuzzer: a trailing "." once read past the end.
                      ("5s.", "expected digits after \".\""), (".", "expected digits after \".\"")])
    func badDurations(_ text: String, _ message: String) {
        guard case .failure(let problem) = DurationText.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        #expect(problem.message == message)
    }

    /// Parsed to bits per second, and printed back in the largest unit that divides it exactly.
    @Test(arguments: [("100Mbps", Int64(100_000_000), "100Mbps"), ("1Gbps", 1_000_000_000, "1Gbps"),
                      ("512kbps", 512_000, "512kbps"), ("1.5Gbps", 1_500_000_000, "1500Mbps"),
                      ("64001bps", 64_001, "64001bps")])
    func bandwidths(_ text: String, _ bps: Int64, _ printed: String) throws {
        #expect(try ConfigDecoding.parseBandwidth(text).get() == bps)
        #expect(ResolvedConfigPrinter.formatBandwidth(bps) == printed)
    }

    @Test func suggestions() {
        #expect(Suggest.closest(to: "threshhold_down", in: ConfigDecoding.healthCheckAttributes) == "threshold_down")
        #expect(Suggest.closest(to: "intervall", in: ConfigDecoding.healthCheckAttributes) == "interval")
        #expect(Suggest.closest(to: "zzz", in: ConfigDecoding.healthCheckAttributes) == nil)
        #expect(Suggest.editDistance("kitten", "sitting") == 3)
    }
}

// MARK: - Errors

@Suite("Config decoder: errors")
struct ConfigErrorTests {
    @Test func syntaxErrorsComeFromTheParserWithTheFileName() throws {
        do {
            _ = try ConfigDecoder.load(source: "interface \"eth0\" {\n  zone = \n}\n", file: "conf/router.hcl")
            Issue.record("expected an error")
        } catch {
            let d = try #require(error.diagnostics.first)
            #expect(d.location.file == "conf/router.hcl")
            #expect(d.location.line == 2)
            #expect(d.description.hasPrefix("conf/router.hcl:2:"))
            #expect(d.description.contains(": error: "))
        }
        // The one-line block rule is the parser's.
        #expect(problems("interface \"eth0\" { zone = \"WAN\", dhcp = true }").count >= 1)
    }

    @Test func unknownBlocksAndAttributesWithSuggestions() {
        #expect(problems(base + """

        uplink_grup "g" {}
        interface "eth2" {
          zonee = "WAN"
          wan {
            prority = 1
          }
          interval = "5s"
          health_check = {}
        }
        """) == [
            "9:1: unknown block 'uplink_grup'; did you mean 'uplink_group'?",
            "11:3: unknown attribute 'zonee' in interface \"eth2\"; did you mean 'zone'?",
            "13:5: unknown attribute 'prority' in wan; did you mean 'priority'?",
            "15:3: unknown attribute 'interval' in interface \"eth2\"",
            "16:3: 'health_check' is a block, not an attribute: write health_check { ... }",
        ])
        #expect(problems("""
        interface "eth0" {
          wan {}
          health_check {
            threshhold_down = 3
          }
        }
        """) == ["4:5: unknown attribute 'threshhold_down' in health_check; did you mean 'threshold_down'?"])
    }

    @Test func wrongTypes() {
        #expect(problems("""
        interface "eth0" {
          zone = 1
          dhcp = "yes"
          wan {
            weight = "2"
            priority = 1.5
          }
        }
        uplink_group "g" {
          sticky = 1
          mode = "fast"
          member "eth0" {}
        }
        """) == [
            "2:10: zone: expected a string, got the number 1",
            "3:10: dhcp: expected true or false, got a string",
            "5:14: weight: expected a number, got a string",
            "6:16: priority: expected a whole number, got 1.5",
            "10:12: sticky: expected true or false, got the number 1",
            "11:10: mode: unknown value \"fast\" (expected \"failover\" or \"balance\")",
        ])
    }

    @Test func badDurationsInConfigs() {
        #expect(problems("""
        interface "eth0" {
          wan {}
          health_check {
            interval = "5x"
            timeout  = 2
          }
        }
        uplink_group "g" {
          sticky_timeout = "0s"
          member "eth0" {}
        }
        """) == [
            "4:16: interval: invalid duration \"5x\": unknown unit \"x\" (use ns, us, ms, s, m, h or d)",
            "5:16: timeout: expected a duration string such as \"2s\", got the number 2",
            "9:20: sticky_timeout: must be greater than 0, got \"0s\"",
        ])
    }

    @Test func outOfRangeValues() {
        #expect(problems("""
        interface "eth0" {
          wan {
            priority = -1
            weight   = 0
          }
          health_check {
            url             = "http://192.0.2.1/"
            expected_status = 999
            threshold_down  = 0
            threshold_up    = 0
            max_loss        = 101
            timeout         = "10s"
          }
        }
        interface "eth1" {
          wan {}
          health_check {
            targets     = ["1.1.1.1", "8.8.8.8"]
            reliability = 3
            window      = 0
          }
        }
        """) == [
            "3:16: priority: must not be negative, got -1",
            "4:16: weight: must be at least 1, got 0",
            "8:23: expected_status: must be between 100 and 599, got 999",
            "9:23: threshold_down: must be at least 1, got 0",
            "10:23: threshold_up: must be at least 1, got 0",
            "11:23: max_loss: must be between 0 and 100, got 101",
            "12:23: timeout: must not be longer than interval (5s), got \"10s\"",
            "19:19: reliability: 3 targets must answer, but the check has only 2 targets",
            "20:19: window: must be at least 1, got 0",
        ])
    }

    @Test func probeCadences() throws {
        let config = try load("""
        interface "eth0" {
          wan {}
          health_check {
            interval          = "1s"
            failure_interval  = "100ms"
            recovery_interval = "500ms"
            standby_interval  = "60s"
          }
        }
        interface "eth1" {
          wan {}
          health_check { interval = "3s" }
        }
        """)
        let fast = try #require(config.healthCheck(for: "eth0"))
        #expect(fast.failureInterval == .milliseconds(100) && fast.recoveryInterval == .milliseconds(500))
        #expect(fast.standbyInterval == .seconds(60))
        #expect(fast.timeout == .milliseconds(100), "the default timeout fits the shortest cadence")
        let plain = try #require(config.healthCheck(for: "eth1"))
        #expect(plain.failureInterval == .seconds(3) && plain.recoveryInterval == .seconds(3) && plain.standbyInterval == nil)
        #expect(problems("""
        interface "eth0" {
          wan {}
          health_check {
            failure_interval = "500ms"
            timeout          = "1s"
            standby_interval = 60
          }
        }
        interface "eth1" {
          wan {}
          health_check {
            type              = "passive"
            recovery_interval = "1s"
          }
        }
        """) == [
            "5:24: timeout: must not be longer than failure_interval (500ms), got \"1s\"",
            "6:24: standby_interval: expected a duration string such as \"60s\", got the number 60",
            "13:5: recovery_interval: passive checks send no probes to space out (this check's type is \"passive\")",
        ])
    }

    @Test func httpsCAFile() throws {
        let config = try load("""
        interface "eth0" {
          wan {}
          health_check {
            url     = "https://check.example/204"
            ca_file = "/etc/flywall/ca.pem"
          }
        }
        """)
        #expect(config.healthCheck(for: "eth0")?.caFile == "/etc/flywall/ca.pem")
        #expect(problems("""
        interface "eth0" {
          wan {}
          health_check {
            url     = "http://check.example/204"
            ca_file = "/etc/flywall/ca.pem"
          }
        }
        interface "eth1" {
          wan {}
          health_check {
            url     = "https://check.example/204"
            ca_file = "ca.pem"
          }
        }
        """) == [
            "5:5: ca_file: only https checks use a CA file (this check's url is not https://)",
            "12:15: ca_file: must be an absolute path, got \"ca.pem\"",
        ])
    }

    @Test func hysteresisMustRunTheRightWay() {
        #expect(problems(base + """

        health_check {
          max_latency     = "100ms"
          recover_latency = "200ms"
          max_loss        = 5
          recover_loss    = 10
        }
        """) == [
            "11:21: recover_latency: must not be above max_latency (100ms), got \"200ms\"",
            "13:21: recover_loss: must not be above max_loss (5), got 10",
        ])
    }

    @Test func duplicateNamesPointAtTheSecond() {
        #expect(problems(base + """

        interface "eth0" { zone = "X" }
        ipset "cdn" { entries = [] }
        uplink_group "g" {
          member "eth0" {}
          member "eth0" {}
        }
        uplink_group "g" {
          member "eth1" {}
        }
        policy_route "p" {
          match {}
          uplink = "eth0"
        }
        policy_route "p" {
          match {}
          uplink = "eth1"
        }
        """) == [
            "9:11: duplicate interface \"eth0\"; first defined at 1:11",
            "10:7: duplicate ipset \"cdn\"; first defined at 8:7",
            "13:10: duplicate member \"eth0\"; first defined at 12:10",
            "15:14: duplicate uplink_group \"g\"; first defined at 11:14",
            "22:14: duplicate policy_route \"p\"; first defined at 18:14",
        ])
    }

    @Test func undefinedReferences() {
        #expect(problems(base + """

        uplink_group "g" {
          member "eth2" {}
        }
        policy_route "a" {
          match { destination = ["@cnd", "10.0.0.0/8"] }
          uplink = "g2"
        }
        policy_route "b" {
          match { source = "@" }
          uplink = "nowhere"
        }
        """) == [
            "10:10: member \"eth2\": no interface named \"eth2\"; did you mean \"eth0\"?",
            "13:26: destination: no ipset named \"cnd\"; did you mean \"cdn\"?",
            "14:12: uplink: no WAN or uplink_group named \"g2\"; did you mean \"g\"?",
            "17:20: source: \"@\" needs an ipset name, e.g. \"@streaming_services\"",
            "18:12: uplink: no WAN or uplink_group named \"nowhere\"",
        ])
    }

    @Test func membersAndUplinksMustBeWANs() {
        #expect(problems(base + """

        uplink_group "g" {
          member "lan0" {}
        }
        policy_route "p" {
          match {}
          uplink = "lan0"
        }
        interface "lan1" {
          health_check {}
        }
        """) == [
            "10:10: member \"lan0\": interface \"lan0\" is not a WAN (give it a wan { } or pppoe { } block, or zone = \"WAN\")",
            "14:12: uplink: interface \"lan0\" is not a WAN (give it a wan { } or pppoe { } block)",
            "17:3: health_check applies to WANs, and interface \"lan1\" has no wan or pppoe block",
        ])
    }

    @Test func malformedAddressesURLsAndPorts() {
        #expect(problems("""
        interface "eth0" {
          address = "203.0.113.300/30"
          gateway = "203.0.113"
          wan {}
          health_check {
            targets = ["1.1.1.1", "1.1.1", "1.1.1.1"]
          }
        }
        interface "eth1" {
          address = "10.0.0.2"
          wan {}
          health_check { url = "ftp://example.com/x" }
        }
        interface "eth2" {
          wan {}
          health_check {
            type = "http"
            url  = "http:///path"
          }
        }
        ipset "s" { entries = ["10.0.0.0/33"] }
        policy_route "p" {
          match {
            dest_port   = [0, 65536, "2000-1000", "http"]
            destination = ["999.1.1.1"]
          }
          uplink = "eth0"
        }
        notifications {
          email {
            smtp = "smtp.example.com"
            to   = ["nobody"]
          }
          webhook { url = "https://:443/x" }
        }
        """) == [
            "2:13: address: \"203.0.113.300/30\" is not an address with prefix (e.g. \"203.0.113.2/30\")",
            "3:13: gateway: \"203.0.113\" is not an IP address",
            "6:27: targets: \"1.1.1\" is not an IP address",
            "6:36: targets: 1.1.1.1 is listed twice",
            "10:13: address: \"10.0.0.2\" needs a prefix length, e.g. \"10.0.0.2/24\"",
            "12:24: url: \"ftp://example.com/x\" is not an http:// or https:// URL",
            "18:12: url: \"http:///path\" has no host",
            "21:24: entries: \"10.0.0.0/33\" is not an IP address or CIDR prefix",
            "24:20: dest_port: port 0 is out of range (1-65535)",
            "24:23: dest_port: port 65536 is out of range (1-65535)",
            "24:30: dest_port: port range \"2000-1000\" runs backwards",
            "24:43: dest_port: \"http\" is not a port or port range (e.g. \"443\" or \"1000-2000\")",
            "25:20: destination: \"999.1.1.1\" is not an IP address, CIDR prefix or @ipset",
            "31:12: smtp: \"smtp.example.com\" needs a port: write host:port, e.g. \"smtp.example.com:587\"",
            "32:13: to: \"nobody\" is not an email address",
            "34:19: url: \"https://:443/<redacted>\" has no host",  // a webhook path is a credential
        ])
        #expect(problems("""
        notifications {
          email {
            smtp = "mail:99999"
            to   = ["a@b.example"]
            events = ["wan_dwn"]
          }
        }
        """) == [
            "3:12: smtp: \"mail:99999\" has an invalid port \"99999\" (1-65535)",
            "5:15: events: unknown value \"wan_dwn\" (expected \"wan_down\", \"wan_up\", \"failover\", \"failback\" or \"all_down\"); did you mean \"wan_down\"?",
        ])
    }

    @Test func checkKindsNeedTheirInputs() {
        #expect(problems(base + """

        uplink_group "g" {
          member "eth0" {
            health_check {
              type = "http"
            }
          }
          member "eth1" {
            health_check {
              targets = []
              url     = "http://example.com/"
            }
          }
        }
        health_check {
          type    = "passive"
          targets = ["1.1.1.1"]
          url     = "http://example.com/"
        }
        """) == [
            "11:5: an HTTP health check needs url = \"http://...\"",
            "17:7: targets: only ICMP and passive checks use targets (this check's type is \"http\")",
            "25:3: url: only HTTP checks use url (this check's type is \"passive\")",
        ])
        #expect(problems(base + "\nhealth_check { targets = [] }") ==
                ["9:26: targets: an ICMP health check needs at least one target"])
    }

    @Test func conflictingMemberHealthChecksAcrossGroups() {
        #expect(problems(base + """

        uplink_group "a" {
          member "eth0" {
            health_check { targets = ["1.1.1.1"] }
          }
        }
        uplink_group "b" {
          member "eth0" {
            health_check { targets = ["9.9.9.9"] }
          }
          member "eth1" {}
        }
        uplink_group "c" {
          member "eth0" {
            health_check { targets = ["1.1.1.1"] }
          }
        }
        """) == [
            "16:5: conflicting health_check for \"eth0\": uplink_group \"a\" gives it a different one at 11:5 (a WAN has one health check)",
        ])
    }

    @Test func missingLabelsAndAttributes() {
        #expect(problems(base + """

        interface { zone = "X" }
        uplink_group "empty" {}
        policy_route "p" {
          fallback = true
        }
        ipset "s" {}
        interface "eth5" {
          pppoe { username = "u" }
        }
        notifications {
          webhook { enabled = false }
        }
        wan {}
        """) == [
            "9:1: interface needs a name: interface \"eth0\" { ... }",
            "10:14: uplink_group \"empty\" has no members; add member \"eth0\" { }",
            "11:14: policy_route \"p\" needs a match block, e.g. match { protocol = \"udp\" }",
            "11:14: policy_route \"p\" is missing required attribute 'uplink' (e.g. uplink = \"eth0\")",
            "14:7: ipset is missing required attribute 'entries' (e.g. entries = [\"198.51.100.0/24\"])",
            "16:3: pppoe is missing required attribute 'password' (e.g. password = \"secret\")",
            "19:3: webhook is missing required attribute 'url' (e.g. url = \"https://hooks.example.com/...\")",
            "21:1: unknown block 'wan'",
        ])
    }

    @Test func nonIntegerWhereIntegerRequired() {
        #expect(problems(base + """

        health_check {
          threshold_down = 1.5
          threshold_up   = "2"
        }
        """) == [
            "10:20: threshold_down: expected a whole number, got 1.5",
            "11:20: threshold_up: expected a number, got a string",
        ])
    }

    @Test func allErrorsInOneRunSortedWithFullFormat() throws {
        let source = """
        interface "eth0" {
          wan { weight = 0 }
          health_check { interval = "5x" }
        }
        uplink_group "g" {
          member "eth9" {}
        }
        """
        do {
            _ = try ConfigDecoder.load(source: source, file: "multi.hcl")
            Issue.record("expected errors")
        } catch {
            #expect(error.description == """
            multi.hcl:2:18: error: weight: must be at least 1, got 0
            multi.hcl:3:29: error: interval: invalid duration "5x": unknown unit "x" (use ns, us, ms, s, m, h or d)
            multi.hcl:6:10: error: member "eth9": no interface named "eth9"; did you mean "eth0"?
            """)
        }
    }

    /// `gateway6`: the static IPv6 next hop of a dual-stack WAN; it must be IPv6 and not repeat
    /// an IPv6 `gateway`.
    @Test func ipv6Gateway() throws {
        let config = try ConfigDecoder.load(source: """
        interface "eth0" {
          address  = "192.0.2.2/24"
          gateway  = "192.0.2.1"
          gateway6 = "fe80::1"
          wan {}
        }
        """, file: file)
        #expect(config.interface(named: "eth0")?.gateway == IPAddress("192.0.2.1"))
        #expect(config.interface(named: "eth0")?.gateway6 == IPAddress("fe80::1"))
        #expect(problems("""
        interface "eth0" {
          gateway6 = "192.0.2.1"
          wan {}
        }
        interface "eth1" {
          gateway  = "fe80::1"
          gateway6 = "fe80::2"
          wan {}
        }
        interface "eth2" {
          gateway6 = "fe80::zz"
          wan {}
        }
        """) == [
            "2:14: gateway6: \"192.0.2.1\" is not an IPv6 address (e.g. \"fe80::1\")",
            "7:3: gateway6: gateway fe80::1 is already IPv6; give the IPv6 next hop once",
            "11:14: gateway6: \"fe80::zz\" is not an IPv6 address (e.g. \"fe80::1\")",
        ])
    }

    @Test func miscellaneousConsistencyRules() {
        #expect(problems("""
        interface "eth0" {
          dhcp    = true
          address = "192.0.2.2/24"
          wan {}
        }
        interface "eth1" {
          dhcp = true
          pppoe {
            username = "u"
            password = "p"
          }
          wan {}
          wan {}
        }
        interface "eth2" {
          address = "192.0.2.2/24"
          gateway = "2001:db8::1"
          wan { bandwidth = "10MB" }
        }
        uplink_group "eth0" {
          member "eth1" {}
        }
        policy_route "icmp" {
          match {
            protocol  = "icmp"
            dest_port = 80
          }
          uplink = "eth2"
        }
        """) == [
            "3:3: address: a static address cannot be combined with dhcp = true",
            "8:3: pppoe: a PPPoE interface gets its address from the PPP session; remove dhcp/address",
            "13:3: only one wan block is allowed in interface \"eth1\"; first defined at 12:3",
            "17:13: gateway: 2001:db8::1 is not in the same address family as address 192.0.2.2",
            "18:21: bandwidth: invalid bandwidth \"10MB\": unknown unit \"MB\" (use bps, kbps, Mbps, Gbps or Tbps)",
            "20:14: uplink_group \"eth0\" has the name of an interface; policy routes could not tell them apart",
            "26:5: dest_port: ports apply to tcp and udp, but this route matches only icmp",
        ])
    }
}

// MARK: - Resolved config printer

@Suite("Resolved config printer")
struct ResolvedConfigPrinterTests {
    /// What the core runs, without source positions: equal projections mean equal behaviour.
    struct Effective: Equatable {
        var interfaces: [Interface]
        var groups: [UplinkGroup]
        var checks: [String: HealthCheck]
        var routes: [PolicyRoute]
        var ipsets: [IPSet]
        var notifications: Notifications
        init(_ c: FlywallConfig) {
            interfaces = c.interfaces.map { var i = $0; i.location = nil; i.healthCheck = nil; i.healthCheckIsBuiltInDefault = false; return i }
            groups = c.effectiveGroups.map { g in
                var g = g
                g.location = nil
                g.members = g.members.map { var m = $0; m.healthCheck = nil; return m }
                return g
            }
            var checks: [String: HealthCheck] = [:]
            for w in c.wans { checks[w.name] = c.healthCheck(for: w.name) }
            self.checks = checks
            routes = c.policyRoutes.map { var r = $0; r.location = nil; return r }
            ipsets = c.ipsets
            notifications = c.notifications
        }
    }

    static let full = """
    interface "eth0" {
      zone = "WAN"
      dhcp = true
      wan {
        priority  = 1
        weight    = 2
        bandwidth = "1Gbps"
      }
      health_check { interval = "10s" }
    }
    interface "eth1" {
      pppoe {
        username = "user@isp.com"
        password = "s3cr\\"et${x}"
      }
    }
    interface "lan0" {
      zone    = "LAN"
      address = "192.168.1.1/24"
    }
    uplink_group "main" {
      mode   = "balance"
      sticky = true
      member "eth0" {}
      member "eth1" {
        weight = 3
        health_check {
          url         = "https://example.com/204"
          max_latency = "250ms"
          max_loss    = 7
        }
      }
    }
    ipset "s" { entries = ["10.0.0.0/8", "2001:db8::/32"] }
    policy_route "p" {
      match {
        protocol    = "tcp"
        dest_port   = ["1000-2000"]
        destination = ["@s", "203.0.113.9"]
      }
      uplink = "eth1"
    }
    notifications {
      webhook {
        url    = "https://hooks.example.com/x"
        events = ["all_down"]
      }
    }
    """

    @Test func printsEffectiveValuesAndRoundTrips() throws {
        let config = try load(Self.full)
        let text = ResolvedConfigPrinter.text(config, redactSecrets: false)
        #expect(text.contains("""
          member "eth0" {
            priority = 1
            weight   = 2
            health_check {
              type              = "icmp"
              targets           = ["1.1.1.1", "8.8.8.8"]
              interval          = "10s"
              timeout           = "2s"
              failure_interval  = "10s"
              recovery_interval = "10s"
              threshold_down    = 3
              threshold_up      = 2
              reliability       = 1
              window            = 10
            }
          }
        """))
        #expect(text.contains("recover_latency   = \"200ms\""))
        #expect(text.contains("recover_loss      = 3.5"))
        #expect(text.contains("# Default group (traffic no policy route claims): \"main\""))
        let again = try ConfigDecoder.load(source: text, file: "resolved.hcl")
        #expect(Effective(again) == Effective(config))
        #expect(again.interface(named: "eth1")?.pppoe?.password == "s3cr\"et${x}")
        // Printing is a fixed point.
        #expect(ResolvedConfigPrinter.text(again, redactSecrets: false) == text)
    }

    @Test func redactsSecretsByDefaultAndSpellsOutTheImplicitGroup() throws {
        let config = try load(specInterfaces)
        let text = ResolvedConfigPrinter.text(config)
        #expect(text.contains("uplink_group \"default\" {  # implicit: no uplink_group is declared"))
        #expect(text.contains("health_check {  # built-in default: the file gives this WAN no health_check"))
        let dsl = try load("interface \"d\" {\n  pppoe {\n    username = \"u\"\n    password = \"hunter2\"\n  }\n}\n")
        let printed = ResolvedConfigPrinter.text(dsl)
        #expect(!printed.contains("hunter2"))
        #expect(printed.contains("password = \"********\""))
    }

    @Test func jsonHasEffectiveMembersAndErrors() throws {
        let config = try load(Self.full)
        let json = ResolvedConfigPrinter.json(config)
        #expect(json.contains("\"default_group\": \"main\""))
        #expect(json.contains("\"interface\": \"eth1\""))
        #expect(json.contains("\"weight\": 3"))
        #expect(json.contains("\"expected_status\": 200"))
        #expect(!json.contains("s3cr"))
        let errors = ResolvedConfigPrinter.json(DiagnosticList([Diagnostic(Domain.SourceLocation(file: "f.hcl", line: 2, column: 3), "bad \"x\"")]))
        #expect(errors == """
        {
          "ok": false,
          "errors": [
            {
              "file": "f.hcl",
              "line": 2,
              "column": 3,
              "message": "bad \\"x\\""
            }
          ]
        }

        """)
    }
}
