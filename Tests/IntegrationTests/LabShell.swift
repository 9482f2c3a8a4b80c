import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A command of the lab that failed: what ran, how it ended, what it said.
struct LabCommandError: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var output: String
    var timedOut = false

    var description: String {
        let how = timedOut ? "timed out" : "exited \(status)"
        return "`\(command.joined(separator: " "))` \(how): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// Runs the CLI tools the lab builds and inspects the kernel with (ip, nft, conntrack, ...). Tests
/// may use them; the product never does.
enum LabShell {
    /// PATH with the sbin directories first: ip, nft, conntrack and dnsmasq live there.
    static let environment: [String: String] = {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:" + (environment["PATH"] ?? "")
        return environment
    }()

    /// Scratch directory of this test process; command output goes to files there, not pipes, so a
    /// chatty command cannot block on a full pipe while we wait for it.
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fwlab-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    @discardableResult
    static func run(_ arguments: String..., input: String? = nil, timeout: Double = 20) throws -> String {
        try run(arguments, input: input, timeout: timeout)
    }

    /// Runs a command and returns its stdout; throws `LabCommandError` with stdout+stderr when it
    /// exits non-zero or outlives `timeout` seconds (then it is killed).
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil, timeout: Double = 20) throws -> String {
        let result = try runStatus(arguments, input: input, timeout: timeout)
        guard result.status == 0, !result.timedOut else {
            throw LabCommandError(command: arguments, status: result.status, output: result.stdout + result.stderr,
                                  timedOut: result.timedOut)
        }
        return result.stdout
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String; var timedOut: Bool }

    /// Runs a command and returns how it ended, whatever that was.
    static func runStatus(_ arguments: [String], input: String? = nil, timeout: Double = 20) throws -> Result {
        let id = UUID().uuidString
        let outURL = scratch.appendingPathComponent("\(id).out"), errURL = scratch.appendingPathComponent("\(id).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        try spawn(process)
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        var timedOut = false
        if done.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            done.wait()
        }
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    /// Starts `process` with no signal blocked. The test runner's threads block most signals and a
    /// child inherits the mask of the thread that spawns it: a daemon started from there would
    /// never see SIGTERM or SIGHUP. (Foundation spawns from the calling thread.) `env
    /// --default-signal` in front of every command also resets inherited dispositions.
    static func spawn(_ process: Process) throws {
        process.arguments = ["--default-signal"] + (process.arguments ?? [])
        var none = sigset_t(), old = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        try process.run()
    }

    static func has(_ command: String) -> Bool {
        (try? runStatus(["sh", "-c", "command -v \(command)"]).status) == 0
    }
}

/// A long-running process of the lab (daemon, echo server, DHCP server or client) whose output is
/// collected line by line so a test can wait for a line with a deadline.
final class LabProcess: @unchecked Sendable {
    let label: String
    let arguments: [String]
    private let process = Process()
    private let stdin = Pipe()
    private let output = LabLocked<(lines: [String], partial: String)>(([], ""))
    private let exited = DispatchSemaphore(value: 0)
    private let exit = LabLocked<Int32?>(nil)

    /// Starts `arguments` (through /usr/bin/env, with sbin on PATH); stdout and stderr are merged.
    init(_ label: String, _ arguments: [String]) throws {
        self.label = label
        self.arguments = arguments
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = LabShell.environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = stdin
        pipe.fileHandleForReading.readabilityHandler = { [output] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            output.withLock { state in
                state.partial += String(decoding: data, as: UTF8.self)
                var parts = state.partial.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                state.partial = parts.removeLast()
                state.lines += parts
            }
        }
        process.terminationHandler = { [exited, exit] p in
            exit.withLock { $0 = p.terminationStatus }
            exited.signal()
        }
        try LabShell.spawn(process)
    }

    var pid: Int32 { process.processIdentifier }

    /// Every complete line so far (plus an unterminated last one).
    var lines: [String] {
        output.withLock { $0.lines + ($0.partial.isEmpty ? [] : [$0.partial]) }
    }

    var text: String { lines.joined(separator: "\n") }

    /// The exit status, once it has exited (negative numbers are not used: see `terminationReason`).
    var exitStatus: Int32? { exit.withLock { $0 } }

    var terminatedBySignal: Bool { exitStatus != nil && process.terminationReason == .uncaughtSignal }

    func send(_ line: String) {
        stdin.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    func closeInput() { try? stdin.fileHandleForWriting.close() }

    func signal(_ number: Int32) {
        if exitStatus == nil { kill(pid, number) }
    }

    /// Waits up to `seconds` for the process to exit; returns its status, or nil if it still runs.
    func waitForExit(seconds: Double) -> Int32? {
        if let status = exitStatus { return status }
        if exited.wait(timeout: .now() + seconds) == .success {
            exited.signal()  // later waiters return at once
        }
        return exitStatus
    }

    /// Waits until a line satisfies `match` (checking the lines from `from` on), the process exits,
    /// or `seconds` pass; returns the line.
    func waitForLine(from: Int = 0, seconds: Double, _ match: (String) -> Bool) async -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let all = lines
            if from < all.count, let line = all[from...].first(where: match) { return line }
            if exitStatus != nil || Date() > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace` seconds.
    func stop(grace: Double = 3) {
        guard exitStatus == nil else { return }
        signal(SIGTERM)
        if waitForExit(seconds: grace) == nil {
            signal(SIGKILL)
            _ = waitForExit(seconds: 5)
        }
    }
}

/// A value behind a lock that closures can share (`Mutex` itself cannot be captured).
final class LabLocked<Value>: @unchecked Sendable {
    private let mutex: Mutex<Value>
    init(_ value: sending Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout sending Value) throws -> sending R) rethrows -> sending R {
        try mutex.withLock(body)
    }
}

/// Polls `condition` every `every` seconds until it holds or `seconds` pass; returns whether it held.
func eventually(seconds: Double, every: Double = 0.25, _ condition: () throws -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if (try? condition()) == true { return true }
        if Date() > deadline { return false }
        try? await Task.sleep(for: .milliseconds(Int(every * 1000)))
    }
}
