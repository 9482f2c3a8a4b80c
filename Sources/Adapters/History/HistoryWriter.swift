import Dispatch
import Domain
import Logging
import Synchronization

/// The core loop's `WANEventRecording` port for history: takes each event or command without
/// blocking and appends it to the `HistoryStore` on a queue of its own.
///
/// Bounded: at most `capacity` entries wait; beyond that (the disk stalls) new ones are dropped and
/// counted, and failover goes on. A store that could not be opened, or a write that fails, is
/// logged once per kind of problem and shown on the status board (`history unavailable`); the
/// next write that succeeds clears it.
///
/// With a `NotificationSender`, each event's notifications go into the store's outbox in the
/// event's own transaction, and the sender is woken once it is committed.
///
/// An event's log line is written here, after its commit (or after the write failed, or at once
/// when the entry is dropped), in the order the core emitted them: an event an operator saw in the
/// log is in history after `kill -9`. The loop only hands the line over, so it never waits for
/// SQLite; the line comes later by the commit's time (an fsync).
public final class HistoryWriter: WANEventRecording {
    public static let defaultCapacity = 10_000
    public let store: HistoryStore?
    private let queue = DispatchQueue(label: "flywall-history")
    private let capacity: Int
    private let board: StatusBoard?
    private let logger: Logger
    private let notifier: NotificationSender?
    private let state = Mutex(State())

    private struct State {
        var waiting = 0
        var dropped = 0
        var problem: String?
    }

    /// `store` nil: it could not be opened (`problem` says why); entries are counted as dropped.
    public init(store: HistoryStore?, problem: String? = nil, board: StatusBoard?, logger: Logger,
                capacity: Int = HistoryWriter.defaultCapacity, notifier: NotificationSender? = nil) {
        self.store = store
        self.notifier = notifier
        self.board = board
        self.logger = logger
        self.capacity = capacity
        if let problem { report(problem) }
    }

    public func record(_ event: WANEvent, unixNanoseconds: Int64, logLine: String) {
        enqueue(HistoryEntry(event, unixNanoseconds: unixNanoseconds), logLine: logLine) { [notifier] in
            notifier?.items(for: event, unixNanoseconds: unixNanoseconds) ?? []
        }
    }

    public func record(_ command: CommandRecord, unixNanoseconds: Int64) {
        enqueue(HistoryEntry(command, unixNanoseconds: unixNanoseconds))
    }

    /// Entries dropped so far (store unavailable or queue full).
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Waits until every entry handed over so far is committed (tests, shutdown).
    public func drain() { queue.sync {} }

    private func enqueue(_ entry: HistoryEntry, logLine: String? = nil,
                         outbox: @escaping @Sendable () -> [OutboxItem] = { [] }) {
        let accepted = state.withLock { s -> Bool in
            guard store != nil, s.waiting < capacity else {
                s.dropped += 1
                return false
            }
            s.waiting += 1
            return true
        }
        guard accepted, let store else {
            announce(logLine)
            return
        }
        queue.async { [self] in
            do {
                let items = outbox()
                try store.append(entry, outbox: items)
                if !items.isEmpty { notifier?.wake() }
                clearProblem()
            } catch {
                report("\(error)")
            }
            announce(logLine)
            state.withLock { $0.waiting -= 1 }
        }
    }

    private func announce(_ logLine: String?) {
        if let logLine { logger.notice("\(logLine)") }
    }

    private func report(_ problem: String) {
        let isNew = state.withLock { s -> Bool in
            defer { s.problem = problem }
            return s.problem != problem
        }
        if isNew { logger.error("history unavailable: \(problem); failover goes on, events are not kept") }
        board?.setHistoryProblem(problem)
    }

    private func clearProblem() {
        let had = state.withLock { s -> Bool in
            defer { s.problem = nil }
            return s.problem != nil
        }
        if had {
            logger.notice("history: writing again")
            board?.setHistoryProblem(nil)
        }
    }
}
