import Domain

/// The simulated path behind one WAN: what happens to a probe sent through it.
///
/// `latency` is the round-trip time a reply takes (what ping shows); `jitter` adds uniformly
/// 0...jitter on top; `loss` drops that percentage of probes at random; `blackhole` and a pulled
/// cable (`carrier = false`) drop everything; `unreachable` targets never answer; `httpStatus`, when
/// set, is what an HTTP check's URL answers.
///
/// The same model answers the TCP connection attempts a passive check watches (`answerConnection`),
/// from a stream of its own, so passive traffic never shifts the draws of probes.
public struct LinkModel: Sendable {
    public var interface: String
    public private(set) var state: LinkState
    private var random: SplitMix64
    private var connectionRandom: SplitMix64

    public init(interface: String, state: LinkState, seed: UInt64) {
        self.interface = interface
        self.state = state
        self.random = SplitMix64(seed: seed, stream: "probe:\(interface)")
        self.connectionRandom = SplitMix64(seed: seed, stream: "connection:\(interface)")
    }

    /// Applies a fault or repair; returns whether the carrier changed (the core must then be told).
    @discardableResult
    public mutating func apply(_ change: LinkChange) -> Bool {
        let before = state.carrier
        state = change.applied(to: state)
        return state.carrier != before
    }

    /// Whether anything can cross the link right now (a reply in flight is lost when this turns false).
    public var passes: Bool { state.carrier && !state.blackhole }

    /// What a probe sent now gets: nil for no answer at all (the core times it out), else the outcome
    /// and the delay after which it arrives.
    ///
    /// Every probe draws exactly two numbers from the link's own random stream, whatever the state, so
    /// one fault does not shift the draws of every later probe.
    public mutating func answer(_ target: ProbeTarget) -> (outcome: ProbeOutcome, delay: Duration)? {
        let lossDraw = random.nextUnit()
        let jitterDraw = random.nextUnit()
        guard passes else { return nil }
        if case .icmp(let ip) = target, state.unreachable.contains(ip) { return nil }
        guard let rtt = roundTrip(lossDraw: lossDraw, jitterDraw: jitterDraw) else { return nil }
        if case .http(_, let expected) = target, let status = state.httpStatus, status != expected {
            return (.wrongStatus(status, rtt: rtt), rtt)
        }
        return (.reply(rtt: rtt), rtt)
    }

    /// When the far host's SYN-ACK to a TCP connection attempt sent now arrives: nil when nothing
    /// comes back (black hole, carrier down, `destination` unreachable, or lost at `loss`%), else
    /// after the round-trip time, latency + uniform(0...jitter), exactly as for a probe.
    ///
    /// Like `answer`, every attempt draws exactly two numbers (from the link's connection stream).
    public mutating func answerConnection(to destination: IPAddress) -> Duration? {
        let lossDraw = connectionRandom.nextUnit()
        let jitterDraw = connectionRandom.nextUnit()
        guard passes, !state.unreachable.contains(destination) else { return nil }
        return roundTrip(lossDraw: lossDraw, jitterDraw: jitterDraw)
    }

    /// The round trip for two draws: nil when the loss draw falls under `loss`%.
    private func roundTrip(lossDraw: Double, jitterDraw: Double) -> Duration? {
        if lossDraw * 100 < state.loss { return nil }
        // Saturating: the decoder bounds latency and jitter, but a hand-built scenario may not.
        let extra = Int64(min(9e18, (Double(max(0, state.jitter.nanoseconds)) * jitterDraw).rounded(.down)))
        return .nanoseconds(max(0, state.latency.nanoseconds).saturatingAdd(extra))
    }
}
