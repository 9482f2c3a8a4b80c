import Domain
import Logging
import Synchronization

/// The HA role input source as the core's `.watchRoleFile` says: one `RoleFileWatcher` on the path
/// the core names, replaced when a reload names another, stopped when it names none. The path is
/// the core's (`ha_pair { role_file }`); this only runs the watcher.
public final class RoleFileSource: RoleFileWatching, Sendable {
    private let running = Mutex<(path: String, watcher: RoleFileWatcher)?>(nil)
    private let inputs: DaemonInputQueue
    private let logger: Logger

    public init(inputs: DaemonInputQueue, logger: Logger) {
        self.inputs = inputs
        self.logger = logger
    }

    /// Called on the core loop's thread, on start and on a reload only (never on the failover path).
    /// A file that cannot be watched is logged; the core then stays a backup, the safe side.
    public func watch(path: String?) {
        let old = running.withLock { r -> RoleFileWatcher? in
            guard r?.path != path else { return nil }
            defer { r = nil }
            return r?.watcher
        }
        old?.stop()
        guard let path, running.withLock({ $0 == nil }) else { return }
        let inputs = inputs, logger = logger
        do {
            let watcher = try RoleFileWatcher(path: path, onRole: { inputs.push(.core(.roleChanged($0))) },
                                              onProblem: { logger.warning("ha: \($0)") })
            running.withLock { $0 = (path, watcher) }
        } catch {
            logger.error("ha: cannot watch the role file \(path): \(error); this router stays a backup")
        }
    }

    /// Graceful shutdown: nothing is reported after it returns.
    public func stop() {
        running.withLock { r -> RoleFileWatcher? in
            defer { r = nil }
            return r?.watcher
        }?.stop()
    }
}
