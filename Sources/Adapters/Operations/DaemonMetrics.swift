import Domain
import Prometheus
import Synchronization

/// The daemon's Prometheus metrics (`GET /metrics`), named as docs/api.md lists them.
///
/// The core loop records only what it alone sees — dataplane applies, flushed connections, state
/// changes, how late a deadline wake-up was — each a lock-protected add. Everything derived from
/// the core's status (up, RTT, loss, jitter, probe counts, active uplinks) is set from the published
/// snapshot when Prometheus scrapes, so scraping never costs the loop anything.
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let applies: Counter
    private let applyDuration: DurationHistogram
    private let flushed: Counter
    private let lateness: DurationHistogram
    private let recentLateness = Mutex(RecentMaximum())
    /// Probe counters are cumulative in the core; the counters here advance by the difference.
    private let seenProbes: Mutex<[String: (sent: Int, lost: Int)]> = Mutex([:])

    static let applyBuckets: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                           .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                           .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)]
    static let latenessBuckets: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                              .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                              .milliseconds(50), .milliseconds(100), .milliseconds(1000)]

    public init() {
        applies = registry.makeCounter(descriptor: Self.name("dataplane_applies", "total", "Forwarding plans applied to the dataplane (apply and repair)."))
        applyDuration = registry.makeDurationHistogram(
            descriptor: Self.name("dataplane_apply_duration", "seconds", "Time to apply one forwarding plan to the dataplane."),
            buckets: Self.applyBuckets)
        flushed = registry.makeCounter(descriptor: Self.name("connections_flushed", "total", "Tracked connections flushed because their uplink died."))
        lateness = registry.makeDurationHistogram(
            descriptor: Self.name("probe_round_lateness", "seconds", "How late the core loop woke for a deadline (probe round start or timeout)."),
            buckets: Self.latenessBuckets)
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "flywall", metricName: metric, unitName: unit, helpText: help)
    }

    // MARK: Recorded by the core loop

    public func recordApply(nanoseconds: Int64) {
        applies.increment()
        applyDuration.recordNanoseconds(nanoseconds)
    }

    public func recordFlushed(_ count: Int) { flushed.increment(by: Int64(count)) }

    public func recordLateness(nanoseconds: Int64) {
        lateness.recordNanoseconds(max(0, nanoseconds))
        let now = KernelClock.monotonic()
        recentLateness.withLock { $0.record(max(0, nanoseconds), at: now) }
    }

    /// The worst lateness recorded in the last 10 seconds (`RecentMaximum`), nanoseconds.
    public var recentMaxLateness: Int64 {
        let now = KernelClock.monotonic()
        return recentLateness.withLock { $0.maximum(at: now) }
    }

    public func recordEvent(_ event: WANEvent) {
        switch event.kind {
        case .wanUp, .wanDown:
            registry.makeCounter(descriptor: Self.name("wan_state_changes", "total", "Times a WAN went up or down."),
                                 labels: [("interface", event.interface ?? "")]).increment()
        case .failover, .failback, .allDown:
            registry.makeCounter(descriptor: Self.name("group_events", "total", "Failover, failback and all_down events per group."),
                                 labels: [("group", event.group ?? ""), ("kind", event.kind.rawValue)]).increment()
        }
    }

    // MARK: At scrape time

    /// The Prometheus text exposition, with the snapshot's values.
    public func render(_ snapshot: DaemonSnapshot?) -> String {
        if let snapshot { update(from: snapshot) }
        return registry.emitToString()
    }

    private func update(from snapshot: DaemonSnapshot) {
        for s in snapshot.status {
            let labels = [("interface", s.interface)]
            func gauge(_ metric: String, _ unit: String, _ help: String) -> Gauge {
                registry.makeGauge(descriptor: Self.name(metric, unit, help), labels: labels)
            }
            gauge("wan_up", "", "1 when the WAN carries new connections (state UP).").set(to: s.state == .up ? 1 : 0)
            gauge("wan_down", "", "1 when the WAN is down (probes or carrier).").set(to: s.state == .down ? 1 : 0)
            gauge("wan_degraded", "", "1 when the WAN is past a quality threshold.").set(to: s.state == .degraded ? 1 : 0)
            gauge("wan_maintenance", "", "1 when an operator took the WAN out of every group.").set(to: s.state == .maintenance ? 1 : 0)
            gauge("wan_rtt", "seconds", "Mean round-trip time of the probe window.").set(to: (s.latencyMs ?? .nan) / 1000)
            gauge("wan_loss", "ratio", "Share of the probe window's probes without a good answer (0-1).").set(to: s.lossPercent / 100)
            gauge("wan_jitter", "seconds", "Mean difference of consecutive RTTs in the probe window.").set(to: (s.jitterMs ?? .nan) / 1000)
            let (sentDelta, lostDelta) = seenProbes.withLock { seen -> (Int, Int) in
                let before = seen[s.interface] ?? (0, 0)
                seen[s.interface] = (s.probesSent, s.probesLost)
                // A config reload that recreates a WAN's tracker starts its counts again.
                return (max(0, s.probesSent - before.sent), max(0, s.probesLost - before.lost))
            }
            registry.makeCounter(descriptor: Self.name("wan_probes_sent", "total", "Probes sent through the WAN."), labels: labels)
                .increment(by: Int64(sentDelta))
            registry.makeCounter(descriptor: Self.name("wan_probes_lost", "total", "Probes through the WAN without a good answer."), labels: labels)
                .increment(by: Int64(lostDelta))
        }
        for g in snapshot.groups {
            for m in g.members {
                registry.makeGauge(descriptor: Self.name("group_active", "", "1 for the uplinks a group's new connections use."),
                                   labels: [("group", g.name), ("interface", m)]).set(to: g.active.contains(m) ? 1 : 0)
            }
        }
        registry.makeGauge(descriptor: Self.name("probe_round_lateness_max", "seconds", "Worst deadline lateness since start."))
            .set(to: Double(snapshot.maxLatenessNanos) / 1e9)
        registry.makeGauge(descriptor: Self.name("probe_round_lateness_recent_max", "seconds",
                                                 "Worst deadline lateness in the last 10 seconds."))
            .set(to: Double(recentMaxLateness) / 1e9)
        registry.makeGauge(descriptor: Self.name("history_available", "", "1 while the history store writes events."))
            .set(to: snapshot.historyProblem == nil ? 1 : 0)
    }
}

/// The worst value of the last 10 s (`slots` slots of `slotNanos`): a reader that looks at least
/// every 10 s sees every value (a benchmark phase's exact worst lateness, to within one slot at its
/// edges) without a reset that another reader (Prometheus) would be hurt by.
struct RecentMaximum {
    static let slotNanos: Int64 = 100_000_000
    static let slots = 100
    /// Per slot: its index since the clock's origin, and the worst value in it.
    private var worst = [(slot: Int64, nanos: Int64)](repeating: (-1, 0), count: RecentMaximum.slots)

    mutating func record(_ nanos: Int64, at now: Int64) {
        let slot = now / Self.slotNanos
        let i = Int(slot % Int64(Self.slots))
        worst[i] = worst[i].slot == slot ? (slot, max(worst[i].nanos, nanos)) : (slot, nanos)
    }

    func maximum(at now: Int64) -> Int64 {
        let current = now / Self.slotNanos
        return worst.lazy.filter { $0.slot > current - Int64(Self.slots) && $0.slot <= current }.map(\.nanos).max() ?? 0
    }
}
