import Testing
@testable import Domain

@Suite("Health tracking")
struct HealthTrackerTests {
    let check = HealthCheck(targets: [ip("1.1.1.1"), ip("8.8.8.8")], interval: .seconds(5), timeout: .seconds(2),
                            thresholdDown: 3, thresholdUp: 2)

    /// Runs one round on a tracker: the given targets answer, the rest time out.
    func round(_ t: inout HealthTracker, at now: Instant, answering: [Int]) {
        let requests = t.tick(at: now)
        for r in requests where answering.contains(r.id.target) {
            t.record(r.id, .reply(rtt: .milliseconds(20)))
        }
        _ = t.tick(at: now + .seconds(2))
    }

    @Test func downExactlyAtThresholdRound() {
        var t = HealthTracker(interface: "eth0", check: check)
        t.start(at: .zero)
        for n in 1...3 {
            round(&t, at: .seconds(Double((n - 1) * 5)), answering: [])
            #expect(t.healthy == (n < 3), "round \(n)")
            #expect(t.failedRounds == n)
        }
        #expect(t.reason.hasPrefix("3 consecutive failed probe rounds"))
        #expect(t.reason.contains("1.1.1.1: timeout"))
    }

    @Test func upExactlyAtThresholdRoundWithHysteresis() {
        var t = HealthTracker(interface: "eth0", check: check)
        t.start(at: .zero)
        var time = 0.0
        for _ in 0..<3 { round(&t, at: .seconds(time), answering: []); time += 5 }
        #expect(!t.healthy)
        round(&t, at: .seconds(time), answering: [0]); time += 5
        #expect(!t.healthy)
        // A failure in between resets the good count: hysteresis, not a majority vote.
        round(&t, at: .seconds(time), answering: []); time += 5
        round(&t, at: .seconds(time), answering: [1]); time += 5
        #expect(!t.healthy)
        round(&t, at: .seconds(time), answering: [0, 1]); time += 5
        #expect(t.healthy)
        #expect(t.reason == "2 consecutive good probe rounds")
    }

    @Test func oneDeadTargetOfTwoChangesNothing() {
        var t = HealthTracker(interface: "eth0", check: check)
        t.start(at: .zero)
        for n in 0..<20 { round(&t, at: .seconds(Double(n * 5)), answering: [1]) }
        #expect(t.healthy)
        #expect(t.failedRounds == 0)
        #expect(t.windows[0].lossPercent == 100)
        #expect(t.windows[1].lossPercent == 0)
        #expect(t.lossPercent == 50)
    }

    @Test func reliabilityTwoNeedsBothTargets() {
        var c = check
        c.reliability = 2
        var t = HealthTracker(interface: "eth0", check: c)
        t.start(at: .zero)
        for n in 0..<3 { round(&t, at: .seconds(Double(n * 5)), answering: [1]) }
        #expect(!t.healthy)
    }

    /// k of N with N = 3: the k-th answer decides, not "all" and not "any".
    @Test func reliabilityTwoOfThree() {
        var c = check
        c.targets = [ip("1.1.1.1"), ip("8.8.8.8"), ip("9.9.9.9")]
        c.reliability = 2
        var t = HealthTracker(interface: "eth0", check: c)
        t.start(at: .zero)
        // One dead target of three: two answer, every round is good.
        for n in 0..<6 { round(&t, at: .seconds(Double(n * 5)), answering: [1, 2]) }
        #expect(t.healthy)
        #expect(t.failedRounds == 0)
        // Two dead: one answer is below 2, so three rounds take it down.
        for n in 6..<9 { round(&t, at: .seconds(Double(n * 5)), answering: [2]) }
        #expect(!t.healthy)
        #expect(t.failedRounds == 3)
    }

    @Test func reliabilityOneOfThree() {
        var c = check
        c.targets = [ip("1.1.1.1"), ip("8.8.8.8"), ip("9.9.9.9")]
        c.reliability = 1
        var t = HealthTracker(interface: "eth0", check: c)
        t.start(at: .zero)
        // Two dead targets of three: the one that answers is enough.
        for n in 0..<6 { round(&t, at: .seconds(Double(n * 5)), answering: [0]) }
        #expect(t.healthy)
        #expect(t.failedRounds == 0)
        for n in 6..<9 { round(&t, at: .seconds(Double(n * 5)), answering: []) }
        #expect(!t.healthy)
    }

    @Test func carrierLossIsImmediateAndRecoveryNeedsGoodRounds() {
        var t = HealthTracker(interface: "eth0", check: check)
        t.start(at: .zero)
        round(&t, at: .zero, answering: [0, 1])
        t.setCarrier(false, at: .zero)
        #expect(!t.usable)
        #expect(t.reason == "carrier lost")
        t.setCarrier(true, at: .zero)
        #expect(!t.usable)
        round(&t, at: .seconds(5), answering: [0, 1])
        #expect(!t.usable)
        round(&t, at: .seconds(10), answering: [0, 1])
        #expect(t.usable)
    }

    @Test func lateAndDuplicateResultsAreIgnored() {
        var t = HealthTracker(interface: "eth0", check: check)
        t.start(at: .zero)
        let requests = t.tick(at: .zero)
        _ = t.tick(at: .seconds(2)) // round closed: both timed out
        for r in requests { t.record(r.id, .reply(rtt: .milliseconds(1))) }
        #expect(t.failedRounds == 1)
        #expect(t.lossPercent == 100)

        // Duplicates in an open round: the first answer for a probe counts, later ones for the same
        // probe (a second reply, a timeout after it) change nothing.
        let next = t.tick(at: .seconds(5))
        #expect(next.count == 2)
        t.record(next[0].id, .reply(rtt: .milliseconds(10)))
        t.record(next[0].id, .reply(rtt: .milliseconds(900)))
        t.record(next[0].id, .timeout)
        #expect(t.roundDeadline != nil, "a duplicate of target 0 closed the round that waits for target 1")
        t.record(next[1].id, .reply(rtt: .milliseconds(30)))
        #expect(t.roundDeadline == nil)
        #expect(t.failedRounds == 0)
        #expect(t.goodRounds == 1)
        #expect(t.windows[0].lossPercent == 50, "round 1 timed out, round 2 answered once")
        #expect(t.windows[0].meanRTT == 10_000_000)
    }

    @Test func roundEndsEarlyWhenAllTargetsAnswered() {
        var t = HealthTracker(interface: "eth0", check: check)
        t.start(at: .zero)
        let requests = t.tick(at: .zero)
        #expect(requests.count == 2)
        #expect(t.roundDeadline == .seconds(2))
        for r in requests { t.record(r.id, .reply(rtt: .milliseconds(15))) }
        #expect(t.roundDeadline == nil)
        #expect(t.goodRounds == 1)
        #expect(t.nextDeadline == .seconds(5))
        #expect(t.meanLatency == 15_000_000)
    }

    @Test func latencyQualityThresholdWithHysteresis() {
        var c = check
        c.maxLatency = .milliseconds(100)
        c.window = 3
        var t = HealthTracker(interface: "eth0", check: c)
        t.start(at: .zero)
        func slowRound(_ n: Int, rtt: Int64) {
            let requests = t.tick(at: .seconds(Double(n * 5)))
            for r in requests { t.record(r.id, .reply(rtt: .milliseconds(rtt))) }
        }
        var n = 0
        // The window (3) is full from round 3 on; threshold_down (3) judged rounds later: round 5.
        for _ in 0..<4 { slowRound(n, rtt: 150); n += 1 }
        #expect(!t.degraded)
        slowRound(n, rtt: 150); n += 1
        #expect(t.degraded)
        #expect(t.reason == "latency 150ms above max_latency 100ms")
        // 90ms is under max but above the 80ms recovery level: still degraded.
        for _ in 0..<5 { slowRound(n, rtt: 90); n += 1 }
        #expect(t.degraded)
        for _ in 0..<3 { slowRound(n, rtt: 20); n += 1 }
        #expect(!t.degraded)
    }

    @Test func httpWrongStatusIsAFailureWithReason() {
        let c = HealthCheck(kind: .http, url: "http://check.example/generate_204", expectedStatus: 204,
                            interval: .seconds(10), timeout: .seconds(2), thresholdDown: 2)
        var t = HealthTracker(interface: "eth0", check: c)
        t.start(at: .zero)
        for n in 0..<2 {
            let r = t.tick(at: .seconds(Double(n * 10)))
            #expect(r.map(\.target) == [.http(url: "http://check.example/generate_204", expectedStatus: 204)])
            t.record(r[0].id, .wrongStatus(503, rtt: .milliseconds(30)))
        }
        #expect(!t.healthy)
        #expect(t.reason.contains("HTTP 503, expected 204"))
    }

    @Test func probeWindowRollingStatistics() {
        var w = ProbeWindow(capacity: 3)
        w.record(10)
        w.record(20)
        w.record(nil)
        #expect(w.meanRTT == 15)
        #expect(abs(w.lossPercent - 100.0 / 3) < 1e-9)
        #expect(w.meanJitter == 10)
        w.record(40) // evicts 10 and the (10,20) pair
        #expect(w.meanRTT == 30)
        #expect(w.meanJitter == nil)
        w.record(50)
        #expect(w.meanJitter == 10)
        #expect(w.count == 3)
    }
}
