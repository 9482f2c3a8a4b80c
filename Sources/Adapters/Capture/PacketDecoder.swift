import Domain

/// Reads the link, IP and transport headers of a captured frame into a `CapturedPacket`.
///
/// Every read is bounds-checked against the captured bytes: a capture hands over whatever the wire
/// carried, cut at the snapshot length, and a malformed frame must only ever yield nil.
enum PacketDecoder {
    /// libpcap link types this decoder reads (values of `pcap_datalink` on Linux).
    enum LinkType: Int32, Sendable {
        /// DLT_EN10MB: Ethernet (also Linux loopback and veth).
        case ethernet = 1
        /// DLT_RAW as Linux libpcap numbers it: a bare IPv4 or IPv6 packet (tun, WireGuard).
        case raw = 12
        /// LINKTYPE_RAW, the same seen through a savefile's number.
        case rawFile = 101
        /// DLT_LINUX_SLL: the `any` device's cooked header, version 1 (no interface index).
        case linuxCooked = 113
        /// DLT_IPV4 / DLT_IPV6.
        case ipv4 = 228
        case ipv6 = 229
        /// DLT_LINUX_SLL2: cooked header with the interface index.
        case linuxCooked2 = 276
    }

    /// What the link header says: where the IP header starts and what the kernel knew.
    struct LinkHeader: Equatable {
        var networkOffset: Int
        /// The EtherType, or nil when the link type itself says "IP" (raw captures).
        var etherType: UInt16?
        var direction: CaptureDirection?
        var interfaceIndex: Int32?
    }

    static let etherTypeIPv4: UInt16 = 0x0800
    static let etherTypeIPv6: UInt16 = 0x86dd

    /// Linux `sll_pkttype` values (<linux/if_packet.h>): only PACKET_OUTGOING means "sent here".
    static let packetOutgoing: UInt16 = 4

    static func linkHeader(_ linkType: LinkType, _ bytes: UnsafeRawBufferPointer) -> LinkHeader? {
        switch linkType {
        case .ethernet:
            guard bytes.count >= 14 else { return nil }
            var offset = 12
            var etherType = bytes.u16(offset)
            // 802.1Q / 802.1ad tags: libpcap puts back the tags the NIC stripped; skip at most two.
            var tags = 0
            while tags < 2, etherType == 0x8100 || etherType == 0x88a8 || etherType == 0x9100 {
                offset += 4
                guard bytes.count >= offset + 2 else { return nil }
                etherType = bytes.u16(offset)
                tags += 1
            }
            return LinkHeader(networkOffset: offset + 2, etherType: etherType)
        case .raw, .rawFile, .ipv4, .ipv6:
            return LinkHeader(networkOffset: 0, etherType: nil)
        case .linuxCooked:
            guard bytes.count >= 16 else { return nil }
            return LinkHeader(networkOffset: 16, etherType: bytes.u16(14),
                              direction: bytes.u16(0) == packetOutgoing ? .outgoing : .incoming)
        case .linuxCooked2:
            guard bytes.count >= 20 else { return nil }
            return LinkHeader(networkOffset: 20, etherType: bytes.u16(0),
                              direction: UInt16(bytes[10]) == packetOutgoing ? .outgoing : .incoming,
                              interfaceIndex: Int32(bitPattern: bytes.u32(4)))
        }
    }

    /// The IP packet's summary, or nil for anything that is not a readable IPv4/IPv6 header.
    ///
    /// - Parameters:
    ///   - interface: the capture's device name, used unless the link header names an interface.
    ///   - direction: the capture's own direction setting, used unless the link header says.
    ///   - interfaceName: resolves a cooked header's interface index to a name.
    static func decode(_ linkType: LinkType, _ bytes: UnsafeRawBufferPointer, wireLength: Int, timestamp: Duration,
                       interface: String, direction: CaptureDirection? = nil,
                       interfaceName: (Int32) -> String = { "if\($0)" }) -> CapturedPacket? {
        guard let link = linkHeader(linkType, bytes), link.networkOffset <= bytes.count else { return nil }
        let network = UnsafeRawBufferPointer(rebasing: bytes[link.networkOffset...])
        let version: IPVersion
        switch link.etherType {
        case etherTypeIPv4?: version = .v4
        case etherTypeIPv6?: version = .v6
        case nil:
            guard let first = network.first else { return nil }
            switch first >> 4 {
            case 4: version = .v4
            case 6: version = .v6
            default: return nil
            }
        default: return nil
        }
        guard var packet = version == .v4 ? decodeIPv4(network) : decodeIPv6(network) else { return nil }
        packet.timestamp = timestamp
        packet.interface = link.interfaceIndex.map(interfaceName) ?? interface
        packet.direction = link.direction ?? direction
        packet.length = wireLength
        return packet
    }

    private static func summary(_ version: IPVersion, _ source: IPAddress, _ destination: IPAddress,
                                _ proto: UInt8) -> CapturedPacket {
        CapturedPacket(timestamp: .zero, interface: "", direction: nil, ipVersion: version, source: source,
                       destination: destination, ipProtocol: IPProtocol(rawValue: proto), length: 0)
    }

    static func decodeIPv4(_ bytes: UnsafeRawBufferPointer) -> CapturedPacket? {
        guard bytes.count >= 20, bytes[0] >> 4 == 4 else { return nil }
        let headerLength = Int(bytes[0] & 0x0f) * 4
        guard headerLength >= 20 else { return nil }
        let proto = bytes[9]
        var packet = summary(.v4, .v4(bytes.u32(12)), .v4(bytes.u32(16)), proto)
        // Only the first fragment (offset 0) carries the transport header.
        let fragmentOffset = bytes.u16(6) & 0x1fff
        if fragmentOffset == 0, headerLength <= bytes.count {
            decodeTransport(&packet, UnsafeRawBufferPointer(rebasing: bytes[headerLength...]), v6: false)
        }
        return packet
    }

    static func decodeIPv6(_ bytes: UnsafeRawBufferPointer) -> CapturedPacket? {
        guard bytes.count >= 40, bytes[0] >> 4 == 6 else { return nil }
        let source = IPAddress.v6(high: bytes.u64(8), low: bytes.u64(16))
        let destination = IPAddress.v6(high: bytes.u64(24), low: bytes.u64(32))
        var next = bytes[6]
        var offset = 40
        var firstFragment = true
        // Walk the extension headers that can precede a transport header; a bounded number, since a
        // packet may chain them but a capture must not loop on a crafted one.
        var hops = 0
        walk: while hops < 8 {
            hops += 1
            switch next {
            case 0, 43, 60:  // hop-by-hop, routing, destination options: length in 8-byte units
                guard bytes.count >= offset + 2 else { return summary(.v6, source, destination, next) }
                let length = (Int(bytes[offset + 1]) + 1) * 8
                next = bytes[offset]
                offset += length
            case 44:  // fragment header: fixed 8 bytes
                guard bytes.count >= offset + 8 else { return summary(.v6, source, destination, next) }
                firstFragment = bytes.u16(offset + 2) & 0xfff8 == 0
                next = bytes[offset]
                offset += 8
            default:
                break walk
            }
        }
        var packet = summary(.v6, source, destination, next)
        if firstFragment, offset <= bytes.count {
            decodeTransport(&packet, UnsafeRawBufferPointer(rebasing: bytes[offset...]), v6: true)
        }
        return packet
    }

    private static func decodeTransport(_ packet: inout CapturedPacket, _ bytes: UnsafeRawBufferPointer, v6: Bool) {
        switch packet.ipProtocol.rawValue {
        case 6:  // TCP
            guard bytes.count >= 14 else { return }
            packet.sourcePort = bytes.u16(0)
            packet.destinationPort = bytes.u16(2)
            packet.tcp = TCPSegmentHeader(flags: TCPFlags(rawValue: bytes[13]), sequence: bytes.u32(4),
                                          acknowledgment: bytes.u32(8))
        case 17, 33, 132, 136:  // UDP, DCCP, SCTP, UDP-Lite: ports first
            guard bytes.count >= 4 else { return }
            packet.sourcePort = bytes.u16(0)
            packet.destinationPort = bytes.u16(2)
        case 1 where !v6, 58 where v6:
            guard bytes.count >= 2 else { return }
            var header = ICMPMessageHeader(type: bytes[0], code: bytes[1])
            let echo: Set<UInt8> = v6 ? [128, 129] : [0, 8]
            if echo.contains(header.type), bytes.count >= 8 {
                header.identifier = bytes.u16(4)
                header.sequence = bytes.u16(6)
            }
            packet.icmp = header
        default:
            break
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Big-endian reads at a byte offset the caller has checked.
    fileprivate func u16(_ offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
    fileprivate func u32(_ offset: Int) -> UInt32 { UInt32(u16(offset)) << 16 | UInt32(u16(offset + 2)) }
    fileprivate func u64(_ offset: Int) -> UInt64 { UInt64(u32(offset)) << 32 | UInt64(u32(offset + 4)) }
}
