import Domain

/// ICMP/ICMPv6 echo messages as they are on the wire: building a request, and reading what a raw
/// socket hands back (IPv4 raw sockets include the IP header; ICMPv6 raw sockets do not).
///
/// Pure functions on byte buffers, so they are tested without sockets.
enum ICMPPacket {
    /// Bytes of an echo request: 8 header bytes and the socket's 8-byte cookie as payload.
    static let requestSize = 16

    /// The part of an incoming message the prober matches on.
    enum Message: Equatable, Sendable {
        /// An echo reply from `source`, with the request's identifier, sequence and payload cookie
        /// (nil when the payload is shorter than a cookie).
        case echoReply(source: IPAddress, identifier: UInt16, sequence: UInt16, cookie: UInt64?)
        /// A destination-unreachable error about one of our requests to `target`.
        case unreachable(target: IPAddress, identifier: UInt16, sequence: UInt16, reason: String)
    }

    static let echoRequestV4: UInt8 = 8
    static let echoReplyV4: UInt8 = 0
    static let unreachableV4: UInt8 = 3
    static let echoRequestV6: UInt8 = 128
    static let echoReplyV6: UInt8 = 129
    static let unreachableV6: UInt8 = 1

    /// Writes an echo request into `buffer` (at least `requestSize` bytes). IPv4 needs the checksum
    /// here; for ICMPv6 the kernel fills it in (it covers a pseudo-header only the kernel knows).
    static func writeEchoRequest(
        into buffer: UnsafeMutableRawBufferPointer, v6: Bool, identifier: UInt16, sequence: UInt16, cookie: UInt64
    ) {
        buffer.storeBytes(of: v6 ? echoRequestV6 : echoRequestV4, toByteOffset: 0, as: UInt8.self)
        buffer.storeBytes(of: 0, toByteOffset: 1, as: UInt8.self)
        buffer.storeBytes(of: 0, toByteOffset: 2, as: UInt16.self)
        buffer.storeBytes(of: identifier.bigEndian, toByteOffset: 4, as: UInt16.self)
        buffer.storeBytes(of: sequence.bigEndian, toByteOffset: 6, as: UInt16.self)
        buffer.storeBytes(of: cookie.bigEndian, toByteOffset: 8, as: UInt64.self)
        if !v6 {
            let sum = checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<requestSize]))
            buffer.storeBytes(of: sum.bigEndian, toByteOffset: 2, as: UInt16.self)
        }
    }

    /// The Internet checksum (RFC 1071) of `bytes`, as a host-order value to store big-endian.
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count {
            sum &+= UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum &+= UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) &+ (sum >> 16) }
        return ~UInt16(truncatingIfNeeded: sum)
    }

    /// Reads what an IPv4 raw ICMP socket received: IP header, then the ICMP message.
    static func parseV4(_ packet: UnsafeRawBufferPointer) -> Message? {
        guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
        let headerLength = Int(packet[0] & 0x0f) * 4
        guard headerLength >= 20, packet.count >= headerLength + 8 else { return nil }
        let source = ProbeSocket.v4(packet, at: 12)
        let icmp = UnsafeRawBufferPointer(rebasing: packet[headerLength...])
        switch icmp[0] {
        case echoReplyV4:
            return .echoReply(source: source, identifier: u16(icmp, 4), sequence: u16(icmp, 6), cookie: cookie(icmp))
        case unreachableV4:
            // The error quotes our datagram: its IP header, then at least 8 bytes of our request.
            let inner = UnsafeRawBufferPointer(rebasing: icmp[8...])
            guard inner.count >= 20, inner[0] >> 4 == 4, inner[9] == 1 else { return nil }
            let innerLength = Int(inner[0] & 0x0f) * 4
            guard innerLength >= 20, inner.count >= innerLength + 8, inner[innerLength] == echoRequestV4 else { return nil }
            return .unreachable(target: ProbeSocket.v4(inner, at: 16),
                                identifier: u16(inner, innerLength + 4), sequence: u16(inner, innerLength + 6),
                                reason: unreachableReasonV4(code: icmp[1]))
        default:
            return nil
        }
    }

    /// Reads what an ICMPv6 raw socket received (no IP header) from `source`.
    static func parseV6(_ icmp: UnsafeRawBufferPointer, source: IPAddress) -> Message? {
        guard icmp.count >= 8 else { return nil }
        switch icmp[0] {
        case echoReplyV6:
            return .echoReply(source: source, identifier: u16(icmp, 4), sequence: u16(icmp, 6), cookie: cookie(icmp))
        case unreachableV6:
            // 8 header bytes, then our packet: 40-byte IPv6 header (next header ICMPv6 = 58), our request.
            let inner = UnsafeRawBufferPointer(rebasing: icmp[8...])
            guard inner.count >= 48, inner[0] >> 4 == 6, inner[6] == 58, inner[40] == echoRequestV6 else { return nil }
            return .unreachable(target: ProbeSocket.v6(inner, at: 24),
                                identifier: u16(inner, 44), sequence: u16(inner, 46),
                                reason: unreachableReasonV6(code: icmp[1]))
        default:
            return nil
        }
    }

    /// Words an operator knows, for ICMP destination-unreachable codes (RFC 792, 1812).
    static func unreachableReasonV4(code: UInt8) -> String {
        switch code {
        case 0, 6, 11: "network unreachable"
        case 1, 7, 12: "host unreachable"
        case 2: "protocol unreachable"
        case 3: "port unreachable"
        case 4: "fragmentation needed"
        case 9, 10, 13: "administratively prohibited"
        default: "destination unreachable (code \(code))"
        }
    }

    /// Words for ICMPv6 destination-unreachable codes (RFC 4443).
    static func unreachableReasonV6(code: UInt8) -> String {
        switch code {
        case 0: "network unreachable"
        case 1, 5, 6: "administratively prohibited"
        case 3: "host unreachable"
        case 4: "port unreachable"
        default: "destination unreachable (code \(code))"
        }
    }

    private static func u16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    private static func cookie(_ icmp: UnsafeRawBufferPointer) -> UInt64? {
        guard icmp.count >= requestSize else { return nil }
        return UInt64(bigEndian: icmp.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }
}
