import Domain
import Logging
import Synchronization

/// The API's settings as the core last said them (`.configureAPI`): the bearer token every write is
/// checked against, read per request so a SIGHUP that changes it changes who may write at once; and
/// the listen address, taken from the first `.configureAPI` only (the server binds once).
public final class APIAccess: APIConfiguring, Sendable {
    private struct State {
        var token: String?
        var listen: String?
    }

    private let state = Mutex(State())
    private let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Called on the core loop's thread (start and reload): never blocks.
    public func configure(_ api: APISettings) {
        let changed = state.withLock { s -> Bool in
            defer {
                s.token = api.token
                if s.listen == nil { s.listen = api.listen }
            }
            return s.listen == nil || s.token != api.token
        }
        guard changed else { return }
        if api.token == nil {
            logger.notice("api: no token in api { token }: read endpoints only, every write is refused")
        } else {
            logger.info("api: token set; writes need it")
        }
    }

    /// The token writes need now; nil: writes are refused.
    var token: String? { state.withLock { $0.token } }

    /// The address the core named first, once it has (polled: this waits only at start).
    func listenAddress() async -> String? {
        while !Task.isCancelled {
            if let listen = state.withLock({ $0.listen }) { return listen }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }
}
