import Testing
@testable import Domain

/// Drives a core whose primary WAN `wan0` has a passive check, with observations and ticks at exact
/// nanoseconds. `wan1` (no check) is the backup, so verdicts show as wan_down/wan_up events.
struct PassiveCore {
    static let second: Int64 = 1_000_000_000
    static let local = ip("100.64.1.2")
    static let remote = ip("198.18.0.1")

    var core: MultiWANStateMachine
    var events: [WANEvent] = []
    var captured: [[String]] = []

    /// The check is 5 s / 2 s; with threshold 1 every failed sample takes wan0 down and every good one
    /// brings it back, so each sample's verdict is visible. The core starts at 100 s, so interval
    /// boundaries fall at 105 s, 110 s, ...
    init(check: HealthCheck? = PassiveCore.check()) {
        core = MultiWANStateMachine(config: PassiveCore.config(check))
        take(core.handle(.tick, at: PassiveCore.at(100 * PassiveCore.second)))
    }

    static func check(interval: Duration = .seconds(5), timeout: Duration = .seconds(2), down: Int = 1,
                      up: Int = 1) -> HealthCheck {
        HealthCheck(kind: .passive, interval: interval, timeout: timeout, thresholdDown: down, thresholdUp: up)
    }

    static func config(_ check: HealthCheck?, wan1: HealthCheck? = nil) -> FlywallConfig {
        FlywallConfig(interfaces: [
            Interface(name: "wan0", wan: WANSettings(priority: 1), healthCheck: check),
            Interface(name: "wan1", wan: WANSettings(priority: 2), healthCheck: wan1),
        ])
    }

    static func at(_ nanoseconds: Int64) -> Instant { Instant(nanoseconds: nanoseconds) }

    static func tuple(_ port: UInt16, remote: IPAddress = PassiveCore.remote) -> ConnectionTuple {
        ConnectionTuple(local: local, localPort: port, remote: remote, remotePort: 443)
    }

    mutating func take(_ effects: [CoreEffect]) {
        for effect in effects {
            switch effect {
            case .emit(let event): events.append(event)
            case .capturePassive(let names): captured.append(names)
            default: break
            }
        }
    }

    mutating func attempt(port: UInt16, sequence: UInt32 = 1000, at time: Int64, interface: String = "wan0") {
        take(core.handle(.passive(interface: interface, .attempt(Self.tuple(port), sequence: sequence)), at: Self.at(time)))
    }

    mutating func answer(port: UInt16, acknowledging sequence: UInt32 = 1000, from remote: IPAddress = PassiveCore.remote,
                         at time: Int64) {
        take(core.handle(.passive(interface: "wan0", .answer(Self.tuple(port, remote: remote), acknowledgment: sequence &+ 1)),
                         at: Self.at(time)))
    }

    mutating func tick(at time: Int64) { take(core.handle(.tick, at: Self.at(time))) }

    var wan0: WANStatus { core.status.first { $0.interface == "wan0" }! }
    /// (good, failed) rounds since the last change of direction, and all rounds.
    var rounds: (total: Int, good: Int, failed: Int) { (wan0.roundsTotal, wan0.goodRounds, wan0.failedRounds) }
    var nextDeadline: Int64? { core.nextDeadline?.nanoseconds }

    /// wan0's wan_down/wan_up events as (kind, nanoseconds).
    var verdicts: [String] {
        events.filter { $0.interface == "wan0" }.map { "\($0.kind.rawValue)@\(Instant(nanoseconds: $0.time.nanoseconds))" }
    }
}

@Suite("Passive check rule in the core")
struct PassiveCheckTests {
    let s = PassiveCore.second

    @Test("an answer within the timeout gives one good round at the interval's end, not before; then no deadline")
    func answered() {
        var c = PassiveCore()
        #expect(c.captured == [["wan0"]])
        #expect(c.nextDeadline == nil)  // idle: no wake-ups
        c.attempt(port: 1, at: 101 * s)
        #expect(c.nextDeadline == 105 * s)
        c.answer(port: 1, at: 103 * s)  // exactly at the deadline still counts
        c.tick(at: 105 * s - 1)
        #expect(c.rounds.total == 0)
        c.tick(at: 105 * s)
        #expect(c.rounds == (1, 1, 0))
        #expect(c.nextDeadline == nil)
        c.tick(at: 200 * s)
        #expect(c.rounds.total == 1)
        #expect(c.verdicts.isEmpty)
    }

    @Test("no answer: a failed round once the deadline has passed at an interval's end")
    func unanswered() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 104 * s)  // deadline 106 s, after the first boundary
        c.tick(at: 105 * s)
        #expect(c.rounds.total == 0)     // still waiting: nothing resolved yet
        #expect(c.nextDeadline == 110 * s)
        c.tick(at: 110 * s)
        #expect(c.rounds == (1, 0, 1))
        #expect(c.verdicts == ["wan_down@110.000s"])
        #expect(c.wan0.reason == "1 consecutive failed passive rounds (0/1 connection attempts answered)")
        #expect(c.nextDeadline == nil)
    }

    @Test("an answer after the deadline is unanswered; any acknowledging answer (a reset too) is answered")
    func lateAnswer() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 101 * s)
        c.answer(port: 1, at: 103 * s + 1)
        c.tick(at: 105 * s)
        #expect(c.verdicts == ["wan_down@105.000s"])
        c.attempt(port: 2, at: 106 * s)
        c.answer(port: 2, at: 106 * s + 500)  // the adapter reports RST-ACKs as answers too
        c.tick(at: 110 * s)
        #expect(c.verdicts == ["wan_down@105.000s", "wan_up@110.000s"])
        #expect(c.wan0.reason == "1 consecutive good passive rounds")
    }

    @Test("answers must match the 4-tuple and acknowledge the SYN")
    func matching() {
        var c = PassiveCore()
        c.attempt(port: 1, sequence: 77, at: 101 * s)
        c.answer(port: 1, acknowledging: 78, at: 101 * s)                      // wrong ack
        c.answer(port: 2, acknowledging: 77, at: 101 * s)                      // wrong port
        c.answer(port: 1, acknowledging: 77, from: ip("198.18.0.9"), at: 101 * s)  // wrong host
        c.tick(at: 105 * s)
        #expect(c.verdicts == ["wan_down@105.000s"])
        #expect(c.wan0.reason.hasSuffix("(0/1 connection attempts answered)"))
    }

    @Test("a retransmitted SYN keeps the first deadline; a new sequence number replaces the attempt")
    func retransmission() {
        var c = PassiveCore()
        c.attempt(port: 1, sequence: 5, at: 101 * s)
        c.attempt(port: 1, sequence: 5, at: 102 * s)     // retransmission
        c.answer(port: 1, acknowledging: 5, at: 103 * s + 1)  // late for the first SYN
        c.tick(at: 105 * s)
        #expect(c.wan0.reason == "1 consecutive failed passive rounds (0/1 connection attempts answered)")

        c.attempt(port: 1, sequence: 5, at: 106 * s)     // resolved before: a new attempt
        c.attempt(port: 1, sequence: 9, at: 107 * s)     // the client started over: replaces it
        c.answer(port: 1, acknowledging: 9, at: 108 * s)
        #expect(c.nextDeadline == 110 * s)
        c.tick(at: 110 * s)
        #expect(c.verdicts == ["wan_down@105.000s", "wan_up@110.000s"])
        #expect(c.rounds == (2, 1, 0))
        #expect(c.nextDeadline == nil)  // the replaced attempt is forgotten, not left waiting
    }

    @Test("one round per interval, by strict majority; a tie is a failed round")
    func majority() {
        var c = PassiveCore()
        for port: UInt16 in 1...3 { c.attempt(port: port, at: 101 * s) }
        c.answer(port: 1, at: 101 * s + 10)
        c.answer(port: 2, at: 101 * s + 20)
        c.tick(at: 105 * s)
        #expect(c.rounds == (1, 1, 0))
        c.tick(at: 105 * s + 1)
        #expect(c.rounds.total == 1)

        for port: UInt16 in 4...5 { c.attempt(port: port, at: 106 * s) }
        c.answer(port: 4, at: 106 * s + 10)
        c.tick(at: 110 * s)
        #expect(c.rounds == (2, 0, 1))
        #expect(c.wan0.reason == "1 consecutive failed passive rounds (1/2 connection attempts answered)")
    }

    @Test("attempts resolve in the interval their answer or deadline falls in")
    func resolutionInterval() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 104 * s)  // answered in the next interval
        c.attempt(port: 2, at: 101 * s)  // times out in this one
        c.tick(at: 105 * s)
        #expect(c.wan0.reason.hasSuffix("(0/1 connection attempts answered)"))
        c.answer(port: 1, at: 105 * s + 1)
        c.tick(at: 110 * s)
        #expect(c.verdicts == ["wan_down@105.000s", "wan_up@110.000s"])
    }

    @Test("an observation at the instant of a close belongs to the closing interval")
    func observationAtTheClose() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 104 * s)
        c.answer(port: 1, at: 105 * s)  // before the tick the shell gives at 105 s
        c.tick(at: 105 * s)
        #expect(c.rounds == (1, 1, 0))
    }

    @Test("an observation after an interval's end closes that interval first, at the observation's time")
    func observationAfterAMissedClose() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 101 * s)
        // No tick at 105 s (a busy shell): the next observation closes the interval, then counts in the next.
        c.attempt(port: 2, at: 106 * s)
        #expect(c.verdicts == ["wan_down@106.000s"])
        c.answer(port: 2, at: 107 * s)
        c.tick(at: 110 * s)
        #expect(c.verdicts == ["wan_down@106.000s", "wan_up@110.000s"])
    }

    @Test("a late tick closes one interval and realigns to the boundaries")
    func lateTick() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 101 * s)
        c.attempt(port: 2, at: 104 * s)
        c.answer(port: 2, at: 104 * s + 5)
        // Deadline 103 s passed before the close: unanswered; the answered one is in the same round.
        c.tick(at: 117 * s)
        #expect(c.rounds == (1, 0, 1))
        #expect(c.wan0.reason.hasSuffix("(1/2 connection attempts answered)"))
        c.attempt(port: 3, at: 118 * s)
        #expect(c.nextDeadline == 120 * s)
    }

    @Test("threshold_down rounds in a row take the WAN down; idle intervals neither count nor reset")
    func thresholds() {
        var c = PassiveCore(check: PassiveCore.check(down: 3, up: 2))
        c.attempt(port: 1, at: 101 * s)
        c.tick(at: 105 * s)
        c.attempt(port: 2, at: 106 * s)
        c.tick(at: 110 * s)
        c.tick(at: 115 * s)  // idle interval: no round
        #expect(c.nextDeadline == nil)
        c.attempt(port: 3, at: 121 * s)
        #expect(c.nextDeadline == 125 * s)
        c.tick(at: 125 * s)
        #expect(c.verdicts == ["wan_down@125.000s"])
        #expect(c.wan0.reason == "3 consecutive failed passive rounds (0/1 connection attempts answered)")
    }

    @Test("at most 4,096 attempts wait; attempts beyond that are not tracked")
    func bounded() {
        var c = PassiveCore()
        let count = PassiveSampler.maxPending + 10
        for i in 0..<count {
            let tuple = ConnectionTuple(local: PassiveCore.local, localPort: UInt16(i % 60_000 + 1),
                                        remote: .v4(0xc612_0000 + UInt32(i / 60_000)), remotePort: 443)
            _ = c.core.handle(.passive(interface: "wan0", .attempt(tuple, sequence: UInt32(i))), at: PassiveCore.at(101 * s))
        }
        // The untracked ones cannot be answered: their answers are not counted.
        let last = ConnectionTuple(local: PassiveCore.local, localPort: UInt16((count - 1) % 60_000 + 1),
                                   remote: .v4(0xc612_0000 + UInt32((count - 1) / 60_000)), remotePort: 443)
        _ = c.core.handle(.passive(interface: "wan0", .answer(last, acknowledgment: UInt32(count - 1) &+ 1)),
                          at: PassiveCore.at(101 * s + 1))
        c.tick(at: 105 * s)
        #expect(c.wan0.reason.hasSuffix("(0/4096 connection attempts answered)"))

        var sampler = PassiveSampler(interval: 5 * s, timeout: 2 * s, origin: 100 * s)
        for i in 0..<count {
            sampler.observe(.attempt(PassiveCore.tuple(UInt16(i % 60_000 + 1), remote: .v4(UInt32(i / 60_000))),
                                     sequence: 1), at: 101 * s)
        }
        #expect(sampler.waiting == PassiveSampler.maxPending)
        #expect(sampler.untracked == 10)
    }

    @Test("observations for a WAN without a passive check, or no WAN at all, change nothing")
    func ignored() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 101 * s, interface: "wan1")
        c.attempt(port: 1, at: 101 * s, interface: "nope0")
        #expect(c.nextDeadline == nil)
        c.tick(at: 110 * s)
        #expect(c.core.status.allSatisfy { $0.roundsTotal == 0 })

        var icmp = CoreDriver(PassiveCore.config(HealthCheck(targets: [ip("1.1.1.1")])))
        #expect(icmp.captured == [[]])  // told on the first tick even when nothing is passive
        icmp.send(.passive(interface: "wan0", .attempt(PassiveCore.tuple(1), sequence: 1)))
        icmp.run(seconds: 20)
        #expect(icmp.events.isEmpty)
    }

    @Test(".capturePassive on the first tick and whenever a reload changes the passive set (sorted names)")
    func captureEffect() {
        var c = PassiveCore()
        #expect(c.captured == [["wan0"]])
        let both = FlywallConfig(interfaces: [
            Interface(name: "wan1", wan: WANSettings(priority: 2), healthCheck: PassiveCore.check()),
            Interface(name: "wan0", wan: WANSettings(priority: 1), healthCheck: PassiveCore.check()),
        ])
        c.take(c.core.handle(.configReplaced(both), at: PassiveCore.at(101 * s)))
        #expect(c.captured == [["wan0"], ["wan0", "wan1"]])
        // Another interval is no change of the set; neither is config order.
        var slower = both
        slower.interfaces[1].healthCheck = PassiveCore.check(interval: .seconds(10))
        c.take(c.core.handle(.configReplaced(slower), at: PassiveCore.at(102 * s)))
        #expect(c.captured.count == 2)
        c.take(c.core.handle(.configReplaced(PassiveCore.config(HealthCheck(targets: [ip("1.1.1.1")]),
                                                               wan1: PassiveCore.check())), at: PassiveCore.at(103 * s)))
        #expect(c.captured.last == ["wan1"])
    }

    @Test("a reload that keeps the check passive keeps waiting attempts and their deadlines")
    func reloadKeepsAttempts() {
        var c = PassiveCore()
        c.attempt(port: 1, at: 101 * s)  // deadline 103 s
        c.take(c.core.handle(.configReplaced(PassiveCore.config(PassiveCore.check(timeout: .seconds(4)))),
                             at: PassiveCore.at(102 * s)))
        #expect(c.nextDeadline == 105 * s)
        c.answer(port: 1, at: 103 * s + 500_000_000)  // within the new timeout, but not the attempt's
        c.tick(at: 105 * s)
        #expect(c.verdicts == ["wan_down@105.000s"])
        // New attempts take the new timeout.
        c.attempt(port: 2, at: 106 * s)
        c.answer(port: 2, at: 109 * s)
        c.tick(at: 110 * s)
        #expect(c.verdicts == ["wan_down@105.000s", "wan_up@110.000s"])
    }

    @Test("a WAN whose check becomes passive counts its intervals from the reload")
    func becomesPassive() {
        var c = PassiveCore(check: nil)
        #expect(c.captured == [[]])
        c.take(c.core.handle(.configReplaced(PassiveCore.config(PassiveCore.check())), at: PassiveCore.at(102 * s)))
        #expect(c.captured == [[], ["wan0"]])
        c.attempt(port: 1, at: 103 * s)
        #expect(c.nextDeadline == 107 * s)
    }
}
