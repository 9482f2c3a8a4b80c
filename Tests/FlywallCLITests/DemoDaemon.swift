import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `flywall daemon --scenario` started by a test: the built-in black-hole scenario with an API
/// token and a port of its own, sped up, with its own state directory. Always stopped by the test.
final class DemoDaemon {
    static let token = "test-token-0123456789abcdef"
    let port: Int
    let stateDir: String
    let scenarioPath: String
    private(set) var process: Process?
    let log: URL
    /// Listen given by `flywall daemon --api ADDR:PORT` instead of `api { listen }`.
    let listenByFlag: Bool
    /// Added to the daemon's environment (e.g. `JOURNAL_STREAM`).
    let environment: [String: String]

    var api: String { "http://127.0.0.1:\(port)" }

    /// `base`: the scenario text (default: the built-in black-hole scenario); `edit` changes it
    /// before it is written (e.g. removes the repair); `extra` is appended.
    init(speed: Int = 20, extra: String = "", stateDir: String? = nil, base: String? = nil,
         listenByFlag: Bool = false, environment: [String: String] = [:],
         edit: (String) -> String = { $0 }) throws {
        port = DemoDaemon.freePort()
        self.listenByFlag = listenByFlag
        self.environment = environment
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flywall-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.stateDir = stateDir ?? dir.appendingPathComponent("state").path
        let base = try base ?? String(contentsOf: CLI.repository.appendingPathComponent("Scenarios/basic-dual-wan-blackhole.hcl"), encoding: .utf8)
        scenarioPath = dir.appendingPathComponent("demo.hcl").path
        let listen = listenByFlag ? "" : "  listen = \"127.0.0.1:\(port)\"\n"
        try (edit(base) + "\napi {\n\(listen)  token  = \"\(DemoDaemon.token)\"\n}\n" + extra)
            .write(toFile: scenarioPath, atomically: true, encoding: .utf8)
        log = dir.appendingPathComponent("daemon.log")
        try start(speed: speed)
    }

    func start(speed: Int = 20) throws {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["daemon", "--scenario", scenarioPath, "--speed", "\(speed)", "--state-dir", stateDir]
            + (listenByFlag ? ["--api", "127.0.0.1:\(port)"] : [])
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        process = p
        // Up when the API answers.
        for _ in 0..<200 {
            if let r = try? HTTP.request(port: port, "GET /api/wan/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
               r.hasPrefix("HTTP/1.1 200") { return }
            usleep(50_000)
        }
        throw DemoError("the demo daemon did not answer on port \(port): \(logText)")
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func kill9() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    func stop() {
        guard let p = process else { return }
        p.terminate()
        p.waitUntilExit()
        process = nil
    }

    deinit { stop() }

    func cli(_ arguments: [String], token: Bool = false) throws -> CLI.Result {
        try CLI.run(arguments + ["--api", api] + (token ? ["--token", DemoDaemon.token] : []))
    }

    /// Polls until `condition` holds for the CLI's output (the scenario runs in real time / speed).
    func wait(_ arguments: [String], timeout: Double = 20, until condition: (String) -> Bool) throws -> String {
        let end = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < end {
            last = try cli(arguments).stdout
            if condition(last) { return last }
            usleep(100_000)
        }
        throw DemoError("timed out waiting; last output:\n\(last)")
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct DemoError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Raw HTTP/1.1 over a loopback socket, for requests a well-behaved client never sends.
enum HTTP {
    /// Connects, sends `text`, reads until the server closes or `timeout` seconds pass.
    static func request(port: Int, _ text: String, timeout: Double = 5) throws -> String {
        let fd = try connect(port: port, timeout: timeout)
        defer { close(fd) }
        try send(fd, text)
        return receive(fd)
    }

    static func connect(port: Int, timeout: Double) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            close(fd)
            throw DemoError("connect to port \(port) failed")
        }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw DemoError("send failed") }
            sent += n
        }
    }

    /// Everything until EOF (or the receive timeout).
    static func receive(_ fd: Int32) -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads until the peer closes (`closed`) or the socket's receive timeout expires (not closed).
    static func receiveUntilClosed(_ fd: Int32) -> (text: String, closed: Bool) {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return (String(decoding: data, as: UTF8.self), true) }
            if n < 0 { return (String(decoding: data, as: UTF8.self), errno != EAGAIN && errno != EWOULDBLOCK) }
            data += buffer[0..<n]
        }
    }
}
