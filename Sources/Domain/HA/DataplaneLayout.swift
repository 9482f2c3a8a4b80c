/// What must be identical on both routers of an HA pair: everything of a forwarding plan that
/// fixes the dataplane's marks, routing tables and ruleset (uplinks and their indices, groups with
/// their members and hash slots, policy routes, ipsets), without health. conntrackd carries a
/// connection's ct mark to the peer; the mark names the uplink by its index, so equal layouts mean
/// a synced connection leaves on the same uplink after a takeover.
///
/// Each line is one fact, so two layouts can be compared line by line; the fingerprint is a short
/// hash of all lines for operators to compare (`flywall wan status`, `flywall config check`).
public struct DataplaneLayout: Sendable, Equatable {
    public var lines: [String]

    public init(plan: ForwardingPlan) {
        var lines = plan.uplinks.map { "uplink \($0.index) = \($0.name)" + ($0.natAddress.map { ", nat to \($0)" } ?? "")
            + ($0.ownNetwork.map { ", own network \($0)" } ?? "") }
        for (i, g) in plan.groups.enumerated() {
            lines.append("group \(i) = \(g.name): \(g.mode.rawValue), members \(g.members.joined(separator: " ")), \(g.slots) slots"
                         + (g.sticky ? ", sticky \(DurationText.format(g.stickyTimeout))" : ""))
        }
        lines.append("default group = \(plan.defaultGroup ?? "none")")
        for (i, p) in plan.policies.enumerated() {
            let target = switch p.target {
            case .group(let g): "group \(g)"
            case .uplink(let u): "uplink \(u)"
            }
            var match = [String]()
            if !p.protocols.isEmpty { match.append("protocols \(p.protocols.map(\.rawValue).joined(separator: " "))") }
            if !p.destPorts.isEmpty { match.append("ports \(p.destPorts.map { "\($0)" }.joined(separator: " "))") }
            if let s = p.sourceSet { match.append("source @\(s)") } else if let s = p.sources { match.append("source \(s.map(\.description).joined(separator: " "))") }
            if let d = p.destinationSet { match.append("destination @\(d)") } else if let d = p.destinations { match.append("destination \(d.map(\.description).joined(separator: " "))") }
            lines.append("policy \(i) = \(p.name): \(match.joined(separator: ", ")) -> \(target)\(p.fallback ? ", fallback" : "")")
        }
        for s in plan.ipsets { lines.append("ipset \(s.name) = \(s.entries.map(\.description).joined(separator: " "))") }
        self.lines = lines
    }

    /// The layout a router starting now with `config` programs: its core's first plan.
    public init(config: FlywallConfig) {
        var core = MultiWANStateMachine(config: config)
        _ = core.handle(.tick, at: .zero)
        self.init(plan: core.plan)
    }

    /// 16 hex digits: FNV-1a (64-bit) over the lines, each ended by a newline.
    public var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in lines {
            for byte in line.utf8 + [10] {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Lines of this layout the other lacks, and lines of the other this one lacks, in order.
    public func differences(from other: DataplaneLayout) -> (here: [String], there: [String]) {
        let mine = Set(lines), theirs = Set(other.lines)
        return (lines.filter { !theirs.contains($0) }, other.lines.filter { !mine.contains($0) })
    }
}
