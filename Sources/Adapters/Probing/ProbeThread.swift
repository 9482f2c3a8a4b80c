#if canImport(Glibc)
import Glibc
#endif

/// The one OS thread a prober runs its receive loop on, and the pipe that wakes it from `poll(2)`.
///
/// A plain pthread rather than a Swift task: the loop blocks in `poll(2)` for as long as no probe
/// is due, which must not hold a thread of the cooperative pool. It inherits the network namespace
/// of the thread that starts it (that is how Linux creates threads), although the sockets it
/// reads are opened by the senders and keep the namespace they were opened in.
final class ProbeThread: Sendable {
    private let thread: pthread_t
    /// Read end (polled by the loop) and write end (written by `wake`).
    let wakeReadFD: Int32
    private let wakeWriteFD: Int32

    /// Starts `loop` on a new thread. `loop` gets the read end of the wake pipe to poll.
    init(_ loop: @escaping @Sendable (_ wakeFD: Int32) -> Void) throws(ProbeError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw ProbeError(interface: "", operation: "pipe", code: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeReadFD = fds[0]
        wakeWriteFD = fds[1]
        let readFD = fds[0]
        do {
            thread = try DedicatedThread.start(name: "flywall-probe") { loop(readFD) }
        } catch {
            close(fds[0])
            close(fds[1])
            throw ProbeError(interface: "", operation: "pthread_create", code: error.code)
        }
    }

    /// Makes the loop's `poll(2)` return. Safe from any thread; a full pipe already means "awake".
    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWriteFD, &byte, 1)
    }

    /// Empties the wake pipe; the loop calls this when it is readable.
    static func drain(_ fd: Int32) {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// Waits for the loop to return (the owner must have told it to stop and woken it), then
    /// closes the pipe. Must not be called from the loop's own thread.
    func join() {
        pthread_join(thread, nil)
        close(wakeReadFD)
        close(wakeWriteFD)
    }

    var isCurrent: Bool { pthread_equal(pthread_self(), thread) != 0 }
}
