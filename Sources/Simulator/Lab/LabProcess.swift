import Adapters
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A command of the lab that failed: what ran, how it ended, what it said.
public struct LabCommandError: Error, CustomStringConvertible {
    public var command: [String]
    public var status: Int32
    public var output: String
    public var timedOut = false

    public var description: String {
        let how = timedOut ? "timed out" : "exited \(status)"
        return "`\(command.joined(separator: " "))` \(how): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// Starting and reaping child processes, without Foundation's `Process`.
///
/// `Process` on Linux learns that a child ended when a socket the child inherited closes, then calls
/// a blocking `waitpid` on one shared thread. A child that closes its inherited descriptors at
/// start (dnsmasq does) stalls that thread until it exits, and with it the reaping of every other
/// child: the lab's `ip` commands would all seem to hang. And a child inherits the signal mask of
/// the spawning thread, which in the test runner blocks SIGTERM and SIGHUP. So the lab spawns with
/// `posix_spawn` (empty mask, default dispositions) and reaps each child itself.
public enum LabSpawn {
    /// Starts `arguments` (through /usr/bin/env, so PATH from `environment` finds the program) with
    /// the given descriptors as stdin, stdout and stderr; returns the pid.
    public static func start(_ arguments: [String], environment: [String: String], stdin: Int32, stdout: Int32,
                      stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        if let closeFrom = closeFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = (["/usr/bin/env"] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw LabCommandError(command: arguments, status: -1, output: "\(SystemError.returned(status, by: "posix_spawn", on: "/usr/bin/env"))")
        }
        return pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Glibc module does not
    /// export: keeps the test process's other descriptors out of the children.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// `waitpid` without blocking: the exit code (128 + signal when killed), or nil while it runs.
    public static func poll(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return r == -1 && errno == ECHILD ? -1 : nil }
        return decode(status)
    }

    /// Blocking `waitpid`: the exit code (128 + signal when killed).
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return -1 }
        }
        return decode(status)
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Runs the CLI tools the lab builds and inspects the kernel with (ip, nft, conntrack, ...). Tests
/// may use them; the product never does.
public enum LabShell {
    /// PATH with the sbin directories first: ip, nft, conntrack and dnsmasq live there.
    public static let environment: [String: String] = {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:" + (environment["PATH"] ?? "")
        return environment
    }()

    /// Scratch directory of this test process; command output goes to files there, not pipes, so a
    /// chatty command cannot block on a full pipe while we wait for it.
    public static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fwlab-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    @discardableResult
    public static func run(_ arguments: String..., input: String? = nil, timeout: Double = 20) throws -> String {
        try run(arguments, input: input, timeout: timeout)
    }

    /// Runs a command and returns its stdout; throws `LabCommandError` with stdout+stderr when it
    /// exits non-zero or outlives `timeout` seconds (then it is killed).
    @discardableResult
    public static func run(_ arguments: [String], input: String? = nil, timeout: Double = 20) throws -> String {
        let result = try runStatus(arguments, input: input, timeout: timeout)
        guard result.status == 0, !result.timedOut else {
            throw LabCommandError(command: arguments, status: result.status, output: result.stdout + result.stderr,
                                  timedOut: result.timedOut)
        }
        return result.stdout
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var timedOut: Bool
    }

    /// Runs a command and returns how it ended, whatever that was. Input and output go through
    /// files, so nothing can fill a pipe while we wait.
    public static func runStatus(_ arguments: [String], input: String? = nil, timeout: Double = 20) throws -> Result {
        let base = scratch.appendingPathComponent(UUID().uuidString).path
        let inPath = base + ".in", outPath = base + ".out", errPath = base + ".err"
        try (input ?? "").write(toFile: inPath, atomically: false, encoding: .utf8)
        defer { for p in [inPath, outPath, errPath] { unlink(p) } }
        let inFD = open(inPath, O_RDONLY | O_CLOEXEC)
        let outFD = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let errFD = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { for fd in [inFD, outFD, errFD] where fd >= 0 { close(fd) } }
        guard inFD >= 0, outFD >= 0, errFD >= 0 else {
            throw LabCommandError(command: arguments, status: -1, output: "cannot open scratch files in \(scratch.path)")
        }
        let pid = try LabSpawn.start(arguments, environment: environment, stdin: inFD, stdout: outFD, stderr: errFD)

        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt32 = 500
        var status = LabSpawn.poll(pid)
        var timedOut = false
        while status == nil {
            if Date() > deadline {
                timedOut = true
                kill(pid, SIGKILL)
                status = LabSpawn.wait(pid)
                break
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
            status = LabSpawn.poll(pid)
        }
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Result(status: status ?? -1, stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    public static func has(_ command: String) -> Bool {
        (try? runStatus(["sh", "-c", "command -v \(command)"]).status) == 0
    }
}

/// A value behind a lock that closures can share (`Mutex` itself cannot be captured).
public final class LabLocked<Value>: @unchecked Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: sending Value) { mutex = Mutex(value) }
    public func withLock<R>(_ body: (inout sending Value) throws -> sending R) rethrows -> sending R {
        try mutex.withLock(body)
    }
}

/// A long-running process of the lab (daemon, echo server, DHCP client) whose output (stdout and
/// stderr merged) is collected line by line so a test can wait for a line with a deadline.
public final class LabProcess: @unchecked Sendable {
    public let label: String
    public let arguments: [String]
    public let pid: pid_t
    private let inputFD: Int32
    private let output = LabLocked<(lines: [String], partial: String, stamps: [Duration])>(([], "", []))
    private let exit = LabLocked<Int32?>(nil)
    private let exited = DispatchSemaphore(value: 0)
    private let drained = DispatchSemaphore(value: 0)

    /// Starts `arguments` (through /usr/bin/env, with sbin on PATH).
    public init(_ label: String, _ arguments: [String]) throws {
        self.label = label
        self.arguments = arguments
        var input: [Int32] = [0, 0], out: [Int32] = [0, 0]
        // (pipe2 is not exported to Swift; children never see these anyway: spawns close from fd 3.)
        guard pipe(&input) == 0 else { throw LabCommandError(command: arguments, status: -1, output: "pipe") }
        guard pipe(&out) == 0 else {
            close(input[0]); close(input[1])
            throw LabCommandError(command: arguments, status: -1, output: "pipe")
        }
        for fd in input + out { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { close(input[0]); close(out[1]) }
        do {
            pid = try LabSpawn.start(arguments, environment: LabShell.environment, stdin: input[0], stdout: out[1], stderr: out[1])
        } catch {
            close(input[1]); close(out[0])
            throw error
        }
        inputFD = input[1]
        // Writing to a child that has exited must fail, not kill the test runner.
        Glibc.signal(SIGPIPE, SIG_IGN)

        let readFD = out[0]
        let output = self.output, drained = self.drained
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(readFD, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                let arrived = LabClock.now()
                let text = String(decoding: buffer[0..<n], as: UTF8.self)
                output.withLock { state in
                    state.partial += text
                    var parts = state.partial.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    state.partial = parts.removeLast()
                    state.lines += parts
                    state.stamps += Array(repeating: arrived, count: parts.count)
                }
            }
            close(readFD)
            drained.signal()
        }
        reader.start()
        let pid = self.pid, exit = self.exit, exited = self.exited
        let waiter = Thread {
            let status = LabSpawn.wait(pid)
            exit.withLock { $0 = status }
            exited.signal()
        }
        waiter.start()
    }

    deinit { close(inputFD) }

    /// Every complete line so far (plus an unterminated last one).
    public var lines: [String] {
        output.withLock { $0.lines + ($0.partial.isEmpty ? [] : [$0.partial]) }
    }

    public var text: String { lines.joined(separator: "\n") }

    /// Every complete line with the time it arrived (`LabClock`, the wall clock packet captures use).
    public var stampedLines: [(time: Duration, line: String)] {
        output.withLock { state in Array(zip(state.stamps, state.lines)).map { (time: $0.0, line: $0.1) } }
    }

    /// The exit code once it has exited (128 + the signal's number when a signal ended it).
    public var exitStatus: Int32? { exit.withLock { $0 } }

    public func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(inputFD, $0.baseAddress, $0.count) }
    }

    public func signal(_ number: Int32) {
        // Only while it runs: after the reaper saw it exit, the pid may belong to someone else.
        if exitStatus == nil { kill(pid, number) }
    }

    /// Waits up to `seconds` for the process to exit (and a moment for the rest of its output);
    /// returns its status, or nil if it still runs.
    public func waitForExit(seconds: Double) -> Int32? {
        if exited.wait(timeout: .now() + seconds) == .success {
            exited.signal()  // later waiters return at once
            // Output ends when every holder of the pipe is gone, which may be later (or never, if
            // the process left children behind): wait a little, not forever.
            if drained.wait(timeout: .now() + 1) == .success { drained.signal() }
        }
        return exitStatus
    }

    /// Waits until a line satisfies `match` (checking the lines from `from` on), the process exits,
    /// or `seconds` pass; returns the line.
    public func waitForLine(from: Int = 0, seconds: Double, _ match: (String) -> Bool) async -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let all = lines
            if from < all.count, let line = all[from...].first(where: match) { return line }
            if exitStatus != nil {
                // The last lines may still be in the pipe.
                try? await Task.sleep(for: .milliseconds(100))
                let all = lines
                return from < all.count ? all[from...].first(where: match) : nil
            }
            if Date() > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits (blocking) until a line satisfies `match`, the process exits, or `seconds` pass.
    public func waitUntil(seconds: Double, _ match: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if lines.contains(where: match) { return true }
            if exitStatus != nil || Date() > deadline { return lines.contains(where: match) }
            usleep(10_000)
        }
    }

    public func waitUntil(line: String, seconds: Double) -> Bool { waitUntil(seconds: seconds) { $0 == line } }

    /// SIGTERM, then SIGKILL if it has not exited within `grace` seconds.
    public func stop(grace: Double = 3) {
        guard exitStatus == nil else { return }
        signal(SIGTERM)
        if waitForExit(seconds: grace) == nil {
            signal(SIGKILL)
            _ = waitForExit(seconds: 5)
        }
    }
}

/// The lab's one clock: CLOCK_REALTIME, the clock libpcap stamps captured packets with, so log lines,
/// faults and packets are on one time line.
public enum LabClock {
    public static func now() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }

    /// Sleeps until `deadline` (on this clock) or until `cancelled` turns true; returns false then.
    public static func sleep(until deadline: Duration, cancelled: () -> Bool) -> Bool {
        while true {
            if cancelled() { return false }
            let left = deadline - now()
            if left <= .zero { return true }
            let step = min(left, .milliseconds(20))
            var ts = timespec(tv_sec: Int(step.components.seconds), tv_nsec: Int(step.components.attoseconds / 1_000_000_000))
            nanosleep(&ts, nil)
        }
    }
}
