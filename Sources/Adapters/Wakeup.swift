#if canImport(Glibc)
import Glibc
#endif
import CMnl  // eventfd(2): <sys/eventfd.h> is in CMnl's shim, Swift's Glibc module leaves it out
import SystemPackage

/// Wakes a thread that sleeps in `poll(2)`: an eventfd, non-blocking and close-on-exec.
///
/// The sleeping thread polls `fileDescriptor` for readability next to its real descriptors and
/// calls `drain()` when it is readable; any thread calls `wake()`. Wakes that come before the
/// drain collapse into one, which is all a loop that re-reads its state needs. The owner closes
/// it once no thread uses it any more.
struct Wakeup: Sendable {
    let fileDescriptor: FileDescriptor

    init() throws(SystemError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw .lastErrno("eventfd") }
        fileDescriptor = FileDescriptor(rawValue: fd)
    }

    /// Makes the descriptor readable. Safe from any thread; never blocks (a counter that would
    /// overflow means "awake" already).
    func wake() {
        withUnsafeBytes(of: UInt64(1)) { _ = try? fileDescriptor.write($0) }
    }

    /// Resets the counter, so that the next `poll(2)` sleeps until the next `wake()`.
    func drain() {
        var count: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &count) { try? fileDescriptor.read(into: $0) }
    }

    func close() {
        try? fileDescriptor.close()
    }

    /// A `pollfd` that waits for `wake()`.
    var pollDescriptor: pollfd { pollfd(fd: fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0) }
}
