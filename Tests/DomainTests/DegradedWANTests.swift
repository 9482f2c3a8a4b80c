@testable import Domain
import Testing

/// A degraded WAN (`max_latency` / `max_loss` crossed, every round still answered) loses new
/// connections but keeps its established ones: the core takes it out of the plan and emits no
/// `flushConnections`. A WAN whose rounds fail is flushed, by the same driver.
@Suite("degraded WANs are not flushed")
struct DegradedWANTests {
    /// One target, judged over a window of 3 rounds; threshold_down 3 (the default).
    static func check(maxLatency: Duration? = nil, maxLoss: Double? = nil) -> HealthCheck {
        var c = HealthCheck(targets: [ip("1.1.1.1")])
        c.window = 3
        c.maxLatency = maxLatency
        c.maxLoss = maxLoss
        return c
    }

    /// `dualWAN` with `check` on eth0 and a plain check of its own target on eth1 (the driver's
    /// dead targets are per address, so eth1 must not share eth0's).
    static func config(eth0 check: HealthCheck) -> FlywallConfig {
        var config = dualWAN(check: check)
        config.uplinkGroups[0].members[1].healthCheck = HealthCheck(targets: [ip("9.9.9.9")])
        return config
    }

    @Test func aWANAboveMaxLatencyFailsOverWithoutAFlush() {
        var d = CoreDriver(Self.config(eth0: Self.check(maxLatency: .milliseconds(100))))
        d.run(seconds: 1)
        d.rtt["eth0"] = .milliseconds(150)   // under the 2 s timeout: every round is answered
        d.run(seconds: 60)
        let down = d.events(.wanDown).first
        #expect(down?.interface == "eth0", "\(d.events)")
        #expect(down?.evidence?.cause == .quality, "\(String(describing: down))")
        #expect(down?.reason.contains("max_latency") == true, "\(String(describing: down))")
        #expect(d.events(.failover).first?.to == ["eth1"], "\(d.events)")
        #expect(d.core.plan.group(named: "default")?.active == ["eth1"])
        #expect(d.flushed.isEmpty, "a degraded WAN's connections were flushed: \(d.flushed)")
    }

    @Test func aWANAboveMaxLossFailsOverWithoutAFlush() {
        var c = HealthCheck(targets: [ip("1.1.1.1"), ip("8.8.8.8")], thresholdDown: 1)
        c.maxLoss = 20
        var d = CoreDriver(Self.config(eth0: c))
        d.deadTargets = [ip("8.8.8.8")]   // one of two answers: every round is good, loss 50 %
        d.run(seconds: 60)
        #expect(d.events(.wanDown).first?.interface == "eth0", "\(d.events)")
        #expect(d.events(.wanDown).first?.evidence?.cause == .quality)
        #expect(d.events(.failover).first?.to == ["eth1"], "\(d.events)")
        #expect(d.flushed.isEmpty, "a degraded WAN's connections were flushed: \(d.flushed)")
    }

    /// The contrast: the same config with eth0's probes unanswered is a failed WAN, and flushed.
    @Test func aWANWhoseRoundsFailIsFlushed() {
        var d = CoreDriver(Self.config(eth0: Self.check(maxLatency: .milliseconds(100))))
        d.run(seconds: 1)
        d.answering["eth0"] = false
        d.run(seconds: 60)
        #expect(d.events(.wanDown).first?.evidence?.cause == .probes, "\(d.events)")
        #expect(d.flushed == ["eth0"])
    }
}
