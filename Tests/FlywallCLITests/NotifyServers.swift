import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real SMTP (aiosmtpd, STARTTLS + AUTH) and HTTPS servers of scripts/notify-test-servers.py on
/// loopback, with a certificate made for the test; reads back what they received.
final class NotifyServers {
    static let password = "smtp-pass-123"
    static let secret = "hook-secret-456"
    static let hookPath = "/services/T0001/B0001/SECRETPATHxyz"
    let dir: URL
    private(set) var smtpPort = 0
    private(set) var httpsPort = 0
    private var process: Process?

    var certificate: String { dir.appendingPathComponent("cert.pem").path }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("flywall-notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let r = try CLI.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                             "-keyout", dir.appendingPathComponent("key.pem").path, "-out", certificate],
                            executable: URL(fileURLWithPath: "/usr/bin/env"))
        guard r.status == 0 else { throw DemoError("openssl: \(r.stderr)") }
    }

    /// Starts both servers (on the given ports, else free ones) and waits until they listen.
    func start(smtpPort: Int = 0, httpsPort: Int = 0) throws {
        try? FileManager.default.removeItem(at: dir.appendingPathComponent("ports.json"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", CLI.repository.appendingPathComponent("scripts/notify-test-servers.py").path,
                       "--out", dir.path, "--cert", certificate, "--key", dir.appendingPathComponent("key.pem").path,
                       "--smtp-port", "\(smtpPort)", "--https-port", "\(httpsPort)",
                       "--password", NotifyServers.password, "--secret", NotifyServers.secret]
        let log = dir.appendingPathComponent("servers.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: log)
        try p.run()
        process = p
        for _ in 0..<100 {
            if let data = try? Data(contentsOf: dir.appendingPathComponent("ports.json")),
               let ports = try JSONSerialization.jsonObject(with: data) as? [String: Int] {
                self.smtpPort = ports["smtp"] ?? 0
                self.httpsPort = ports["https"] ?? 0
                return
            }
            usleep(100_000)
        }
        throw DemoError("notify test servers did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
    func stop() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    deinit { stop() }

    /// `hook-hang` or `hook-fail` on or off.
    func set(_ switchName: String, _ on: Bool) {
        let path = dir.appendingPathComponent(switchName).path
        if on { FileManager.default.createFile(atPath: path, contents: nil) } else { try? FileManager.default.removeItem(atPath: path) }
    }

    /// What the servers recorded, in arrival order: `mail` or `hook` records.
    func records(_ kind: String) -> [[String: Any]] {
        var result: [[String: Any]] = []
        for n in 1... {
            guard let data = try? Data(contentsOf: dir.appendingPathComponent("\(kind)-\(n).json")),
                  let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { break }
            result.append(record)
        }
        return result
    }

    /// The webhook bodies, parsed.
    func hookBodies() -> [[String: Any]] {
        records("hook").compactMap { ($0["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } }
    }

    func waitFor(_ what: String, timeout: Double = 30, _ condition: () -> Bool) throws {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return }
            usleep(100_000)
        }
        throw DemoError("timed out waiting for \(what); mail: \(records("mail")), hooks: \(records("hook"))")
    }

    /// A `notifications` block for these servers.
    func block(coalesce: String = "1s", emailEvents: String? = nil, hookEvents: String? = nil, email: Bool = true,
               hookPort: Int? = nil) -> String {
        var text = "notifications {\n  coalesce = \"\(coalesce)\"\n"
        if email {
            text += """
                  email {
                    smtp     = "127.0.0.1:\(smtpPort)"
                    from     = "router@example.com"
                    to       = ["admin@example.com", "noc@example.com"]
                    username = "flywall"
                    password = "\(NotifyServers.password)"
                    ca_file  = "\(certificate)"
                \(emailEvents.map { "    events = \($0)\n" } ?? "")  }

                """
        }
        text += """
              webhook {
                url     = "https://127.0.0.1:\(hookPort ?? httpsPort)\(NotifyServers.hookPath)"
                secret  = "\(NotifyServers.secret)"
                ca_file = "\(certificate)"
            \(hookEvents.map { "    events = \($0)\n" } ?? "")  }
            }

            """
        return text
    }
}
