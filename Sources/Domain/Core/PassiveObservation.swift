/// The addresses and ports of one TCP connection as seen on a WAN interface, oriented from the
/// connecting side: `local` is the router's WAN side (after masquerading, so the WAN's own address),
/// `remote` the far host. An attempt and its answer carry the same tuple.
public struct ConnectionTuple: Hashable, Sendable, CustomStringConvertible {
    public var local: IPAddress
    public var localPort: UInt16
    public var remote: IPAddress
    public var remotePort: UInt16

    public init(local: IPAddress, localPort: UInt16, remote: IPAddress, remotePort: UInt16) {
        self.local = local
        self.localPort = localPort
        self.remote = remote
        self.remotePort = remotePort
    }

    public var description: String { "\(local).\(localPort) > \(remote).\(remotePort)" }
}

/// What a passive check's capture saw on a WAN: one TCP segment that matters to the passive rule,
/// as plain recordable values. The capture adapter (or the simulator) only reports these; the core
/// decides what they mean (`PassiveSampler`). The time is the `at:` of the event that carries it.
public enum PassiveObservation: Sendable, Equatable, CustomStringConvertible {
    /// A TCP SYN without ACK left the WAN: an outgoing connection attempt with its initial sequence number.
    case attempt(ConnectionTuple, sequence: UInt32)
    /// A SYN-ACK or RST-ACK arrived on the WAN from `tuple.remote` to `tuple.local`, acknowledging
    /// `acknowledgment` (an answer to the attempt whose sequence number is one less).
    case answer(ConnectionTuple, acknowledgment: UInt32)

    public var description: String {
        switch self {
        case .attempt(let tuple, let sequence): "attempt \(tuple) seq \(sequence)"
        case .answer(let tuple, let acknowledgment): "answer \(tuple) ack \(acknowledgment)"
        }
    }
}
