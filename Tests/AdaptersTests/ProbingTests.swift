@testable import Adapters
import Domain
import Foundation
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The probers' pure parts: wire formats, URL and status-line parsing, marks, deadlines, errors.
/// The probers themselves are exercised in network namespaces (ProbeNamespaceTests.swift).
@Suite("Probing: wire formats and parsing")
struct ProbingTests {
    // MARK: ICMP

    @Test("IPv4 echo request: type, identifier, sequence, cookie and a valid checksum")
    func echoRequestV4() {
        let bytes = withUnsafeTemporaryAllocation(byteCount: ICMPPacket.requestSize, alignment: 8) { buffer in
            ICMPPacket.writeEchoRequest(into: buffer, v6: false, identifier: 0xbeef, sequence: 0x0102, cookie: 0x1122_3344_5566_7788)
            return Array(buffer)
        }
        #expect(bytes == [8, 0, bytes[2], bytes[3], 0xbe, 0xef, 0x01, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
        // A correct checksum makes the sum over the whole message come out as zero.
        #expect(bytes.withUnsafeBytes { ICMPPacket.checksum($0) } == 0)
        // Known value: computed by hand (RFC 1071 one's complement sum of the words above).
        #expect(UInt16(bytes[2]) << 8 | UInt16(bytes[3]) == 0x26b9)
    }

    @Test("ICMPv6 echo request leaves the checksum to the kernel")
    func echoRequestV6() {
        let bytes = withUnsafeTemporaryAllocation(byteCount: ICMPPacket.requestSize, alignment: 8) { buffer in
            ICMPPacket.writeEchoRequest(into: buffer, v6: true, identifier: 7, sequence: 65535, cookie: 1)
            return Array(buffer)
        }
        #expect(bytes == [128, 0, 0, 0, 0, 7, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    @Test("checksum of an odd number of bytes pads with a zero byte")
    func oddChecksum() {
        #expect([UInt8]([0x01]).withUnsafeBytes { ICMPPacket.checksum($0) } == ~UInt16(0x0100))
        #expect([UInt8]([0xff, 0xff, 0xff, 0xff]).withUnsafeBytes { ICMPPacket.checksum($0) } == 0)
    }

    /// An IPv4 packet as a raw socket returns it: 20-byte header (protocol ICMP) and `icmp`.
    private func ipv4(source: [UInt8], destination: [UInt8], _ icmp: [UInt8]) -> [UInt8] {
        let total = 20 + icmp.count
        return [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), 0, 0, 0x40, 0, 64, 1, 0, 0] + source + destination + icmp
    }

    @Test("IPv4 echo reply: source from the IP header, identifier, sequence and cookie")
    func parseEchoReplyV4() {
        let icmp: [UInt8] = [0, 0, 0, 0, 0x12, 0x34, 0x00, 0x2a, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11]
        let packet = ipv4(source: [198, 18, 0, 1], destination: [100, 64, 1, 2], icmp)
        let message = packet.withUnsafeBytes { ICMPPacket.parseV4($0) }
        #expect(message == .echoReply(source: IPAddress("198.18.0.1")!, identifier: 0x1234, sequence: 42,
                                      cookie: 0x0a0b_0c0d_0e0f_1011))
    }

    @Test("IPv4 echo reply with a short payload has no cookie; other types and garbage are ignored")
    func parseOthersV4() {
        let short = ipv4(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], [0, 0, 0, 0, 0, 1, 0, 2])
        #expect(short.withUnsafeBytes { ICMPPacket.parseV4($0) }
            == .echoReply(source: IPAddress("10.0.0.1")!, identifier: 1, sequence: 2, cookie: nil))
        let request = ipv4(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], [8, 0, 0, 0, 0, 1, 0, 2])
        #expect(request.withUnsafeBytes { ICMPPacket.parseV4($0) } == nil)
        #expect([UInt8](repeating: 0x45, count: 10).withUnsafeBytes { ICMPPacket.parseV4($0) } == nil)
        #expect([UInt8](repeating: 0x65, count: 40).withUnsafeBytes { ICMPPacket.parseV4($0) } == nil)
    }

    @Test("IPv4 host unreachable quoting our request names its target, identifier and sequence")
    func parseUnreachableV4() {
        let quotedRequest: [UInt8] = [8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07]
        let quoted = ipv4(source: [100, 64, 1, 2], destination: [198, 18, 0, 2], quotedRequest)
        let packet = ipv4(source: [100, 64, 1, 1], destination: [100, 64, 1, 2], [3, 1, 0, 0, 0, 0, 0, 0] + quoted)
        #expect(packet.withUnsafeBytes { ICMPPacket.parseV4($0) }
            == .unreachable(target: IPAddress("198.18.0.2")!, identifier: 0x1234, sequence: 7, reason: "host unreachable"))
        // The same error about someone's UDP datagram is not ours.
        var udp = quoted
        udp[9] = 17
        let other = ipv4(source: [100, 64, 1, 1], destination: [100, 64, 1, 2], [3, 1, 0, 0, 0, 0, 0, 0] + udp)
        #expect(other.withUnsafeBytes { ICMPPacket.parseV4($0) } == nil)
    }

    @Test("unreachable codes read as operators know them")
    func unreachableWords() {
        #expect(ICMPPacket.unreachableReasonV4(code: 0) == "network unreachable")
        #expect(ICMPPacket.unreachableReasonV4(code: 1) == "host unreachable")
        #expect(ICMPPacket.unreachableReasonV4(code: 13) == "administratively prohibited")
        #expect(ICMPPacket.unreachableReasonV4(code: 42) == "destination unreachable (code 42)")
        #expect(ICMPPacket.unreachableReasonV6(code: 3) == "host unreachable")
        #expect(ICMPPacket.unreachableReasonV6(code: 1) == "administratively prohibited")
    }

    @Test("ICMPv6 echo reply and address unreachable")
    func parseV6() {
        let source = IPAddress("fd00:198::1")!
        let reply: [UInt8] = [129, 0, 0xaa, 0xbb, 0x00, 0x09, 0x01, 0x00] + [UInt8](repeating: 0x5a, count: 8)
        #expect(reply.withUnsafeBytes { ICMPPacket.parseV6($0, source: source) }
            == .echoReply(source: source, identifier: 9, sequence: 256, cookie: 0x5a5a_5a5a_5a5a_5a5a))

        // Quoted IPv6 header: version 6, payload length 16, next header 58, hop limit 64, src, dst.
        let src: [UInt8] = [0xfd, 0, 0, 0x64, 0, 1] + [UInt8](repeating: 0, count: 9) + [2]
        let dst: [UInt8] = [0xfd, 0, 0x01, 0x98] + [UInt8](repeating: 0, count: 11) + [2]
        let header: [UInt8] = [0x60, 0, 0, 0, 0, 16, 58, 64] + src + dst
        let error: [UInt8] = [1, 3, 0, 0, 0, 0, 0, 0] + header + [128, 0, 0, 0, 0, 9, 0, 5]
        #expect(error.withUnsafeBytes { ICMPPacket.parseV6($0, source: IPAddress("fd00:64:1::1")!) }
            == .unreachable(target: IPAddress("fd00:198::2")!, identifier: 9, sequence: 5, reason: "host unreachable"))
        #expect([UInt8]([128, 0, 0, 0, 0, 1, 0, 1]).withUnsafeBytes { ICMPPacket.parseV6($0, source: source) } == nil)
    }

    @Test("SCM_TIMESTAMPNS control message is found and read")
    func receiveTimestamp() {
        // cmsghdr (len 32, SOL_SOCKET, SCM_TIMESTAMPNS) followed by a timespec of 12.000000345 s.
        var control = [UInt8](repeating: 0, count: 32)
        control.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: 32, toByteOffset: 0, as: Int.self)
            bytes.storeBytes(of: SOL_SOCKET, toByteOffset: 8, as: Int32.self)
            bytes.storeBytes(of: SCM_TIMESTAMPNS, toByteOffset: 12, as: Int32.self)
            bytes.storeBytes(of: 12, toByteOffset: 16, as: Int.self)
            bytes.storeBytes(of: 345, toByteOffset: 24, as: Int.self)
        }
        #expect(control.withUnsafeBytes { ProbeSocket.receiveTimestamp(control: $0) } == 12_000_000_345)
        #expect([UInt8]().withUnsafeBytes { ProbeSocket.receiveTimestamp(control: $0) } == nil)
    }

    // MARK: Clock and deadlines

    @Test("a realtime receive stamp becomes monotonic by its age; future stamps count as now")
    func realtimeToMonotonic() {
        #expect(KernelClock.monotonic(fromRealtime: 1_000, nowMonotonic: 50_000, nowRealtime: 1_600) == 49_400)
        #expect(KernelClock.monotonic(fromRealtime: 2_000, nowMonotonic: 50_000, nowRealtime: 1_600) == 50_000)
    }

    @Test("poll timeouts round up to whole milliseconds and never wake early")
    func pollTimeouts() {
        #expect(KernelClock.pollTimeout(until: nil, now: 0) == -1)
        #expect(KernelClock.pollTimeout(until: 5, now: 10) == 0)
        #expect(KernelClock.pollTimeout(until: 1_000_001, now: 0) == 2)
        #expect(KernelClock.pollTimeout(until: 3_000_000, now: 0) == 3)
    }

    @Test("the deadline heap gives entries back earliest first, only once due")
    func deadlineHeap() {
        var heap = ProbeDeadlineHeap<Int>()
        let deadlines = [50, 10, 40, 10, 30, 90, 20, 70, 60, 80, 0]
        for (i, d) in deadlines.enumerated() { heap.insert(Int64(d), i) }
        #expect(heap.earliest == 0)
        #expect(heap.popExpired(now: -1) == nil)
        var popped: [Int64] = []
        while let entry = heap.popExpired(now: 55) { popped.append(entry.deadline) }
        #expect(popped == [0, 10, 10, 20, 30, 40, 50])
        #expect(heap.count == 4)
        #expect(heap.earliest == 60)
    }

    // MARK: Uplinks and errors

    @Test("probe marks are the uplink's pin class from docs/dataplane.md: (index + 1) << 24")
    func marks() {
        #expect(ProbeUplink(interface: "eth0", index: 0).mark == 0x0100_0000)
        #expect(ProbeUplink(interface: "eth1", index: 1).mark == 0x0200_0000)
        #expect(ProbeUplink(interface: "wan63", index: 63).mark == 0x4000_0000)
    }

    @Test("a permission error names CAP_NET_RAW; other errors do not")
    func permissionError() {
        let denied = SystemError.probe("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)", on: ProbeUplink(interface: "eth0", index: 0), .notPermitted)
        #expect(denied.missingCapability == "CAP_NET_RAW")
        #expect(denied.description.hasPrefix("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) on eth0: Operation not permitted (errno 1)"))
        #expect(denied.description.contains("CAP_NET_RAW"))
        let missing = SystemError.probe("setsockopt(SO_BINDTODEVICE)", on: ProbeUplink(interface: "eth9", index: 0), .noSuchDevice)
        #expect(missing.missingCapability == nil)
        #expect(missing.description == "setsockopt(SO_BINDTODEVICE) on eth9: No such device (errno 19)")
    }

    @Test("an uplink index beyond the pin classes is refused before any socket is opened")
    func indexOutOfRange() throws {
        let prober = try ICMPProber(onResult: { _ in })
        defer { prober.shutdown() }
        // The device does not exist: had a socket been opened and bound first, the error would be
        // ENODEV from SO_BINDTODEVICE (or EPERM without CAP_NET_RAW), not the index check's EINVAL.
        let uplink = ProbeUplink(interface: "fwnodev0", index: DataplaneMarks.maxUplinks)
        let sockets = Self.openSockets()
        for _ in 0..<200 {
            let error = #expect(throws: SystemError.self) { try prober.attach(uplink) }
            #expect(error?.errno == .invalidArgument, "\(String(describing: error))")
            #expect(error?.description.contains("uplink index 64 has no probe class") == true, "\(String(describing: error))")
        }
        // 200 refusals leave no socket behind (other tests running meanwhile open and close a few).
        #expect(Self.openSockets() < sockets + 50, "\(Self.openSockets() - sockets) more sockets after 200 refused attaches")
        #expect(prober.inFlight == 0)
    }

    /// Sockets this process holds open (/proc/self/fd links to `socket:[inode]`).
    static func openSockets() -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0))?.hasPrefix("socket:") == true }.count
    }

    @Test("a non-ICMP target and a bad HTTP URL fail at once with a clear reason")
    func wrongTargets() throws {
        let results = ProbeResultLog()
        let icmp = try ICMPProber(onResult: { results.append($0) })
        defer { icmp.shutdown() }
        let http = try HTTPProber(onResult: { results.append($0) })
        defer { http.shutdown() }
        let uplink = ProbeUplink(interface: "lo", index: 0)
        let a = ProbeID(interface: "lo", target: 0, sequence: 1)
        let b = ProbeID(interface: "lo", target: 0, sequence: 2)
        let c = ProbeID(interface: "lo", target: 0, sequence: 3)
        icmp.send(ProbeRequest(id: a, target: .http(url: "http://x/", expectedStatus: 200), timeout: .seconds(1)), via: uplink)
        http.send(ProbeRequest(id: b, target: .http(url: "https://[fd00::1/", expectedStatus: 200), timeout: .seconds(1)), via: uplink)
        http.send(ProbeRequest(id: c, target: .http(url: "ftp://example.test/", expectedStatus: 200), timeout: .seconds(1)), via: uplink)
        #expect(results.values == [
            ProbeResult(id: a, outcome: .failure("not an ICMP target: http://x/")),
            ProbeResult(id: b, outcome: .failure("invalid URL \"https://[fd00::1/\": unterminated IPv6 address")),
            ProbeResult(id: c, outcome: .failure("invalid URL \"ftp://example.test/\": unsupported scheme \"ftp\"")),
        ])
        #expect(http.inFlight == 0)
    }

    @Test("results arrive through an AsyncStream, which finishes on shutdown; later sends fail")
    func asyncStream() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: ProbeResult.self)
        let prober = try HTTPProber(results: continuation)
        let id = ProbeID(interface: "lo", target: 0, sequence: 9)
        let uplink = ProbeUplink(interface: "lo", index: 0)
        prober.send(ProbeRequest(id: id, target: .http(url: "gopher://x.test/", expectedStatus: 200), timeout: .seconds(1)), via: uplink)
        prober.shutdown()
        prober.shutdown()
        prober.send(ProbeRequest(id: id, target: .http(url: "https://x.test/", expectedStatus: 200), timeout: .seconds(1)), via: uplink)
        var received: [ProbeResult] = []
        for await result in stream { received.append(result) }
        #expect(received.count == 1)
        #expect(received.first == ProbeResult(id: id, outcome: .failure("invalid URL \"gopher://x.test/\": unsupported scheme \"gopher\"")))
        #expect(prober.inFlight == 0)

        let log = ProbeResultLog()
        let icmp = try ICMPProber(onResult: log.append)
        icmp.shutdown()
        icmp.send(ProbeRequest(id: id, target: .icmp(IPAddress("127.0.0.1")!), timeout: .seconds(1)), via: uplink)
        #expect(log.values.map(\.id) == [id])
        #expect(log.values.first?.outcome == .failure("ICMP prober is shut down on lo: Cannot send after transport endpoint shutdown (errno 108)"))
    }

    // MARK: HTTP

    @Test("HTTP URLs: host, port, request target and Host header")
    func urls() throws {
        let plain = try HTTPProbeURL("http://198.18.0.1/health")
        #expect(plain.host == "198.18.0.1")
        #expect(plain.port == 80)
        #expect(plain.target == "/health")
        #expect(plain.address == IPAddress("198.18.0.1"))
        #expect(plain.hostHeader == "198.18.0.1")

        let named = try HTTPProbeURL("HTTP://check.example.net:8080?probe=1#frag")
        #expect(named.scheme == "http")
        #expect(named.host == "check.example.net")
        #expect(named.port == 8080)
        #expect(named.target == "/?probe=1")
        #expect(named.address == nil)
        #expect(named.description == "http://check.example.net:8080/?probe=1")

        let v6 = try HTTPProbeURL("http://[fd00:198::1]:81")
        #expect(v6.host == "fd00:198::1")
        #expect(v6.port == 81)
        #expect(v6.target == "/")
        #expect(v6.hostHeader == "[fd00:198::1]:81")
        #expect(v6.address == IPAddress("fd00:198::1"))

        #expect(try HTTPProbeURL("https://example.net/").port == 443)
    }

    @Test("malformed HTTP URLs are rejected with the reason", arguments: [
        ("example.net/health", "expected http://host/path"),
        ("gopher://example.net/", "unsupported scheme \"gopher\""),
        ("http:///path", "missing host"),
        ("http://user@example.net/", "user info is not supported"),
        ("http://example.net:0/", "invalid port \"0\""),
        ("http://example.net:99999/", "invalid port \"99999\""),
        ("http://fd00::1/", "IPv6 addresses must be in brackets"),
        ("http://[fd00::1/", "unterminated IPv6 address"),
        ("http://[10.0.0.1]/", "invalid IPv6 address \"10.0.0.1\""),
        ("http://exa mple.net/", "invalid host \"exa mple.net\""),
        ("http://example.net/a b", "the path must be ASCII without spaces (percent-encode it)"),
    ])
    func badURLs(url: String, reason: String) {
        #expect(throws: HTTPProbeURLError(url: url, reason: reason)) { try HTTPProbeURL(url) }
    }
}

/// Results collected from a prober's callback, in arrival order.
final class ProbeResultLog: Sendable {
    private let storage = Mutex<[(result: ProbeResult, at: ContinuousClock.Instant)]>([])

    func append(_ result: ProbeResult) { storage.withLock { $0.append((result, .now)) } }

    func clear() { storage.withLock { $0.removeAll() } }

    var values: [ProbeResult] { storage.withLock { $0.map(\.result) } }

    /// When the prober delivered the result for `id`.
    func arrival(of id: ProbeID) -> ContinuousClock.Instant? {
        storage.withLock { $0.first { $0.result.id == id }?.at }
    }
}
