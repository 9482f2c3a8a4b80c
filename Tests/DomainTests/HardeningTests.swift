import Testing
@testable import Domain

// Issue #10: every numeric attribute is bounded in the decoder (just inside accepted, just outside
// rejected at the value's position), the core's arithmetic cannot trap inside those bounds, memory
// does not follow a value's magnitude, and configs mean what operators expect.

private let file = "bounds.hcl"

private func problems(_ source: String) -> [String] { decodingProblems(source, file: file) }

/// One WAN whose health check holds `line` (line 4, column 5 + name).
private func check(_ line: String) -> String {
    """
    interface "eth0" {
      wan {}
      health_check {
        \(line)
      }
    }
    """
}

/// One WAN whose wan block holds `line` (line 3).
private func wan(_ line: String) -> String {
    """
    interface "eth0" {
      wan {
        \(line)
      }
    }
    """
}

@Suite("Hardening: decoder bounds")
struct DecoderBoundsTests {
    /// (attribute line, accepted?, expected message when rejected). Columns: the value starts after
    /// `name = ` at column 5 + name.count + 3.
    static let healthCheckCases: [(String, String?)] = [
        ("interval = \"10ms\"", nil),
        ("interval = \"9ms\"", "interval: too short, at least 10ms, got \"9ms\""),
        ("interval = \"1h\"", nil),
        ("interval = \"1h1ms\"", "interval: too long, at most 1h, got \"1h1ms\""),
        ("interval = \"2562047h\"", "interval: too long, at most 1h, got \"2562047h\""),
        ("interval = \"2562048h\"", "interval: invalid duration \"2562048h\": too large, at most 2562047h (about 292 years)"),
        ("threshold_down = 100", nil),
        ("threshold_down = 101", "threshold_down: too large, at most 100, got 101"),
        ("threshold_up = 1e300", "threshold_up: too large, at most 100, got 1e300"),
        ("window = 1000", nil),
        ("window = 1001", "window: too large, at most 1000, got 1001"),
        ("window = 72057594037927968", "window: too large, at most 1000, got 72057594037927968"),
        ("max_latency = \"1ms\"", nil),
        ("max_latency = \"999us\"", "max_latency: too short, at least 1ms, got \"999us\""),
        ("max_latency = \"1h1s\"", "max_latency: too long, at most 1h, got \"1h1s\""),
    ]

    @Test(arguments: healthCheckCases)
    func healthCheckAttribute(_ line: String, _ message: String?) {
        let name = line.prefix { $0 != " " }
        let column = 5 + name.count + 3
        #expect(problems(check(line)) == (message.map { ["4:\(column): \($0)"] } ?? []))
    }

    @Test func timeoutIsBoundedLikeTheInterval() {
        #expect(problems(check("timeout = \"10ms\"")) == [])
        #expect(problems(check("timeout = \"5ms\"")) == ["4:15: timeout: too short, at least 10ms, got \"5ms\""])
    }

    @Test func targetsAtMostSixteen() {
        let targets = (1...16).map { "\"192.0.2.\($0)\"" }
        #expect(problems(check("targets = [\(targets.joined(separator: ", "))]")) == [])
        let seventeen = (1...17).map { "\"192.0.2.\($0)\"" }
        #expect(problems(check("targets = [\(seventeen.joined(separator: ", "))]")) == ["4:15: targets: too many, at most 16, got 17"])
    }

    static let wanCases: [(String, String?)] = [
        ("weight = 1000", nil),
        ("weight = 1001", "3:14: weight: too large, at most 1000, got 1001"),
        ("weight = 100000000", "3:14: weight: too large, at most 1000, got 100000000"),
        ("weight = 0", "3:14: weight: must be at least 1, got 0"),
        ("priority = 1000", nil),
        ("priority = 1001", "3:16: priority: too large, at most 1000, got 1001"),
        ("priority = -1", "3:16: priority: must not be negative, got -1"),
    ]

    @Test(arguments: wanCases)
    func wanAttribute(_ line: String, _ message: String?) {
        #expect(problems(wan(line)) == (message.map { [$0] } ?? []))
    }

    @Test func groupWeightsFitTheHashSlotsAfterTheirCommonFactor() {
        func group(_ weights: [Int]) -> String {
            let interfaces = weights.indices.map { "interface \"e\($0)\" {\n  wan {}\n}" }.joined(separator: "\n")
            let members = weights.enumerated().map { "  member \"e\($0.offset)\" { weight = \($0.element) }" }.joined(separator: "\n")
            return interfaces + "\nuplink_group \"g\" {\n  mode = \"balance\"\n\(members)\n}"
        }
        // 1000 + 1000 share a factor of 1000: the same as 1:1.
        #expect(problems(group([1000, 1000])) == [])
        // In failover mode only one priority tier shares by weight: two tiers of 1000:23 each (2,046
        // together), and the group's slots are at most one tier's 1,023 (DataplaneLimitsTests).
        let tiers = (0..<4).map { "interface \"e\($0)\" {\n  wan {\n    priority = \($0 / 2)\n    weight = \($0 % 2 == 0 ? 1000 : 23)\n  }\n}" }
            .joined(separator: "\n") + "\nuplink_group \"f\" {\n" + (0..<4).map { "  member \"e\($0)\" {}" }.joined(separator: "\n") + "\n}"
        #expect(problems(tiers) == [])
        // 1000 + 23 = 1023: the most.
        #expect(problems(group([1000, 23])) == [])
        let line = 2 * 3 + 1
        #expect(problems(group([999, 25])) ==
                ["\(line):14: uplink_group \"g\": member weights add up to 1024 (divided by their common factor); too large, at most 1023, the dataplane's hash slots"])
    }

    @Test func stickyTimeoutBounds() {
        let base = "interface \"eth0\" {\n  wan {}\n}\nuplink_group \"g\" {\n  member \"eth0\" {}\n"
        #expect(problems(base + "  sticky_timeout = \"7d\"\n}") == [])   // 7 days = 168h, the most
        #expect(problems(base + "  sticky_timeout = \"168h\"\n}") == [])
        #expect(problems(base + "  sticky_timeout = \"168h1s\"\n}") == ["6:20: sticky_timeout: too long, at most 168h, got \"168h1s\""])
        #expect(problems(base + "  sticky_timeout = \"999ms\"\n}") == ["6:20: sticky_timeout: too short, at least 1s, got \"999ms\""])
    }

    @Test func hugeNumbersSayTooLargeNotWholeNumber() {
        #expect(problems(wan("priority = 1e20")) == ["3:16: priority: too large, at most 1000, got 1e20"])
        #expect(problems(wan("priority = 1.5")) == ["3:16: priority: expected a whole number, got 1.5"])
    }

    @Test(arguments: [
        ("eth0", nil), ("abcdefghijklmno", nil), ("wan.101", nil),
        ("abcdefghijklmnop", "is 16 bytes long; Linux interface names have at most 15"),
        ("ethé12345678901", "is 16 bytes long; Linux interface names have at most 15"),
        ("a/b", "contains '/'; Linux interface names may not"),
        ("a:b", "contains ':'; Linux interface names may not"),
        ("a b", "contains white space or a control character (U+20); Linux interface names may not"),
        (".", "is not a valid interface name"), ("..", "is not a valid interface name"),
    ] as [(String, String?)])
    func interfaceNamesAreLinuxNames(_ name: String, _ problem: String?) {
        let expected = problem.map { ["1:11: interface name \"\(name)\" \($0)"] } ?? []
        #expect(problems("interface \"\(name)\" {\n  zone = \"LAN\"\n}") == expected)
    }

    @Test func echoedValuesAreCutToAReadableLength() {
        let long = String(repeating: "x", count: 100_000)
        let found = problems(check("targets = [\"\(long)\"]"))
        #expect(found.count == 1)
        #expect(found[0].count < 200, "\(found[0].count) characters")
        #expect(found[0].hasPrefix("4:16: targets: \"xxxx"))
        #expect(found[0].hasSuffix("…\" is not an IP address"))
    }

    /// The cadences of #11 have the interval's bounds.
    @Test(arguments: ["failure_interval", "recovery_interval", "standby_interval"])
    func cadenceBounds(_ name: String) {
        let column = 5 + name.count + 3
        #expect(problems(check("\(name) = \"10ms\"")) == [])
        #expect(problems(check("\(name) = \"1h\"")) == [])
        #expect(problems(check("\(name) = \"9ms\"")) == ["4:\(column): \(name): too short, at least 10ms, got \"9ms\""])
        #expect(problems(check("\(name) = \"1h1ms\"")) == ["4:\(column): \(name): too long, at most 1h, got \"1h1ms\""])
    }

    @Test func bandwidthBoundsAndUnits() throws {
        #expect(problems(wan("bandwidth = \"1bps\"")) == [])
        #expect(problems(wan("bandwidth = \"1000Tbps\"")) == [])
        #expect(problems(wan("bandwidth = \"1001Tbps\"")) == ["3:17: bandwidth: invalid bandwidth \"1001Tbps\": too large, at most 1000Tbps"])
        #expect(problems(wan("bandwidth = \"99999999Tbps\"")) == ["3:17: bandwidth: invalid bandwidth \"99999999Tbps\": too large, at most 1000Tbps"])
        #expect(problems(wan("bandwidth = \"0.5bps\"")) == ["3:17: bandwidth: invalid bandwidth \"0.5bps\": too small, at least 1bps"])
        #expect(problems(wan("bandwidth = \"5\"")) == ["3:17: bandwidth: invalid bandwidth \"5\": missing unit (bps, kbps, Mbps, Gbps or Tbps)"])
        #expect(problems(wan("bandwidth = \"5MB\"")) == ["3:17: bandwidth: invalid bandwidth \"5MB\": unknown unit \"MB\" (use bps, kbps, Mbps, Gbps or Tbps)"])
        #expect(try ConfigDecoding.parseBandwidth("2tbps").get() == 2_000_000_000_000)
    }

    @Test func historyAndNotificationBounds() {
        func history(_ line: String) -> [String] { problems("history {\n  \(line)\n}") }
        #expect(history("retention = \"1m\"") == [])
        #expect(history("retention = \"3650d\"") == [])
        #expect(history("retention = \"59s\"") == ["2:15: retention: must be at least 1m, got \"59s\""])
        #expect(history("retention = \"3650d1s\"") == ["2:15: retention: too long, at most 3650d (10 years), got \"87600h1s\""])
        #expect(history("retention = \"2562047h\"") == ["2:15: retention: too long, at most 3650d (10 years), got \"2562047h\""])
        #expect(history("max_events = 1") == [])
        #expect(history("max_events = 10000000") == [])
        #expect(history("max_events = 10000001") == ["2:16: max_events: too large, at most 10000000, got 10000001"])
        #expect(history("max_events = 0") == ["2:16: max_events: must be at least 1, got 0"])
        func notifications(_ line: String) -> [String] { problems("notifications {\n  \(line)\n}") }
        #expect(notifications("coalesce = \"1s\"") == [])
        #expect(notifications("coalesce = \"24h\"") == [])
        #expect(notifications("coalesce = \"999ms\"") == ["2:14: coalesce: too short, at least 1s, got \"999ms\""])
        #expect(notifications("coalesce = \"24h1s\"") == ["2:14: coalesce: too long, at most 24h, got \"24h1s\""])
    }

    @Test func durationHintsListEveryUnit() {
        #expect(problems(check("interval = \"5w\"")) == ["4:16: interval: invalid duration \"5w\": unknown unit \"w\" (use ns, us, ms, s, m, h or d)"])
    }
}

@Suite("Hardening: configs mean what operators expect")
struct OperatorMeaningTests {
    @Test func aZoneWANInterfaceNamedByAGroupIsAWAN() throws {
        let config = try ConfigDecoder.load(source: """
            interface "eth0" {
              zone = "WAN"
              dhcp = true
            }
            interface "eth1" {
              zone = "WAN"
              dhcp = true
              health_check { interval = "10s" }
            }
            interface "lan0" { zone = "LAN" }
            uplink_group "default" {
              member "eth0" {
                priority = 1
                weight   = 3
              }
              member "eth1" { priority = 2 }
            }
            """, file: file)
        #expect(config.wans.map(\.name) == ["eth0", "eth1"])
        #expect(config.interface(named: "eth0")?.wan == WANSettings(priority: 1, weight: 3))
        #expect(config.group(named: "default")?.members == [
            Member(interface: "eth0", priority: 1, weight: 3), Member(interface: "eth1", priority: 2, weight: 1)])
        #expect(config.healthCheck(for: "eth1")?.interval == .seconds(10))
        #expect(config.healthCheck(for: "eth0") == HealthCheck.builtInDefault)
    }

    @Test func aZoneWANInterfaceNoGroupNamesIsNoWANAndItsCheckIsAnError() {
        #expect(problems("""
            interface "eth0" {
              zone = "WAN"
              health_check {}
            }
            """) == ["3:3: health_check applies to WANs, and interface \"eth0\" is in zone \"WAN\" but no uplink_group has it as a member and it has no wan or pppoe block (add member \"eth0\" { } to a group, or give it a wan { } block)"])
    }

    @Test func aWANWithoutACheckGetsTheBuiltInDefaultAndTheCoreProbesIt() throws {
        let config = try ConfigDecoder.load(source: SpecSnippetsForHardening.basicDualWAN, file: file)
        #expect(config.wans.allSatisfy { config.healthCheck(for: $0.name) == HealthCheck.builtInDefault })
        #expect(config.warnings.count == 2)
        var driver = CoreDriver(config)
        // The round at 0 s is already answered; eth0 black-holes right after it.
        driver.answering["eth0"] = false
        driver.run(seconds: 20)
        // Rounds at 5, 10, 15 s fail (timeouts at 7, 12, 17 s): eth0 down at 17 s, the spec's
        // arithmetic (3 rounds of 5 s, then the 2 s timeout).
        let down = try #require(driver.events(.wanDown).first)
        #expect(down.interface == "eth0" && down.time == .seconds(17))
        #expect(driver.events(.failover).first?.to == ["eth1"])
    }

    @Test func aTopLevelCheckStillWinsOverTheBuiltInDefault() throws {
        let config = try ConfigDecoder.load(source: SpecSnippetsForHardening.basicDualWAN + "\nhealth_check { targets = [\"9.9.9.9\"] }\n", file: file)
        #expect(config.healthCheck(for: "eth0")?.targets == [ip("9.9.9.9")])
        #expect(config.warnings.isEmpty)
    }

    /// Two targets, max_loss 20 %, threshold_down 1; 8.8.8.8 does not answer from the start.
    static func lossyDriver() -> CoreDriver {
        var c = HealthCheck(targets: [ip("1.1.1.1"), ip("8.8.8.8")], thresholdDown: 1)
        c.maxLoss = 20
        var driver = CoreDriver(dualWAN(check: c))
        driver.deadTargets = [ip("8.8.8.8")]
        return driver
    }

    @Test func oneLostProbeInTheFirstRoundDoesNotDegrade() {
        var driver = Self.lossyDriver()
        // Round 1 at 0 s: 1 of 2 lost (50 %), but the window holds one round of the 5 needed.
        driver.run(seconds: 3)
        driver.deadTargets = []
        driver.run(seconds: 60)
        #expect(driver.events(.wanDown).isEmpty, "\(driver.events)")
        // Judged once 5 rounds are in: 1 lost of 10 is 10 %, under 20 %.
        #expect(driver.core.status.first?.state == .up)
    }

    @Test func aWindowFilledWithLossDoesDegrade() {
        var driver = Self.lossyDriver()
        driver.run(seconds: 30)
        // Rounds at 0..20 s: the 5th (20 s, closed by its timeout at 22 s) makes the window
        // judgeable, at 50 % loss.
        let down = driver.events(.wanDown).first
        #expect(down?.interface == "eth0" && down?.time == Instant.seconds(22), "\(driver.events)")
    }

    @Test func aReloadThatChangesOnlyThresholdsKeepsTheWindow() {
        var c = HealthCheck(targets: [ip("1.1.1.1")])
        var driver = CoreDriver(dualWAN(check: c))
        driver.rtt["eth0"] = .milliseconds(40)
        driver.run(seconds: 21)
        // The round at 0 s was answered in 10 ms (sent before the RTT changed), four more in 40 ms.
        #expect(driver.core.status.first?.latencyMs == 34)
        c.thresholdDown = 5
        driver.send(.configReplaced(dualWAN(check: c)))
        #expect(driver.core.status.first?.latencyMs == 34)
        #expect(driver.core.status.first?.targets.first?.lastOutcome == "reply 40ms")
    }
}

@Suite("Hardening: arithmetic at the bounds")
struct ArithmeticBoundsTests {
    @Test func instantArithmeticSaturates() {
        let late = Instant(nanoseconds: .max - 5)
        #expect((late + .seconds(1)).nanoseconds == .max)
        #expect((Instant(nanoseconds: .min + 5) - .seconds(1)).nanoseconds == .min)
        #expect((Instant(nanoseconds: .max) - Instant(nanoseconds: .min)).nanoseconds == .max)
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(Duration.seconds(Int64.min).nanoseconds == .min)
        #expect(Instant.seconds(.infinity).nanoseconds == .max)
        #expect(Instant.seconds(1e300).nanoseconds == .max)
    }

    @Test func aTrackerAtTheLargestIntervalRunsNearTheEndOfTime() {
        let c = HealthCheck(targets: [ip("1.1.1.1")], interval: .seconds(3_600), timeout: .seconds(3_600),
                            thresholdDown: 100, thresholdUp: 100, window: 1_000)
        var t = HealthTracker(interface: "eth0", check: c)
        let start = Instant(nanoseconds: .max - 3_600_000_000_000 / 2)
        t.start(at: start)
        let requests = t.tick(at: start)
        #expect(requests.count == 1)
        // The round's deadline and the next round both lie past Int64.max: they saturate.
        #expect(t.nextDeadline == Instant(nanoseconds: .max))
        t.record(requests[0].id, .reply(rtt: .seconds(Int64.max)))
        #expect(t.meanLatency == ProbeWindow.longestRTT)
        _ = t.tick(at: Instant(nanoseconds: .max))
    }

    @Test func windowSumsAtTheBoundDoNotOverflow() {
        var w = ProbeWindow(capacity: 1_000)
        for i in 0..<5_000 { w.record(i % 2 == 0 ? ProbeWindow.longestRTT : 0) }
        #expect(w.meanRTT == ProbeWindow.longestRTT / 2)
        #expect(w.meanJitter == ProbeWindow.longestRTT)
    }

    @Test func aHugeWindowInAHandBuiltConfigAllocatesOnlyTheBound() {
        #expect(ProbeWindow(capacity: 72_057_594_037_927_968).capacity == 1_000)
    }

    @Test func passiveIntervalsNearTheEndOfTime() {
        var s = PassiveSampler(interval: 3_600_000_000_000, timeout: 3_600_000_000_000, origin: .max - 10)
        let tuple = ConnectionTuple(local: ip("100.64.1.2"), localPort: 1024, remote: ip("198.18.0.1"), remotePort: 443)
        s.observe(.attempt(tuple, sequence: 1), at: .max - 5)
        #expect(s.intervalEnd == .max)
        // Its deadline saturated at the end of time too: still waiting, no sample, no trap.
        #expect(s.advance(to: .max) == nil)
        #expect(s.waiting == 1)
    }

    @Test func weightsAreReducedByTheirCommonFactor() {
        let big = [Member(interface: "a", weight: 1_000), Member(interface: "b", weight: 1_000)]
        let small = [Member(interface: "a", weight: 1), Member(interface: "b", weight: 1)]
        #expect(GroupSelector.baseLayout(big) == GroupSelector.baseLayout(small))
        #expect(GroupSelector.bucketCount(big) == 64)
    }

    @Test func aHugeWeightInAHandBuiltConfigKeepsTheLayoutBounded() {
        // 10^8 : 1 would be 100,000,001 buckets (1.6 GB of strings); the layout scales it down.
        let members = [Member(interface: "a", weight: 100_000_000), Member(interface: "b", weight: 1),
                       Member(interface: "c", weight: .max)]
        let count = GroupSelector.bucketCount(members)
        #expect(count > 0 && count <= ConfigLimits.groupWeightSum)
        let group = UplinkGroup(name: "g", mode: .balance, members: members)
        let selection = GroupSelector.select(group, usable: { _ in true }, forced: nil, previous: nil)
        #expect(selection.buckets.count == count)
        #expect(GroupSelector.predictedSlots(group) <= ConfigLimits.hashSlots)
    }

    @Test func theLargestValidWeightsGiveAtMostTheSlots() throws {
        let config = try ConfigDecoder.load(source: """
            interface "a" {
              wan { weight = 1000 }
            }
            interface "b" {
              wan { weight = 23 }
            }
            uplink_group "g" {
              mode = "balance"
              member "a" {}
              member "b" {}
            }
            """, file: file)
        var driver = CoreDriver(config)
        driver.run(seconds: 1)
        let group = try #require(driver.core.plan.groups.first)
        #expect(group.buckets.count == 1_023)
        #expect(group.slots <= ConfigLimits.hashSlots)
    }
}

@Suite("Hardening: a passive WAN that is down comes back")
struct PassiveRecoveryTests {
    static let config = """
        interface "wan0" {
          wan { priority = 1 }
          health_check {
            type           = "passive"
            targets        = ["192.0.2.1"]
            interval       = "5s"
            timeout        = "2s"
            threshold_down = 1
            threshold_up   = 2
          }
        }
        interface "wan1" {
          wan { priority = 2 }
          health_check { targets = ["192.0.2.2"] }
        }
        """

    @Test func whileDownItProbesItsTargetsAndThresholdUpGoodRoundsBringItBack() throws {
        let config = try ConfigDecoder.load(source: Self.config, file: file)
        var core = MultiWANStateMachine(config: config)
        let second: Int64 = 1_000_000_000
        let tuple = ConnectionTuple(local: ip("100.64.1.2"), localPort: 1024, remote: ip("198.18.0.1"), remotePort: 443)
        func probes(_ effects: [CoreEffect]) -> [ProbeRequest] {
            effects.compactMap { if case .sendProbe(let r) = $0, r.id.interface == "wan0" { r } else { nil } }
        }
        var events: [WANEvent] = []
        // wan1 answers every probe at once, so it stays up and wan0's changes are failover/failback.
        func handle(_ event: CoreEvent, _ ns: Int64) -> [CoreEffect] {
            let effects = core.handle(event, at: Instant(nanoseconds: ns))
            for case .emit(let e) in effects { events.append(e) }
            for case .sendProbe(let r) in effects where r.id.interface == "wan1" {
                for case .emit(let e) in core.handle(.probeResult(r.id, .reply(rtt: .milliseconds(1))), at: Instant(nanoseconds: ns)) {
                    events.append(e)
                }
            }
            return effects
        }
        #expect(probes(handle(.tick, 0)).isEmpty)          // up: passive, no probes
        _ = handle(.passive(interface: "wan0", .attempt(tuple, sequence: 7)), 1 * second)
        // The interval (0, 5 s] closes with one unanswered attempt: down at 5 s.
        #expect(probes(handle(.tick, 5 * second)).isEmpty)
        #expect(events.last?.kind == .failover)
        #expect(core.status[0].state == .down)
        // Recovery probes from one interval on: 10 s, 15 s.
        #expect(core.nextDeadline == Instant(nanoseconds: 10 * second))
        let first = probes(handle(.tick, 10 * second))
        #expect(first.map(\.target) == [.icmp(ip("192.0.2.1"))])
        _ = handle(.probeResult(first[0].id, .reply(rtt: .milliseconds(20))), 10 * second + 20_000_000)
        #expect(core.status[0].state == .down)
        let second2 = probes(handle(.tick, 15 * second))
        _ = handle(.probeResult(second2[0].id, .reply(rtt: .milliseconds(20))), 15 * second + 20_000_000)
        #expect(core.status[0].state == .up)
        #expect(core.status[0].reason == "recovery probes: 2 consecutive good probe rounds")
        #expect(events.last?.kind == .failback)
        // Up again: passive again, no more probes.
        #expect(probes(handle(.tick, 20 * second)).isEmpty)
        #expect(probes(handle(.tick, 25 * second)).isEmpty)
    }

    @Test func failedRecoveryProbesKeepItDown() throws {
        let config = try ConfigDecoder.load(source: Self.config, file: file)
        var core = MultiWANStateMachine(config: config)
        let second: Int64 = 1_000_000_000
        let tuple = ConnectionTuple(local: ip("100.64.1.2"), localPort: 1024, remote: ip("198.18.0.1"), remotePort: 443)
        _ = core.handle(.tick, at: .zero)
        _ = core.handle(.passive(interface: "wan0", .attempt(tuple, sequence: 7)), at: Instant(nanoseconds: second))
        _ = core.handle(.tick, at: Instant(nanoseconds: 5 * second))
        for n in 2...6 {
            _ = core.handle(.tick, at: Instant(nanoseconds: Int64(n) * 5 * second))   // probes sent, never answered
        }
        #expect(core.status[0].state == .down)
        #expect(core.nextDeadline != nil)
    }
}

/// The spec's Basic Dual-WAN interfaces (no health_check), as on the page.
enum SpecSnippetsForHardening {
    static let basicDualWAN = SpecSnippets.basicDualWAN
}
