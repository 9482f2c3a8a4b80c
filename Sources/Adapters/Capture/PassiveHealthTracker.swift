import Domain

/// What one WAN's passive check concluded about one interval: whether the connection attempts that
/// resolved in it were mostly answered, and how many there were.
public struct PassiveHealthSample: Sendable, Equatable, CustomStringConvertible {
    public var interface: String
    /// True when more than half of `attempts` were answered in time.
    public var answered: Bool
    /// Connection attempts resolved in the interval (answered or timed out).
    public var attempts: Int
    /// Of those, the ones answered within the check's timeout.
    public var answeredAttempts: Int

    public init(interface: String, answered: Bool, attempts: Int, answeredAttempts: Int) {
        self.interface = interface
        self.answered = answered
        self.attempts = attempts
        self.answeredAttempts = answeredAttempts
    }

    /// The event that hands this sample to the core, where it counts as one probe round.
    public var coreEvent: CoreEvent { .passiveSample(interface: interface, answered: answered) }

    public var description: String {
        "\(interface): \(answeredAttempts)/\(attempts) connection attempts answered -> \(answered ? "answered" : "unanswered")"
    }
}

/// One WAN's passive health check: the TCP connection attempts seen leaving through it, their
/// answers, and the samples they add up to. Pure: times are nanoseconds on a monotonic clock given
/// by the caller, so the rule is testable to the nanosecond.
///
/// The rule, exactly:
/// - **Attempt.** A TCP segment with SYN and without ACK, leaving the WAN, starts an attempt for its
///   4-tuple (as seen on the WAN, so after masquerading) at its capture time `t`, with deadline
///   `t + timeout`. A SYN for a 4-tuple already waiting, with the same sequence number, is a
///   retransmission and changes nothing (the deadline stays that of the first SYN). One with
///   another sequence number is a new attempt replacing the old one, which is forgotten (the client
///   gave up on it; that says nothing about the WAN). A SYN for a 4-tuple whose attempt was already
///   answered or timed out starts a new attempt: a client still retrying is still unanswered.
/// - **Answer.** A segment arriving on the WAN with ACK and SYN (SYN-ACK) or ACK and RST, from the
///   attempt's destination to its source, acknowledging its SYN (`ack == seq + 1`), resolves the
///   attempt: *answered* when captured at or before the deadline, *unanswered* when later. A reset
///   counts as an answer because it proves the path carries packets both ways (a closed port is the
///   remote host's business, not the uplink's).
/// - **Timeout.** An attempt still waiting when an interval closes, with its deadline before the
///   close, is *unanswered*.
/// - **Samples.** Intervals are `interval` long, aligned to the tracker's start. When one closes,
///   the attempts resolved since the previous close make one sample: `answered` if more than half of them were
///   answered (a strict majority; a tie is unanswered). An interval in which nothing resolved gives
///   no sample: an idle WAN is not a failing one. So there is at most one sample per interval.
/// - **Bounds.** At most `maxPending` attempts wait at once; SYNs beyond that (a scan, a flood) are
///   not tracked.
struct PassiveHealthTracker: Sendable {
    struct FlowKey: Hashable, Sendable {
        var local: IPAddress
        var localPort: UInt16
        var remote: IPAddress
        var remotePort: UInt16
    }

    struct Attempt: Sendable {
        var sentAt: Int64
        var deadline: Int64
        var sequence: UInt32
    }

    static let maxPending = 4_096

    let interface: String
    private(set) var interval: Int64
    private(set) var timeout: Int64
    private let origin: Int64
    private var pending: [FlowKey: Attempt] = [:]
    private var answered = 0
    private var unanswered = 0
    /// End of the open interval; nil while nothing waits and nothing resolved (idle: no wake-ups).
    private(set) var intervalEnd: Int64?
    /// SYNs not tracked because `maxPending` attempts were already waiting.
    private(set) var untracked = 0

    init(interface: String, interval: Duration, timeout: Duration, now: Int64) {
        self.interface = interface
        self.interval = max(1, Self.nanoseconds(interval))
        self.timeout = max(0, Self.nanoseconds(timeout))
        origin = now
    }

    /// A new interval and timeout (config reload); attempts waiting keep their deadlines.
    mutating func update(interval: Duration, timeout: Duration) {
        self.interval = max(1, Self.nanoseconds(interval))
        self.timeout = max(0, Self.nanoseconds(timeout))
    }

    var waiting: Int { pending.count }

    /// When `advance` must next be called, if ever.
    var nextDeadline: Int64? { intervalEnd }

    /// Takes in one captured packet, stamped `time` on the tracker's clock. Packets that are neither
    /// an outgoing SYN nor an incoming SYN-ACK or RST-ACK are ignored; so is a packet whose capture
    /// says it went the other way.
    mutating func observe(_ packet: CapturedPacket, at time: Int64) {
        guard let tcp = packet.tcp, let sourcePort = packet.sourcePort, let destinationPort = packet.destinationPort else {
            return
        }
        let flags = tcp.flags
        if flags.contains(.syn), !flags.contains(.ack), packet.direction != .incoming {
            let key = FlowKey(local: packet.source, localPort: sourcePort, remote: packet.destination,
                              remotePort: destinationPort)
            if let existing = pending[key], existing.sequence == tcp.sequence { return }
            guard pending[key] != nil || pending.count < Self.maxPending else {
                untracked += 1
                return
            }
            pending[key] = Attempt(sentAt: time, deadline: time + timeout, sequence: tcp.sequence)
            openInterval(at: time)
        } else if flags.contains(.ack), !flags.isDisjoint(with: [.syn, .rst]), packet.direction != .outgoing {
            let key = FlowKey(local: packet.destination, localPort: destinationPort, remote: packet.source,
                              remotePort: sourcePort)
            guard let attempt = pending[key], tcp.acknowledgment == attempt.sequence &+ 1 else { return }
            pending[key] = nil
            if time <= attempt.deadline { answered += 1 } else { unanswered += 1 }
            openInterval(at: time)
        }
    }

    /// Closes the interval if `now` reached its end: times out the attempts whose deadline passed by
    /// then and returns the interval's sample, if anything resolved in it.
    mutating func advance(to now: Int64) -> PassiveHealthSample? {
        guard let end = intervalEnd, now >= end else { return nil }
        for (key, attempt) in pending where attempt.deadline < end {
            pending[key] = nil
            unanswered += 1
        }
        let total = answered + unanswered
        let sample = total == 0 ? nil : PassiveHealthSample(interface: interface, answered: answered * 2 > total,
                                                             attempts: total, answeredAttempts: answered)
        answered = 0
        unanswered = 0
        intervalEnd = pending.isEmpty ? nil : boundary(after: now)
        return sample
    }

    private mutating func openInterval(at time: Int64) {
        if intervalEnd == nil { intervalEnd = boundary(after: time) }
    }

    /// The first interval boundary strictly after `time`.
    private func boundary(after time: Int64) -> Int64 {
        let elapsed = max(0, time - origin)
        return origin + (elapsed / interval + 1) * interval
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
