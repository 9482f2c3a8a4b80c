import Domain

/// The summary of one captured IP packet: where it was seen, who sent it to whom, and the transport
/// fields that tell a connection attempt, its answer or an echo apart.
///
/// Only headers are read (captures use a small snapshot length), so the fields are exactly what the
/// headers say; a transport header cut short by the snapshot or a later IP fragment leaves the
/// transport fields nil.
public struct CapturedPacket: Sendable, Equatable, CustomStringConvertible {
    /// Kernel receive (or transmit) time, since the Unix epoch (CLOCK_REALTIME, nanoseconds).
    public var timestamp: Duration
    /// The interface the packet was seen on: the capture's device, or for the `any` device the
    /// interface the kernel names in the cooked header (`if<index>` when it cannot be resolved).
    public var interface: String
    /// Whether the packet left or arrived, when the capture knows it: from the cooked header of the
    /// `any` device, or from the capture's direction setting. Nil for a both-ways capture on one
    /// interface, where the link header does not say.
    public var direction: CaptureDirection?
    public var ipVersion: IPVersion
    public var source: IPAddress
    public var destination: IPAddress
    /// The transport protocol (IPv4 protocol, or the IPv6 next header after extension headers).
    public var ipProtocol: IPProtocol
    /// TCP and UDP ports (also SCTP, DCCP and UDP-Lite, whose ports sit in the same place).
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    /// TCP only: flags, sequence and acknowledgment numbers.
    public var tcp: TCPSegmentHeader?
    /// ICMP and ICMPv6 only.
    public var icmp: ICMPMessageHeader?
    /// Bytes on the wire (the link frame), not only the captured part.
    public var length: Int

    public init(timestamp: Duration, interface: String, direction: CaptureDirection?, ipVersion: IPVersion,
                source: IPAddress, destination: IPAddress, ipProtocol: IPProtocol, sourcePort: UInt16? = nil,
                destinationPort: UInt16? = nil, tcp: TCPSegmentHeader? = nil, icmp: ICMPMessageHeader? = nil,
                length: Int) {
        self.timestamp = timestamp
        self.interface = interface
        self.direction = direction
        self.ipVersion = ipVersion
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.tcp = tcp
        self.icmp = icmp
        self.length = length
    }

    /// TCP flags, nil for other protocols.
    public var tcpFlags: TCPFlags? { tcp?.flags }

    /// Like tcpdump's one-line summary: `wan0 out 100.64.1.2.40001 > 198.18.0.1.80 tcp [S]`.
    public var description: String {
        var text = interface
        if let direction { text += direction == .outgoing ? " out" : " in" }
        func endpoint(_ address: IPAddress, _ port: UInt16?) -> String {
            guard let port else { return address.description }
            return "\(address).\(port)"
        }
        text += " \(endpoint(source, sourcePort)) > \(endpoint(destination, destinationPort)) \(ipProtocol)"
        if let tcp { text += " [\(tcp.flags)] seq \(tcp.sequence) ack \(tcp.acknowledgment)" }
        if let icmp {
            text += " type \(icmp.type) code \(icmp.code)"
            if let id = icmp.identifier, let seq = icmp.sequence { text += " id \(id) seq \(seq)" }
        }
        return text
    }
}

/// Which way a packet crossed the interface.
public enum CaptureDirection: Sendable, Equatable, Hashable {
    /// Received by this host (addressed to it, broadcast, multicast, or another host's seen in
    /// promiscuous mode).
    case incoming
    /// Sent by this host, including forwarded packets leaving through the interface.
    case outgoing
}

public enum IPVersion: Int, Sendable, Equatable, Hashable {
    case v4 = 4
    case v6 = 6
}

/// An IP protocol number, with names for the ones Flywall looks at.
public struct IPProtocol: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let icmp = IPProtocol(rawValue: 1)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)
    public static let icmpv6 = IPProtocol(rawValue: 58)

    public var description: String {
        switch self {
        case .icmp: "icmp"
        case .tcp: "tcp"
        case .udp: "udp"
        case .icmpv6: "icmp6"
        default: "proto \(rawValue)"
        }
    }
}

/// The TCP header fields a capture keeps.
public struct TCPSegmentHeader: Sendable, Equatable, Hashable {
    public var flags: TCPFlags
    public var sequence: UInt32
    public var acknowledgment: UInt32

    public init(flags: TCPFlags, sequence: UInt32, acknowledgment: UInt32) {
        self.flags = flags
        self.sequence = sequence
        self.acknowledgment = acknowledgment
    }
}

/// TCP header flags (byte 13 of the header).
public struct TCPFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)

    /// tcpdump's letters: `S`, `S.`, `R.`, `P.`, `F.` ...
    public var description: String {
        var text = ""
        for (flag, letter) in [(TCPFlags.syn, "S"), (.fin, "F"), (.psh, "P"), (.rst, "R"), (.urg, "U"),
                               (.ece, "E"), (.cwr, "W")] where contains(flag) {
            text += letter
        }
        if contains(.ack) { text += "." }
        return text.isEmpty ? "none" : text
    }
}

/// The ICMP or ICMPv6 header fields a capture keeps.
public struct ICMPMessageHeader: Sendable, Equatable, Hashable {
    public var type: UInt8
    public var code: UInt8
    /// Echo request and reply only (ICMP types 8/0, ICMPv6 types 128/129).
    public var identifier: UInt16?
    public var sequence: UInt16?

    public init(type: UInt8, code: UInt8, identifier: UInt16? = nil, sequence: UInt16? = nil) {
        self.type = type
        self.code = code
        self.identifier = identifier
        self.sequence = sequence
    }
}
