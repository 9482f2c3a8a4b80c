import Domain

/// The verdict on one `expect` block.
public struct ExpectationResult: Sendable, Equatable {
    public var name: String
    public var passed: Bool
    /// What was measured, e.g. `share eth0 = 0.667 (min 0.60, max 0.73) over 600 flows`.
    public var detail: String
    public var location: SourceLocation?

    public init(name: String, passed: Bool, detail: String, location: SourceLocation? = nil) {
        self.name = name
        self.passed = passed
        self.detail = detail
        self.location = location
    }
}

/// A window (after, before] on a run's clock; nil bounds are open.
public struct TimeWindow: Sendable, Equatable {
    public var after: Instant?
    public var before: Instant?

    public init(after: Instant?, before: Instant?) {
        self.after = after
        self.before = before
    }

    public init(_ expectation: Expectation, start: Instant) {
        self.init(after: expectation.after.map { start + $0 }, before: expectation.before.map { start + $0 })
    }

    public func contains(_ t: Instant) -> Bool {
        (after.map { t > $0 } ?? true) && (before.map { t <= $0 } ?? true)
    }

    public var description: String {
        switch (after, before) {
        case (nil, nil): "the whole run"
        case (let a?, nil): "(\(a), end]"
        case (nil, let b?): "[start, \(b)]"
        case (let a?, let b?): "(\(a), \(b)]"
        }
    }
}

/// Judges expectations against observations, whoever recorded them (simulator or lab).
public enum ExpectationChecker {
    public static func check(_ expectations: [Expectation], against observations: Observations) -> [ExpectationResult] {
        let context = Context(observations)
        return expectations.map { check($0, context) }
    }

    public static func check(_ expectation: Expectation, against observations: Observations) -> ExpectationResult {
        check(expectation, Context(observations))
    }

    /// Precomputed views of the observations shared by all checks.
    struct Context {
        let observations: Observations
        /// Flows in time order (stable: equal times keep recording order).
        let flows: [FlowRecord]

        init(_ observations: Observations) {
            self.observations = observations
            self.flows = observations.flows.enumerated()
                .sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
                .map(\.element)
        }

        /// The plan a flow was routed with: its recorded index, else the last applied at or before it.
        func plan(for flow: FlowRecord) -> ForwardingPlan? {
            let plans = observations.plans
            if let i = flow.planIndex, plans.indices.contains(i) { return plans[i].plan }
            var lo = 0, hi = plans.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if plans[mid].time <= flow.time { lo = mid + 1 } else { hi = mid }
            }
            return lo == 0 ? nil : plans[lo - 1].plan
        }

        /// Without plans (a recorder that cannot see them), an uplink counts as usable unless its last
        /// wan_up/wan_down event at or before `t` was a wan_down.
        func usableByEvents(_ uplink: String, at t: Instant) -> Bool {
            var usable = true
            for e in observations.events where e.time <= t && e.interface == uplink {
                if e.kind == .wanDown { usable = false } else if e.kind == .wanUp { usable = true }
            }
            return usable
        }
    }

    static func check(_ e: Expectation, _ context: Context) -> ExpectationResult {
        let window = TimeWindow(e, start: context.observations.start)
        let (passed, detail): (Bool, String)
        switch e.check {
        case .event(let kind, let uplink, let group, let count):
            (passed, detail) = checkEvent(kind: kind, uplink: uplink, group: group, count: count, window: window, context)
        case .share(let uplink, let min, let max):
            (passed, detail) = checkShare(uplink: uplink, min: min, max: max, window: window, context)
        case .sticky:
            (passed, detail) = checkSticky(window: window, context)
        case .policy(let name, let uplink):
            (passed, detail) = checkPolicy(name: name, uplink: uplink, window: window, context)
        }
        return ExpectationResult(name: e.name, passed: passed, detail: detail, location: e.location)
    }

    // MARK: Events

    /// `failover to eth1 at 36.000s`, `eth0 down at 41.000s`.
    public static func describe(_ event: WANEvent) -> String {
        let to = event.to.isEmpty ? "none" : event.to.joined(separator: "+")
        switch event.kind {
        case .wanDown: return "\(event.interface ?? "?") down at \(event.time)"
        case .wanUp: return "\(event.interface ?? "?") up at \(event.time)"
        case .failover: return "failover to \(to) at \(event.time)"
        case .failback: return "failback to \(to) at \(event.time)"
        case .allDown: return "all uplinks\(event.group.map { " of \($0)" } ?? "") down at \(event.time)"
        }
    }

    static func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

    static func checkEvent(kind: WANEventKind, uplink: String?, group: String?, count: Int?, window: TimeWindow,
                           _ context: Context) -> (Bool, String) {
        let alike = context.observations.events.filter { event in
            event.kind == kind && (uplink.map { event.uplinks.contains($0) } ?? true)
                && (group.map { event.group == $0 } ?? true)
        }
        let matching = alike.filter { window.contains($0.time) }
        let listed = matching.prefix(3).map(describe).joined(separator: ", ") + (matching.count > 3 ? ", ..." : "")
        if let count {
            let head = "\(plural(matching.count, "matching event")), expected \(count)"
            return (matching.count == count, matching.isEmpty ? head : "\(head): \(listed)")
        }
        if let first = matching.first {
            let more = matching.count > 1 ? " (and \(matching.count - 1) more)" : ""
            return (true, describe(first) + more)
        }
        var detail = "0 matching events, expected 1+"
        if let nearest = alike.first {
            detail += " (outside \(window.description): \(describe(nearest)))"
        } else {
            detail += " (no \(kind.rawValue) event\(uplink.map { " for \($0)" } ?? "") in the run)"
        }
        return (false, detail)
    }

    // MARK: Shares

    /// `0.60`: two decimals when that is exact, else as many as needed.
    static func bound(_ x: Double) -> String {
        let two = Format.fixed(x, 2)
        if let back = Double(two), abs(back - x) < 1e-12 { return two }
        return Format.number(x)
    }

    static func checkShare(uplink: String, min: Double, max: Double, window: TimeWindow,
                           _ context: Context) -> (Bool, String) {
        var total = 0, on = 0
        for f in context.flows where window.contains(f.time) {
            total += 1
            if f.uplink == uplink { on += 1 }
        }
        guard total > 0 else {
            return (false, "no flows in \(window.description): share of \(uplink) is undefined")
        }
        let share = Double(on) / Double(total)
        let ok = share >= min - 1e-9 && share <= max + 1e-9
        return (ok, "share \(uplink) = \(Format.fixed(share, 3)) (min \(bound(min)), max \(bound(max))) over \(plural(total, "flow"))")
    }

    // MARK: Stickiness

    struct PinKey: Hashable {
        var group: String
        var source: IPAddress
    }

    /// A source "moves" when a flow of it leaves a group on another uplink than its previous flow in
    /// that group. That is a violation only if the previous uplink was still usable and still active in
    /// the group, per the plan the new flow was routed with, and the previous flow was no longer ago
    /// than the group's `sticky_timeout` (the pin was fresh). Refused flows neither pin nor move.
    static func checkSticky(window: TimeWindow, _ context: Context) -> (Bool, String) {
        var last: [PinKey: FlowRecord] = [:]
        var considered = 0
        var sources = Set<IPAddress>()
        var justified = 0
        var violations: [(FlowRecord, FlowRecord)] = []
        for f in context.flows {
            guard let uplink = f.uplink, let group = f.group else { continue }
            let key = PinKey(group: group, source: f.source)
            defer { last[key] = f }
            let inWindow = window.contains(f.time)
            if inWindow {
                considered += 1
                sources.insert(f.source)
            }
            guard let previous = last[key], let pinned = previous.uplink, pinned != uplink, inWindow else { continue }
            let fresh: Bool
            let live: Bool
            if let plan = context.plan(for: f) {
                let g = plan.group(named: group)
                fresh = g.map { f.time - previous.time <= $0.stickyTimeout } ?? true
                live = plan.uplink(named: pinned)?.usable == true && (g?.active.contains(pinned) ?? true)
            } else {
                fresh = true
                live = context.usableByEvents(pinned, at: f.time)
            }
            if fresh && live { violations.append((previous, f)) } else { justified += 1 }
        }
        guard considered > 0 else {
            return (false, "no flows routed by an uplink group in \(window.description)")
        }
        let scope = "\(plural(considered, "flow")) from \(plural(sources.count, "source"))"
        if let (previous, moved) = violations.first {
            let movers = Set(violations.map { $0.1.source }).count
            return (false, "\(plural(movers, "source")) changed uplink while pinned to a usable one "
                + "(\(plural(violations.count, "move"))), first \(moved.source) \(previous.uplink!) -> \(moved.uplink!) "
                + "at \(moved.time) (previous flow at \(previous.time)); \(scope)")
        }
        return (true, "no source left a usable pinned uplink: \(scope), "
            + "\(plural(justified, "move")) after the pinned uplink failed or the pin expired")
    }

    // MARK: Policy routes

    static func checkPolicy(name: String, uplink: String, window: TimeWindow, _ context: Context) -> (Bool, String) {
        let matched = context.flows.filter { $0.policy == name && window.contains($0.time) }
        guard !matched.isEmpty else {
            return (false, "no flow matched policy \(name) in \(window.description)")
        }
        let wrong = matched.filter { $0.uplink != uplink }
        if let first = wrong.first {
            return (false, "\(wrong.count) of \(plural(matched.count, "flow")) matched by \(name) did not use \(uplink) "
                + "(first at \(first.time) \(first.uplink.map { "on \($0)" } ?? "refused"))")
        }
        return (true, "\(plural(matched.count, "flow")) matched \(name), all on \(uplink)")
    }
}
