import Domain

/// The daemon's edges, as the loop sees them. Real implementations bind the kernel
/// (`KernelPorts`); tests substitute recorders, so the loop's logic is testable without root.
public protocol ProbeSending: Sendable {
    /// Starts a probe; its result arrives later through the inbox. Never blocks.
    func send(_ request: ProbeRequest)
    /// The set of WANs changed (start, reload): open or close per-uplink sockets.
    func configure(uplinks: [ForwardingPlan.Uplink], config: FlywallConfig) throws
}

public protocol DataplaneApplying: AnyObject {
    /// Makes the kernel agree with `plan` for `config`. A config change may rebuild the nftables
    /// table; a health change must only replace routes (see docs/dataplane.md).
    func apply(_ plan: ForwardingPlan, config: FlywallConfig) throws
    /// Reads the kernel's state and repairs Flywall's rules and routes: after a link or address
    /// comes back, the kernel may have deleted routes through it.
    func resynchronize() throws
    /// Deletes the connections that left through this uplink; returns how many.
    func flushConnections(uplink: ForwardingPlan.Uplink) throws -> Int
    /// Removes everything Flywall owns in the kernel (SIGTERM).
    func removeAll() throws
}

/// Where WAN events go besides the log: history, notifications (later issues).
public protocol WANEventRecording: Sendable {
    func record(_ event: WANEvent)
}
