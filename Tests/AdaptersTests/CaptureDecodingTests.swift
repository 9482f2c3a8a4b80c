@testable import Adapters
import SystemPackage
import Domain
import Testing

/// Frames built byte by byte, for the decoder. Addresses and ports are arbitrary: nothing is sent.
enum CaptureTestFrames {
    static func ipv4(source: [UInt8], destination: [UInt8], proto: UInt8, fragment: UInt16 = 0,
                     options: [UInt8] = [], _ payload: [UInt8]) -> [UInt8] {
        let headerLength = 20 + options.count
        let total = headerLength + payload.count
        return [0x40 | UInt8(headerLength / 4), 0, UInt8(total >> 8), UInt8(total & 0xff), 0x12, 0x34,
                UInt8(fragment >> 8), UInt8(fragment & 0xff), 64, proto, 0, 0] + source + destination + options + payload
    }

    static func ipv6(source: [UInt8], destination: [UInt8], next: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0, UInt8(payload.count >> 8), UInt8(payload.count & 0xff), next, 64] + source + destination + payload
    }

    /// A 20-byte TCP header.
    static func tcp(source: UInt16, destination: UInt16, sequence: UInt32, acknowledgment: UInt32, flags: UInt8) -> [UInt8] {
        be16(source) + be16(destination) + be32(sequence) + be32(acknowledgment) + [0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]
    }

    static func ethernet(_ etherType: UInt16, _ payload: [UInt8], vlan: UInt16? = nil) -> [UInt8] {
        var frame: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]
        if let vlan { frame += [0x81, 0x00] + be16(vlan) }
        return frame + be16(etherType) + payload
    }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
    static func be32(_ value: UInt32) -> [UInt8] { be16(UInt16(value >> 16)) + be16(UInt16(value & 0xffff)) }

    static let v6a: [UInt8] = [0xfd, 0, 0, 0x31, 0, 1] + [UInt8](repeating: 0, count: 9) + [1]
    static let v6b: [UInt8] = [0xfd, 0, 0, 0x31, 0, 1] + [UInt8](repeating: 0, count: 9) + [2]

    static func decode(_ type: PacketDecoder.LinkType, _ frame: [UInt8], interface: String = "eth9",
                       direction: CaptureDirection? = nil) -> CapturedPacket? {
        frame.withUnsafeBytes {
            PacketDecoder.decode(type, $0, wireLength: frame.count, timestamp: .seconds(1_700_000_000) + .nanoseconds(5),
                                 interface: interface, direction: direction, interfaceName: { "name\($0)" })
        }
    }
}

@Suite("Capture: frame decoding")
struct CaptureDecodingTests {
    typealias F = CaptureTestFrames

    @Test("Ethernet IPv4 TCP SYN: addresses, ports, flags, sequence, length and timestamp")
    func ethernetTCP() throws {
        let tcp = F.tcp(source: 40123, destination: 443, sequence: 0xdead_beef, acknowledgment: 0, flags: 0x02)
        let frame = F.ethernet(0x0800, F.ipv4(source: [100, 64, 1, 2], destination: [198, 18, 0, 1], proto: 6, tcp))
        let packet = try #require(F.decode(.ethernet, frame))
        #expect(packet == CapturedPacket(
            timestamp: .seconds(1_700_000_000) + .nanoseconds(5), interface: "eth9", direction: nil, ipVersion: .v4,
            source: IPAddress("100.64.1.2")!, destination: IPAddress("198.18.0.1")!, ipProtocol: .tcp,
            sourcePort: 40123, destinationPort: 443,
            tcp: TCPSegmentHeader(flags: .syn, sequence: 0xdead_beef, acknowledgment: 0), length: 54))
        #expect(packet.tcpFlags?.description == "S")
        #expect(packet.description == "eth9 100.64.1.2.40123 > 198.18.0.1.443 tcp [S] seq 3735928559 ack 0")
    }

    @Test("IPv4 options move the transport header; a VLAN tag moves the IP header")
    func optionsAndVLAN() throws {
        let tcp = F.tcp(source: 80, destination: 40000, sequence: 7, acknowledgment: 0xdead_bef0, flags: 0x12)
        let ip = F.ipv4(source: [198, 18, 0, 1], destination: [100, 64, 1, 2], proto: 6, options: [1, 1, 1, 0], tcp)
        let packet = try #require(F.decode(.ethernet, F.ethernet(0x0800, ip, vlan: 100), direction: .incoming))
        #expect(packet.sourcePort == 80)
        #expect(packet.destinationPort == 40000)
        #expect(packet.tcp == TCPSegmentHeader(flags: [.syn, .ack], sequence: 7, acknowledgment: 0xdead_bef0))
        #expect(packet.tcpFlags?.description == "S.")
        #expect(packet.direction == .incoming)
    }

    @Test("UDP ports; ICMP echo identifier and sequence; other ICMP types without them")
    func udpAndICMP() throws {
        let udp = F.ipv4(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], proto: 17, F.be16(5353) + F.be16(53) + [0, 8, 0, 0])
        let u = try #require(F.decode(.raw, udp))
        #expect(u.ipProtocol == .udp)
        #expect(u.sourcePort == 5353 && u.destinationPort == 53)
        #expect(u.tcp == nil && u.icmp == nil)

        let echo = F.ipv4(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], proto: 1, [8, 0, 0, 0, 0x42, 0x42, 0, 3])
        #expect(try #require(F.decode(.raw, echo)).icmp == ICMPMessageHeader(type: 8, code: 0, identifier: 0x4242, sequence: 3))

        let unreachable = F.ipv4(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], proto: 1, [3, 1, 0, 0, 0, 0, 0, 0])
        let icmp = try #require(F.decode(.raw, unreachable)).icmp
        #expect(icmp == ICMPMessageHeader(type: 3, code: 1))
    }

    @Test("IPv6 through hop-by-hop and destination options to ICMPv6 echo; fragments and truncation")
    func ipv6Extensions() throws {
        let hopByHop: [UInt8] = [60, 0, 1, 4, 0, 0, 0, 0]           // next: destination options, 8 bytes
        let destinationOptions: [UInt8] = [58, 1] + [UInt8](repeating: 0, count: 14)  // 16 bytes, next: ICMPv6
        let echo: [UInt8] = [129, 0, 0, 0, 0x43, 0x43, 0, 7]
        let frame = F.ipv6(source: F.v6b, destination: F.v6a, next: 0, hopByHop + destinationOptions + echo)
        let packet = try #require(F.decode(.raw, frame))
        #expect(packet.ipVersion == .v6)
        #expect(packet.source == IPAddress("fd00:31:1::2")!)
        #expect(packet.destination == IPAddress("fd00:31:1::1")!)
        #expect(packet.ipProtocol == .icmpv6)
        #expect(packet.icmp == ICMPMessageHeader(type: 129, code: 0, identifier: 0x4343, sequence: 7))

        // A later fragment (offset 8) has no transport header; the first one (offset 0) does.
        let tcp = F.tcp(source: 1, destination: 2, sequence: 3, acknowledgment: 4, flags: 0x10)
        let later = F.ipv6(source: F.v6a, destination: F.v6b, next: 44, [6, 0, 0, 8, 0, 0, 0, 1] + tcp)
        let first = F.ipv6(source: F.v6a, destination: F.v6b, next: 44, [6, 0, 0, 1, 0, 0, 0, 1] + tcp)
        #expect(try #require(F.decode(.raw, later)).sourcePort == nil)
        #expect(try #require(F.decode(.raw, later)).ipProtocol == .tcp)
        #expect(try #require(F.decode(.raw, first)).sourcePort == 1)

        // Cut inside the extension header: the packet is still named, with what the header says.
        let cut = try #require(F.decode(.raw, Array(frame.prefix(44))))
        #expect(cut.ipVersion == .v6 && cut.icmp == nil)
    }

    @Test("a later IPv4 fragment or a TCP header cut by the snapshot leaves transport fields nil")
    func ipv4FragmentsAndTruncation() throws {
        let tcp = F.tcp(source: 1, destination: 2, sequence: 3, acknowledgment: 4, flags: 0x02)
        let later = F.ipv4(source: [1, 2, 3, 4], destination: [5, 6, 7, 8], proto: 6, fragment: 0x0010, tcp)
        #expect(try #require(F.decode(.raw, later)).tcp == nil)
        let moreFragments = F.ipv4(source: [1, 2, 3, 4], destination: [5, 6, 7, 8], proto: 6, fragment: 0x2000, tcp)
        #expect(try #require(F.decode(.raw, moreFragments)).tcp?.flags == .syn)
        let whole = F.ipv4(source: [1, 2, 3, 4], destination: [5, 6, 7, 8], proto: 6, tcp)
        let truncated = try #require(F.decode(.raw, Array(whole.prefix(20 + 13))))
        #expect(truncated.sourcePort == nil && truncated.tcp == nil)
        #expect(try #require(F.decode(.raw, Array(whole.prefix(20 + 14)))).tcp?.flags == .syn)
    }

    @Test("Linux cooked headers: v2 names the interface and direction, v1 the direction")
    func cookedHeaders() throws {
        let ip = F.ipv4(source: [100, 64, 1, 2], destination: [198, 18, 0, 1], proto: 6,
                        F.tcp(source: 4, destination: 5, sequence: 6, acknowledgment: 0, flags: 0x02))
        // SLL2: protocol, reserved, ifindex 7, ARPHRD_ETHER, PACKET_OUTGOING, halen 6, address.
        let sll2: [UInt8] = [0x08, 0x00, 0, 0, 0, 0, 0, 7, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0] + ip
        let out = try #require(F.decode(.linuxCooked2, sll2, interface: "any"))
        #expect(out.interface == "name7")
        #expect(out.direction == .outgoing)
        #expect(out.source == IPAddress("100.64.1.2")!)

        // SLL: PACKET_HOST, ARPHRD_ETHER, halen 6, address (8), protocol.
        let sll: [UInt8] = [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00] + ip
        let inbound = try #require(F.decode(.linuxCooked, sll, interface: "any"))
        #expect(inbound.interface == "any")
        #expect(inbound.direction == .incoming)
        #expect(inbound.destinationPort == 5)
    }

    @Test("non-IP frames, garbage and short frames decode to nothing")
    func rejects() {
        #expect(F.decode(.ethernet, F.ethernet(0x0806, [UInt8](repeating: 0, count: 28))) == nil)  // ARP
        #expect(F.decode(.ethernet, [1, 2, 3]) == nil)
        #expect(F.decode(.raw, [UInt8](repeating: 0x45, count: 10)) == nil)
        #expect(F.decode(.raw, [UInt8](repeating: 0x75, count: 60)) == nil)
        #expect(F.decode(.raw, []) == nil)
        // An IPv4 header length below 20 bytes is malformed.
        #expect(F.decode(.raw, [0x44] + [UInt8](repeating: 0, count: 40)) == nil)
        // Every prefix of a valid frame decodes or is rejected, and never reads past its end.
        let frame = F.ethernet(0x86dd, F.ipv6(source: F.v6a, destination: F.v6b, next: 0,
                                              [60, 0, 1, 4, 0, 0, 0, 0] + [6, 1] + [UInt8](repeating: 0, count: 14)
                                              + F.tcp(source: 9, destination: 10, sequence: 1, acknowledgment: 2, flags: 2)))
        var decoded = 0
        for length in 0...frame.count where F.decode(.ethernet, Array(frame.prefix(length))) != nil { decoded += 1 }
        #expect(decoded == frame.count - 14 - 40 + 1)
        #expect(F.decode(.ethernet, frame)?.destinationPort == 10)
    }

    @Test("the passive check's filters compile for Ethernet frames")
    func passiveFiltersCompile() throws {
        // IPv4 (with the fragment check and header length) and IPv6 branches both survive.
        #expect(try PcapProbe.compiledInstructionCount(PassiveHealthMonitor.outgoingFilter) >= 14)
        #expect(try PcapProbe.compiledInstructionCount(PassiveHealthMonitor.incomingFilter) >= 14)
    }

    @Test("errors name the interface and call; refused captures name the capability")
    func errorText() {
        let refused = SystemError.pcap("pcap_activate", on: "wan0", status: -8, "socket: Operation not permitted")
        #expect(refused.missingCapability == "CAP_NET_RAW")
        #expect(refused.description.hasPrefix(
            "pcap_activate on wan0: Operation not permitted (errno 1): socket: Operation not permitted; needs CAP_NET_RAW"))
        let missing = SystemError.pcap("pcap_activate", on: "ppp0", status: -5, "")
        #expect(missing.errno == .noSuchDevice)
        #expect(missing.missingCapability == nil)
        #expect(missing.description == "pcap_activate on ppp0: No such device (errno 19): No such device exists")
        // A failure that has only libpcap's text keeps that text alone.
        let filter = SystemError.pcap("pcap_compile", on: "lo", "syntax error")
        #expect(filter.errno == nil)
        #expect(filter.description == "pcap_compile on lo: syntax error")
    }
}

/// The capture side of the passive check only classifies packets; the rule is the core's
/// (Tests/DomainTests/PassiveCheckTests.swift).
@Suite("Capture: passive observations")
struct CapturePassiveObservationTests {
    static let local = IPAddress("100.64.1.2")!
    static let remote = IPAddress("198.18.0.1")!
    static let tuple = ConnectionTuple(local: local, localPort: 40001, remote: remote, remotePort: 443)

    static func syn(flags: TCPFlags = .syn, direction: CaptureDirection? = .outgoing) -> CapturedPacket {
        CapturedPacket(timestamp: .zero, interface: "wan0", direction: direction, ipVersion: .v4, source: local,
                       destination: remote, ipProtocol: .tcp, sourcePort: 40001, destinationPort: 443,
                       tcp: TCPSegmentHeader(flags: flags, sequence: 1000, acknowledgment: 0), length: 60)
    }

    static func answer(flags: TCPFlags = [.syn, .ack], direction: CaptureDirection? = .incoming) -> CapturedPacket {
        CapturedPacket(timestamp: .zero, interface: "wan0", direction: direction, ipVersion: .v4, source: remote,
                       destination: local, ipProtocol: .tcp, sourcePort: 443, destinationPort: 40001,
                       tcp: TCPSegmentHeader(flags: flags, sequence: 5, acknowledgment: 1001), length: 60)
    }

    @Test("an outgoing SYN is an attempt; an incoming SYN-ACK or RST-ACK an answer, in the attempt's orientation")
    func classified() {
        #expect(Self.syn().passiveObservation == .attempt(Self.tuple, sequence: 1000))
        #expect(Self.syn(direction: nil).passiveObservation == .attempt(Self.tuple, sequence: 1000))
        #expect(Self.answer().passiveObservation == .answer(Self.tuple, acknowledgment: 1001))
        #expect(Self.answer(flags: [.rst, .ack]).passiveObservation == .answer(Self.tuple, acknowledgment: 1001))
        #expect(Self.answer(direction: nil).passiveObservation == .answer(Self.tuple, acknowledgment: 1001))
    }

    @Test("a bare RST or ACK, UDP, and the router as a server (incoming SYN, outgoing SYN-ACK) are nothing")
    func ignored() {
        #expect(Self.answer(flags: .rst).passiveObservation == nil)
        #expect(Self.answer(flags: .ack).passiveObservation == nil)
        #expect(Self.syn(flags: [.syn, .ack], direction: .outgoing).passiveObservation == nil)
        #expect(Self.syn(direction: .incoming).passiveObservation == nil)
        #expect(Self.answer(direction: .outgoing).passiveObservation == nil)
        var udp = Self.syn()
        udp.ipProtocol = .udp
        udp.tcp = nil
        #expect(udp.passiveObservation == nil)
    }
}
