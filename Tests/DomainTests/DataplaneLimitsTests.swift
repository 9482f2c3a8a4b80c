import Testing
@testable import Domain

// Issue #10: the dataplane's mark fields bound the whole config (docs/dataplane.md, "Mark
// layout"): 64 WANs, 63 members of sticky groups, 1,023 hash slots over all groups. `config check`
// reports a config beyond them at the block that goes beyond, instead of the daemon failing to
// program the dataplane after it was accepted.

private let file = "limits.hcl"

private func problems(_ source: String) -> [String] { decodingProblems(source, file: file) }

/// `n` WANs e0..., three lines each (so the block of WAN i starts on line 3i + 1).
private func wans(_ n: Int) -> String {
    (0..<n).map { "interface \"e\($0)\" {\n  wan {}\n}\n" }.joined()
}

/// A group over `members` (names and weights) as HCL.
private func group(_ name: String, mode: String = "balance", sticky: Bool = false, _ members: [(String, Int)]) -> String {
    "uplink_group \"\(name)\" {\n  mode = \"\(mode)\"\n  sticky = \(sticky)\n"
        + members.map { "  member \"\($0.0)\" { weight = \($0.1) }\n" }.joined() + "}\n"
}

@Suite("Hardening: the dataplane's limits over the whole config")
struct DataplaneLimitsTests {
    @Test func atMost64WANs() {
        #expect(problems(wans(64)) == [])
        // The 65th WAN's block, line 3 × 64 + 1.
        #expect(problems(wans(65)) == ["193:1: interface \"e64\": too many WANs, at most 64 (the dataplane's uplink marks), got 65"])
    }

    @Test func atMost63MembersOfStickyGroups() {
        let names = (0..<64).map { "e\($0)" }
        // Two sticky groups of 32 and 31 members: 63, the most.
        let fits = wans(64) + group("a", sticky: true, names[0..<32].map { ($0, 1) }) + group("b", sticky: true, names[32..<63].map { ($0, 1) })
        #expect(problems(fits) == [])
        // One more member in the second: reported at its block, which starts after the 64 WANs and group a.
        let over = wans(64) + group("a", sticky: true, names[0..<32].map { ($0, 1) }) + group("b", sticky: true, names[32..<64].map { ($0, 1) })
        let lineOfB = 64 * 3 + 4 + 32 + 1
        #expect(problems(over) == ["\(lineOfB):1: uplink_group \"b\": too many members of sticky groups, at most 63 over all groups (the dataplane's sticky marks), got 64"])
        // A group that is not sticky takes no sticky marks.
        #expect(problems(wans(64) + group("a", names.map { ($0, 1) })) == [])
    }

    @Test func atMost1023HashSlotsOverAllGroups() {
        // 901 + 59 = 960 slots (no common factor), plus a one-member group's 64: 1,024.
        let big = [("e0", 901), ("e1", 59)]
        #expect(problems(wans(3) + group("a", big) + group("b", [("e2", 1)])) ==
                ["16:1: uplink_group \"b\": too many hash slots, at most 1023 over all groups (the dataplane's hash marks), got 1024 (2 groups; this one takes up to 64, every group at least 64); lower the weights or use fewer groups"])
        // 900 + 59 = 959, plus 64: 1,023, the most.
        #expect(problems(wans(3) + group("a", [("e0", 900), ("e1", 59)]) + group("b", [("e2", 1)])) == [])
        // Two groups of 1000:23 each are 2,046 slots.
        #expect(problems(wans(2) + group("a", [("e0", 1000), ("e1", 23)]) + group("b", [("e0", 1000), ("e1", 23)])).count == 1)
        // Every group takes at least 64 slots: 15 groups fit, 16 do not.
        let single = (0..<16).map { group("g\($0)", [("e\($0)", 1)]) }
        #expect(problems(wans(16) + single[0..<15].joined()) == [])
        #expect(problems(wans(16) + single.joined()).first?.contains("uplink_group \"g15\": too many hash slots, at most 1023 over all groups (the dataplane's hash marks), got 1024 (16 groups") == true)
    }

    /// A failover tier whose bucket count does not divide the predicted slots makes the group grow
    /// its slots while that tier carries traffic: priority 1 is 59:1 (120 buckets), priority 2 39:1
    /// (80), all four 100, and lcm(100, 120) = 600 is above what the prediction takes in. The
    /// decoder counts the grown 600, so two such groups (1,200) are refused up front.
    @Test func slotsAGroupGrowsToAtRunTimeAreCountedUpFront() {
        let members = [Member(interface: "a", priority: 1, weight: 59), Member(interface: "b", priority: 1, weight: 1),
                       Member(interface: "c", priority: 2, weight: 39), Member(interface: "d", priority: 2, weight: 1)]
        let g = UplinkGroup(name: "g", mode: .failover, members: members)
        #expect(GroupSelector.predictedSlots(g) == 100)
        #expect(GroupSelector.mostSlots(g) == 600)
        // What the selector gives under every health: never beyond mostSlots, and 600 with tier 1 up.
        var seen: Set<Int> = []
        for up in 0..<16 {
            let usable = Set(members.indices.filter { up & (1 << $0) != 0 }.map { members[$0].interface })
            for forced in [nil, "c"] as [String?] {
                let s = GroupSelector.select(g, usable: { usable.contains($0) }, forced: forced, previous: nil)
                seen.insert(GroupSelector.slots(predicted: GroupSelector.predictedSlots(g), buckets: s.buckets))
            }
        }
        #expect(seen.max() == 600)

        let tiers = "  member \"e0\" {\n    priority = 1\n    weight = 59\n  }\n  member \"e1\" { priority = 1 }\n"
            + "  member \"e2\" {\n    priority = 2\n    weight = 39\n  }\n  member \"e3\" { priority = 2 }\n"
        let one = "uplink_group \"f\" {\n" + tiers + "}\n"
        let two = one + "uplink_group \"h\" {\n" + tiers + "}\n"
        #expect(problems(wans(4) + one) == [])
        #expect(problems(wans(4) + two).first?.contains("uplink_group \"h\": too many hash slots, at most 1023 over all groups (the dataplane's hash marks), got 1200 (2 groups; this one takes up to 600") == true)
    }

    /// Without an uplink_group, the WANs of one priority share by weight in the implicit group,
    /// and their weights are bounded as a declared group's are, at the first WAN's block.
    @Test func theImplicitGroupsWeightsAreBoundedToo() {
        func two(_ a: Int, _ b: Int, priorities: (Int, Int) = (1, 1)) -> String {
            "interface \"e0\" {\n  wan {\n    priority = \(priorities.0)\n    weight = \(a)\n  }\n}\n"
                + "interface \"e1\" {\n  wan {\n    priority = \(priorities.1)\n    weight = \(b)\n  }\n}\n"
        }
        #expect(problems(two(1000, 23)) == [])
        #expect(problems(two(999, 25)) == ["1:1: the implicit uplink_group \"default\" of all WANs: weights of its priority-1 members add up to 1024 (divided by their common factor); too large, at most 1023, the dataplane's hash slots"])
        // At different priorities they never share.
        #expect(problems(two(1000, 999, priorities: (1, 2))) == [])
    }

    /// The limits are the dataplane's: one constant each, used by the decoder and `KernelPlan`.
    @Test func theLimitsAreTheMarkFieldsSizes() {
        #expect(ConfigLimits.uplinks == 64)
        #expect(ConfigLimits.stickyMembers == 63)
        #expect(ConfigLimits.hashSlots == 1_023)
        #expect(ConfigLimits.groupWeightSum == ConfigLimits.hashSlots)
    }
}
