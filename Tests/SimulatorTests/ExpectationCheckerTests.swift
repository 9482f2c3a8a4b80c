import Domain
import Testing
@testable import Simulator

/// Synthetic observations: the checker must not care who recorded them.
enum Synthetic {
    static func t(_ s: Double) -> Instant { .seconds(s) }
    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    static let failover = WANEvent(time: t(42), kind: .failover, group: "default", from: ["eth0"], to: ["eth1"],
                                   reason: "eth0 down: 3 consecutive failed probe rounds")
    static let down = WANEvent(time: t(42), kind: .wanDown, interface: "eth0", reason: "3 consecutive failed probe rounds")
    static let up = WANEvent(time: t(65.012), kind: .wanUp, interface: "eth0", reason: "2 consecutive good probe rounds")
    static let failback = WANEvent(time: t(65.012), kind: .failback, group: "default", from: ["eth1"], to: ["eth0"],
                                   reason: "eth0 up: 2 consecutive good probe rounds")

    static func plan(usable: [String: Bool], active: [String], sticky: Bool = true,
                     timeout: Duration = .seconds(60)) -> ForwardingPlan {
        let names = ["eth0", "eth1"]
        return ForwardingPlan(
            uplinks: names.enumerated().map { .init(name: $1, index: $0, usable: usable[$1] ?? true) },
            groups: [.init(name: "default", mode: .balance, sticky: sticky, stickyTimeout: timeout, active: active,
                           buckets: active)],
            defaultGroup: "default")
    }

    static func flow(_ time: Double, _ source: String, _ uplink: String?, policy: String? = nil,
                     group: String? = "default", plan: Int? = nil) -> FlowRecord {
        FlowRecord(time: t(time), traffic: "lan", source: ip(source), destination: ip("198.51.100.1"), uplink: uplink,
                   group: group, policy: policy, planIndex: plan)
    }

    static func observations(events: [WANEvent] = [], flows: [FlowRecord] = [], plans: [PlanChange] = [],
                             end: Double = 120) -> Observations {
        Observations(events: events, flows: flows, plans: plans, end: t(end))
    }
}

@Suite struct EventExpectationTests {
    let obs = Synthetic.observations(events: [Synthetic.down, Synthetic.failover, Synthetic.up, Synthetic.failback])

    func check(_ kind: WANEventKind, uplink: String? = nil, group: String? = nil, count: Int? = nil,
               after: Double? = nil, before: Double? = nil) -> ExpectationResult {
        ExpectationChecker.check(
            Expectation(name: "x", check: .event(kind: kind, uplink: uplink, group: group, count: count),
                        after: after.map { .milliseconds(Int64($0 * 1000)) },
                        before: before.map { .milliseconds(Int64($0 * 1000)) }),
            against: obs)
    }

    @Test func aMatchingEventInTheWindowPasses() {
        let r = check(.failover, uplink: "eth1", after: 40, before: 47)
        #expect(r.passed)
        #expect(r.detail == "failover to eth1 at 42.000s")
    }

    @Test func theWindowIsOpenBelowAndClosedAbove() {
        #expect(check(.failover, uplink: "eth1", after: 42, before: 47).passed == false)
        #expect(check(.failover, uplink: "eth1", after: 41, before: 42).passed)
    }

    @Test func uplinkMeansTheNewActiveUplinkOrTheWANItself() {
        #expect(check(.failover, uplink: "eth0").passed == false)
        #expect(check(.wanDown, uplink: "eth0").detail == "eth0 down at 42.000s")
        #expect(check(.wanDown, uplink: "eth1").passed == false)
        #expect(check(.failback, uplink: "eth0", group: "default").passed)
        #expect(check(.failback, uplink: "eth0", group: "other").passed == false)
    }

    @Test func missingEventsSayWhatWasSeen() {
        let early = check(.failover, uplink: "eth1", after: 0, before: 30)
        #expect(!early.passed)
        #expect(early.detail == "0 matching events, expected 1+ (outside (0.000s, 30.000s]: failover to eth1 at 42.000s)")
        let none = check(.allDown)
        #expect(none.detail == "0 matching events, expected 1+ (no all_down event in the run)")
    }

    @Test func countsAreExact() {
        #expect(check(.wanDown, uplink: "eth1", count: 0).passed)
        #expect(check(.wanDown, uplink: "eth1", count: 0).detail == "0 matching events, expected 0")
        #expect(check(.failover, count: 1).passed)
        let two = check(.failover, count: 2)
        #expect(!two.passed)
        #expect(two.detail == "1 matching event, expected 2: failover to eth1 at 42.000s")
        let zero = check(.wanDown, uplink: "eth0", count: 0)
        #expect(!zero.passed)
        #expect(zero.detail == "1 matching event, expected 0: eth0 down at 42.000s")
    }
}

@Suite struct ShareExpectationTests {
    func check(_ uplink: String, min: Double, max: Double, flows: [FlowRecord], after: Int64? = nil,
               before: Int64? = nil) -> ExpectationResult {
        ExpectationChecker.check(
            Expectation(name: "split", check: .share(uplink: uplink, min: min, max: max),
                        after: after.map { .seconds($0) }, before: before.map { .seconds($0) }),
            against: Synthetic.observations(flows: flows))
    }

    var flows: [FlowRecord] {
        // 600 flows, two of every three on eth0, from 0.05s on.
        (1...600).map { i in Synthetic.flow(Double(i) * 0.05, "192.168.1.10", i % 3 == 0 ? "eth1" : "eth0") }
    }

    @Test func aShareInsideTheBoundsPasses() {
        let r = check("eth0", min: 0.60, max: 0.73, flows: flows)
        #expect(r.passed)
        #expect(r.detail == "share eth0 = 0.667 (min 0.60, max 0.73) over 600 flows")
    }

    @Test func aShareOutsideTheBoundsFails() {
        let r = check("eth1", min: 0.5, max: 1, flows: flows)
        #expect(!r.passed)
        #expect(r.detail == "share eth1 = 0.333 (min 0.50, max 1.00) over 600 flows")
    }

    @Test func refusedFlowsCountInTheWhole() {
        let flows = [Synthetic.flow(1, "192.168.1.10", "eth0"), Synthetic.flow(2, "192.168.1.10", nil)]
        #expect(check("eth0", min: 1, max: 1, flows: flows).passed == false)
    }

    @Test func noFlowsInTheWindowFails() {
        let r = check("eth0", min: 0, max: 1, flows: flows, after: 100, before: 110)
        #expect(!r.passed)
        #expect(r.detail == "no flows in (100.000s, 110.000s]: share of eth0 is undefined")
    }
}

@Suite struct StickyExpectationTests {
    let sticky = Expectation(name: "sticky", check: .sticky)

    @Test func sourcesThatStayPutPass() {
        let plans = [PlanChange(time: .zero, plan: Synthetic.plan(usable: [:], active: ["eth0", "eth1"]))]
        let flows = (0..<100).map { (i: Int) -> FlowRecord in
            let even = i % 2 == 0
            return Synthetic.flow(Double(i), even ? "192.168.1.10" : "192.168.1.11", even ? "eth0" : "eth1")
        }
        let r = ExpectationChecker.check(sticky, against: Synthetic.observations(flows: flows, plans: plans))
        #expect(r.passed)
        #expect(r.detail == "no source left a usable pinned uplink: 100 flows from 2 sources, 0 moves after the pinned uplink failed or the pin expired")
    }

    @Test func movingOffAUsablePinFails() {
        let plans = [PlanChange(time: .zero, plan: Synthetic.plan(usable: [:], active: ["eth0", "eth1"]))]
        let flows = [Synthetic.flow(1, "192.168.1.10", "eth0"), Synthetic.flow(2, "192.168.1.10", "eth1"),
                     Synthetic.flow(3, "192.168.1.11", "eth1")]
        let r = ExpectationChecker.check(sticky, against: Synthetic.observations(flows: flows, plans: plans))
        #expect(!r.passed)
        #expect(r.detail == "1 source changed uplink while pinned to a usable one (1 move), first 192.168.1.10 eth0 -> eth1 at 2.000s (previous flow at 1.000s); 3 flows from 2 sources")
    }

    @Test func movingOffADeadUplinkIsFine() {
        let plans = [PlanChange(time: .zero, plan: Synthetic.plan(usable: [:], active: ["eth0", "eth1"])),
                     PlanChange(time: .seconds(10), plan: Synthetic.plan(usable: ["eth0": false], active: ["eth1"]))]
        let flows = [Synthetic.flow(9, "192.168.1.10", "eth0"), Synthetic.flow(11, "192.168.1.10", "eth1"),
                     Synthetic.flow(12, "192.168.1.10", "eth1")]
        let r = ExpectationChecker.check(sticky, against: Synthetic.observations(flows: flows, plans: plans))
        #expect(r.passed)
        #expect(r.detail.hasSuffix("1 move after the pinned uplink failed or the pin expired"))
    }

    @Test func aMemberThatIsUsableButNotActiveDoesNotHoldItsSources() {
        // e.g. forced away by the operator: usable, but the group no longer sends new connections there.
        let plans = [PlanChange(time: .zero, plan: Synthetic.plan(usable: [:], active: ["eth0", "eth1"])),
                     PlanChange(time: .seconds(10), plan: Synthetic.plan(usable: [:], active: ["eth1"]))]
        let flows = [Synthetic.flow(9, "192.168.1.10", "eth0"), Synthetic.flow(11, "192.168.1.10", "eth1")]
        #expect(ExpectationChecker.check(sticky, against: Synthetic.observations(flows: flows, plans: plans)).passed)
    }

    @Test func anExpiredPinMayMove() {
        let plans = [PlanChange(time: .zero, plan: Synthetic.plan(usable: [:], active: ["eth0", "eth1"], timeout: .seconds(30)))]
        let ok = [Synthetic.flow(1, "192.168.1.10", "eth0"), Synthetic.flow(31.5, "192.168.1.10", "eth1")]
        #expect(ExpectationChecker.check(sticky, against: Synthetic.observations(flows: ok, plans: plans)).passed)
        // Exactly at the timeout the pin still holds (the dataplane's `<=`).
        let bad = [Synthetic.flow(1, "192.168.1.10", "eth0"), Synthetic.flow(31, "192.168.1.10", "eth1")]
        #expect(!ExpectationChecker.check(sticky, against: Synthetic.observations(flows: bad, plans: plans)).passed)
    }

    @Test func theRecordedPlanWinsOverTimeLookup() {
        // eth0 dies at 3s and is back at 5s; a flow at 5s was routed just before the 5s plan applied.
        let plans = [PlanChange(time: .zero, plan: Synthetic.plan(usable: [:], active: ["eth0", "eth1"])),
                     PlanChange(time: .seconds(3), plan: Synthetic.plan(usable: ["eth0": false], active: ["eth1"])),
                     PlanChange(time: .seconds(5), plan: Synthetic.plan(usable: [:], active: ["eth0", "eth1"]))]
        let flows = [Synthetic.flow(2, "192.168.1.10", "eth0", plan: 0), Synthetic.flow(5, "192.168.1.10", "eth1", plan: 1)]
        #expect(ExpectationChecker.check(sticky, against: Synthetic.observations(flows: flows, plans: plans)).passed)
        var unindexed = flows
        unindexed[1].planIndex = nil
        #expect(!ExpectationChecker.check(sticky, against: Synthetic.observations(flows: unindexed, plans: plans)).passed)
    }

    @Test func withoutPlansEventsDecideUsability() {
        let flows = [Synthetic.flow(40, "192.168.1.10", "eth0"), Synthetic.flow(43, "192.168.1.10", "eth1")]
        let withDown = Synthetic.observations(events: [Synthetic.down], flows: flows)
        #expect(ExpectationChecker.check(sticky, against: withDown).passed)
        #expect(!ExpectationChecker.check(sticky, against: Synthetic.observations(flows: flows)).passed)
    }

    @Test func policyRoutedAndRefusedFlowsAreNotPins() {
        let plans = [PlanChange(time: .zero, plan: Synthetic.plan(usable: [:], active: ["eth0", "eth1"]))]
        let flows = [Synthetic.flow(1, "192.168.1.10", "eth0"),
                     Synthetic.flow(2, "192.168.1.10", "eth1", policy: "vpn", group: nil),
                     Synthetic.flow(3, "192.168.1.10", nil),
                     Synthetic.flow(4, "192.168.1.10", "eth0")]
        #expect(ExpectationChecker.check(sticky, against: Synthetic.observations(flows: flows, plans: plans)).passed)
    }

    @Test func noGroupFlowsFails() {
        let r = ExpectationChecker.check(sticky, against: Synthetic.observations())
        #expect(!r.passed)
        #expect(r.detail == "no flows routed by an uplink group in the whole run")
    }
}

@Suite struct PolicyExpectationTests {
    let flows = [
        Synthetic.flow(10, "192.168.1.20", "eth0", policy: "work-vpn", group: nil),
        Synthetic.flow(20, "192.168.1.20", "eth0", policy: "work-vpn", group: nil),
        Synthetic.flow(50, "192.168.1.20", "eth1", policy: "work-vpn"),
        Synthetic.flow(55, "192.168.1.20", nil, policy: "work-vpn", group: nil),
        Synthetic.flow(20, "192.168.1.10", "eth1"),
    ]

    func check(_ name: String, _ uplink: String, before: Int64? = nil) -> ExpectationResult {
        ExpectationChecker.check(Expectation(name: "p", check: .policy(name: name, uplink: uplink),
                                             before: before.map { .seconds($0) }),
                                 against: Synthetic.observations(flows: flows))
    }

    @Test func allMatchedFlowsOnTheUplinkPass() {
        let r = check("work-vpn", "eth0", before: 30)
        #expect(r.passed)
        #expect(r.detail == "2 flows matched work-vpn, all on eth0")
    }

    @Test func oneStrayFlowFails() {
        let r = check("work-vpn", "eth0")
        #expect(!r.passed)
        #expect(r.detail == "2 of 4 flows matched by work-vpn did not use eth0 (first at 50.000s on eth1)")
    }

    @Test func noMatchedFlowFails() {
        let r = check("gaming", "eth0")
        #expect(!r.passed)
        #expect(r.detail == "no flow matched policy gaming in the whole run")
    }
}
