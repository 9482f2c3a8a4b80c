@testable import Adapters
import Domain
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `https://` checks through libcurl against a real HTTPS server (python3's `ssl`) in ISP A, with a
/// certificate the test makes (openssl): a test CA, a server certificate it signs for the target
/// address, and a self-signed impostor. The server answers `/NNN` with status NNN.
@Suite("HTTPS checks in network namespaces (root)", .enabled(if: geteuid() == 0, "needs root for namespaces"))
struct HTTPSProbeTests {
    static let target = "198.18.0.1"
    static let uplinkA = ProbeUplink(interface: "wan0", index: 0)
    static let uplinkB = ProbeUplink(interface: "wan1", index: 1)

    static let server = """
        import http.server, ssl, sys
        address, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                self.send_response(int(self.path.strip("/") or "200"))
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer((address, port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        print("ready", flush=True)
        server.serve_forever()
        """

    /// Makes the test CA, the server certificate it signs (for the target's IP address) and a
    /// self-signed one, in `directory`.
    static func makeCertificates(in directory: String) throws {
        let target = Self.target
        try ProbeLabNamespace.shell("""
            cd \(directory) && \
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=flywall-test-ca -keyout ca.key -out ca.pem 2>/dev/null && \
            openssl req -newkey rsa:2048 -nodes -subj /CN=\(target) -keyout server.key -out server.csr 2>/dev/null && \
            printf 'subjectAltName=IP:\(target)\\n' > san.ext && \
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem 2>/dev/null && \
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=\(target) -addext subjectAltName=IP:\(target) \
              -keyout self.key -out self.pem 2>/dev/null
            """)
    }

    /// Starts the python server in `namespace`; returns when it listens.
    static func startServer(in namespace: ProbeLabNamespace, port: Int, cert: String, key: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace.name, "python3", "-c", server, target, String(port), cert, key]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).hasPrefix("ready") else {
            stop(process)
            throw ProbeLabError(message: "the HTTPS server on port \(port) did not start")
        }
        return process
    }

    /// SIGKILL: the test runner's threads block SIGTERM, and children inherit that mask.
    static func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    @Test("204 passes, 503 fails, an untrusted certificate fails with the reason, and the check is bound to its uplink")
    func https() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flywall-https-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.makeCertificates(in: directory)
        let trusted = try Self.startServer(in: lab.ispA, port: 8443, cert: "\(directory)/server.pem", key: "\(directory)/server.key")
        defer { Self.stop(trusted) }
        let impostor = try Self.startServer(in: lab.ispA, port: 8444, cert: "\(directory)/self.pem", key: "\(directory)/self.key")
        defer { Self.stop(impostor) }

        let log = ProbeResultLog()
        let prober = try lab.router { try HTTPProber(onResult: log.append) }
        defer { prober.shutdown() }
        let ca = "\(directory)/ca.pem"
        var sequence: UInt32 = 0
        func check(_ path: String, port: Int = 8443, expect status: Int = 204, caFile: String? = ca,
                   via uplink: ProbeUplink = Self.uplinkA) -> ProbeID {
            sequence += 1
            let id = ProbeID(interface: uplink.interface, target: 0, sequence: sequence)
            let url = "https://\(Self.target):\(port)\(path)"
            prober.send(ProbeRequest(id: id, target: .http(url: url, expectedStatus: status), timeout: .seconds(3)),
                        via: uplink, caFile: caFile)
            return id
        }
        let ok = check("/204")
        let unavailable = check("/503")
        let systemStore = check("/204", caFile: nil)
        let selfSigned = check("/204", port: 8444)
        let missingCA = check("/204", caFile: "\(directory)/no-such-ca.pem")
        // ISP B holds the same address but no server: bound to uplink B, the check is refused.
        let otherISP = check("/204", via: Self.uplinkB)

        let results = try await log.wait(for: 6)
        func outcome(_ id: ProbeID) -> ProbeOutcome? { results.first { $0.id == id }?.outcome }
        guard case .reply(let rtt) = outcome(ok) else {
            Issue.record("expected a reply, got \(String(describing: outcome(ok)))")
            return
        }
        #expect(rtt > .zero && rtt < .seconds(3), "RTT \(rtt)")
        guard case .wrongStatus(503, let wrongRTT) = outcome(unavailable) else {
            Issue.record("expected wrongStatus(503), got \(String(describing: outcome(unavailable)))")
            return
        }
        #expect(wrongRTT > .zero)
        for (name, id) in [("the system store", systemStore), ("a self-signed certificate", selfSigned)] {
            guard case .failure(let reason) = outcome(id) else {
                Issue.record("\(name): expected a failure, got \(String(describing: outcome(id)))")
                continue
            }
            #expect(reason.hasPrefix("TLS certificate not trusted ("), "\(name): \(reason)")
        }
        guard case .failure(let caReason) = outcome(missingCA) else {
            Issue.record("a missing ca_file: expected a failure, got \(String(describing: outcome(missingCA)))")
            return
        }
        #expect(caReason.hasPrefix("cannot use ca_file") || caReason.hasPrefix("TLS certificate not trusted"), "\(caReason)")
        #expect(outcome(otherISP) == .failure("connection refused"))
        #expect(prober.inFlight == 0)
    }
}
