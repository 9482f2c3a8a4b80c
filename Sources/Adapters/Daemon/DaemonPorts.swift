import Domain

/// The daemon's edges, as the core loop sees them: each carries out one kind of `CoreEffect`.
/// Real implementations bind the kernel (`KernelProbes`, `LinkMonitor`, `KernelDataplane`); tests
/// substitute in-memory recorders, so the loop is testable without root.
public struct DaemonPorts: Sendable {
    public var probes: any ProbeSending
    public var interfaces: any InterfaceWatching
    public var passive: any PassiveCapturing
    public var dataplane: any DataplaneApplying
    public var recorder: (any WANEventRecording)?
    public var sessions: any SessionRunning
    /// The operations edges (`.configureNotifications`, `.configureAPI`, `.watchRoleFile`): none
    /// unless the daemon runs them.
    public var notifications: any NotificationConfiguring = NoOperations()
    public var api: any APIConfiguring = NoOperations()
    public var roleFile: any RoleFileWatching = NoOperations()

    public init(probes: any ProbeSending, interfaces: any InterfaceWatching, passive: any PassiveCapturing,
                dataplane: any DataplaneApplying, recorder: (any WANEventRecording)? = nil,
                sessions: any SessionRunning = SimulatedSessions()) {
        self.probes = probes
        self.interfaces = interfaces
        self.passive = passive
        self.dataplane = dataplane
        self.recorder = recorder
        self.sessions = sessions
    }
}

/// Delivers notifications as the core's `.configureNotifications` says: `NotificationSender`.
public protocol NotificationConfiguring: Sendable {
    /// Replaces the channels, filters and coalescing; starts and ends channel threads to match.
    func configure(_ notifications: Notifications)
}

/// The API's settings as the core's `.configureAPI` says: `APIAccess`.
public protocol APIConfiguring: Sendable {
    /// The token takes effect for the next request; the listen address only the first time.
    func configure(_ api: APISettings)
}

/// Follows keepalived's role file as the core's `.watchRoleFile` says: `RoleFileSource`.
public protocol RoleFileWatching: Sendable {
    /// Follows exactly this file (nil: none), stopping the watcher of another.
    func watch(path: String?)
}

/// No notifications, API or HA role to run (loop tests, a daemon without them): effects are dropped.
public struct NoOperations: NotificationConfiguring, APIConfiguring, RoleFileWatching {
    public init() {}
    public func configure(_ notifications: Notifications) {}
    public func configure(_ api: APISettings) {}
    public func watch(path: String?) {}
}

/// Runs the PPPoE sessions (`.startSession`, `.stopSession`): `PPPDSupervisor` for real.
public protocol SessionRunning: Sendable {
    /// Starts the line's session; its end comes back as `.sessionEnded`. Never blocks on the network.
    func start(_ session: PPPoESessionSpec)
    /// Stops the line's session; no `.sessionEnded` follows.
    func stop(interface: String)
    /// Stops every session (graceful shutdown) and removes their files.
    func stopAll()
}

/// Sessions of simulated links (the demo daemon, loop tests): a simulated line has its session
/// whenever its link has carrier, so there is nothing to run.
public struct SimulatedSessions: SessionRunning {
    public init() {}
    public func start(_ session: PPPoESessionSpec) {}
    public func stop(interface: String) {}
    public func stopAll() {}
}

extension PPPDSupervisor: SessionRunning {
    public func stopAll() { stopAll(grace: .seconds(3)) }
}

public protocol ProbeSending: Sendable {
    /// Opens exactly these probe paths (`.configureProbes`), closing others.
    func configure(_ bindings: [ProbeBinding]) throws
    /// Starts a probe; its result arrives later through the input queue. Never blocks.
    func send(_ request: ProbeRequest)
}

public protocol InterfaceWatching: Sendable {
    /// Follows exactly these interfaces (`.watchInterfaces`); reports new ones as they are now.
    func watch(interfaces: [String])
}

public protocol PassiveCapturing: Sendable {
    /// Captures connection attempts and their answers on exactly these WANs (`.capturePassive`);
    /// returns the errors of those that could not be opened (the others are watched).
    func capture(interfaces: [String]) -> [SystemError]
}

/// Called from the core loop's thread only.
public protocol DataplaneApplying: AnyObject, Sendable {
    /// Makes the kernel agree with `plan`, changing as little as it can (`.applyPlan`).
    func apply(_ plan: ForwardingPlan) throws
    /// Reads the kernel's state and makes all of Flywall's rules and routes agree with `plan`
    /// (`.repairDataplane`).
    func repair(_ plan: ForwardingPlan) throws
    /// Deletes the connections that left through this uplink; returns how many.
    func flushConnections(uplink: ForwardingPlan.Uplink) throws -> Int
    /// Removes everything Flywall owns in the kernel (graceful shutdown).
    func removeAll() throws
}

/// Where WAN events and handled commands go besides the log: history, notifications. Called on the
/// core loop's thread: an implementation hands the record on and never blocks.
public protocol WANEventRecording: Sendable {
    /// `unixNanoseconds`: the wall-clock time of `event.time`. `logLine`: the event's log line,
    /// which the recorder writes once the event is kept (or could not be kept), in order: a line
    /// seen in the log is an event that survives `kill -9`.
    func record(_ event: WANEvent, unixNanoseconds: Int64, logLine: String)
    func record(_ command: CommandRecord, unixNanoseconds: Int64)
}

extension WANEventRecording {
    public func record(_ command: CommandRecord, unixNanoseconds: Int64) {}
}
