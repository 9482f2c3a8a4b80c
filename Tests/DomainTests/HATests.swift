import Testing
@testable import Domain

/// An HA pair member's config: two static WANs with `nat_address`, and the `ha_pair` block.
private func pairConfig(own: Int, wanOrder: [Int] = [0, 1]) -> String {
    wanOrder.map { i in
        """
        interface "wan\(i)" {
          zone    = "WAN"
          address = "100.64.\(i).\(own)/24"
          gateway = "100.64.\(i).1"
          wan {
            priority    = \(i + 1)
            nat_address = "100.64.\(i).10"
          }
          health_check {
            type    = "icmp"
            targets = ["198.18.\(i).1"]
          }
        }

        """
    }.joined() + """
        interface "lan0" {
          zone    = "LAN"
          address = "192.168.1.\(own)/24"
        }
        ha_pair {
          role_file = "/run/flywall/ha-role"
        }

        """
}

private func problems(_ source: String) -> [String] { decodingProblems(source, file: "ha.hcl") }

@Suite("HA pair: config, role, layout")
struct HATests {
    @Test func haBlockAndNatAddressDecode() throws {
        let config = try ConfigDecoder.load(source: pairConfig(own: 2), file: "ha.hcl")
        #expect(config.ha == HASettings(roleFile: "/run/flywall/ha-role"))
        #expect(config.interface(named: "wan0")?.wan?.natAddress == IPAddress("100.64.0.10"))
        #expect(FlywallConfig().ha == nil)
    }

    @Test func badHAAndNatSettingsAreLocatedErrors() {
        #expect(problems("ha_pair {\n  role_file = \"run/role\"\n}\n") == ["2:15: role_file: must be an absolute path, got \"run/role\""])
        #expect(problems("ha_pair {\n}\n").first?.hasPrefix("1:1: ha_pair: role_file is required") == true)
        #expect(problems("ha_pair {\n  role_file = \"/run/\"\n}\n").first?.hasPrefix("2:15: role_file: not a file path") == true)
        #expect(problems("ha_pair {\n  role = \"/x\"\n}\n").contains { $0.hasPrefix("2:3:") })
        let v6 = "interface \"wan0\" {\n  address = \"100.64.0.2/24\"\n  wan {\n    nat_address = \"2001:db8::1\"\n  }\n}\n"
        #expect(problems(v6) == ["4:19: nat_address: \"2001:db8::1\" is not an IPv4 address (IPv6 is not translated)"])
        let dhcp = "interface \"wan0\" {\n  dhcp = true\n  wan {\n    nat_address = \"100.64.0.10\"\n  }\n}\n"
        #expect(problems(dhcp).first?.hasPrefix("4:19: nat_address: needs a static IPv4 address") == true, "\(problems(dhcp))")
    }

    @Test func keepalivedStatesMapToRoles() {
        #expect(HARole.fromKeepalivedState("MASTER\n") == .master)
        #expect(HARole.fromKeepalivedState("master") == .master)
        for state in ["BACKUP\n", "FAULT", "STOP\n"] { #expect(HARole.fromKeepalivedState(Substring(state)) == .backup) }
        for junk in ["", "\n", "MASTERS", "primary", String(repeating: "x", count: 10_000)] {
            #expect(HARole.fromKeepalivedState(Substring(junk)) == nil)
        }
    }

    /// A backup flushes nothing when an uplink dies; taking over, it flushes the dead uplink's
    /// connections (those conntrackd just committed); as master it flushes as a standalone router.
    @Test func onlyTheMasterFlushes() throws {
        var config = dualWAN()
        config.ha = HASettings(roleFile: "/run/flywall/ha-role")
        var d = CoreDriver(config)
        #expect(d.core.role == .backup)
        d.run(seconds: 20)
        d.answering["eth0"] = false
        d.run(seconds: 30)
        #expect(d.events(.failover).count == 1, "the backup judges uplinks like the master")
        #expect(d.flushed.isEmpty)
        d.send(.roleChanged(.master))
        #expect(d.core.role == .master)
        #expect(d.flushed == ["eth0"])
        d.send(.roleChanged(.master))
        #expect(d.flushed == ["eth0"], "no change, no flush")
        d.answering["eth0"] = true
        d.run(seconds: 30)
        d.answering["eth1"] = false
        d.run(seconds: 30)
        #expect(d.flushed == ["eth0", "eth1"])
    }

    @Test func aStandaloneCoreHasNoRoleAndIgnoresRoleEvents() {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 10)
        let plans = d.plans
        d.send(.roleChanged(.master))
        #expect(d.core.role == nil && d.flushed.isEmpty && d.plans == plans)
    }

    @Test func bothRoutersHaveOneLayoutAndWANOrderBreaksIt() throws {
        let a = DataplaneLayout(config: try ConfigDecoder.load(source: pairConfig(own: 2), file: "a.hcl"))
        let b = DataplaneLayout(config: try ConfigDecoder.load(source: pairConfig(own: 3), file: "b.hcl"))
        #expect(a == b && a.fingerprint == b.fingerprint && a.fingerprint.count == 16)
        #expect(a.lines.first == "uplink 0 = wan0, nat to 100.64.0.10, own network 100.64.0.0/24")
        let swapped = DataplaneLayout(config: try ConfigDecoder.load(source: pairConfig(own: 3, wanOrder: [1, 0]), file: "c.hcl"))
        #expect(swapped.fingerprint != a.fingerprint)
        let (here, there) = a.differences(from: swapped)
        #expect(here.contains("uplink 0 = wan0, nat to 100.64.0.10, own network 100.64.0.0/24"))
        #expect(there.contains("uplink 0 = wan1, nat to 100.64.1.10, own network 100.64.1.0/24"))
    }
}
