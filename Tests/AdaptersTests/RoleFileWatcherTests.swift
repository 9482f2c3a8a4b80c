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
        func waitForProblem(_ text: String, seconds: Double = 3) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if problems.withLock({ $0.contains { $0.contains(text) } }) { return true }
                usleep(5_000)
            }
            return false
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
        // The re-read every hour: within the test only inotify can bring a change.
        let watcher = try RoleFileWatcher(path: path, rereadInterval: .seconds(3_600),
                                          onRole: { role in heard.roles.withLock { $0.append(role) }; return true },
                                          onProblem: { text in heard.problems.withLock { $0.append(text) } })
        defer { watcher.stop() }
        // No file yet: backup, with the reason said once.
        #expect(heard.waitFor([.backup]))
        #expect(heard.problems.withLock { $0 }.first?.contains("does not exist yet") == true)
        try write("MASTER\n", to: path)
        #expect(heard.waitFor([.backup, .master]))
        try write("FAULT\n", to: path)
        #expect(heard.waitFor([.backup, .master, .backup]))
        // Garbage is reported (without its content) and taken as backup: no new role. A second
        // problem (a directory in its place) is reported only after the watcher's thread has
        // finished with the garbage, so by then a role made of it would have been heard.
        try write("secret-looking junk\n", to: path)
        #expect(heard.waitForProblem("holds no keepalived state"))
        #expect(!heard.problems.withLock { $0 }.contains { $0.contains("junk") })
        #expect(unlink(path) == 0 && mkdir(path, 0o700) == 0)
        #expect(heard.waitForProblem("is not a regular file"))
        #expect(heard.roles.withLock { $0 } == [.backup, .master, .backup])
        #expect(rmdir(path) == 0)
        try write("MASTER\n", to: path)
        #expect(heard.waitFor([.backup, .master, .backup, .master]), "\(heard.roles.withLock { $0 })")
    }

    /// A report the daemon's queue could not take is offered again on the next re-read.
    @Test func anUndeliveredRoleIsOfferedAgain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fwrole-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ha-role").path
        try write("MASTER\n", to: path)
        let offers = Mutex(0)
        // Nothing changes the file: only the re-read (every 100 ms here) can offer it again.
        let watcher = try RoleFileWatcher(path: path, rereadInterval: .milliseconds(100),
                                          onRole: { _ in offers.withLock { $0 += 1; return $0 >= 2 } }, onProblem: { _ in })
        defer { watcher.stop() }
        let deadline = Date().addingTimeInterval(5)
        while offers.withLock({ $0 }) < 2 && Date() < deadline { usleep(10_000) }
        #expect(offers.withLock { $0 } == 2)
    }
}
