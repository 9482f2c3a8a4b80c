import Adapters
import Domain
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Uniquely named network namespaces for one test, built with the `ip` CLI (tests may use it; the
/// product does not). Always call `remove()` (in a `defer`).
struct NetlinkTestNamespaces {
    let prefix: String

    /// Makes one namespace per role, named `fw-<random>-<role>`, each with `lo` up.
    init(roles: [String]) throws {
        prefix = "fw-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        do {
            for role in roles {
                try NetlinkTestShell.run("ip", "netns", "add", name(role))
                try NetlinkTestShell.run("ip", "-n", name(role), "link", "set", "lo", "up")
            }
        } catch {
            remove()
            throw error
        }
    }

    func name(_ role: String) -> String { "\(prefix)-\(role)" }

    /// Runs `ip <arguments>` inside the role's namespace and returns its output.
    @discardableResult
    func ip(_ role: String, _ arguments: String) throws -> String {
        try NetlinkTestShell.run(["ip", "-n", name(role)] + arguments.split(separator: " ").map(String.init))
    }

    /// Runs any command inside the role's namespace.
    @discardableResult
    func exec(_ role: String, _ arguments: [String], input: String? = nil) throws -> String {
        try NetlinkTestShell.run(["ip", "netns", "exec", name(role)] + arguments, input: input)
    }

    func remove() {
        let list = (try? NetlinkTestShell.run("ip", "netns", "list")) ?? ""
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            if name.hasPrefix(prefix + "-") { _ = try? NetlinkTestShell.run("ip", "netns", "delete", name) }
        }
    }
}

struct NetlinkTestShellError: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var output: String
    var description: String { "`\(command.joined(separator: " "))` exited \(status): \(output)" }
}

enum NetlinkTestShell {
    @discardableResult
    static func run(_ arguments: String...) throws -> String { try run(arguments) }

    /// Runs a command (found in /usr/sbin, /usr/bin, ...) and returns stdout; throws on failure.
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:" + (environment["PATH"] ?? "")
        process.environment = environment
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        if input != nil { process.standardInput = stdin }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: out, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw NetlinkTestShellError(command: arguments, status: process.terminationStatus,
                                        output: text + String(decoding: err, as: UTF8.self))
        }
        return text
    }

    static func has(_ command: String) -> Bool {
        (try? run("sh", "-c", "command -v \(command)")) != nil
    }
}

/// Collects a stream's elements in the background so a test can wait for one with a deadline.
final class NetlinkTestCollector<Element: Sendable>: Sendable {
    private final class Storage: Sendable {
        let items = Mutex<[Element]>([])
    }
    private let storage = Storage()

    init() {}

    /// Collects one element; pass as a source's callback.
    @Sendable func append(_ item: Element) { storage.items.withLock { $0.append(item) } }

    var all: [Element] { storage.items.withLock { $0 } }

    /// Removes and returns everything collected so far.
    func drain() -> [Element] { storage.items.withLock { items in defer { items = [] }; return items } }

    /// Waits until the collected elements satisfy `condition`, or `seconds` pass; returns them all.
    @discardableResult
    func wait(seconds: Double = 5, until condition: ([Element]) -> Bool) async -> [Element] {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            let current = all
            if condition(current) { return current }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return all
    }
}

var netlinkTestsAreRoot: Bool { geteuid() == 0 }

@Suite("Network namespace helper", .serialized)
struct NetlinkNamespaceTests {
    @Test("code run in a namespace sees that namespace's links; the caller's namespace is unchanged",
          .enabled(if: netlinkTestsAreRoot, "needs root for namespaces"))
    func runsInNamespace() throws {
        let spaces = try NetlinkTestNamespaces(roles: ["a"])
        defer { spaces.remove() }
        try spaces.ip("a", "link add fwtest0 type veth peer name fwtest0p")

        let inside = try NetworkNamespace.run(named: spaces.name("a")) { try NetlinkProbe.openRouteSocket() }
        #expect(inside.linkCount == 3)  // lo, fwtest0 and its peer
        #expect(if_nametoindex("fwtest0") == 0, "the test's own namespace must not see fwtest0")

        #expect(throws: (any Error).self) {
            try NetworkNamespace.run(named: spaces.name("missing")) { 1 }
        }
    }
}
