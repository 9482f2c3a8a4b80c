import Adapters
import Domain
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Gives a scenario's operator commands (`maintenance`, `force`) to the real daemon the way an
/// operator does: through its HTTP API (docs/api.md), the endpoints `flywall wan disable|enable|
/// failover` call, with the bearer token. The API listens on the router namespace's loopback, so
/// the connection is opened from a thread inside that namespace; the answer comes once the
/// daemon's loop has handled the command, so a command has taken effect when `give` returns.
///
/// A plain HTTP/1.1 exchange (`Connection: close`, the whole answer read until the daemon closes):
/// the lab talks only to its own daemon, and the lab's process is in another namespace than any
/// `URLSession` thread would be.
struct LabAPIClient: Sendable {
    var namespace: String
    var host: String
    var port: UInt16
    /// Never printed: answers are reported by status and the daemon's own words.
    var token: String

    /// The longest the lab waits for an answer (the daemon answers 202 itself after 2 s).
    static let timeout = timeval(tv_sec: 5, tv_usec: 0)
    static let maximumAnswer = 64 * 1024

    /// The endpoint and body of a command.
    static func request(for command: ManualCommand) -> (path: String, body: String) {
        switch command {
        case .maintenance(let interface, let enabled):
            return ("/api/wan/\(interface)/\(enabled ? "disable" : "enable")", "")
        case .forceActive(let group, let interface?):
            return ("/api/groups/\(group)/failover", #"{"interface": "\#(interface)"}"#)
        case .forceActive(let group, nil):
            return ("/api/groups/\(group)/failover", #"{"auto": true}"#)
        }
    }

    /// Sends the command; returns the HTTP status and the answer's body (JSON).
    func give(_ command: ManualCommand) throws -> (status: Int, body: String) {
        let (path, body) = Self.request(for: command)
        let message = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let (host, port) = (self.host, self.port)
        let answer = try LabNamespace.run(in: namespace) { () throws -> String in
            try Self.exchange(message, host: host, port: port)
        }
        let statusLine = answer.prefix { $0 != "\r" && $0 != "\n" }.split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/"), let status = Int(statusLine[1]) else {
            throw LabFailure("the daemon's API at \(host):\(port) answered \(path) with no HTTP status line")
        }
        let content = answer.range(of: "\r\n\r\n").map { String(answer[$0.upperBound...]) } ?? ""
        return (status, content.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func exchange(_ message: String, host: String, port: UInt16) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LabFailure("\(SystemError.lastErrno("socket"))") }
        defer { close(fd) }
        var timeout = Self.timeout
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw LabFailure("the lab gives commands only to an IPv4 API address, not \(host)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw LabFailure("cannot reach the daemon's API: \(SystemError.lastErrno("connect", on: "\(host):\(port)"))") }
        let bytes = Array(message.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw LabFailure("sending to the daemon's API: \(SystemError.lastErrno("send", on: "\(host):\(port)"))") }
            sent += n
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while answer.count < maximumAnswer {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw LabFailure("no answer from the daemon's API: \(SystemError.lastErrno("recv", on: "\(host):\(port)"))") }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
