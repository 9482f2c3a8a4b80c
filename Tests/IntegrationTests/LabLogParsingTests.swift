@testable import Lab
import Domain
import Testing

/// The lab reads WAN events from the daemon's log lines, in every form the daemon writes them.
@Suite("Lab: daemon log lines to events")
struct LabLogParsingTests {
    @Test("journald form, timestamped form, with and without evidence")
    func parsesEveryForm() {
        let down = WANEvent(time: .seconds(3), kind: .wanDown, interface: "eth0",
                            reason: "2 consecutive failed probe rounds (198.18.0.1: timeout)")
        for line in [
            "<5>wan_down: eth0 (2 consecutive failed probe rounds (198.18.0.1: timeout))",
            "<5>2026-12-01T10:15:00.123Z wan_down: eth0 (2 consecutive failed probe rounds (198.18.0.1: timeout))",
            "<5>2026-12-01T10:15:00.123Z wan_down: eth0 (2 consecutive failed probe rounds (198.18.0.1: timeout)); health evidence: 2/2 failed probe rounds",
        ] {
            #expect(LabObservation.event(line, at: .seconds(3)) == down, "\(line)")
        }
        let failover = LabObservation.event(
            "<5>2026-12-01T10:15:00.123Z failover: group default: eth0 -> eth1 (eth0 down: carrier lost); health evidence: carrier lost (netlink)",
            at: .seconds(4))
        #expect(failover?.group == "default")
        #expect(failover?.from == ["eth0"] && failover?.to == ["eth1"])
        #expect(failover?.reason == "eth0 down: carrier lost")
        #expect(LabObservation.event("<6>eth0: flushed 3 tracked connections", at: .seconds(4)) == nil)
    }
}
