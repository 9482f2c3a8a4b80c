import Testing
@testable import Domain

/// What operations rely on from the core and the config: evidence with every event, commands
/// recorded with who asked, the `api` and `history` blocks.
@Suite("operations: evidence, commands, api and history config")
struct OperationsDomainTests {
    @Test func aProbeVerdictCarriesItsCounterAndEachTargetsResults() throws {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 6)
        d.answering["eth0"] = false
        d.run(seconds: 30)
        let down = try #require(d.events(.wanDown).first)
        let evidence = try #require(down.evidence)
        #expect(evidence.cause == .probes)
        #expect(evidence.counter?.hasSuffix("failed probe rounds") == true)
        let threshold = d.core.config.healthCheck(for: "eth0")!.thresholdDown
        #expect(evidence.counter == "\(threshold)/\(threshold) failed probe rounds")
        #expect(evidence.targets.map(\.target) == ["1.1.1.1", "8.8.8.8"])
        #expect(evidence.targets.allSatisfy { $0.results == Array(repeating: "lost", count: threshold) && $0.rttMs.isEmpty })
        // The failover names the same evidence.
        #expect(d.events(.failover).first?.evidence == evidence)
    }

    @Test func carrierAndManualEvidence() throws {
        var d = CoreDriver(dualWAN())
        d.run(seconds: 1)
        d.send(.carrier(interface: "eth0", up: false))
        #expect(d.events(.wanDown).last?.evidence?.detail == "netlink: carrier down on eth0")
        let origin = CommandOrigin(source: "api", peer: "127.0.0.1:5000")
        d.send(.manual(.maintenance(interface: "eth1", enabled: true), origin: origin))
        #expect(d.events(.wanDown).last?.evidence == WANEvidence(cause: .manual, command: "wan disable eth1", origin: origin))
        #expect(d.commands.last == CommandRecord(time: d.now, command: "wan disable eth1", origin: origin, accepted: true,
                                                 result: "eth1: maintenance on"))
        d.send(.manual(.forceActive(group: "nope", interface: nil), origin: origin))
        #expect(d.commands.last?.accepted == false)
        #expect(d.commands.last?.command == "wan failover nope --auto")
    }

    @Test func apiAndHistoryBlocksWithDefaults() throws {
        let plain = try ConfigDecoder.load(source: "", file: "f.hcl")
        #expect(plain.api == APISettings(listen: "127.0.0.1:8080", token: nil))
        #expect(plain.history == HistorySettings(retention: .seconds(90 * 86_400), maxEvents: 100_000))
        let config = try ConfigDecoder.load(source: """
        api {
          listen = "[::1]:9090"
          token  = "0123456789abcdef-secret"
        }
        history {
          retention  = "30d"
          max_events = 5000
        }
        """, file: "f.hcl")
        #expect(config.api.listen == "[::1]:9090")
        #expect(config.history.maxEvents == 5000)
        #expect(config.history.retention == .seconds(30 * 86_400))
        let printed = ResolvedConfigPrinter.text(config)
        #expect(printed.contains("token  = \"<redacted>\"") && !printed.contains("secret"))
        #expect(!ResolvedConfigPrinter.json(config).contains("secret"))
    }

    @Test func badApiAndHistoryValuesAreLocatedAndNeverEchoTheToken() {
        do {
            _ = try ConfigDecoder.load(source: """
            api {
              listen = "0.0.0.0:99999"
              token  = "short"
            }
            history {
              retention  = "10s"
              max_events = 0
            }
            """, file: "f.hcl")
            Issue.record("must fail")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.count == 4, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("f.hcl:2:12: error: listen:") })
            #expect(lines.contains { $0.hasPrefix("f.hcl:3:12: error: token: must be at least 16 characters") })
            #expect(lines.contains { $0.hasPrefix("f.hcl:6:16: error: retention: must be at least 1m") })
            #expect(lines.contains { $0.hasPrefix("f.hcl:7:16: error: max_events") })
            #expect(!lines.joined().contains("short"))
        }
    }

    @Test func listenAddresses() {
        #expect(splitListenAddress("127.0.0.1:8080")! == ("127.0.0.1", 8080))
        #expect(splitListenAddress("[::1]:80")! == ("::1", 80))
        #expect(splitListenAddress("localhost:1")! == ("localhost", 1))
        for bad in ["8080", "127.0.0.1:0", "127.0.0.1:65536", "::1:80", "example.com:80", "1.2.3:4", ":80"] {
            #expect(splitListenAddress(bad) == nil, "\(bad)")
        }
    }
}
