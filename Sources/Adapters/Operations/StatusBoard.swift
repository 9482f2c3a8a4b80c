import Domain
import Synchronization

/// What the API serves about the running core: an immutable copy the core loop publishes, so a
/// read never touches the core or waits for the loop.
public struct DaemonSnapshot: Sendable {
    /// One uplink group as the plan has it now.
    public struct Group: Sendable, Equatable {
        public var name: String
        public var mode: String
        public var members: [String]
        public var active: [String]
    }

    /// Increases with every publication.
    public var generation: UInt64
    public var takenAt: Instant
    public var status: [WANStatus]
    public var groups: [Group]
    /// Each WAN's effective health check (nil: none).
    public var checks: [String: HealthCheck]
    /// Manual commands the loop has handled since start (see `StatusBoard.submit`).
    public var commandsHandled: UInt64
    /// Worst lateness of a deadline wake-up (a probe round's start or timeout) since start, real
    /// nanoseconds; and the last one.
    public var maxLatenessNanos: Int64
    public var lastLatenessNanos: Int64
    /// Whether the history store is writing, and if not, why.
    public var historyProblem: String?
    /// The router's role in its HA pair, and its dataplane layout's fingerprint; nil when standalone.
    public var role: HARole? = nil
    public var layoutFingerprint: String? = nil

    public var wanNames: [String] { status.map(\.interface) }
}

/// The lock-protected box between the core loop (writer) and the API (readers), and the daemon's
/// metrics.
///
/// The loop offers a snapshot after every input; the board takes one at most every `period` of core
/// time, or at once after a state change or a command (`force`), so 1,000 targets at 10 Hz do not
/// rebuild it 10,000 times a second and an operator still sees a failover the moment it happens.
public final class StatusBoard: Sendable {
    public static let defaultPeriod: Duration = .milliseconds(100)
    public let metrics: DaemonMetrics
    /// Maps the core's instants to wall-clock time for responses.
    public let clock: MonotonicClock
    private let periodNanos: Int64
    private let state: Mutex<State>
    /// The dashboard's chart samples, under a lock of their own so a chart read never holds up a
    /// status read.
    private let samples = Mutex(RoundSamples())

    private struct State {
        var snapshot: DaemonSnapshot?
        var commandsSubmitted: UInt64 = 0
        var historyProblem: String?
        /// The core's record of each handled command by its ticket, until its request takes it.
        var handled: [UInt64: CommandRecord] = [:]
    }

    /// Records kept for requests that gave up waiting are dropped once this many newer ones came.
    static let keptRecords: UInt64 = 1_024

    public init(clock: MonotonicClock, metrics: DaemonMetrics = DaemonMetrics(), period: Duration = StatusBoard.defaultPeriod) {
        self.clock = clock
        self.metrics = metrics
        self.periodNanos = period.nanoseconds
        self.state = Mutex(State())
    }

    public var snapshot: DaemonSnapshot? { state.withLock { $0.snapshot } }

    /// Whether a snapshot taken at `now` would be published (cheap: the loop asks before building one).
    public func wants(at now: Instant, force: Bool) -> Bool {
        force || state.withLock { s in s.snapshot.map { now.nanoseconds - $0.takenAt.nanoseconds >= periodNanos } ?? true }
    }

    /// Called by the core loop only.
    public func publish(_ snapshot: DaemonSnapshot) {
        state.withLock { s in
            var snapshot = snapshot
            snapshot.generation = (s.snapshot?.generation ?? 0) + 1
            snapshot.historyProblem = s.historyProblem
            s.snapshot = snapshot
        }
        samples.withLock { $0.record(snapshot.status, at: snapshot.takenAt) }
    }

    /// Each named WAN's chart samples at or after `since` (core time), oldest first.
    public func samples(for names: [String], since: Instant?) -> [(interface: String, samples: [RoundSample])] {
        samples.withLock { $0.samples(for: names, since: since) }
    }

    /// Pushes a manual command into the loop and returns its ticket: the command has been handled
    /// once `commandsHandled` reaches it. Every manual input goes through here so the count agrees.
    /// nil: the queue refused it (too many commands wait) and it was not counted.
    public func submit(_ command: ManualCommand, origin: CommandOrigin, into inputs: DaemonInputQueue) -> UInt64? {
        state.withLock { s in
            // Under the lock: tickets are handed out in the order the loop will count them.
            guard inputs.push(.core(.manual(command, origin: origin))) else { return nil }
            s.commandsSubmitted += 1
            return s.commandsSubmitted
        }
    }

    /// Called by the core loop with the core's record of the command it counted as `ticket`.
    public func noteHandled(_ record: CommandRecord, ticket: UInt64) {
        state.withLock { s in
            s.handled[ticket] = record
            if ticket > Self.keptRecords { s.handled[ticket - Self.keptRecords] = nil }
        }
    }

    /// Waits (without blocking a thread) until the loop has handled the command with this ticket and
    /// published the state after it; returns the core's record of it, nil after `timeout`.
    public func waitHandled(_ ticket: UInt64, timeout: Duration = .seconds(2)) async -> CommandRecord? {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if let record = state.withLock({ s -> CommandRecord? in
                guard let handled = s.snapshot?.commandsHandled, handled >= ticket else { return nil }
                return s.handled.removeValue(forKey: ticket)
            }) { return record }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return nil
    }

    /// The history writer reports here when it cannot write (nil: writing again).
    public func setHistoryProblem(_ problem: String?) {
        state.withLock { s in
            s.historyProblem = problem
            s.snapshot?.historyProblem = problem
            s.snapshot?.generation += 1
        }
    }

    public var historyProblem: String? { state.withLock { $0.historyProblem } }
}
