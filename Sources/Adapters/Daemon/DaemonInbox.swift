#if canImport(Glibc)
import Glibc
#endif
import Domain

/// What reaches the daemon's loop from the threads around it.
public enum DaemonInput: Sendable {
    /// For the core: probe results, carrier and address changes, operator commands.
    case core(CoreEvent)
    /// SIGHUP: read the config file again.
    case reload
    /// SIGTERM / SIGINT: clean up what we own and stop.
    case terminate
}

/// A thread-safe queue the loop sleeps on until an input arrives or the core's deadline passes.
///
/// Prober, netlink and signal threads push; one loop thread pops. A pthread condition variable on
/// CLOCK_MONOTONIC gives the timed wait (Swift's `Mutex` has no condition).
public final class DaemonInbox: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var items: [DaemonInput] = []
    private var head = 0

    public init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    public func push(_ input: DaemonInput) {
        pthread_mutex_lock(&mutex)
        items.append(input)
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// The next input, or nil once `deadline` (absolute CLOCK_MONOTONIC) passes with none.
    public func pop(until deadline: timespec?) -> DaemonInput? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while head == items.count {
            if var deadline {
                if pthread_cond_timedwait(&condition, &mutex, &deadline) == ETIMEDOUT, head == items.count { return nil }
            } else {
                pthread_cond_wait(&condition, &mutex)
            }
        }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return item
    }
}
