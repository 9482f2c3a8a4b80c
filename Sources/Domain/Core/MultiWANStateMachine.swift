/// The deterministic multi-WAN core: health, failover and balancing as a value-type state machine.
///
/// The shell (daemon or simulator) feeds it events stamped with the time they happened and carries
/// out the effects it returns, in order. It sleeps until `nextDeadline` (or the next I/O) and then
/// calls `handle(.tick, at:)`. The first call should be `handle(.tick, at: start)`: it sends the first
/// probes and the initial plan. Same inputs, same outputs: there is no clock and no randomness inside.
public struct MultiWANStateMachine: Sendable {
    public private(set) var config: FlywallConfig
    public private(set) var plan: ForwardingPlan

    public init(config: FlywallConfig) {
        self.config = config
        self.plan = ForwardingPlan()
    }

    public var nextDeadline: Instant? { nil }

    public var status: [WANStatus] { [] }

    public mutating func handle(_ event: CoreEvent, at now: Instant) -> [CoreEffect] { [] }
}
