@testable import Adapters
import Domain
import Testing

/// The dashboard's chart samples (no root, no kernel): what a ring keeps, merges and drops.
@Suite("round samples")
struct RoundSamplesTests {
    static func wan(_ name: String, rounds: Int, state: WANStatus.State = .up, latency: Double? = 12,
                    loss: Double = 0) -> WANStatus {
        WANStatus(interface: name, state: state, priority: 1, weight: 1, carrier: true, latencyMs: latency,
                  lossPercent: loss, jitterMs: nil, targets: [], failedRounds: 0, goodRounds: 0, roundsTotal: rounds,
                  since: .zero, reason: "test")
    }

    static func at(_ seconds: Double) -> Instant { .seconds(seconds) }

    @Test func oneSamplePerRoundAndNoneWithoutOne() {
        var s = RoundSamples()
        s.record([Self.wan("eth0", rounds: 1)], at: Self.at(5))
        s.record([Self.wan("eth0", rounds: 1)], at: Self.at(5.1))   // a publication without a round
        s.record([Self.wan("eth0", rounds: 2, latency: 20)], at: Self.at(10))
        let got = s.samples(for: ["eth0"], since: nil)[0].samples
        #expect(got.map(\.time) == [Self.at(5), Self.at(10)])
        #expect(got.map(\.latency) == [12, 20])
    }

    @Test func roundsInOneSlotShareASampleThatShowsTheWorst() {
        var s = RoundSamples()
        s.record([Self.wan("eth0", rounds: 1, loss: 50)], at: Self.at(5.0))
        s.record([Self.wan("eth0", rounds: 2, state: .down, latency: nil, loss: 100)], at: Self.at(6.0))
        s.record([Self.wan("eth0", rounds: 3, latency: 30, loss: 0)], at: Self.at(7.0))
        let got = s.samples(for: ["eth0"], since: nil)[0].samples
        #expect(got.count == 1)
        #expect(got[0].time == Self.at(5.0), "a merge keeps the slot's first time, so readers see updates")
        #expect(got[0].state == .down)
        #expect(got[0].lossPercent == 100)
        #expect(got[0].latency == 30, "the latest window mean")
    }

    @Test func aStateChangeWithoutARoundIsASample() {
        var s = RoundSamples()
        s.record([Self.wan("eth0", rounds: 4)], at: Self.at(20))
        s.record([Self.wan("eth0", rounds: 4, state: .maintenance)], at: Self.at(26))
        #expect(s.samples(for: ["eth0"], since: nil)[0].samples.map(\.state) == [.up, .maintenance])
    }

    @Test func aRingKeepsTheLastHourAndNoMore() {
        var s = RoundSamples()
        for round in 1...2_000 { s.record([Self.wan("eth0", rounds: round, latency: Double(round))], at: Self.at(Double(round) * 5)) }
        let got = s.samples(for: ["eth0"], since: nil)[0].samples
        #expect(got.count == RoundSamples.fullCapacity)
        #expect(got.first?.latency == Double(2_000 - 720 + 1), "the oldest kept is 720 rounds back")
        #expect(got.last?.latency == 2_000)
        #expect(got.map(\.time) == got.map(\.time).sorted(), "oldest first across the ring's wrap")
        let since = s.samples(for: ["eth0"], since: Self.at(9_995))[0].samples
        #expect(since.map(\.latency) == [1_999, 2_000])
        #expect(MemoryLayout<RoundSample>.stride == 16, "the memory docs/dashboard.md states")
    }

    @Test func manyWANsShareTheBudgetAndStillSpanTheHour() {
        #expect(RoundSamples.shape(forWANs: 64) == (720, 5_000_000_000))
        #expect(RoundSamples.shape(forWANs: 128) == (360, 10_000_000_000))
        #expect(RoundSamples.shape(forWANs: 10_000).capacity == RoundSamples.minCapacity)
        var s = RoundSamples()
        let names = (0..<128).map { "wan\($0)" }
        for round in 1...800 {
            s.record(names.map { Self.wan($0, rounds: round) }, at: Self.at(Double(round) * 5))
        }
        #expect(s.sampleCount == 128 * 360)
        #expect(s.sampleCount <= RoundSamples.budget)
    }

    @Test func aReloadThatDropsAWANDropsItsRing() {
        var s = RoundSamples()
        s.record([Self.wan("eth0", rounds: 1), Self.wan("eth1", rounds: 1)], at: Self.at(5))
        s.record([Self.wan("eth0", rounds: 2)], at: Self.at(10))
        #expect(s.sampleCount == 2)
        #expect(s.samples(for: ["eth1"], since: nil)[0].samples.isEmpty)
    }

    @Test func theBoardFeedsTheRingFromWhatTheLoopPublishes() {
        let board = StatusBoard(clock: MonotonicClock())
        for round in 1...3 {
            board.publish(DaemonSnapshot(generation: 0, takenAt: Self.at(Double(round) * 5), status: [Self.wan("eth0", rounds: round)],
                                         groups: [], checks: [:], commandsHandled: 0, maxLatenessNanos: 0,
                                         lastLatenessNanos: 0, historyProblem: nil))
        }
        #expect(board.samples(for: ["eth0"], since: nil)[0].samples.count == 3)
        #expect(board.samples(for: ["eth0"], since: Self.at(15))[0].samples.count == 1)
        let view = APIViews.samples(board, snapshot: board.snapshot!, names: ["eth0"], sinceUnixNanos: .min)
        #expect(view.wans[0].timeMs.count == 3, "a since before 1970 (clamped) is no filter")
        #expect(APIViews.samples(board, snapshot: board.snapshot!, names: ["eth0"], sinceUnixNanos: .max).wans[0].timeMs.isEmpty)
    }
}
