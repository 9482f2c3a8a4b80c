/// What one WAN's passive check concluded about one interval: the connection attempts that resolved
/// in it, and whether most of them were answered. One sample is one round for the thresholds.
struct PassiveSample: Sendable, Equatable, CustomStringConvertible {
    /// Connection attempts resolved in the interval (answered or not).
    var attempts: Int
    /// Of those, the ones answered by their deadline.
    var answeredAttempts: Int

    /// A strict majority answered (a tie is a failed round).
    var answered: Bool { answeredAttempts * 2 > attempts }

    var description: String { "\(answeredAttempts)/\(attempts) connection attempts answered" }
}

/// One WAN's passive health check: the connection attempts seen leaving through it, their answers,
/// and the samples they add up to. Pure: times are nanoseconds of the core's `Instant`, so the rule
/// is testable to the nanosecond. docs/configuration.md ("Passive checks") states the same rule.
///
/// The rule, exactly:
/// - **Attempt.** An attempt for a 4-tuple at time `t` starts waiting with deadline `t + timeout`.
///   Another attempt for a 4-tuple already waiting, with the same sequence number, is a
///   retransmission and changes nothing (the deadline stays that of the first SYN). One with another
///   sequence number replaces the waiting one, which is forgotten (the client gave up on it; that
///   says nothing about the WAN). An attempt for a 4-tuple whose attempt was already answered or
///   timed out starts a new one: a client still retrying is still unanswered.
/// - **Answer.** An answer for a waiting 4-tuple that acknowledges its SYN (`ack == seq + 1`)
///   resolves it: *answered* when it comes at or before the deadline, *unanswered* when later. A
///   reset counts as an answer because it proves the path carries packets both ways.
/// - **Timeout.** An attempt still waiting when an interval closes, with its deadline before the
///   close, is *unanswered*.
/// - **Samples.** Intervals are `interval` long, aligned to `origin` (when monitoring started). When
///   one closes, the attempts resolved since the previous close make one sample, `answered` if more
///   than half of them were answered. An interval in which nothing resolved gives no sample (an idle
///   WAN is not a failing one), so there is at most one sample per interval.
/// - **Bounds.** At most `maxPending` attempts wait at once; attempts beyond that (a scan, a flood)
///   are not tracked, so memory never grows with what the network sends.
struct PassiveSampler: Sendable {
    struct Attempt: Sendable {
        var deadline: Int64
        var sequence: UInt32
    }

    static let maxPending = 4_096

    private(set) var interval: Int64
    private(set) var timeout: Int64
    let origin: Int64
    private var pending: [ConnectionTuple: Attempt] = [:]
    private var answered = 0
    private var unanswered = 0
    /// End of the open interval; nil while nothing waits and nothing resolved (idle: no deadline).
    private(set) var intervalEnd: Int64?
    /// Attempts not tracked because `maxPending` attempts were already waiting.
    private(set) var untracked = 0

    init(interval: Int64, timeout: Int64, origin: Int64) {
        self.interval = max(1, interval)
        self.timeout = max(0, timeout)
        self.origin = origin
    }

    /// A new interval and timeout (config reload); attempts waiting keep their deadlines, and the
    /// open interval keeps its end.
    mutating func update(interval: Int64, timeout: Int64) {
        self.interval = max(1, interval)
        self.timeout = max(0, timeout)
    }

    /// Attempts waiting for an answer.
    var waiting: Int { pending.count }

    /// Takes in one observation at `time`. The caller closes an interval that ended before `time`
    /// first (`advance`), so the observation lands in the interval it happened in.
    mutating func observe(_ observation: PassiveObservation, at time: Int64) {
        switch observation {
        case .attempt(let tuple, let sequence):
            if let existing = pending[tuple] {
                if existing.sequence == sequence { return }
            } else if pending.count >= Self.maxPending {
                untracked += 1
                return
            }
            pending[tuple] = Attempt(deadline: time.saturatingAdd(timeout), sequence: sequence)
            openInterval(at: time)
        case .answer(let tuple, let acknowledgment):
            guard let attempt = pending[tuple], acknowledgment == attempt.sequence &+ 1 else { return }
            pending[tuple] = nil
            if time <= attempt.deadline { answered += 1 } else { unanswered += 1 }
            openInterval(at: time)
        }
    }

    /// Closes the interval if `now` reached its end: times out the attempts whose deadline passed by
    /// then and returns the interval's sample, if anything resolved in it. A late call closes one
    /// interval and the next one ends on the first boundary after `now`.
    mutating func advance(to now: Int64) -> PassiveSample? {
        guard let end = intervalEnd, now >= end else { return nil }
        if !pending.isEmpty {
            let before = pending.count
            pending = pending.filter { $0.value.deadline >= end }
            unanswered += before - pending.count
        }
        let total = answered + unanswered
        let sample = total == 0 ? nil : PassiveSample(attempts: total, answeredAttempts: answered)
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
        // Saturating: times near the end of Int64 must not trap.
        let elapsed = max(0, time.saturatingSubtract(origin))
        let (next, overflow) = (elapsed / interval + 1).multipliedReportingOverflow(by: interval)
        return overflow ? .max : origin.saturatingAdd(next)
    }
}
