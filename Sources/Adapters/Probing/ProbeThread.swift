#if canImport(Glibc)
import Glibc
#endif

/// The one OS thread a prober runs its receive loop on, and the `Wakeup` that wakes it from `poll(2)`.
///
/// A plain pthread rather than a Swift task: the loop blocks in `poll(2)` for as long as no probe
/// is due, which must not hold a thread of the cooperative pool. It inherits the network namespace
/// of the thread that starts it (that is how Linux creates threads), although the sockets it
/// reads are opened by the senders and keep the namespace they were opened in.
final class ProbeThread: Sendable {
    private let thread: pthread_t
    private let wakeup: Wakeup

    /// Starts `loop` on a new thread. `loop` polls the wakeup's descriptor and drains it.
    init(_ loop: @escaping @Sendable (_ wakeup: Wakeup) -> Void) throws(SystemError) {
        let wakeup = try Wakeup()
        self.wakeup = wakeup
        do {
            thread = try DedicatedThread.start(name: "flywall-probe", timing: true) { loop(wakeup) }
        } catch {
            wakeup.close()
            throw error
        }
    }

    /// Makes the loop's `poll(2)` return. Safe from any thread.
    func wake() {
        wakeup.wake()
    }

    /// Waits for the loop to return (the owner must have told it to stop and woken it), then
    /// closes the wakeup. Must not be called from the loop's own thread.
    func join() {
        pthread_join(thread, nil)
        wakeup.close()
    }

    var isCurrent: Bool { pthread_equal(pthread_self(), thread) != 0 }
}
