import Testing
@testable import Domain

/// The pure half of notifications: config, filter, coalescing, retry schedule, redaction.
struct NotificationPolicyTests {
    static let s: Int64 = 1_000_000_000

    static func policy(coalesce: Duration = .seconds(30)) -> NotificationPolicy {
        NotificationPolicy(Notifications(
            email: [.init(smtp: "mx.example.com:587", to: ["a@example.com"], events: [.wanDown, .failover]),
                    .init(enabled: false, smtp: "off.example.com:25", to: ["b@example.com"], events: WANEventKind.allCases)],
            webhook: [.init(url: "https://hooks.slack.com/services/T1/B2/XYZ", events: WANEventKind.allCases)],
            coalesce: coalesce))
    }

    @Test func onlyEnabledChannelsAndTheirEventsCount() {
        let p = Self.policy()
        #expect(p.channels.map(\.id) == ["email-1", "webhook-1"])
        let up = WANEvent(time: .zero, kind: .wanUp, interface: "eth0", reason: "2 good rounds")
        let down = WANEvent(time: .zero, kind: .wanDown, interface: "eth0", reason: "3 failed rounds")
        #expect(p.channels(for: up).map(\.id) == ["webhook-1"])
        #expect(p.channels(for: down).map(\.id) == ["email-1", "webhook-1"])
        #expect(NotificationPolicy(Notifications()).channels.isEmpty)
    }

    @Test func subjectsAreTheWANOrTheGroup() {
        #expect(NotificationPolicy.subject(of: WANEvent(time: .zero, kind: .wanDown, interface: "eth0", reason: "")) == "wan:eth0")
        #expect(NotificationPolicy.subject(of: WANEvent(time: .zero, kind: .failover, group: "default", from: ["eth0"], to: ["eth1"], reason: ""))
                == "group:default")
        #expect(NotificationPolicy.subject(of: WANEvent(time: .zero, kind: .allDown, group: "g", reason: "")) == "group:g")
    }

    @Test func theFirstEventGoesAtOnceAndLaterOnesWaitForTheWindow() {
        let p = Self.policy(coalesce: .seconds(30))
        // Nothing sent before: at once.
        #expect(p.due(oldestWaiting: 100 * Self.s, lastSent: nil, retryAt: nil) == 100 * Self.s)
        // Last message 10 s before the event: it waits until 30 s after that message.
        #expect(p.due(oldestWaiting: 110 * Self.s, lastSent: 100 * Self.s, retryAt: nil) == 130 * Self.s)
        // A quiet subject (last message 30 s or more ago): at once again.
        #expect(p.due(oldestWaiting: 130 * Self.s, lastSent: 100 * Self.s, retryAt: nil) == 130 * Self.s)
        #expect(p.due(oldestWaiting: 200 * Self.s, lastSent: 100 * Self.s, retryAt: nil) == 200 * Self.s)
        // A retry time later than the window wins; an earlier one does not pull the message forward.
        #expect(p.due(oldestWaiting: 110 * Self.s, lastSent: 100 * Self.s, retryAt: 140 * Self.s) == 140 * Self.s)
        #expect(p.due(oldestWaiting: 110 * Self.s, lastSent: 100 * Self.s, retryAt: 120 * Self.s) == 130 * Self.s)
        // Saturates instead of trapping.
        #expect(p.due(oldestWaiting: .max - 1, lastSent: .max - 2, retryAt: nil) == .max)
    }

    @Test func retriesDoubleFromOneSecondUpToFiveMinutes() {
        let delays = (1...12).map { NotificationPolicy.retryDelay(failedAttempts: $0) }
        #expect(delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300].map { Duration.seconds($0) })
        #expect(NotificationPolicy.retryDelay(failedAttempts: 0) == .seconds(1))
        #expect(NotificationPolicy.retryDelay(failedAttempts: .max) == .seconds(300))
    }

    @Test func webhookURLsLoseTheirPath() {
        #expect(NotificationPolicy.redactedURL("https://hooks.slack.com/services/T1/B2/XYZ") == "https://hooks.slack.com/<redacted>")
        #expect(NotificationPolicy.redactedURL("https://user:pw@example.com:8443/x?token=1") == "https://example.com:8443/<redacted>")
        #expect(NotificationPolicy.redactedURL("http://example.com/") == "http://example.com")
        #expect(NotificationPolicy.redactedURL("http://example.com") == "http://example.com")
        #expect(NotificationPolicy.redactedURL("garbage") == "<redacted>")
    }

    @Test func theNewAttributesDecodeWithDefaults() throws {
        let config = try ConfigDecoder.load(source: """
        notifications {
          coalesce = "1s"
          email {
            smtp     = "smtp.example.com:465"
            to       = ["a@example.com"]
            username = "me"
            password = "pw-secret-1"
            ca_file  = "/etc/ssl/ca.pem"
          }
          email {
            smtp = "smtp.example.com:587"
            to   = ["a@example.com"]
            tls  = "none"
          }
          webhook {
            url    = "https://hooks.example.com/abc/SECRETPATH"
            secret = "hook-secret-2"
          }
        }
        """, file: "f.hcl")
        let n = config.notifications
        #expect(n.coalesce == .seconds(1))
        #expect(n.email[0].tls == .implicit, "port 465 means implicit TLS")
        #expect(n.email[0].username == "me" && n.email[0].password == "pw-secret-1" && n.email[0].caFile == "/etc/ssl/ca.pem")
        #expect(n.email[1].tls == .none)
        #expect(n.webhook[0].secret == "hook-secret-2")
        #expect(try ConfigDecoder.load(source: "", file: "f.hcl").notifications.coalesce == .seconds(30))
        for printed in [ResolvedConfigPrinter.text(config), ResolvedConfigPrinter.json(config)] {
            for secret in ["pw-secret-1", "hook-secret-2", "SECRETPATH"] { #expect(!printed.contains(secret), "\(printed)") }
            #expect(printed.contains("https://hooks.example.com/<redacted>"))
        }
        #expect(ResolvedConfigPrinter.text(config, redactSecrets: false).contains("pw-secret-1"))
    }

    @Test func badValuesAreLocatedAndNeverEchoSecrets() {
        do {
            _ = try ConfigDecoder.load(source: """
            notifications {
              coalesce = "500ms"
              email {
                smtp     = "smtp.example.com:587"
                to       = ["a@example.com"]
                password = "pw-secret-1"
                tls      = "ssl"
              }
              webhook {
                url     = "ftp://hooks.example.com/SECRETPATH"
                secret  = ""
                ca_file = "relative.pem"
              }
            }
            """, file: "f.hcl")
            Issue.record("must fail")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.contains { $0.hasPrefix("f.hcl:2:14: error: coalesce:") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("f.hcl:6:5: error: password: needs username") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("f.hcl:7:16: error: tls:") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("f.hcl:10:15: error: url:") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("f.hcl:11:15: error: secret: must not be empty") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("f.hcl:12:5: error: ca_file: unused") }, "\(lines)")
            #expect(lines.count == 6, "\(lines)")
            let all = lines.joined()
            #expect(!all.contains("pw-secret-1") && !all.contains("SECRETPATH"), "\(all)")
        }
    }
}
