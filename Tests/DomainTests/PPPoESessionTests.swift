import Testing
@testable import Domain

/// PPPoE lines in the core: pppd started at once, restarted with `SessionBackoff`, the WAN down with
/// pppd's reason while its session has no link, and the session's `ppp` interface used for probes,
/// link events and routes.
struct PPPoESessionTests {
    static let source = source(line: """
          pppoe {
            username = "user@isp.com"
            password = "secret"
          }
        """)

    static func source(line: String) -> String { """
        interface "eth0" {
          zone = "WAN"
          dhcp = true
          wan { priority = 2 }
        }
        interface "eth1" {
          zone = "WAN"
        \(line)
          wan { priority = 1 }
        }
        health_check {
          targets        = ["1.1.1.1"]
          interval       = "1s"
          timeout        = "500ms"
          threshold_down = 2
          threshold_up   = 2
        }

        """
    }

    static func driver() throws -> CoreDriver {
        CoreDriver(try ConfigDecoder.load(source: source, file: "t.hcl"))
    }

    func eth1(_ d: CoreDriver) -> WANStatus { d.core.status.first { $0.interface == "eth1" }! }

    static let noKernel = SessionExit(.exited(1), lastMessage: "Linux kernel does not support PPPoE -- are you running 2.4.x?")

    /// Netlink names the session's device; its IPv6 gateway belongs to the WAN (and the WAN's own
    /// name, not a device, means nothing there).
    @Test func anIPv6GatewayOnTheSessionDeviceIsTheWANs() throws {
        var d = try Self.driver()
        d.run(seconds: 1)
        d.send(.ipv6GatewayLearned(interface: "ppp-eth1", gateway: IPAddress("fe80::7")))
        #expect(d.core.plan.uplink(named: "eth1")?.ipv6Gateway == IPAddress("fe80::7"))
        d.send(.ipv6GatewayLearned(interface: "eth1", gateway: IPAddress("fe80::8")))
        #expect(d.core.plan.uplink(named: "eth1")?.ipv6Gateway == IPAddress("fe80::7"))
    }

    @Test func backoffDoublesFromOneSecondUpToSixty() {
        let delays = (1...9).map { SessionBackoff.delay(afterFailures: $0) }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
        #expect(SessionBackoff.delay(afterFailures: 0) == .seconds(1))
        #expect(SessionBackoff.delay(afterFailures: .max) == .seconds(60))
    }

    @Test func sessionStartsAtOnceAndTheWANWaitsForItsLink() throws {
        var d = try Self.driver()
        #expect(d.sessions.map(\.1) == ["start eth1"])
        #expect(d.sessions[0].0 == .zero)
        #expect(eth1(d).state == .down)
        #expect(eth1(d).reason == "PPPoE session starting")
        // No probe path on a ppp interface that does not exist yet.
        #expect(d.probeBindings.last?.map(\.interface) == ["eth0"])
        #expect(d.core.plan.uplink(named: "eth1")?.deviceExists == false)
        d.answering["eth1"] = false
        d.run(seconds: 3)
        #expect(d.core.plan.groups[0].active == ["eth0"])
        #expect(d.events.isEmpty, "a WAN that never had its session is not news: \(d.events)")
        // Its rounds fail (no probe path), but the reason stays the session's.
        #expect(eth1(d).failedRounds >= 2)
        #expect(eth1(d).reason == "PPPoE session starting")
    }

    @Test func restartTimesFollowTheScheduleExactly() throws {
        var d = try Self.driver()
        var ended = Instant.zero
        var gaps: [Int64] = []
        for _ in 0..<4 {
            d.send(.sessionEnded(interface: "eth1", Self.noKernel))
            #expect(eth1(d).reason.hasPrefix("PPPoE session down: kernel has no PPP support (pppd exit 1: Linux kernel"))
            ended = d.now
            let count = d.sessions.count
            while d.sessions.count == count { d.run(seconds: 0.25) }
            gaps.append((d.sessions.last!.0.nanoseconds - ended.nanoseconds) / 1_000_000)
        }
        #expect(gaps == [1_000, 2_000, 4_000, 8_000])
        // A WAN that never had its session is never news.
        #expect(d.events.filter { $0.interface == "eth1" }.isEmpty)
    }

    @Test func aSessionWhoseLinkCameUpCarriesTheWANAndItsEndIsAFailover() throws {
        var d = try Self.driver()
        d.send(.carrier(interface: "ppp-eth1", up: true))
        #expect(eth1(d).state == .up)
        #expect(d.core.plan.groups[0].active == ["eth1"])
        let uplink = try #require(d.core.plan.uplink(named: "eth1"))
        #expect(uplink.device == "ppp-eth1")
        #expect(uplink.deviceExists)
        #expect(uplink.gateway == nil)
        #expect(d.probeBindings.last?.first { $0.interface == "eth1" }?.device == "ppp-eth1")
        // A carrier event under the WAN's own name is not the session's link.
        d.send(.carrier(interface: "eth1", up: false))
        #expect(eth1(d).state == .up)
        d.run(seconds: 5)

        d.send(.sessionEnded(interface: "eth1", SessionExit(.exited(16), lastMessage: "Modem hangup")))
        #expect(eth1(d).state == .down)
        let down = try #require(d.events(.wanDown).last)
        #expect(down.interface == "eth1")
        #expect(down.reason == "PPPoE session down: pppd exit 16, line hung up: Modem hangup")
        #expect(d.events(.failover).last?.to == ["eth0"])
        #expect(d.flushed == ["eth1"])
        #expect(d.probeBindings.last?.map(\.interface) == ["eth0"])
        // The session had come up, so the count starts again: restart after 1 s.
        let ended = d.now
        d.run(seconds: 1.5)
        #expect(d.sessions.last.map { ($0.0.nanoseconds - ended.nanoseconds) / 1_000_000 } == 1_000)
        // Back up: now it needs threshold_up good rounds, as after any carrier loss.
        d.send(.carrier(interface: "ppp-eth1", up: true))
        #expect(eth1(d).state == .down)
        d.run(seconds: 3)
        #expect(eth1(d).state == .up)
        #expect(d.events(.failback).last?.to == ["eth1"])
    }

    @Test func reloadWithoutThePPPoEBlockStopsTheSession() throws {
        var d = try Self.driver()
        let plain = Self.source(line: "  dhcp = true")
        d.send(.configReplaced(try ConfigDecoder.load(source: plain, file: "t.hcl")))
        #expect(d.sessions.map(\.1) == ["start eth1", "stop eth1"])
        // A later end of that pppd is no longer the core's business.
        d.send(.sessionEnded(interface: "eth1", Self.noKernel))
        #expect(d.sessions.count == 2)
        #expect(d.probeBindings.last?.map(\.device) == ["eth0", "eth1"])
    }

    @Test func exitStatusesReadAsTheirMeaning() {
        #expect(SessionExit(.exited(4)).reason == "kernel has no PPP support (pppd exit 4)")
        #expect(SessionExit(.exited(19), lastMessage: "PAP authentication failed").reason
                == "pppd exit 19, authentication failed (check username and password): PAP authentication failed")
        #expect(SessionExit(.signaled(9)).reason == "pppd killed by signal 9")
        #expect(SessionExit(.notStarted("posix_spawn on /nope: No such file or directory (errno 2)")).reason
                == "pppd could not be started: posix_spawn on /nope: No such file or directory (errno 2)")
        let long = SessionExit(.exited(1), lastMessage: String(repeating: "x", count: 10_000))
        #expect(long.lastMessage?.count == SessionExit.maxMessageLength)
    }

    @Test func credentialsAreCheckedWithoutShowingThePassword() {
        func problems(_ pppoe: String, name: String = "eth1") -> [String] {
            let source = "interface \"\(name)\" {\n  pppoe {\n\(pppoe)\n  }\n}\n"
            do {
                _ = try ConfigDecoder.load(source: source, file: "t.hcl")
                return []
            } catch {
                return error.diagnostics.map { "\($0.location.line):\($0.location.column): \($0.message)" }
            }
        }
        #expect(problems("    username = \"u\"\n    password = \"line\\nbreak-secret\"")
                == ["4:16: password: must not contain control characters (newlines, tabs)"])
        #expect(problems("    username = \"\"\n    password = \"p\"") == ["3:16: username: must not be empty"])
        #expect(problems("    username = \"u\"\n    password = \"\(String(repeating: "p", count: 256))\"")
                == ["4:16: password: must be at most 255 bytes"])
        #expect(problems("    username = \"u\"\n    password = \"p\"", name: "enp0s31f6long")
                == ["2:3: pppoe: interface name \"enp0s31f6long\" is too long for a PPPoE line: its session interface \"ppp-enp0s31f6long\" must fit 15 characters (at most 11 here)"])
        #expect(problems("    username = \"u\"\n    password = \"p\"").isEmpty)
        #expect("\(PPPoE(username: "u", password: "hunter2"))".contains("hunter2") == false)
        #expect("\(PPPoESessionSpec(interface: "eth1", device: "ppp-eth1", credentials: PPPoE(username: "u", password: "hunter2")))".contains("hunter2") == false)
    }
}
