#if canImport(Glibc)
import Glibc
#endif
import Domain
import Foundation
import Synchronization
import Testing
@testable import Adapters

/// `PPPDSupervisor` with the real `pppd` (which fails on this kernel: no PPP) and with a stand-in
/// that stays up, to see its command line, its options file and how it is stopped.
@Suite(.serialized) struct PPPDSupervisorTests {
    static let session = PPPoESessionSpec(interface: "lo", device: "ppp-lo",
                                          credentials: PPPoE(username: "dsl@isp.example", password: "s3cr\"et\\pw"))

    final class Ends: Sendable {
        let list = Mutex<[(String, SessionExit)]>([])
        func add(_ interface: String, _ exit: SessionExit) { list.withLock { $0.append((interface, exit)) } }
        var all: [(String, SessionExit)] { list.withLock { $0 } }
        func wait(count: Int, seconds: Double = 10) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while all.count < count && Date() < deadline { usleep(20_000) }
            return all.count >= count
        }
    }

    static func directory() -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("flywall-pppd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        return base.appendingPathComponent("pppoe").path
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    /// A pppd that sleeps: long enough to look at it while it runs. Its command line stays the one
    /// it was started with (python3 keeps the script's arguments).
    static func sleeper(in directory: String) throws -> String {
        let path = URL(fileURLWithPath: directory).deletingLastPathComponent().appendingPathComponent("sleepy-pppd").path
        try "#!/usr/bin/env python3\nimport time\ntime.sleep(30)\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// Waits (up to 10 s) until the stand-in's `env` has exec'd python3: its command line is then
    /// the one a supervisor looks for.
    static func waitUntilPython(_ pid: pid_t) -> Bool {
        for _ in 0..<1_000 {
            if (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) == "python3\n" { return true }
            usleep(10_000)
        }
        return false
    }

    @Test func optionsFileHoldsTheCredentialsQuotedAndOnlyItsOwnerCanReadIt() throws {
        let text = PPPDOptions.text(for: Self.session)
        #expect(text.contains("user \"dsl@isp.example\"\n"))
        #expect(text.contains(#"password "s3cr\"et\\pw""# + "\n"))
        for line in ["plugin rp-pppoe.so", "nic-lo", "ifname ppp-lo", "nodetach", "nodefaultroute", "hide-password"] {
            #expect(text.contains(line + "\n"), "\(line) missing:\n\(text)")
        }
        #expect(!text.contains("persist"), "Flywall restarts sessions itself")
        let dir = Self.directory()
        try PPPDOptions.prepareDirectory(dir)
        #expect(Self.mode(dir) == 0o700)
        let path = dir + "/lo.options"
        try PPPDOptions.write(Self.session, to: path)
        #expect(Self.mode(path) == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
        // A directory someone loosened is tightened again.
        chmod(dir, 0o755)
        try PPPDOptions.prepareDirectory(dir)
        #expect(Self.mode(dir) == 0o700)
    }

    @Test func passwordIsNotOnTheCommandLineAndStopRemovesTheFiles() throws {
        let dir = Self.directory()
        let ends = Ends()
        let supervisor = try PPPDSupervisor(directory: dir, pppd: try Self.sleeper(in: dir), onEnded: ends.add)
        supervisor.start(Self.session)
        #expect(supervisor.running == ["lo"])
        let pidText = try String(contentsOfFile: dir + "/lo.pid", encoding: .utf8)
        let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(Self.waitUntilPython(pid), "the stand-in pppd \(pid) never became python3")
        let cmdline = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
        #expect(cmdline.contains("file\0\(dir)/lo.options"), "\(cmdline)")
        #expect(!cmdline.contains("s3cr"), "the password is on a command line: \(cmdline)")
        #expect(Self.mode(dir + "/lo.options") == 0o600)
        // Starting a running line again is nothing.
        supervisor.start(Self.session)
        #expect(supervisor.running == ["lo"])
        supervisor.stopAll()
        #expect(supervisor.running.isEmpty)
        #expect(kill(pid, 0) != 0, "pppd still runs after stopAll")
        #expect(!FileManager.default.fileExists(atPath: dir + "/lo.options"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/lo.pid"))
        #expect(ends.all.isEmpty, "a session that was asked to stop is not reported as ended")
    }

    @Test func aLineStoppedAndStartedAgainRunsTheNewSessionOnceTheOldOneHasEnded() throws {
        let dir = Self.directory()
        let ends = Ends()
        let supervisor = try PPPDSupervisor(directory: dir, pppd: try Self.sleeper(in: dir), onEnded: ends.add)
        supervisor.start(Self.session)
        let first = try String(contentsOfFile: dir + "/lo.pid", encoding: .utf8)
        var changed = Self.session
        changed.credentials.password = "new-one"
        // A reload that changed the line: stop, then start with the new password at once.
        supervisor.stop(interface: "lo")
        supervisor.start(changed)
        var second = first
        for _ in 0..<150 where second == first {
            usleep(20_000)
            second = (try? String(contentsOfFile: dir + "/lo.pid", encoding: .utf8)) ?? first
        }
        #expect(second != first, "the changed session was not started")
        #expect(try String(contentsOfFile: dir + "/lo.options", encoding: .utf8).contains("password \"new-one\""))
        supervisor.stopAll()
        #expect(ends.all.isEmpty)
    }

    @Test func realPPPDFailsForLackOfKernelSupportAndItsEndIsReported() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/pppd") else {
            Issue.record("/usr/sbin/pppd is missing: scripts/install-deps.sh installs Debian's ppp")
            return
        }
        guard geteuid() == 0 else {
            Issue.record("pppd needs root (CI is root)")
            return
        }
        let dir = Self.directory()
        let ends = Ends()
        let supervisor = try PPPDSupervisor(directory: dir, onEnded: ends.add)
        supervisor.start(Self.session)
        #expect(ends.wait(count: 1), "pppd did not end within 10 s")
        let (interface, exit) = try #require(ends.all.first)
        #expect(interface == "lo")
        // This kernel has no PPP (no /dev/ppp): pppd's PPPoE plugin says so and pppd exits.
        #expect(exit.reason.hasPrefix("kernel has no PPP support"), "\(exit.reason)")
        #expect(!exit.reason.contains("s3cr"))
        #expect(supervisor.running.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir + "/lo.options"), "options file left after pppd ended")
    }

    @Test func missingPPPDIsReportedAsNotStarted() throws {
        let dir = Self.directory()
        let ends = Ends()
        let supervisor = try PPPDSupervisor(directory: dir, pppd: dir + "/no-such-pppd", onEnded: ends.add)
        supervisor.start(Self.session)
        #expect(ends.wait(count: 1))
        let reason = ends.all.first?.1.reason ?? ""
        #expect(reason.hasPrefix("pppd could not be started") || reason.contains("exit 127"), "\(reason)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/lo.options"))
    }

    @Test func aNewSupervisorStopsThePPPDAnEarlierDaemonLeftRunning() throws {
        let dir = Self.directory()
        let sleeper = try Self.sleeper(in: dir)
        let first = try PPPDSupervisor(directory: dir, pppd: sleeper, onEnded: { _, _ in })
        first.start(Self.session)
        let pid = try #require(pid_t(try String(contentsOfFile: dir + "/lo.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        // As after kill -9 of the daemon: the first supervisor is never told to stop.
        // Only a process whose command line names this directory's options file is stopped: wait
        // until env has exec'd python3 (a real pppd is exec'd directly).
        #expect(Self.waitUntilPython(pid), "the stand-in pppd \(pid) never became python3")
        let ends = Ends()
        _ = try PPPDSupervisor(directory: dir, pppd: sleeper, onEnded: ends.add)
        var gone = false
        for _ in 0..<100 where !gone {
            usleep(20_000)
            gone = kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") == true
        }
        #expect(gone, "the leftover pppd \(pid) still runs")
        #expect(!FileManager.default.fileExists(atPath: dir + "/lo.options"))
    }
}
