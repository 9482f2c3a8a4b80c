import Adapters
import Domain
import Foundation
import Synchronization
import Testing

/// The role file keepalived's notify script writes, followed through inotify.
@Suite("RoleFileWatcher", .serialized)
struct RoleFileWatcherTests {
    final class Heard: Sendable {
        let roles = Mutex<[HARole]>([])
        let problems = Mutex<[String]>([])
        func waitFor(_ roles: [HARole], seconds: Double = 3) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if self.roles.withLock({ $0 }) == roles { return true }
                usleep(5_000)
            }
            return self.roles.withLock { $0 } == roles
        }
    }

    /// Writes like flywall-notify.sh: a temporary file renamed into place.
    func write(_ text: String, to path: String) throws {
        try text.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
        guard rename(path + ".tmp", path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    @Test func followsTheFileFromMissingToMasterToBackup() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fwrole-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ha-role").path
        let heard = Heard()
        let watcher = try RoleFileWatcher(path: path, onRole: { role in heard.roles.withLock { $0.append(role) }; return true },
                                          onProblem: { text in heard.problems.withLock { $0.append(text) } })
        defer { watcher.stop() }
        // No file yet: backup, with the reason said once.
        #expect(heard.waitFor([.backup]))
        #expect(heard.problems.withLock { $0 }.first?.contains("does not exist yet") == true)
        let start = Date()
        try write("MASTER\n", to: path)
        #expect(heard.waitFor([.backup, .master]))
        // inotify, not the 1 s re-read, brought it.
        #expect(Date().timeIntervalSince(start) < 0.9)
        try write("FAULT\n", to: path)
        #expect(heard.waitFor([.backup, .master, .backup]))
        // Garbage is reported (without its content) and taken as backup: no new role.
        try write("secret-looking junk\n", to: path)
        usleep(200_000)
        #expect(heard.roles.withLock { $0 } == [.backup, .master, .backup])
        #expect(heard.problems.withLock { $0 }.contains { $0.contains("holds no keepalived state") && !$0.contains("junk") })
    }

    /// A report the daemon's queue could not take is offered again on the next re-read.
    @Test func anUndeliveredRoleIsOfferedAgain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fwrole-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ha-role").path
        try write("MASTER\n", to: path)
        let offers = Mutex(0)
        let watcher = try RoleFileWatcher(path: path, onRole: { _ in offers.withLock { $0 += 1; return $0 >= 2 } }, onProblem: { _ in })
        defer { watcher.stop() }
        let deadline = Date().addingTimeInterval(Double(RoleFileWatcher.rereadInterval.components.seconds) * 3)
        while offers.withLock({ $0 }) < 2 && Date() < deadline { usleep(10_000) }
        #expect(offers.withLock { $0 } == 2)
    }
}
