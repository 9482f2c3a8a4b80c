#if canImport(Glibc)
import Glibc
#endif
import Domain

/// What reaches the daemon's core loop from the world around it.
public enum DaemonInput: Sendable, Equatable {
    /// For the core: probe results, carrier and address changes, passive observations, commands.
    case core(CoreEvent)
    /// SIGHUP: read the config file again.
    case reload
    /// Graceful shutdown (SIGTERM / SIGINT): clean up what Flywall owns and stop.
    case terminate
}

/// The one way into the core loop: a bounded, thread-safe queue the loop sleeps on until an input
/// arrives or the core's deadline passes.
///
/// Every source pushes here (probers, link monitor, passive capture, signals; later the API), from
/// any thread; one loop thread pops. Core events are kept in arrival order, at most `capacity` of
/// them: when that many wait (the loop is stalled, or a source floods), a new event is dropped and
/// counted rather than growing memory without bound; `takeDropped` tells the loop, which logs it.
/// Storage grows with what waits, not with the capacity, so an idle daemon pays nothing for it.
/// Reload and terminate are flags, so they are never dropped and a burst of signals coalesces;
/// terminate is served before anything else, reload after the events already queued. Operator
/// commands (`.manual`) are queued in order with the rest but never count against `capacity`: a
/// flood of probe results cannot crowd them out. They have a small cap of their own
/// (`manualCapacity` waiting), and a command beyond it is refused to its sender (`push` returns
/// false), who answers "busy"; it is not counted as dropped.
///
/// A pthread condition variable on CLOCK_MONOTONIC gives the timed wait (Swift's `Mutex` has no
/// condition); both live in memory allocated once, since pthread objects must not move.
public final class DaemonInputQueue: @unchecked Sendable {
    /// Enough for every probe result of 1,000 targets for several seconds of a stalled loop.
    public static let defaultCapacity = 65_536

    /// Operator commands waiting at once: far more than a person or a script waiting for answers sends.
    public static let defaultManualCapacity = 256

    public let capacity: Int
    public let manualCapacity: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// Waiting events are `items[head...]`; the consumed prefix is dropped when it grows large.
    private var items: [CoreEvent] = []
    private var head = 0
    private var reloadRequested = false
    private var terminateRequested = false
    private var droppedSinceTaken = 0
    /// How many of the waiting events are `.manual`.
    private var waitingManual = 0

    public init(capacity: Int = DaemonInputQueue.defaultCapacity, manualCapacity: Int = DaemonInputQueue.defaultManualCapacity) {
        precondition(capacity > 0 && manualCapacity > 0, "an input queue needs room for one event")
        self.capacity = capacity
        self.manualCapacity = manualCapacity
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Queues an input; never blocks. Returns false when a core event was dropped (queue full), or
    /// a command refused (`manualCapacity` commands wait).
    @discardableResult
    public func push(_ input: DaemonInput) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        switch input {
        case .reload: reloadRequested = true
        case .terminate: terminateRequested = true
        case .core(let event):
            if case .manual = event {
                guard waitingManual < manualCapacity else { return false }
                waitingManual += 1
            } else {
                guard items.count - head - waitingManual < capacity else {
                    droppedSinceTaken += 1
                    return false
                }
            }
            items.append(event)
        }
        pthread_cond_signal(condition)
        return true
    }

    /// The next input, or nil once `deadline` (absolute CLOCK_MONOTONIC) passes with none.
    public func pop(until deadline: timespec?) -> DaemonInput? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let input = takeLocked() { return input }
            if var deadline {
                if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { return takeLocked() }
            } else {
                pthread_cond_wait(condition, mutex)
            }
        }
    }

    /// How many core events were dropped since the last call.
    public func takeDropped() -> Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        defer { droppedSinceTaken = 0 }
        return droppedSinceTaken
    }

    private func takeLocked() -> DaemonInput? {
        if terminateRequested {
            terminateRequested = false
            return .terminate
        }
        if head < items.count {
            let event = items[head]
            head += 1
            if case .manual = event { waitingManual -= 1 }
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 4_096 && head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            return .core(event)
        }
        if reloadRequested {
            reloadRequested = false
            return .reload
        }
        return nil
    }
}
