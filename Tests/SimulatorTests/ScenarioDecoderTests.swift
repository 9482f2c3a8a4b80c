import Domain
import Testing
@testable import Simulator

private struct MissingFile: Error, CustomStringConvertible {
    var path: String
    var description: String { "no such file" }
}

/// A tiny in-memory file system for `config = "..."`; records what was asked for.
private final class Files: @unchecked Sendable {
    var files: [String: String]
    var requested: [String] = []
    init(_ files: [String: String] = [:]) { self.files = files }
    func read(_ path: String) throws -> String {
        requested.append(path)
        guard let text = files[path] else { throw MissingFile(path: path) }
        return text
    }
}

private func scenario(_ source: String, file: String = "Scenarios/test.hcl", files: Files = Files()) throws -> Scenario {
    try ScenarioDecoder.load(source: source, file: file, loadFile: files.read)
}

/// Problems as "file:line:col: message" for other files and "line:col: message" for the scenario file.
private func scenarioProblems(_ source: String, file: String = "Scenarios/test.hcl", files: Files = Files()) -> [String] {
    do {
        _ = try ScenarioDecoder.load(source: source, file: file, loadFile: files.read)
        return []
    } catch {
        return error.diagnostics.map { d in
            d.location.file == file ? "\(d.location.line):\(d.location.column): \(d.message)" : "\(d.location): \(d.message)"
        }
    }
}

private func v4(_ s: String) -> IPAddress { IPAddress(s)! }

/// Config blocks for scenario tests: 12 lines, so scenario text appended after a newline starts on line 13.
private let scenarioConfig = """
interface "eth0" {
  wan { weight = 2 }
}
interface "eth1" {
  wan { priority = 2 }
}
interface "lan0" { zone = "LAN" }
uplink_group "default" {
  member "eth0" {}
  member "eth1" { priority = 1 }
}
policy_route "work-vpn" {
"""

/// The rest of the config (after line 12).
private let scenarioConfigTail = """
  match { protocol = "udp" }
  uplink = "eth0"
}
"""

@Suite("Scenario decoder")
struct ScenarioDecoderTests {
    /// The example of design.md, "Scenario files", word for word (with its config inline).
    static let designExample = """
    scenario "primary-blackhole" {
      description = "Primary ISP stops forwarding; new connections move to eth1."
      duration    = "120s"
      seed        = 7
    }

    link "eth0" { latency = "12ms" }   # initial link model per WAN; defaults: up, 10ms, no loss
    link "eth1" {
      latency = "25ms"
      loss    = 0.5                     # percent of packets lost
    }

    traffic "lan" {                   # new connections from the LAN, for shares, stickiness and policy checks
      sources   = ["192.168.1.10", "192.168.1.11"]   # or: source_count = 50 (192.168.1.10 upwards, consecutive)
      rate      = 20                  # new connections per second
      protocol  = "tcp"
      dest_port = 443                 # optional
      destination = ["203.0.113.7"]   # optional
    }

    at "30s" {                        # a fault or repair at a time; each attribute changes that part only
      link "eth0" { blackhole = true }           # carrier up, nothing passes
    }
    # other link attributes: carrier = false (cable pulled), loss = 20, latency = "400ms",
    # unreachable = ["1.1.1.1"] (only these targets stop answering), http_status = 503

    expect "moves to eth1" {          # at least one matching event in the window (after, before]
      event  = "failover"             # wan_down | wan_up | failover | failback
      uplink = "eth1"                 # failover/failback: the new active uplink; wan_*: the WAN itself
      after  = "30s"
      before = "48s"
    }
    expect "no flapping" {            # count: exactly this many matching events
      event  = "wan_down"
      uplink = "eth1"
      count  = 0
    }
    expect "2:1 split" {              # share of new connections in the window that used this uplink
      share  = "eth0"
      after  = "0s"
      before = "30s"
      min    = 0.60
      max    = 0.73
    }
    expect "sticky" { sticky = true } # no source changed uplink while its uplink was up
    expect "vpn on eth0" {            # every flow the policy route matched used this uplink
      policy = "work-vpn"
      uplink = "eth0"
      before = "30s"
    }
    """

    @Test func designExampleDecodes() throws {
        let s = try scenario(scenarioConfig + "\n" + scenarioConfigTail + "\n" + Self.designExample)
        #expect(s.name == "primary-blackhole")
        #expect(s.description == "Primary ISP stops forwarding; new connections move to eth1.")
        #expect(s.duration == .seconds(120))
        #expect(s.seed == 7)
        #expect(s.file == "Scenarios/test.hcl")
        #expect(s.config.wans.map(\.name) == ["eth0", "eth1"])
        #expect(s.config.group(named: "default")?.members.map(\.weight) == [2, 1])

        var eth0 = LinkState()
        eth0.latency = .milliseconds(12)
        var eth1 = LinkState()
        eth1.latency = .milliseconds(25)
        eth1.loss = 0.5
        #expect(s.links == ["eth0": eth0, "eth1": eth1])

        #expect(s.traffic == [TrafficSource(name: "lan", sources: [v4("192.168.1.10"), v4("192.168.1.11")], rate: 20,
                                            proto: .tcp, destPort: 443, destinations: [v4("203.0.113.7")])])

        #expect(s.faults.count == 1)
        #expect(s.faults.first?.time == .seconds(30))
        #expect(s.faults.first?.action == .link("eth0", LinkChange(blackhole: true)))

        #expect(s.expectations.map(\.name) == ["moves to eth1", "no flapping", "2:1 split", "sticky", "vpn on eth0"])
        let e = s.expectations
        #expect(e[0].check == .event(kind: .failover, uplink: "eth1", group: nil, count: nil))
        #expect(e[0].after == .seconds(30) && e[0].before == .seconds(48))
        #expect(e[1].check == .event(kind: .wanDown, uplink: "eth1", group: nil, count: 0))
        #expect(e[1].after == nil && e[1].before == nil)
        #expect(e[2].check == .share(uplink: "eth0", min: 0.60, max: 0.73))
        #expect(e[2].after == .zero && e[2].before == .seconds(30))
        #expect(e[3].check == .sticky)
        #expect(e[4].check == .policy(name: "work-vpn", uplink: "eth0"))
        #expect(e[4].before == .seconds(30))
        #expect(e[4].location?.line == 12 + 3 + 46)
    }

    @Test func configFromAnotherFileRelativeToTheScenario() throws {
        let files = Files(["Scenarios/configs/dual.hcl": scenarioConfig + "\n" + scenarioConfigTail])
        let s = try scenario("""
        scenario "from-file" {
          config   = "configs/dual.hcl"
          duration = "1m"
        }
        ipset "extra" { entries = ["10.0.0.0/8"] }
        at "10s" {
          link "eth1" { carrier = false }
        }
        """, files: files)
        #expect(files.requested == ["Scenarios/configs/dual.hcl"])
        #expect(s.name == "from-file")
        #expect(s.duration == .seconds(60))
        #expect(s.config.interfaces.map(\.name) == ["eth0", "eth1", "lan0"])
        #expect(s.config.interface(named: "eth0")?.location?.file == "Scenarios/configs/dual.hcl")
        #expect(s.config.ipsets.map(\.name) == ["extra"])   // inline blocks add to the file's
        #expect(s.config.policyRoutes.map(\.name) == ["work-vpn"])
        #expect(s.faults == [TimedFault(time: .seconds(10), action: .link("eth1", LinkChange(carrier: false)),
                                        location: Domain.SourceLocation(file: "Scenarios/test.hcl", line: 7, column: 3))])
        // Defaults: no seed, no links, no description.
        #expect(s.seed == 1 && s.description.isEmpty && s.links.isEmpty)
        #expect(s.link("eth0") == LinkState())

        #expect(ScenarioDecoder.resolve("../c.hcl", relativeTo: "a/b/s.hcl") == "a/b/../c.hcl")
        #expect(ScenarioDecoder.resolve("./c.hcl", relativeTo: "s.hcl") == "c.hcl")
        #expect(ScenarioDecoder.resolve("/etc/flywall.hcl", relativeTo: "a/s.hcl") == "/etc/flywall.hcl")
    }

    @Test func errorsInTheReferencedFileCarryItsName() {
        let files = Files([
            "Scenarios/bad.hcl": """
            interface "eth0" {
              wan { weight = 0 }
            }
            link "eth0" {}
            """,
            "Scenarios/broken.hcl": "interface \"eth0\" {\n  zone = \n}\n",
        ])
        #expect(scenarioProblems("""
        scenario "x" {
          config = "bad.hcl"
        }
        link "eth0" { lost = 5 }
        """, files: files) == [
            "Scenarios/bad.hcl:2:18: weight: must be at least 1, got 0",
            "Scenarios/bad.hcl:4:1: 'link' blocks belong in the scenario file, not in its config",
            "4:15: unknown attribute 'lost' in link \"eth0\"; did you mean 'loss'?",
        ])
        let broken = scenarioProblems("""
        scenario "x" {
          config = "broken.hcl"
        }
        link "eth0" { loss = 500 }
        """, files: files)
        #expect(broken.count == 2)
        #expect(broken.first?.hasPrefix("Scenarios/broken.hcl:2:") == true)
        // The config could not be read, so names are not checked against it; values still are.
        #expect(broken.last == "4:22: loss: must be between 0 and 100, got 500")
        #expect(scenarioProblems("""
        scenario "x" { config = "missing.hcl" }
        """, files: files) == ["1:25: config: cannot read \"Scenarios/missing.hcl\": no such file"])
    }

    @Test func manualCommandsAndStableTimeOrder() throws {
        let s = try scenario(scenarioConfig + "\n" + scenarioConfigTail + "\n" + """
        scenario { duration = "2m" }
        at "60s" {
          force "default" {}
          link "eth0" { carrier = true }
        }
        at "20s" {
          maintenance "eth0" { enabled = true }
          force "default" { uplink = "eth1" }
          link "eth1" {
            latency     = "400ms"
            jitter      = "20ms"
            unreachable = ["1.1.1.1"]
            http_status = 503
          }
        }
        at "60s" {
          maintenance "eth0" { enabled = false }
        }
        at "0s" {
          maintenance "eth1" {}
        }
        """)
        #expect(s.name == "test")   // the file's name when the scenario block has none
        #expect(s.faults.map(\.time) == [.zero, .seconds(20), .seconds(20), .seconds(20), .seconds(60), .seconds(60), .seconds(60)])
        #expect(s.faults.map(\.action) == [
            .manual(.maintenance(interface: "eth1", enabled: true)),
            .manual(.maintenance(interface: "eth0", enabled: true)),
            .manual(.forceActive(group: "default", interface: "eth1")),
            .link("eth1", LinkChange(latency: .milliseconds(400), jitter: .milliseconds(20),
                                     unreachable: [v4("1.1.1.1")], httpStatus: 503)),
            .manual(.forceActive(group: "default", interface: nil)),
            .link("eth0", LinkChange(carrier: true)),
            .manual(.maintenance(interface: "eth0", enabled: false)),
        ])
    }

    @Test func trafficSourceCountAndWindows() throws {
        let s = try scenario(scenarioConfig + "\n" + scenarioConfigTail + "\n" + """
        traffic "many" {
          source_count = 300
          rate         = 2.5
          protocol     = "udp"
          dest_port    = "53"
          start        = "5s"
          stop         = "50s"
        }
        traffic "one" {
          sources = "10.1.2.3"
          rate    = 1
        }
        expect "all down fires" {
          event = "all_down"
          group = "default"
          count = 1
        }
        expect "mostly eth1" {
          share = "eth1"
          min   = 0.5
        }
        """)
        let many = s.traffic[0]
        #expect(many.sources.count == 300)
        #expect(many.sources.first == v4("192.168.1.10") && many.sources[1] == v4("192.168.1.11"))
        #expect(many.sources.last == v4("192.168.2.53"))
        #expect(many.rate == 2.5 && many.proto == .udp && many.destPort == 53)
        #expect(many.start == .seconds(5) && many.stop == .seconds(50))
        #expect(s.traffic[1].sources == [v4("10.1.2.3")] && s.traffic[1].proto == .tcp && s.traffic[1].destPort == nil)
        #expect(s.duration == ScenarioDecoder.defaultDuration)
        #expect(s.expectations[0].check == .event(kind: .allDown, uplink: nil, group: "default", count: 1))
        #expect(s.expectations[1].check == .share(uplink: "eth1", min: 0.5, max: 1))
    }

    @Test func validationErrors() {
        #expect(scenarioProblems(scenarioConfig + "\n" + scenarioConfigTail + "\n" + """
        scenario "v" {
          duration = "60s"
          seeed    = 3
        }
        link "eth2" { latency = "1ms" }
        link "lan0" { latency = "1ms" }
        link "eth0" { carrier = false }
        link "eth0" { carrier = true }
        at "90s" {
          link "eth0" { blackhole = true }
        }
        at "10s" {
          force "defualt" {}
          force "default" { uplink = "lan0" }
          link "eth1" {}
          reboot "eth0" {}
        }
        expect "two" {
          event = "failover"
          share = "eth0"
        }
        expect "none" { after = "1s" }
        expect "range" {
          share = "eth0"
          min   = 0.8
          max   = 0.6
        }
        expect "range" { sticky = true }
        expect "window" {
          event  = "failback"
          after  = "40s"
          before = "30s"
          min    = 0.1
        }
        expect "refs" {
          policy = "work_vpn"
          uplink = "eth3"
        }
        expect "late" {
          event  = "wan_up"
          group  = "default"
          before = "61s"
        }
        expect "nothing" { sticky = false }
        expects "typo" {}
        """) == [
            "18:3: unknown attribute 'seeed' in scenario; did you mean 'seed'?",
            "20:6: link: no WAN named \"eth2\"; did you mean \"eth0\"?",
            "21:6: link: interface \"lan0\" is not a WAN",
            "23:6: duplicate link \"eth0\"; first defined at 22:6",
            "24:4: at: 1m30s is after the end of the run (duration 1m)",
            "28:9: force: no uplink_group named \"defualt\"; did you mean \"default\"?",
            "29:30: uplink: \"lan0\" is not a member of uplink_group \"default\"",
            "30:3: link \"eth1\" changes nothing; set carrier, blackhole, loss, latency, jitter, unreachable or http_status",
            "31:3: unknown block 'reboot' in at",
            "35:3: share: expect \"two\" already checks event; write one expect block per check",
            "37:8: expect \"none\" needs one check: event, share, sticky or policy",
            "40:11: min: 0.8 is greater than max (0.6)",
            "43:8: duplicate expect \"range\"; first defined at 38:8",
            "47:12: before: must be after 'after' (40s), got 30s",
            "48:3: min: only share checks use min, this is an event check",
            "51:12: policy: no policy_route named \"work_vpn\"; did you mean \"work-vpn\"?",
            "52:12: uplink: no WAN named \"eth3\"; did you mean \"eth0\"?",
            "56:3: group: wan_up events belong to a WAN, not a group; use uplink",
            "57:12: before: 1m1s is after the end of the run (duration 1m)",
            "59:29: sticky: false checks nothing; write sticky = true",
            "60:1: unknown block 'expects'; did you mean 'expect'?",
        ])
    }

    @Test func scenarioWithoutConfigAndDefaultDurationNote() {
        #expect(scenarioProblems("""
        at "90s" {
          link "eth0" { carrier = false }
        }
        """) == [
            "1:1: the scenario has no config: add interface blocks or scenario { config = \"config.hcl\" }",
            "1:4: at: 1m30s is after the end of the run (duration 1m, the default; set scenario { duration = ... })",
        ])
    }

    @Test func syntaxErrorsInTheScenarioFile() {
        let problems = scenarioProblems("scenario \"x\" { duration = \"10s\", seed = 1 }\n")
        #expect(problems.count >= 1)
        #expect(problems.allSatisfy { $0.hasPrefix("1:") })
    }
}
