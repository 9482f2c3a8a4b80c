#if canImport(Glibc)
import Glibc
#endif
import Domain
import Synchronization

/// Runs one `pppd` per PPPoE line (`.startSession`) and reports each run's end as
/// `.sessionEnded` with pppd's exit status and last line of output. It decides nothing: when to
/// start again is the core's backoff; whether the link is up, netlink's carrier on the session's
/// `ppp` interface.
///
/// Why netlink and not pppd's `ip-up`/`ip-down` scripts: the kernel's link state is the truth the
/// dataplane depends on, it reaches the core by the same path as every other WAN's carrier (and
/// the same code is tested with a TUN device standing in for the `ppp` interface), and hooks would
/// mean root scripts in `/etc/ppp` shared with the operator, plus a channel back to the daemon.
///
/// Each run has a thread that reads pppd's output until it closes, then reaps pppd with
/// `waitpid`; pppd is spawned with `posix_spawn` (nothing runs between fork and exec, so no lock
/// of this process can be held in the child). Its pid is kept in `<directory>/<interface>.pid` so a
/// daemon killed with -9 stops the pppd it left behind when it starts again.
public final class PPPDSupervisor: Sendable {
    public typealias EndHandler = @Sendable (_ interface: String, _ exit: SessionExit) -> Void

    private struct Run: Sendable {
        var pid: pid_t
        var stopping = false
        /// Started once this run, asked to stop, has ended (a reload changed the line).
        var next: PPPoESessionSpec?
    }

    /// The root-only directory (0700) of the options files and pid files.
    public let directory: String
    private let pppd: String
    private let onEnded: EndHandler
    private let runs = Mutex<[String: Run]>([:])

    /// `directory` is created 0700 if missing; pppd left running by an earlier daemon of the same
    /// directory is stopped and its files removed.
    public init(directory: String, pppd: String = "/usr/sbin/pppd", onEnded: @escaping EndHandler) throws(SystemError) {
        self.directory = directory
        self.pppd = pppd
        self.onEnded = onEnded
        try PPPDOptions.prepareDirectory(directory)
        stopLeftovers()
    }

    public func optionsPath(_ interface: String) -> String { "\(directory)/\(interface).options" }
    private func pidPath(_ interface: String) -> String { "\(directory)/\(interface).pid" }

    /// Interfaces with a pppd running now.
    public var running: [String] { runs.withLock { $0.keys.sorted() } }

    /// Starts pppd for the line unless one runs for it already. A failure to start is reported
    /// through `onEnded` like any other end, so the core's backoff applies to it too.
    public func start(_ session: PPPoESessionSpec) {
        let free = runs.withLock { runs -> Bool in
            guard runs[session.interface] != nil else { return true }
            if runs[session.interface]!.stopping { runs[session.interface]!.next = session }
            return false
        }
        guard free else { return }
        let options = optionsPath(session.interface)
        do throws(SystemError) {
            try PPPDOptions.write(session, to: options)
            let (pid, output) = try spawn(options: options)
            runs.withLock { $0[session.interface] = Run(pid: pid) }
            writePid(pid, session.interface)
            do {
                try DedicatedThread.detach(name: "flywall-pppd") { [self] in
                    watch(session.interface, pid: pid, output: output)
                }
            } catch {
                // Unwatched, it could never be reported or reaped: end it now.
                kill(pid, SIGKILL)
                while waitpid(pid, nil, 0) == -1 && Glibc.errno == EINTR {}
                close(output)
                runs.withLock { $0[session.interface] = nil }
                unlink(pidPath(session.interface))
                throw error
            }
        } catch {
            unlink(options)
            onEnded(session.interface, SessionExit(.notStarted(error.description)))
        }
    }

    /// Stops the line's pppd (SIGTERM: pppd ends the session with the server); no end is reported.
    public func stop(interface: String) {
        let pid = runs.withLock { runs -> pid_t? in
            runs[interface]?.stopping = true
            return runs[interface]?.pid
        }
        if let pid { kill(pid, SIGTERM) }
    }

    /// Stops every pppd and waits up to `grace` for them to end (then SIGKILL): graceful shutdown.
    public func stopAll(grace: Duration = .seconds(3)) {
        runs.withLock { runs in for key in runs.keys { runs[key]?.next = nil } }
        for interface in running { stop(interface: interface) }
        let deadline = ContinuousClock.now + grace
        while !runs.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline { usleep(10_000) }
        for (_, run) in runs.withLock({ $0 }) { kill(run.pid, SIGKILL) }
        while !runs.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline + .seconds(1) { usleep(10_000) }
    }

    // MARK: The run

    private func spawn(options: String) throws(SystemError) -> (pid_t, Int32) {
        var pipeFds: [Int32] = [-1, -1]
        guard pipe(&pipeFds) == 0 else { throw .lastErrno("pipe") }
        // Other children must not inherit it: one holding the write end would keep our read from EOF.
        for fd in pipeFds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if devNull >= 0 { posix_spawn_file_actions_adddup2(&actions, devNull, 0) }
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The daemon blocks signals on its threads; pppd needs its own handlers and defaults.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // Its own session (glibc's POSIX_SPAWN_SETSID, which the Glibc module does not export), so a
        // terminal's signals to the daemon's process group do not reach pppd.
        let setsid: Int32 = 0x80
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | setsid))
        // Only the options file's path on the command line: the password stays in the file.
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("pppd"), strdup("file"), strdup(options), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, pppd, &actions, &attributes, argv, envp)
        close(pipeFds[1])
        guard status == 0 else {
            close(pipeFds[0])
            throw SystemError(operation: "posix_spawn", subject: pppd, errno: .init(rawValue: status))
        }
        return (pid, pipeFds[0])
    }

    /// Reads pppd's output to its end (keeping the last line, bounded), reaps pppd, removes its
    /// files and reports the end unless it was asked to stop.
    private func watch(_ interface: String, pid: pid_t, output: Int32) {
        var last = LastLine()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0 && Glibc.errno == EINTR { continue }
            guard n > 0 else { break }
            last.take(buffer[0..<n])
        }
        close(output)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && Glibc.errno == EINTR {}
        unlink(optionsPath(interface))
        unlink(pidPath(interface))
        let run = runs.withLock { $0.removeValue(forKey: interface) }
        guard run?.stopping != true else {
            if let next = run?.next { start(next) }
            return
        }
        let signal = status & 0x7f
        let exit: SessionExit.Status = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        onEnded(interface, SessionExit(exit, lastMessage: last.line))
    }

    // MARK: Leftovers of an earlier daemon

    private func writePid(_ pid: pid_t, _ interface: String) {
        let path = pidPath(interface)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let text = Array("\(pid)\n".utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// pppd processes named in pid files here, whose command line is `pppd file <this dir>/...`,
    /// get SIGTERM; every file of the directory goes.
    private func stopLeftovers() {
        guard let dir = opendir(directory) else { return }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names where name.hasSuffix(".pid") {
            let interface = String(name.dropLast(4))
            if let pid = Self.readNumber("\(directory)/\(name)"), Self.commandLine(of: pid).contains(optionsPath(interface)) {
                kill(pid, SIGTERM)
            }
        }
        for name in names { unlink("\(directory)/\(name)") }
    }

    private static func readNumber(_ path: String) -> pid_t? {
        let text = readSmallFile(path).filter { $0 != "\n" && $0 != "\0" }
        return pid_t(text).flatMap { $0 > 1 ? $0 : nil }
    }

    private static func commandLine(of pid: pid_t) -> String {
        readSmallFile("/proc/\(pid)/cmdline").map { $0 == "\0" ? " " : $0 }.reduce(into: "") { $0.append($1) }
    }

    private static func readSmallFile(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }
}

/// The last non-empty line of a stream, at most `SessionExit.maxMessageLength` bytes kept.
struct LastLine {
    private var current: [UInt8] = []
    private(set) var complete: [UInt8] = []

    mutating func take(_ bytes: ArraySlice<UInt8>) {
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                if !current.isEmpty { complete = current }
                current.removeAll(keepingCapacity: true)
            } else if current.count < SessionExit.maxMessageLength {
                current.append(b)
            }
        }
    }

    var line: String? {
        let bytes = current.isEmpty ? complete : current
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}
