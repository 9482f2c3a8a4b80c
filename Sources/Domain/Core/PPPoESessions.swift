/// One PPPoE line as the shell must run it: pppd on the Ethernet device `interface`, its session
/// interface named `device`. The password is a secret: `description` never shows it.
public struct PPPoESessionSpec: Sendable, Equatable, CustomStringConvertible {
    /// The Ethernet device, which is also the WAN's name in the config.
    public var interface: String
    /// The session's `ppp` interface (`PPPoE.sessionDevice(for:)`).
    public var device: String
    public var credentials: PPPoE

    public init(interface: String, device: String, credentials: PPPoE) {
        self.interface = interface
        self.device = device
        self.credentials = credentials
    }

    public var description: String { "PPPoE on \(interface) as \(device), user \(credentials.username)" }
}

/// How one pppd run ended, as its supervisor saw it.
public struct SessionExit: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        /// pppd exited with this status (man pppd, "EXIT STATUS").
        case exited(Int32)
        /// pppd was killed by this signal.
        case signaled(Int32)
        /// pppd could not be started at all (not installed, spawn failed), with the shell's words.
        case notStarted(String)
    }

    public var status: Status
    /// pppd's last line of output: its own words about why, if it said any.
    public var lastMessage: String?

    public init(_ status: Status, lastMessage: String? = nil) {
        self.status = status
        self.lastMessage = lastMessage.map { String($0.prefix(SessionExit.maxMessageLength)) }
    }

    /// Longest pppd line kept in a reason, so a chatty pppd cannot grow a log line or an event.
    public static let maxMessageLength = 200

    /// The operator's words for it: what pppd's status means, then pppd's own line.
    public var reason: String {
        let message = lastMessage.map { ": \($0)" } ?? ""
        switch status {
        case .exited(let code):
            // pppd's PPPoE plugin says the kernel lacks PPP before pppd itself would exit with 4.
            if code == 4 || lastMessage.map(SessionExit.namesMissingKernelSupport) == true {
                return "kernel has no PPP support (pppd exit \(code)\(message))"
            }
            return "pppd exit \(code), \(SessionExit.meaning(of: code))\(message)"
        case .signaled(let signal):
            return "pppd killed by signal \(signal)\(message)"
        case .notStarted(let words):
            return "pppd could not be started: \(words)"
        }
    }

    static func namesMissingKernelSupport(_ line: String) -> Bool {
        line.contains("does not support PPP") || line.contains("lacks kernel support") || line.contains("/dev/ppp")
    }

    /// man pppd, "EXIT STATUS".
    static func meaning(of code: Int32) -> String {
        switch code {
        case 0: "session ended by the peer"
        case 1: "fatal error"
        case 2: "error in the options Flywall gave it"
        case 3: "not run as root"
        case 4: "kernel has no PPP support"
        case 5: "terminated by a signal"
        case 6, 7: "could not use the device"
        case 8: "connect script failed"
        case 10: "PPP negotiation failed (no PPPoE server answered, or LCP/IPCP failed)"
        case 11: "peer failed to authenticate"
        case 12: "link idle"
        case 13: "connect time limit reached"
        case 15: "peer not responding to echo requests"
        case 16: "line hung up"
        case 17: "loopback detected"
        case 19: "authentication failed (check username and password)"
        default: "unexpected status"
        }
    }
}

/// When a PPPoE session that ended is started again: 1 s after the first failure, doubling with
/// each failure in a row up to 60 s. A session whose link came up resets the count, so a line
/// that drops once after hours of service is redialled after 1 s. Deterministic (no jitter): each
/// line has its own pppd and its own server, so there is no herd to spread.
public enum SessionBackoff {
    public static let first: Duration = .seconds(1)
    public static let cap: Duration = .seconds(60)

    /// The wait before the next start after `failures` consecutive failed sessions (at least 1).
    public static func delay(afterFailures failures: Int) -> Duration {
        let doublings = min(max(failures, 1) - 1, 6)   // 2^6 s > cap
        return min(first * (1 << doublings), cap)
    }
}

/// The core's view of its PPPoE lines: which pppd runs, whose link is up, when to restart.
struct PPPoESessions: Sendable {
    struct Line: Sendable {
        var spec: PPPoESessionSpec
        var running = false
        /// The session's interface has a link (netlink carrier on `spec.device`).
        var linkUp = false
        /// Failed sessions in a row (one that never brought its link up, or ended before).
        var failures = 0
        var restartAt: Instant?
    }

    private(set) var lines: [String: Line] = [:]

    init(config: FlywallConfig) {
        for wan in config.wans {
            guard let pppoe = wan.pppoe else { continue }
            lines[wan.name] = Line(spec: PPPoESessionSpec(interface: wan.name, device: wan.device, credentials: pppoe))
        }
    }

    /// Asked after every event (`nextDeadline`): a config without PPPoE pays one check.
    var earliestRestart: Instant? {
        guard !lines.isEmpty else { return nil }
        var earliest: Instant?
        for line in lines.values { if let at = line.restartAt, earliest.map({ at < $0 }) ?? true { earliest = at } }
        return earliest
    }

    /// Starts every line that is not running and is due (all of them on the first call).
    mutating func startDue(at now: Instant) -> [PPPoESessionSpec] {
        guard !lines.isEmpty else { return [] }
        var started: [PPPoESessionSpec] = []
        for name in lines.keys.sorted() {
            guard var line = lines[name], !line.running else { continue }
            if let at = line.restartAt, at > now { continue }
            line.running = true
            line.restartAt = nil
            lines[name] = line
            started.append(line.spec)
        }
        return started
    }

    /// The session's link came or went; true when that is news.
    mutating func setLink(_ interface: String, up: Bool) -> Bool {
        guard var line = lines[interface], line.linkUp != up else { return false }
        line.linkUp = up
        if up { line.failures = 0 }
        lines[interface] = line
        return true
    }

    /// pppd ended: schedules the restart and returns its delay (nil for a line Flywall does not run).
    mutating func ended(_ interface: String, at now: Instant) -> Duration? {
        guard var line = lines[interface], line.running else { return nil }
        line.running = false
        line.failures += 1
        let delay = SessionBackoff.delay(afterFailures: line.failures)
        line.restartAt = now + delay
        lines[interface] = line
        return delay
    }

    /// Adopts a new config: lines whose spec changed or went are stopped (their names returned);
    /// kept lines keep their state; new and changed ones start on the next `startDue`.
    mutating func replace(with config: FlywallConfig) -> [String] {
        let wanted = PPPoESessions(config: config).lines
        var stopped: [String] = []
        for (name, line) in lines where wanted[name]?.spec != line.spec {
            if line.running { stopped.append(name) }
            lines[name] = nil
        }
        for (name, line) in wanted where lines[name] == nil { lines[name] = line }
        return stopped.sorted()
    }

    func isLinkUp(_ interface: String) -> Bool { lines[interface]?.linkUp ?? true }
}
