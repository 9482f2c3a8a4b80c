#if canImport(Glibc)
import Glibc
#endif
import Domain
import Synchronization
import SystemPackage

/// Follows the file keepalived's notify script writes (`ha_pair { role_file }`, docs/ha.md) and reports
/// each role it reads: an input source, so the core learns its role as an event.
///
/// A file rather than keepalived's FIFO: it outlives a restart of either program, so a daemon
/// started after keepalived still learns the role at once. inotify on the file's directory wakes
/// the watcher when the script writes or renames the file into place; it also re-reads the file
/// every `rereadInterval`, which covers a directory created later and a report the daemon's queue
/// could not take. A missing or unreadable file is reported as backup: a router not sure it holds
/// the virtual addresses must not act as the one that does.
public final class RoleFileWatcher: Sendable {
    public static let rereadInterval: Duration = .seconds(1)
    /// keepalived writes one word; anything longer is not its file.
    static let maxFileBytes = 256

    private let loop: RoleFileLoop
    private let thread: Mutex<pthread_t?>

    /// Starts watching `path`. `onRole` hears the first role at once (on the watcher's thread) and
    /// then every change; it returns false when the role could not be delivered (it is offered
    /// again on the next re-read). `onProblem` hears, once per distinct problem, why the file gave
    /// no role. `rereadInterval` is the fallback when inotify missed a change (tests make it long
    /// to see that inotify alone brings changes).
    public init(path: String, rereadInterval: Duration = RoleFileWatcher.rereadInterval,
                onRole: @escaping @Sendable (HARole) -> Bool,
                onProblem: @escaping @Sendable (String) -> Void) throws(SystemError) {
        let loop = try RoleFileLoop(path: path, rereadInterval: rereadInterval, onRole: onRole, onProblem: onProblem)
        self.loop = loop
        thread = Mutex(try DedicatedThread.start(name: "flywall-harole") { loop.run() })
    }

    deinit { stop() }

    /// Stops the thread; nothing is reported after it returns. Idempotent.
    public func stop() {
        guard let running = thread.withLock({ handle -> pthread_t? in
            defer { handle = nil }
            return handle
        }) else { return }
        loop.wakeup.wake()
        loop.stopRequested.store(true, ordering: .releasing)
        DedicatedThread.join(running)
        loop.close()
    }
}

/// The watcher's descriptors and state; used only by its thread after init (`stopRequested` and
/// `wakeup` excepted).
final class RoleFileLoop: @unchecked Sendable {
    let wakeup: Wakeup
    let stopRequested = Atomic<Bool>(false)
    private let path: String
    private let rereadInterval: Duration
    private let directory: String
    private let inotify: Int32
    private var watching = false
    private var delivered: HARole?
    private var lastProblem: String?
    private let onRole: @Sendable (HARole) -> Bool
    private let onProblem: @Sendable (String) -> Void

    init(path: String, rereadInterval: Duration, onRole: @escaping @Sendable (HARole) -> Bool,
         onProblem: @escaping @Sendable (String) -> Void) throws(SystemError) {
        self.path = path
        self.rereadInterval = rereadInterval
        let slash = path.lastIndex(of: "/")!
        directory = slash == path.startIndex ? "/" : String(path[..<slash])
        self.onRole = onRole
        self.onProblem = onProblem
        wakeup = try Wakeup()
        inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else {
            let error = SystemError.lastErrno("inotify_init1")
            wakeup.close()
            throw error
        }
    }

    func close() {
        _ = Glibc.close(inotify)
        wakeup.close()
    }

    func run() {
        let (seconds, attoseconds) = rereadInterval.components
        let interval = Int32(clamping: max(1, seconds * 1_000 + attoseconds / 1_000_000_000_000_000))
        var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), wakeup.pollDescriptor]
        while !stopRequested.load(ordering: .acquiring) {
            if !watching {
                let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB)
                watching = inotify_add_watch(inotify, directory, mask) >= 0
            }
            reread()
            let ready = poll(&fds, nfds_t(fds.count), interval)
            if ready > 0 && fds[0].revents != 0 { drainEvents() }
        }
    }

    /// The events only say "look again"; which file they name does not matter.
    private func drainEvents() {
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while buffer.withUnsafeMutableBytes({ read(inotify, $0.baseAddress, $0.count) }) > 0 {}
        // A removed directory drops the watch: add it again on the next turn.
        if access(directory, F_OK) != 0 { watching = false }
    }

    private func reread() {
        let role: HARole
        switch readRole() {
        case .success(let r):
            role = r
            lastProblem = nil
        case .failure(let problem):
            role = .backup
            if lastProblem != problem.text {
                lastProblem = problem.text
                onProblem(problem.text + "; taken as backup")
            }
        }
        guard role != delivered else { return }
        if onRole(role) { delivered = role }
    }

    private struct Problem: Error { var text: String }

    private func readRole() -> Result<HARole, Problem> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else {
            let e = errno
            return .failure(Problem(text: e == ENOENT ? "\(path) does not exist yet (keepalived has not reported a state)"
                                                      : "cannot open \(path): \(Errno(rawValue: e))"))
        }
        defer { _ = Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            return .failure(Problem(text: "\(path) is not a regular file"))
        }
        var buffer = [UInt8](repeating: 0, count: RoleFileWatcher.maxFileBytes)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { return .failure(Problem(text: "cannot read \(path): \(Errno(rawValue: errno))")) }
        let text = String(decoding: buffer[..<n], as: UTF8.self)
        guard let role = HARole.fromKeepalivedState(Substring(text)) else {
            return .failure(Problem(text: "\(path) holds no keepalived state (MASTER, BACKUP, FAULT or STOP)"))
        }
        return .success(role)
    }
}
