@testable import Adapters
import Domain
import Foundation
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

var captureTestsAreRoot: Bool { geteuid() == 0 }

/// Network namespaces named `fw-<random>-<role>` for one test, built with `ip` and `nft` (tests may
/// use the CLI tools; the product does not). Every address used lives in these namespaces.
final class CaptureTestLab: Sendable {
    let prefix: String

    init(roles: [String]) throws {
        prefix = "fw-" + String(UInt32.random(in: 0 ... .max), radix: 36)
        do {
            for role in roles {
                try CaptureTestShell.run("ip netns add \(name(role))")
                try sh(role, "ip link set lo up")
            }
        } catch {
            remove()
            throw error
        }
    }

    func name(_ role: String) -> String { "\(prefix)-\(role)" }

    /// Runs a shell command inside the role's namespace; returns its standard output.
    @discardableResult
    func sh(_ role: String, _ command: String) throws -> String {
        try CaptureTestShell.run("ip netns exec \(name(role)) sh -c '\(command.replacingOccurrences(of: "'", with: "'\\''"))'")
    }

    /// Runs `body` on a thread inside the role's namespace (sockets and captures opened there stay there).
    func inside<T>(_ role: String, _ body: () throws -> T) throws -> T {
        try NetworkNamespace.run(named: name(role), body)
    }

    /// Deletes every namespace with this lab's prefix (veths, addresses and rules go with them).
    func remove() {
        let list = (try? CaptureTestShell.run("ip netns list")) ?? ""
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            if name.hasPrefix(prefix + "-") { _ = try? CaptureTestShell.run("ip netns delete \(name)") }
        }
    }

    // MARK: Topologies

    static let a4 = IPAddress("198.18.31.1")!
    static let b4 = IPAddress("198.18.31.2")!
    static let a6 = IPAddress("fd00:31:1::1")!
    static let b6 = IPAddress("fd00:31:1::2")!

    /// Two namespaces on one veth: `a` (ca0: 198.18.31.1, fd00:31:1::1) and `b` (cb0: .2, ::2).
    static func pair() throws -> CaptureTestLab {
        let lab = try CaptureTestLab(roles: ["a", "b"])
        do {
            try lab.sh("a", "ip link add ca0 type veth peer name cb0 netns \(lab.name("b"))")
            try lab.sh("a", "ip addr add 198.18.31.1/24 dev ca0 && ip addr add fd00:31:1::1/64 dev ca0 nodad && ip link set ca0 up")
            try lab.sh("b", "ip addr add 198.18.31.2/24 dev cb0 && ip addr add fd00:31:1::2/64 dev cb0 nodad && ip link set cb0 up")
        } catch {
            lab.remove()
            throw error
        }
        return lab
    }

    static let lan4 = IPAddress("192.168.31.2")!
    static let lan6 = IPAddress("fd00:31:2::2")!
    static let wan4 = IPAddress("100.64.31.2")!
    static let wan6 = IPAddress("fd00:31:1::2")!
    static let isp4 = IPAddress("100.64.31.1")!
    static let isp6 = IPAddress("fd00:31:1::1")!

    /// `lan` (l0) ── (rl0) `router` (rw0) ── (iw0) `isp`. The router forwards and masquerades on
    /// rw0, and the ISP has no route to the LAN, so only masqueraded connections can be answered.
    /// The ISP drops TCP to port 8082 and listens on nothing until a test opens a socket.
    static func routed() throws -> CaptureTestLab {
        let lab = try CaptureTestLab(roles: ["lan", "router", "isp"])
        do {
            try lab.sh("router", "ip link add rl0 type veth peer name l0 netns \(lab.name("lan"))")
            try lab.sh("router", "ip link add rw0 type veth peer name iw0 netns \(lab.name("isp"))")
            try lab.sh("lan", """
                ip addr add 192.168.31.2/24 dev l0 && ip addr add fd00:31:2::2/64 dev l0 nodad && ip link set l0 up \
                && ip route add default via 192.168.31.1 && ip -6 route add default via fd00:31:2::1
                """)
            try lab.sh("router", """
                ip addr add 192.168.31.1/24 dev rl0 && ip addr add fd00:31:2::1/64 dev rl0 nodad && ip link set rl0 up \
                && ip addr add 100.64.31.2/24 dev rw0 && ip addr add fd00:31:1::2/64 dev rw0 nodad && ip link set rw0 up \
                && sysctl -qw net.ipv4.ip_forward=1 && sysctl -qw net.ipv6.conf.all.forwarding=1
                """)
            try lab.sh("router", """
                nft -f - <<'EOF'
                table inet lab {
                  chain postrouting { type nat hook postrouting priority 100; oifname "rw0" masquerade; }
                }
                EOF
                """)
            try lab.sh("isp", """
                ip addr add 100.64.31.1/24 dev iw0 && ip addr add fd00:31:1::1/64 dev iw0 nodad && ip link set iw0 up
                """)
            try lab.sh("isp", """
                nft -f - <<'EOF'
                table inet lab {
                  chain input { type filter hook input priority 0; tcp dport 8082 drop; }
                }
                EOF
                """)
        } catch {
            lab.remove()
            throw error
        }
        return lab
    }
}

struct CaptureTestError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

enum CaptureTestShell {
    /// Runs `/bin/sh -c command` (with /usr/sbin on the PATH) and returns stdout; throws on failure.
    @discardableResult
    static func run(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:" + (environment["PATH"] ?? "")
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CaptureTestError(message: "`\(command)` exited \(process.terminationStatus): \(String(decoding: errorData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Values delivered on another thread, kept for a test to wait for.
final class CaptureTestLog<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    func append(_ item: Element) { items.withLock { $0.append(item) } }

    var all: [Element] { items.withLock { $0 } }

    /// Waits until the values satisfy `condition` or `limit` passes (generous: CI machines are
    /// loaded; the assertions that follow check exact values), and returns them all.
    @discardableResult
    func wait(limit: Duration = .seconds(15), until condition: ([Element]) -> Bool) async -> [Element] {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if condition(all) { return all }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return all
    }
}

/// Plain sockets for the tests' traffic, opened on the calling thread (so in its namespace).
enum CaptureTestSocket {
    static func withSockaddr<R>(_ address: IPAddress, port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        ProbeSocket.withSockaddr(address, port: port, body)
    }

    private static func failure(_ what: String) -> CaptureTestError {
        CaptureTestError(message: "\(what): \(String(cString: strerror(errno))) (errno \(errno))")
    }

    private static func tcpSocket(_ address: IPAddress) throws -> Int32 {
        let fd = socket(address.isV4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    /// A listening TCP socket; the kernel answers SYNs without anyone calling accept.
    static func listen(_ address: IPAddress, port: UInt16) throws -> Int32 {
        let fd = try tcpSocket(address)
        guard withSockaddr(address, port: port, { bind(fd, $0, $1) }) == 0, Glibc.listen(fd, 64) == 0 else {
            close(fd)
            throw failure("bind/listen \(address) port \(port)")
        }
        return fd
    }

    enum ConnectOutcome: Equatable { case connected, refused, pending }

    /// Connects from `source:sourcePort` to `destination:port` without blocking, waits up to `wait`
    /// for the handshake, then closes the socket. With `wait` zero the socket is closed right after
    /// its first SYN left (a socket closed in SYN-SENT sends nothing more).
    static func connect(from source: IPAddress, sourcePort: UInt16, to destination: IPAddress, port: UInt16,
                        wait: Duration = .seconds(5)) throws -> ConnectOutcome {
        let fd = try tcpSocket(destination)
        defer { close(fd) }
        guard withSockaddr(source, port: sourcePort, { bind(fd, $0, $1) }) == 0 else { throw failure("bind \(source):\(sourcePort)") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let started = withSockaddr(destination, port: port) { Glibc.connect(fd, $0, $1) }
        if started == 0 { return .connected }
        guard errno == EINPROGRESS else {
            if errno == ECONNREFUSED { return .refused }
            throw failure("connect \(destination):\(port)")
        }
        let milliseconds = Int32(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&pfd, 1, milliseconds) == 1 else { return .pending }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        switch error {
        case 0: return .connected
        case ECONNREFUSED: return .refused
        default: throw CaptureTestError(message: "connect \(destination):\(port): errno \(error)")
        }
    }

    /// Creates a tun device (no packet information header) in the calling thread's namespace and
    /// returns its descriptor; the device lives as long as the descriptor is open.
    static func openTun(_ name: String) throws -> Int32 {
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw failure("open /dev/net/tun") }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { bytes in
            for (i, byte) in name.utf8.prefix(15).enumerated() { bytes[i] = byte }
        }
        request.ifr_ifru.ifru_flags = 0x0001 | 0x1000  // IFF_TUN | IFF_NO_PI
        let tunSetInterface: UInt = 0x4004_54ca  // TUNSETIFF = _IOW('T', 202, int)
        guard withUnsafeMutablePointer(to: &request, { ioctl(fd, tunSetInterface, $0) }) == 0 else {
            let error = failure("TUNSETIFF \(name)")
            close(fd)
            throw error
        }
        return fd
    }

    /// Sends one UDP datagram ("flywall") from `source:sourcePort`.
    static func sendUDP(from source: IPAddress, sourcePort: UInt16, to destination: IPAddress, port: UInt16) throws {
        let fd = socket(source.isV4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        defer { close(fd) }
        guard withSockaddr(source, port: sourcePort, { bind(fd, $0, $1) }) == 0 else { throw failure("bind \(source)") }
        let payload = Array("flywall".utf8)
        let sent = withSockaddr(destination, port: port) { address, length in
            payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
        }
        guard sent == payload.count else { throw failure("sendto \(destination)") }
    }

    /// Sends one ICMP or ICMPv6 echo request with an 8-byte payload ("flywall!") from a raw socket.
    static func sendEcho(to destination: IPAddress, identifier: UInt16, sequence: UInt16) throws {
        let v4 = destination.isV4
        let fd = socket(v4 ? AF_INET : AF_INET6, Int32(SOCK_RAW.rawValue), v4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6))
        guard fd >= 0 else { throw failure("raw socket") }
        defer { close(fd) }
        var message: [UInt8] = [v4 ? 8 : 128, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff),
                                UInt8(sequence >> 8), UInt8(sequence & 0xff)] + Array("flywall!".utf8)
        if v4 {  // ICMPv6 checksums are the kernel's job; ICMP's are ours.
            var sum: UInt32 = 0
            for i in stride(from: 0, to: message.count, by: 2) { sum += UInt32(message[i]) << 8 | UInt32(message[i + 1]) }
            while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
            let checksum = ~UInt16(sum)
            message[2] = UInt8(checksum >> 8)
            message[3] = UInt8(checksum & 0xff)
        }
        let sent = withSockaddr(destination, port: 0) { address, length in
            message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
        }
        guard sent == message.count else { throw failure("sendto \(destination)") }
    }
}

@Suite("Capture: live captures in network namespaces", .serialized)
struct CaptureNamespaceTests {
    typealias Lab = CaptureTestLab

    @Test("ICMP and ICMPv6 echoes between two namespaces, with addresses, ids, sequences and lengths",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func echoes() async throws {
        let lab = try Lab.pair()
        defer { lab.remove() }
        let log = CaptureTestLog<CapturedPacket>()
        let capture = try lab.inside("a") {
            try PacketCapture(CaptureConfiguration(interface: "ca0", filter: "icmp or (icmp6 and (ip6[40] == 128 or ip6[40] == 129))"),
                              onPacket: log.append)
        }
        defer { capture.stop() }
        try lab.inside("a") {
            try CaptureTestSocket.sendEcho(to: Lab.b4, identifier: 0x4242, sequence: 1)
            try CaptureTestSocket.sendEcho(to: Lab.b4, identifier: 0x4242, sequence: 2)
            try CaptureTestSocket.sendEcho(to: Lab.b6, identifier: 0x4343, sequence: 7)
        }
        let packets = await log.wait { $0.count >= 6 }
        try await Task.sleep(for: .milliseconds(200))  // nothing else may arrive

        struct Echo: Hashable {
            var source: IPAddress, destination: IPAddress, version: IPVersion, proto: IPProtocol
            var icmp: ICMPMessageHeader?, length: Int, interface: String, direction: CaptureDirection?
        }
        let seen = log.all.map {
            Echo(source: $0.source, destination: $0.destination, version: $0.ipVersion, proto: $0.ipProtocol,
                 icmp: $0.icmp, length: $0.length, interface: $0.interface, direction: $0.direction)
        }
        func v4(_ from: IPAddress, _ to: IPAddress, _ type: UInt8, _ seq: UInt16) -> Echo {
            Echo(source: from, destination: to, version: .v4, proto: .icmp,
                 icmp: ICMPMessageHeader(type: type, code: 0, identifier: 0x4242, sequence: seq),
                 length: 14 + 20 + 16, interface: "ca0", direction: nil)
        }
        func v6(_ from: IPAddress, _ to: IPAddress, _ type: UInt8) -> Echo {
            Echo(source: from, destination: to, version: .v6, proto: .icmpv6,
                 icmp: ICMPMessageHeader(type: type, code: 0, identifier: 0x4343, sequence: 7),
                 length: 14 + 40 + 16, interface: "ca0", direction: nil)
        }
        let expected = [v4(Lab.a4, Lab.b4, 8, 1), v4(Lab.b4, Lab.a4, 0, 1), v4(Lab.a4, Lab.b4, 8, 2),
                        v4(Lab.b4, Lab.a4, 0, 2), v6(Lab.a6, Lab.b6, 128), v6(Lab.b6, Lab.a6, 129)]
        #expect(packets.count == 6)
        #expect(seen.count == 6)
        #expect(Set(seen) == Set(expected))
        // Each reply was captured after its request, and stamps are recent wall-clock times.
        let all = log.all
        for (type, reply) in [(UInt8(8), UInt8(0)), (128, 129)] {
            for packet in all where packet.icmp?.type == reply {
                let request = try #require(all.first { $0.icmp?.type == type && $0.icmp?.sequence == packet.icmp?.sequence })
                #expect(request.timestamp <= packet.timestamp)
            }
        }
        let now = Date().timeIntervalSince1970
        for packet in all {
            let seconds = Double(packet.timestamp.components.seconds)
            #expect(abs(seconds - now) < 60)
        }
        let stats = capture.stop()
        #expect(stats.received >= 6)
        #expect(stats.droppedByKernel == 0)
    }

    @Test("the any device names the interface and direction: a masqueraded SYN enters on rl0 and leaves on rw0",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func anyDeviceThroughNAT() async throws {
        let lab = try Lab.routed()
        defer { lab.remove() }
        let server = try lab.inside("isp") { try CaptureTestSocket.listen(Lab.isp4, port: 8080) }
        defer { close(server) }
        let log = CaptureTestLog<CapturedPacket>()
        let capture = try lab.inside("router") {
            try PacketCapture(CaptureConfiguration(interface: "any", filter: "tcp port 8080"), onPacket: log.append)
        }
        defer { capture.stop() }

        let outcome = try lab.inside("lan") {
            try CaptureTestSocket.connect(from: Lab.lan4, sourcePort: 40123, to: Lab.isp4, port: 8080)
        }
        #expect(outcome == .connected)
        let packets = await log.wait { packets in packets.contains { $0.interface == "rl0" && $0.direction == .outgoing && $0.tcpFlags == [.syn, .ack] } }

        func first(_ interface: String, _ direction: CaptureDirection, _ flags: TCPFlags) throws -> CapturedPacket {
            try #require(packets.first { $0.interface == interface && $0.direction == direction && $0.tcpFlags == flags },
                         "no [\(flags)] \(direction) on \(interface) in \(packets)")
        }
        let synIn = try first("rl0", .incoming, .syn)
        let synOut = try first("rw0", .outgoing, .syn)
        let answerIn = try first("rw0", .incoming, [.syn, .ack])
        let answerOut = try first("rl0", .outgoing, [.syn, .ack])

        #expect(synIn.source == Lab.lan4 && synIn.sourcePort == 40123)
        #expect(synIn.destination == Lab.isp4 && synIn.destinationPort == 8080)
        #expect(synIn.ipVersion == .v4 && synIn.ipProtocol == .tcp)
        // Masqueraded: the WAN address, the same port (it was free) and the same sequence number.
        #expect(synOut.source == Lab.wan4 && synOut.sourcePort == 40123)
        #expect(synOut.destination == Lab.isp4 && synOut.destinationPort == 8080)
        #expect(synOut.tcp?.sequence == synIn.tcp?.sequence)
        #expect(answerIn.source == Lab.isp4 && answerIn.sourcePort == 8080)
        #expect(answerIn.destination == Lab.wan4 && answerIn.destinationPort == 40123)
        #expect(answerIn.tcp?.acknowledgment == synIn.tcp!.sequence &+ 1)
        #expect(answerOut.destination == Lab.lan4 && answerOut.destinationPort == 40123)
        #expect(answerOut.tcp?.sequence == answerIn.tcp?.sequence)
        #expect(synIn.timestamp <= synOut.timestamp && synOut.timestamp <= answerIn.timestamp)
        // Only the test's connection passed the filter.
        #expect(packets.allSatisfy { $0.sourcePort == 8080 || $0.destinationPort == 8080 })
    }

    @Test("a direction setting keeps only outgoing or only incoming packets, and says so",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func directions() async throws {
        let lab = try Lab.pair()
        defer { lab.remove() }
        let server = try lab.inside("b") { try CaptureTestSocket.listen(Lab.b6, port: 9000) }
        defer { close(server) }
        let outgoing = CaptureTestLog<CapturedPacket>()
        let incoming = CaptureTestLog<CapturedPacket>()
        let (out, inbound) = try lab.inside("a") {
            (try PacketCapture(CaptureConfiguration(interface: "ca0", filter: "tcp", direction: .outgoing), onPacket: outgoing.append),
             try PacketCapture(CaptureConfiguration(interface: "ca0", filter: "tcp", direction: .incoming), onPacket: incoming.append))
        }
        defer { out.stop(); inbound.stop() }
        let outcome = try lab.inside("a") { try CaptureTestSocket.connect(from: Lab.a6, sourcePort: 41000, to: Lab.b6, port: 9000) }
        #expect(outcome == .connected)
        // The client closes at once: SYN, ACK, FIN out; SYN-ACK, then the server's FIN or ACK in.
        let sent = await outgoing.wait { $0.count >= 3 }
        let received = await incoming.wait { $0.count >= 2 }
        #expect(sent.first?.tcpFlags == .syn)
        #expect(sent.first?.ipVersion == .v6)
        #expect(sent.allSatisfy { $0.direction == .outgoing && $0.source == Lab.a6 && $0.sourcePort == 41000 })
        #expect(received.first?.tcpFlags == [.syn, .ack])
        #expect(received.first?.tcp?.acknowledgment == sent.first!.tcp!.sequence &+ 1)
        #expect(received.allSatisfy { $0.direction == .incoming && $0.source == Lab.b6 && $0.sourcePort == 9000 })
    }

    @Test("stop ends the stream, and nothing is delivered after it",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func stopEndsStream() async throws {
        let lab = try Lab(roles: ["a"])
        defer { lab.remove() }
        let (stream, continuation) = AsyncStream.makeStream(of: CapturedPacket.self)
        let capture = try lab.inside("a") {
            try PacketCapture(CaptureConfiguration(interface: "lo", filter: "icmp"), packets: continuation)
        }
        let reader = Task { await stream.reduce(into: [CapturedPacket]()) { $0.append($1) } }
        try lab.inside("a") {
            for sequence: UInt16 in 1...3 { try CaptureTestSocket.sendEcho(to: IPAddress("127.0.0.1")!, identifier: 9, sequence: sequence) }
        }
        let start = ContinuousClock.now
        while capture.delivered < 6, ContinuousClock.now - start < .seconds(15) { try await Task.sleep(for: .milliseconds(20)) }
        capture.stop()
        let packets = await reader.value  // returns only because stop() finished the stream
        try lab.inside("a") { try CaptureTestSocket.sendEcho(to: IPAddress("127.0.0.1")!, identifier: 9, sequence: 4) }
        try await Task.sleep(for: .milliseconds(200))
        // On loopback libpcap shows each packet once: three requests and three replies.
        #expect(packets.count == 6)
        struct Echo: Hashable { var type: UInt8?, sequence: UInt16? }
        #expect(Set(packets.map { Echo(type: $0.icmp?.type, sequence: $0.icmp?.sequence) })
            == Set([1, 2, 3].flatMap { [Echo(type: 8, sequence: $0), Echo(type: 0, sequence: $0)] }))
        #expect(capture.delivered == 6)
        #expect(capture.stop() == capture.stop())  // idempotent
    }

    @Test("a tun device gives raw IP frames: IPv4 and IPv6 UDP leaving through it",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func rawIP() async throws {
        let lab = try Lab(roles: ["a"])
        defer { lab.remove() }
        // The test holds the tun's file descriptor: it is the far end, so the packets stay here.
        let tun = try lab.inside("a") { try CaptureTestSocket.openTun("fwtun0") }
        defer { close(tun) }
        try lab.sh("a", "ip link set fwtun0 up && ip addr add 198.18.32.1/24 dev fwtun0 && ip addr add fd00:32::1/64 dev fwtun0 nodad")
        let log = CaptureTestLog<CapturedPacket>()
        let capture = try lab.inside("a") {
            try PacketCapture(CaptureConfiguration(interface: "fwtun0", filter: "udp"), onPacket: log.append)
        }
        defer { capture.stop() }
        try lab.inside("a") {
            try CaptureTestSocket.sendUDP(from: IPAddress("198.18.32.1")!, sourcePort: 5001, to: IPAddress("198.18.32.9")!, port: 5002)
            try CaptureTestSocket.sendUDP(from: IPAddress("fd00:32::1")!, sourcePort: 5003, to: IPAddress("fd00:32::9")!, port: 5004)
        }
        let packets = await log.wait { $0.count >= 2 }
        #expect(packets.count == 2)
        let v4 = try #require(packets.first { $0.ipVersion == .v4 })
        let v6 = try #require(packets.first { $0.ipVersion == .v6 })
        #expect(v4.interface == "fwtun0" && v4.ipProtocol == .udp)
        #expect(v4.source == IPAddress("198.18.32.1")! && v4.destination == IPAddress("198.18.32.9")!)
        #expect(v4.sourcePort == 5001 && v4.destinationPort == 5002)
        #expect(v4.length == 20 + 8 + 7)  // no link header at all
        #expect(v6.source == IPAddress("fd00:32::1")! && v6.destination == IPAddress("fd00:32::9")!)
        #expect(v6.sourcePort == 5003 && v6.destinationPort == 5004)
        #expect(v6.length == 40 + 8 + 7)
    }

    @Test("the callback may read statistics and stop its own capture",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func stopFromCallback() async throws {
        let lab = try Lab(roles: ["a"])
        defer { lab.remove() }
        let box = Mutex<PacketCapture?>(nil)
        let log = CaptureTestLog<CapturedPacket>()
        let capture = try lab.inside("a") {
            try PacketCapture(CaptureConfiguration(interface: "lo", filter: "icmp"), onPacket: { packet in
                log.append(packet)
                let capture = box.withLock { $0 }
                _ = capture?.statistics
                capture?.stop()
            })
        }
        box.withLock { $0 = capture }
        defer { box.withLock { $0 = nil } }
        try lab.inside("a") {
            for sequence: UInt16 in 1...3 { try CaptureTestSocket.sendEcho(to: IPAddress("127.0.0.1")!, identifier: 9, sequence: sequence) }
        }
        await log.wait { !$0.isEmpty }
        try await Task.sleep(for: .milliseconds(300))
        #expect(log.all.count == 1)
        #expect(log.all.first?.icmp == ICMPMessageHeader(type: 8, code: 0, identifier: 9, sequence: 1))
        #expect(capture.delivered == 1)
        capture.stop()
    }

    @Test("a missing interface and a bad filter are errors that name the interface and the call",
          .enabled(if: captureTestsAreRoot, "needs root for namespaces and captures"))
    func errors() throws {
        let lab = try Lab(roles: ["a"])
        defer { lab.remove() }
        let missing = try lab.inside("a") { () -> SystemError? in
            do throws(SystemError) {
                _ = try PacketCapture(CaptureConfiguration(interface: "fw-none0"), onPacket: { _ in })
                return nil
            } catch { return error }
        }
        let noDevice = try #require(missing)
        #expect(noDevice.subject == "fw-none0")
        #expect(noDevice.operation == "pcap_activate")
        #expect(noDevice.errno == .noSuchDevice)

        let badFilter = try lab.inside("a") { () -> SystemError? in
            do throws(SystemError) {
                _ = try PacketCapture(CaptureConfiguration(interface: "lo", filter: "tcp port banana"), onPacket: { _ in })
                return nil
            } catch { return error }
        }
        let filterError = try #require(badFilter)
        #expect(filterError.subject == "lo")
        #expect(filterError.operation == "pcap_compile")
        #expect(filterError.detail?.contains("banana") == true)
    }
}
