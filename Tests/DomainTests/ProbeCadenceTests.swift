import Testing
@testable import Domain

/// When rounds start: `failure_interval`, `recovery_interval`, `standby_interval`
/// (docs/configuration.md, "When rounds start"), and the probe bytes counted per WAN.
@Suite("Probe cadence")
struct ProbeCadenceTests {
    /// The benchmark's settings: 1s, 100ms after a failed round, 100ms timeout, down after 3.
    let fast = HealthCheck(targets: [ip("198.18.0.1")], interval: .seconds(1), timeout: .milliseconds(100),
                           thresholdDown: 3, thresholdUp: 2, failureInterval: .milliseconds(100),
                           recoveryInterval: .milliseconds(500))

    /// Drives one tracker through time: every round is answered (after 10ms) unless `dead` says
    /// otherwise at its start; returns the start times of its rounds in milliseconds.
    func roundStarts(_ check: HealthCheck, until end: Int64, dead: (Int64) -> Bool) -> (starts: [Int64], tracker: HealthTracker) {
        var t = HealthTracker(interface: "eth0", check: check)
        t.start(at: .zero)
        var starts: [Int64] = []
        var pending: (at: Int64, ids: [ProbeID])?
        while let deadline = [t.nextDeadline?.nanoseconds, pending.map { $0.at }].compactMap({ $0 }).min(),
              deadline <= end * 1_000_000 {
            if let p = pending, p.at == deadline {
                for id in p.ids { t.record(id, .reply(rtt: .milliseconds(10))) }
                pending = nil
                continue
            }
            let requests = t.tick(at: Instant(nanoseconds: deadline))
            if !requests.isEmpty {
                let ms = deadline / 1_000_000
                starts.append(ms)
                if !dead(ms) { pending = (deadline + 10_000_000, requests.map(\.id)) }
            }
        }
        return (starts, t)
    }

    @Test func failedRoundsAreFollowedAtFailureInterval() {
        // Black hole from 30.5s on: the 31s round fails, then 31.1s and 31.2s; down at 31.3s.
        let (starts, t) = roundStarts(fast, until: 31_300) { $0 >= 30_500 }
        #expect(Array(starts.suffix(4)) == [30_000, 31_000, 31_100, 31_200])
        #expect(!t.healthy)
        #expect(t.reason.hasPrefix("3 consecutive failed probe rounds"))
    }

    @Test func withoutFailureIntervalDetectionTakesWholeIntervals() {
        var slow = fast
        slow.failureInterval = slow.interval
        slow.recoveryInterval = slow.interval
        let (starts, t) = roundStarts(slow, until: 33_100) { $0 >= 30_500 }
        #expect(Array(starts.suffix(3)) == [31_000, 32_000, 33_000])
        #expect(!t.healthy)
        let (_, before) = roundStarts(slow, until: 33_099) { $0 >= 30_500 }
        #expect(before.healthy)
    }

    @Test func aGoodRoundReturnsToTheNormalInterval() {
        // Only the 31s round is lost: 31.1s answers, and the next round is 1s after it.
        let (starts, t) = roundStarts(fast, until: 33_100) { $0 == 31_000 }
        #expect(Array(starts.suffix(4)) == [31_000, 31_100, 32_100, 33_100])
        #expect(t.healthy)
        #expect(t.failedRounds == 0)
    }

    @Test func downWANsProbeAtRecoveryInterval() {
        // Down at 31.3s; rounds every 500ms from the last failed round's start (31.2s); the black
        // hole ends at 40s, the rounds at 40.2s and 40.7s answer, and up means 1s rounds again.
        let (starts, t) = roundStarts(fast, until: 42_000) { $0 >= 30_500 && $0 < 40_000 }
        let afterDown = starts.filter { $0 > 31_200 }
        #expect(afterDown.prefix(3) == [31_700, 32_200, 32_700])
        #expect(afterDown.suffix(4) == [39_700, 40_200, 40_700, 41_700])
        #expect(t.healthy)
    }

    @Test func carrierLossSwitchesToRecoveryInterval() {
        var t = HealthTracker(interface: "eth0", check: fast)
        t.start(at: .zero)
        for r in t.tick(at: .zero) { t.record(r.id, .reply(rtt: .milliseconds(10))) }
        #expect(t.nextDeadline == .seconds(1))
        t.setCarrier(false, at: .seconds(0.1))
        #expect(t.nextDeadline == .seconds(0.5))
    }

    @Test func standbyMovesTheNextRoundBothWays() {
        var c = fast
        c.standbyInterval = .seconds(60)
        var t = HealthTracker(interface: "usb0", check: c)
        t.start(at: .zero)
        for r in t.tick(at: .zero) { t.record(r.id, .reply(rtt: .milliseconds(10))) }
        #expect(t.nextDeadline == .seconds(1))
        let changed = t.setStandby(true), again = t.setStandby(true)
        #expect(changed && !again)
        #expect(t.nextDeadline == .seconds(60))
        // A candidate again: back to 1s after the last round's start.
        let back = t.setStandby(false)
        #expect(back)
        #expect(t.nextDeadline == .seconds(1))
    }

    @Test func probeBytesCountRequestsAndAnswers() {
        let v6 = HealthCheck(targets: [ip("198.18.0.1"), ip("2001:db8::1")], interval: .seconds(1), timeout: .milliseconds(100))
        var t = HealthTracker(interface: "eth0", check: v6)
        t.start(at: .zero)
        let requests = t.tick(at: .zero)
        #expect(t.probeBytes == 36 + 56)
        t.record(requests[1].id, .reply(rtt: .milliseconds(3)))
        #expect(t.probeBytes == 36 + 56 + 56)
        _ = t.tick(at: .seconds(0.1)) // the IPv4 target timed out: no answer bytes
        #expect(t.probeBytes == 36 + 56 + 56)
        let http = ProbeTarget.http(url: "https://check.example/204", expectedStatus: 204).estimatedBytes
        #expect(http.request > ProbeTarget.http(url: "http://check.example/204", expectedStatus: 204).estimatedBytes.request)
        #expect(http.answer == 216 + 200 + 4_500)
    }
}

/// The core's standby rule: which WANs are on standby, and when they stop being.
@Suite("Standby")
struct StandbyTests {
    func config(standby: Duration? = .seconds(60), policies: [PolicyRoute] = [], mode: UplinkGroup.Mode = .failover) -> FlywallConfig {
        let primary = HealthCheck(targets: [ip("198.18.0.1")], interval: .seconds(5), timeout: .seconds(1))
        let backup = HealthCheck(targets: [ip("198.18.1.1")], interval: .seconds(5), timeout: .seconds(1),
                                 standbyInterval: standby)
        return FlywallConfig(
            interfaces: [
                Interface(name: "eth0", wan: WANSettings(priority: 1)),
                Interface(name: "usb0", wan: WANSettings(priority: 10)),
            ],
            uplinkGroups: [UplinkGroup(name: "default", mode: mode, members: [
                Member(interface: "eth0", priority: 1, healthCheck: primary),
                Member(interface: "usb0", priority: 10, healthCheck: backup),
            ])],
            policyRoutes: policies)
    }

    func backup(_ d: CoreDriver) -> WANStatus { d.core.status.first { $0.interface == "usb0" }! }

    @Test func anIdleBackupProbesAtStandbyInterval() {
        var d = CoreDriver(config())
        d.run(seconds: 100)
        #expect(backup(d).standby)
        // Rounds at 0s and 60s only: 2 requests and 2 answers of 36 bytes.
        #expect(backup(d).roundsTotal == 2)
        #expect(backup(d).probeBytes == 4 * 36)
        #expect(d.core.status.first { $0.interface == "eth0" }!.roundsTotal == 20)
    }

    @Test func aFailedRoundOfThePrimaryMakesTheBackupACandidate() {
        var d = CoreDriver(config())
        d.run(seconds: 72)          // usb0 last probed at 60s
        #expect(backup(d).roundsTotal == 2, "at 72s")
        d.answering["eth0"] = false // eth0's 75s round fails at 76s
        d.run(seconds: 3.5)         // 75.5s
        #expect(backup(d).standby)
        #expect(backup(d).roundsTotal == 2)
        d.run(seconds: 0.501)       // 76.001s: usb0 probed at 76s, answered after 10ms
        #expect(!backup(d).standby)
        #expect(backup(d).roundsTotal == 2)
        d.run(seconds: 0.01)
        #expect(backup(d).roundsTotal == 3)
        d.run(seconds: 5)           // 81s: normal 5s rounds
        #expect(backup(d).roundsTotal == 4)
    }

    @Test func backToStandbyAfterFailback() {
        var d = CoreDriver(config())
        d.answering["eth0"] = false
        d.run(seconds: 20)          // eth0 down at 11s (rounds 0, 5, 10), usb0 active
        #expect(d.events(.failover).count == 1)
        #expect(!backup(d).standby)
        d.answering["eth0"] = true
        d.run(seconds: 20)          // good rounds at 20s, 25s: failback at 25.010s
        #expect(d.events(.failback).count == 1)
        #expect(backup(d).standby)
    }

    @Test func aWANWithTrafficIsNeverOnStandby() {
        let pinned = PolicyRoute(name: "lte-only", match: .init(protocols: [.udp]), uplink: "usb0")
        var d = CoreDriver(config(policies: [pinned]))
        d.run(seconds: 30)
        #expect(!backup(d).standby)
        var balanced = CoreDriver(config(mode: .balance))
        balanced.run(seconds: 30)
        #expect(!backup(balanced).standby)
    }

    @Test func withoutStandbyIntervalNothingIsOnStandby() {
        var d = CoreDriver(config(standby: nil))
        d.run(seconds: 30)
        #expect(!backup(d).standby)
        #expect(backup(d).roundsTotal == 6)
    }
}
