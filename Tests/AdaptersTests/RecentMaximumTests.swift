@testable import Adapters
import Testing

/// The metrics' "worst lateness of the last 10 s": what a benchmark reads once per phase.
@Suite("recent maximum")
struct RecentMaximumTests {
    static let slot = RecentMaximum.slotNanos

    @Test func theWorstOfTheWindowAndNothingOlder() {
        var m = RecentMaximum()
        #expect(m.maximum(at: 0) == 0)
        m.record(3_000_000, at: 5 * Self.slot)
        m.record(1_000_000, at: 5 * Self.slot + 1)
        m.record(2_000_000, at: 50 * Self.slot)
        #expect(m.maximum(at: 60 * Self.slot) == 3_000_000)
        // Slot 5 leaves the window 100 slots later; slot 50's value is still in it.
        #expect(m.maximum(at: 104 * Self.slot) == 3_000_000)
        #expect(m.maximum(at: 105 * Self.slot) == 2_000_000)
        #expect(m.maximum(at: 150 * Self.slot) == 0)
    }

    @Test func aSlotReusedAfterAWrapForgetsItsOldValue() {
        var m = RecentMaximum()
        m.record(9_000_000, at: 7 * Self.slot)
        m.record(1_000_000, at: (7 + Int64(RecentMaximum.slots)) * Self.slot)
        #expect(m.maximum(at: (7 + Int64(RecentMaximum.slots)) * Self.slot) == 1_000_000)
    }
}
