#if canImport(Glibc)
import Glibc
#endif
import Domain
import Logging
import ServiceLifecycle
import Synchronization

/// Delivers the outbox: one thread per enabled channel, so a hung mail server delays neither the
/// webhooks nor anything of the daemon (the core loop only hands events to the `HistoryWriter`,
/// which commits them with their outbox rows and calls `wake()`).
///
/// Each thread asks `NotificationPolicy.due` when the next message of its channel is due (per
/// subject: at once, at the end of the coalescing window, or at the retry time), sends it with
/// `NotificationTransport` (bounded by its timeout), and marks its rows delivered, or failed with
/// the next attempt `NotificationPolicy.retryDelay` later. Delivery is at least once: a `kill -9`
/// between the server's answer and the commit sends that message again after the restart.
///
/// It runs no channel until the core's `.configureNotifications` names them (on its first tick and
/// after a reload that changed the block): the config lives in the core, not here.
public final class NotificationSender: NotificationConfiguring, Sendable {
    private struct State: Sendable {
        var policy: NotificationPolicy
        var running: [String: Wakeup] = [:]
        var stopped = false
    }

    private let store: HistoryStore
    private let logger: Logger
    private let now: @Sendable () -> Int64
    private let timeout: Duration
    private let state: Mutex<State>

    /// `now`: wall-clock Unix nanoseconds (tests may slow or replace it).
    public init(store: HistoryStore, logger: Logger,
                timeout: Duration = NotificationTransport.timeout,
                now: (@Sendable () -> Int64)? = nil) {
        self.store = store
        self.logger = logger
        self.now = now ?? { KernelClock.realtime() }
        self.timeout = timeout
        state = Mutex(State(policy: NotificationPolicy(Notifications())))
    }

    /// The outbox rows of one event (one per channel whose `events` has its kind). Cheap: called on
    /// the history writer's queue.
    public func items(for event: WANEvent, unixNanoseconds: Int64) -> [OutboxItem] {
        let policy = state.withLock { $0.policy }
        let subject = NotificationPolicy.subject(of: event)
        return policy.channels(for: event).map {
            OutboxItem(channel: $0.id, subject: subject, unixNanoseconds: unixNanoseconds, event: event)
        }
    }

    /// New rows are committed: every channel thread looks again.
    public func wake() {
        for wakeup in state.withLock({ Array($0.running.values) }) { wakeup.wake() }
    }

    /// `.configureNotifications`: the core's block replaces the running one.
    public func configure(_ notifications: Notifications) { start(notifications) }

    /// Starts a thread for each enabled channel that has none; threads of channels no longer
    /// configured end. With a block, it first replaces the running one.
    public func start(_ notifications: Notifications? = nil) {
        // Each id is claimed under the lock, so two concurrent starts never run a channel twice.
        let claimed: [(String, Wakeup)] = state.withLock { s in
            if let notifications { s.policy = NotificationPolicy(notifications) }
            guard !s.stopped else { return [] }
            var claimed: [(String, Wakeup)] = []
            for id in s.policy.channels.map(\.id) where s.running[id] == nil {
                do {
                    let wakeup = try Wakeup()
                    s.running[id] = wakeup
                    claimed.append((id, wakeup))
                } catch {
                    logger.error("notifications: cannot start the \(id) sender: \(error)")
                }
            }
            return claimed
        }
        for (id, wakeup) in claimed {
            do {
                try DedicatedThread.detach(name: "flywall-\(id)") { [self] in run(channel: id, wakeup: wakeup) }
            } catch {
                state.withLock { _ = $0.running.removeValue(forKey: id) }
                wakeup.close()
                logger.error("notifications: cannot start the \(id) sender: \(error)")
            }
        }
        wake()
    }

    /// Ends every channel thread after its current attempt (which its timeout bounds); what is
    /// undelivered stays in the outbox for the next start.
    public func stop() {
        state.withLock { $0.stopped = true }
        wake()
    }

    private func channel(_ id: String) -> NotificationPolicy.Channel?? {
        state.withLock { s in s.stopped ? nil : .some(s.policy.channels.first { $0.id == id }) }
    }

    private func run(channel id: String, wakeup: Wakeup) {
        defer {
            state.withLock { _ = $0.running.removeValue(forKey: id) }
            wakeup.close()
        }
        while case .some(.some(let channel)) = channel(id) {
            let coalescing = state.withLock { $0.policy }
            var waitNanoseconds: Int64 = 60_000_000_000
            do {
                let subjects = try store.waitingSubjects(channel: id)
                let t = now()
                let due = subjects.map { ($0, coalescing.due(oldestWaiting: $0.oldestWaiting, lastSent: $0.lastSent, retryAt: $0.retryAt)) }
                if let (subject, at) = due.min(by: { $0.1 < $1.1 }) {
                    if at <= t {
                        try deliver(channel, subject: subject.subject)
                        continue
                    }
                    waitNanoseconds = min(waitNanoseconds, at - t)
                }
            } catch {
                logger.error("notifications \(id): \(error); trying again in 5s")
                waitNanoseconds = 5_000_000_000
            }
            var fds = [wakeup.pollDescriptor]
            _ = poll(&fds, 1, Int32(max(1, (waitNanoseconds + 999_999) / 1_000_000)))
            wakeup.drain()
        }
    }

    private func deliver(_ channel: NotificationPolicy.Channel, subject: String) throws {
        let items = try store.waitingItems(channel: channel.id, subject: subject, limit: NotificationPolicy.maxEventsPerMessage)
        // Rows whose event no longer decodes are skipped by the store; waiting here keeps a
        // subject made only of those from spinning the loop.
        guard !items.isEmpty else { throw HistoryError("outbox: undecodable rows for \(subject)") }
        let message = NotificationMessage(items: items.map { .init($0.event, unixNanoseconds: $0.unixNanoseconds) })
        let answer = NotificationTransport.send(message, to: channel, unixNanoseconds: now(), timeout: timeout)
        let ids = items.map(\.id)
        if answer.delivered {
            try store.markDelivered(ids, at: now())
            logger.info("notification \(channel.id) (\(channel.destination)): \(message.subject): \(answer.text)")
        } else {
            let attempts = (items.map(\.attempts).max() ?? 0) + 1
            let delay = NotificationPolicy.retryDelay(failedAttempts: attempts)
            try store.markFailed(ids, error: answer.text) { now().saturatingAdd(NotificationPolicy.retryDelay(failedAttempts: $0).nanoseconds) }
            logger.warning("notification \(channel.id) (\(channel.destination)) failed (attempt \(attempts)): \(answer.text); next try in \(DurationText.format(delay))")
        }
    }
}

/// The sender as a `Service`: starts its channel threads with the group and stops them when the
/// group shuts down.
public struct NotificationService: Service {
    private let sender: NotificationSender

    public init(sender: NotificationSender) { self.sender = sender }

    public func run() async throws {
        sender.start()
        try? await gracefulShutdown()
        sender.stop()
    }
}
