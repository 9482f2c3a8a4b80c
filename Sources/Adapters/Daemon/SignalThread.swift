#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGHUP into `.reload` and SIGTERM/SIGINT into `.terminate` on the inbox.
///
/// The handler only writes the signal number to a pipe (async-signal-safe); a thread reads the
/// pipe and pushes to the inbox. A handler, not `sigwait`, because the Swift runtime may have
/// started threads with the signals unblocked before the daemon gets to run.
public enum SignalThread {
    static let handled: [Int32] = [SIGHUP, SIGTERM, SIGINT]

    public static func start(inbox: DaemonInbox) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { fatalError("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        signalPipeWriteEnd = fds[1]
        for s in handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(s, &action, nil)
        }
        let reader = SignalReader(fd: fds[0], inbox: inbox)
        do {
            try DedicatedThread.detach(name: "flywall-signals") { reader.run() }
        } catch {
            fatalError("cannot start the signal thread: \(error)")
        }
    }
}

/// Written only by the signal handler, which cannot capture context.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

private final class SignalReader: Sendable {
    let fd: Int32
    let inbox: DaemonInbox
    init(fd: Int32, inbox: DaemonInbox) {
        self.fd = fd
        self.inbox = inbox
    }

    func run() {
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return }
            inbox.push(Int32(byte) == SIGHUP ? .reload : .terminate)
        }
    }
}
