import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real daemon's webhook and email in namespaces: the HTTPS receiver and the SMTP server
/// (aiosmtpd, STARTTLS and AUTH) are 203.0.113.10, which every ISP holds, so the ISP that records a
/// message is the uplink it left through.
@Suite(.serialized) struct NotificationLabTests {
    static let secret = "lab-hook-secret-789"
    static let smtpPassword = "lab-smtp-pass-456"

    /// `hang`: both receivers accept the connection and never answer (the sender times out at
    /// 30 s); the failover must come as fast as with receivers that answer.
    @Test(arguments: [false, true]) func notificationsLeaveThroughAWorkingUplinkNeverTheDeadOne(hang: Bool) async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let dir = lab.directory.appendingPathComponent("notify")
            let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            _ = try LabShell.runStatus(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                        "-subj", "/CN=flywall-lab", "-addext", "subjectAltName=IP:\(LabTopology.server)",
                                        "-keyout", key, "-out", cert])
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/notify-test-servers.py").path
            var outs: [URL] = []
            var servers: [LabProcess] = []
            for isp in lab.isps {
                let out = dir.appendingPathComponent(isp.name)
                try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
                outs.append(out)
                if hang { FileManager.default.createFile(atPath: out.appendingPathComponent("hook-hang").path, contents: nil) }
                servers += [try lab.spawn("hooks \(isp.name)", in: isp.namespace,
                                  ["/usr/bin/python3", script, "--out", out.path, "--cert", cert, "--key", key,
                                   "--https-host", LabTopology.server, "--https-port", "8443", "--secret", Self.secret,
                                   "--smtp-host", LabTopology.server, "--smtp-port", "2525", "--password", Self.smtpPassword])]
            }
            func received(_ kind: String, _ i: Int) -> [[String: Any]] {
                (1...).lazy.map { outs[i].appendingPathComponent("\(kind)-\($0).json") }
                    .prefix { FileManager.default.fileExists(atPath: $0.path) }
                    .compactMap { (try? Data(contentsOf: $0)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } }
            }
            func hooks(_ i: Int) -> [[String: Any]] { received("hook", i) }
            func mails(_ i: Int) -> [[String: Any]] { received("mail", i) }
            let notifications = """
                notifications {
                  coalesce = "1s"
                  webhook {
                    url     = "https://\(LabTopology.server):8443/hooks/LABSECRETPATH"
                    secret  = "\(Self.secret)"
                    ca_file = "\(cert)"
                    events  = ["wan_down", "failover"]
                  }
                  email {
                    smtp     = "\(LabTopology.server):2525"
                    from     = "router@example.com"
                    to       = ["noc@example.com"]
                    username = "flywall"
                    password = "\(Self.smtpPassword)"
                    ca_file  = "\(cert)"
                    events   = ["failover"]
                  }
                }

                """
            let daemon = try LabDaemon(lab: lab, config: LabConfig.interfaces(lab) + LabConfig.failoverGroup(lab) + notifications)
            guard await daemon.waitReady() else { return }
            let started = Date()
            try lab.blackhole(0)
            guard await daemon.expectLog("failover: group default: eth0 -> eth1") != nil else { return }
            let failoverAfter = Date().timeIntervalSince(started)
            if hang {
                #expect(hooks(0).isEmpty && hooks(1).isEmpty)
                #expect(await daemon.waitForLog("failed (attempt", seconds: 0.5) == nil, "the hung attempt has not timed out yet")
            } else {
                let arrived = await eventually(seconds: 15) { hooks(1).count >= 2 }
                let bodies = hooks(1).compactMap { ($0["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } }
                #expect(arrived, "isp1 got \(hooks(1)), isp0 \(hooks(0)); servers: \(servers.map(\.lines)); \(daemon.tail)")
                #expect(Set(bodies.compactMap { $0["event"] as? String }) == ["wan_down", "failover"], "\(bodies)")
                #expect(hooks(1).allSatisfy { $0["signature_valid"] as? Bool == true })
                #expect(hooks(0).isEmpty, "nothing through the black-holed eth0: \(hooks(0))")
            }
            // The mail server is not hung in either case: the failover's mail arrives by eth1, over
            // STARTTLS with the login, and nothing reaches eth0's ISP.
            let mailed = await eventually(seconds: 15) { !mails(1).isEmpty }
            #expect(mailed, "isp1 mails \(mails(1)), isp0 \(mails(0)); servers: \(servers.map(\.lines)); \(daemon.tail)")
            if let mail = mails(1).first {
                #expect((mail["subject"] as? String)?.contains("failover default: eth0 -> eth1") == true, "\(mail)")
                #expect(mail["tls"] as? Bool == true && mail["login"] as? String == "flywall", "\(mail)")
            }
            #expect(mails(0).isEmpty, "no mail through the black-holed eth0: \(mails(0))")
            // A hung receiver delays no decision: with the webhook attempt still hanging (its 30 s
            // timeout not reached, nothing recorded), the repaired eth0's good rounds bring the failback.
            try lab.repair(0)
            let failback = await daemon.expectLog("failback: group default: eth1 -> eth0")
            if hang, failback != nil {
                #expect(hooks(0).isEmpty && hooks(1).isEmpty, "the hung hook answered: \(hooks(0)) \(hooks(1))")
                #expect(!daemon.lines.joined().contains("failed (attempt"), "the hung attempt timed out before the failback: \(daemon.tail)")
            }
            #expect(!daemon.lines.joined().contains("LABSECRETPATH") && !daemon.lines.joined().contains(Self.secret)
                    && !daemon.lines.joined().contains(Self.smtpPassword))
            print("lab notifications (receivers \(hang ? "hung" : "answering")): failover logged \(String(format: "%.2f", failoverAfter)) s after the black hole (2 rounds of 1 s; printed, not asserted), webhooks at isp1: \(hooks(1).count), at isp0: \(hooks(0).count), mails at isp1: \(mails(1).count), at isp0: \(mails(0).count), load \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "")")
        }
    }
}
