import Domain
import Simulator

/// A real run turned into the simulator's records: WAN events from the daemon's log lines
/// (stamped on arrival), new connections from the ISP-side captures, status bands from the events
/// and RTT lines from captured echo requests and replies. Times are from the run's origin.
struct LabObservation: Sendable {
    var result: SimulationResult
    var failovers: [FailoverMeasurement]
    var latency: LatencyAccuracy?
    /// Per planned connection: when it left (from the origin), nil if no ISP saw it.
    var leftAt: [Duration?]

    init(scenario: Scenario, plan: LabPlan, origin: Duration, arrivals: [LabCapture.Arrival], echoes: [LabCapture.Echo],
         daemonLines: [(time: Duration, line: String)], faults: [FaultRecord],
         linkHistory: [(time: Duration, isp: Int, state: LinkState)]) {
        let wanNames = plan.layout.wans.map(\.name)
        func at(_ t: Duration) -> Instant { Instant(t - origin) }

        var events: [WANEvent] = []
        var logs: [LogRecord] = []
        for (time, line) in daemonLines where time >= origin {
            if let event = Self.event(line, at: at(time)) { events.append(event) }
            logs.append(LogRecord(time: at(time), level: Self.level(line), message: String(line.drop { $0 != ">" }.dropFirst())))
        }

        // The first arrival of each connection (retransmitted SYNs arrive again) names its uplink.
        struct Key: Hashable { var proto: TransportProtocol; var port: UInt16; var destination: IPAddress; var destinationPort: UInt16 }
        var firstArrival: [Key: LabCapture.Arrival] = [:]
        for a in arrivals where a.time >= origin {
            let key = Key(proto: a.proto, port: a.sourcePort, destination: a.destination, destinationPort: a.destinationPort)
            if let seen = firstArrival[key], seen.time <= a.time { continue }
            firstArrival[key] = a
        }
        var flows: [FlowRecord] = []
        var leftAt: [Duration?] = []
        for c in plan.connections {
            let key = Key(proto: c.proto, port: c.sourcePort, destination: c.destination, destinationPort: c.destinationPort)
            // A source port is reused only after `sourcePorts` connections: take the arrival near this one's time.
            let arrival = firstArrival[key].flatMap { (($0.time - origin) - c.offset) < .seconds(5) && (($0.time - origin) - c.offset) > .seconds(-5) ? $0 : nil }
            let (policy, group) = plan.classify(c)
            flows.append(FlowRecord(time: Instant(c.offset), traffic: c.traffic, source: c.source, destination: c.destination,
                                    proto: c.proto, destPort: c.declaredPort, uplink: arrival.map { wanNames[$0.isp] },
                                    group: group, policy: policy))
            leftAt.append(arrival.map { $0.time - origin })
        }

        let samples = Self.samples(scenario: scenario, wanNames: wanNames, events: events, echoes: echoes, origin: origin)
        result = SimulationResult(
            scenarioName: scenario.name, description: scenario.description, file: scenario.file, seed: scenario.seed,
            duration: scenario.duration, uplinks: wanNames,
            observations: Observations(events: events, flows: flows, plans: [], start: .zero, end: Instant(scenario.duration)),
            faults: faults, samples: samples, logs: logs,
            probesSent: echoes.filter(\.request).count, probesAnswered: echoes.filter { !$0.request }.count)
        self.leftAt = leftAt
        failovers = FailoverMeasurement.measure(scenario: scenario, wanNames: wanNames, faults: faults, flows: flows,
                                                leftAt: leftAt, echoes: echoes, origin: origin)
        latency = LatencyAccuracy(echoes: echoes, origin: origin, history: linkHistory)
    }

    /// `<5>wan_down: eth0 (reason)`, `<5>failover: group default: eth0 -> eth1 (reason)`, with
    /// the timestamp the daemon writes when not under journald (`<5>2026-12-01T10:15:00.123Z ...`)
    /// and the evidence it appends (`...; health evidence: 2/2 failed probe rounds ...`).
    static func event(_ line: String, at time: Instant) -> WANEvent? {
        guard line.hasPrefix("<"), let close = line.firstIndex(of: ">") else { return nil }
        var text = line[line.index(after: close)...]
        if let space = text.firstIndex(of: " "), text.first?.isNumber == true, text[..<space].hasSuffix("Z") {
            text = text[text.index(after: space)...]
        }
        for marker in ["; health evidence: ", "; evidence: "] {
            if let cut = text.firstRange(of: marker) { text = text[..<cut.lowerBound] }
        }
        guard let colon = text.firstIndex(of: ":"), let kind = WANEventKind(rawValue: String(text[..<colon])) else { return nil }
        var rest = text[text.index(after: colon)...].drop { $0 == " " }
        var reason = ""
        if let open = rest.firstIndex(of: "("), rest.last == ")" {
            reason = String(rest[rest.index(after: open)..<rest.index(before: rest.endIndex)])
            rest = rest[..<open]
        }
        let subject = rest.trimmingSpaces
        switch kind {
        case .wanDown, .wanUp:
            return WANEvent(time: time, kind: kind, interface: subject, reason: reason)
        case .failover, .failback, .allDown:
            guard subject.hasPrefix("group "), let groupEnd = subject.firstIndex(of: ":") else { return nil }
            let group = String(subject[subject.index(subject.startIndex, offsetBy: 6)..<groupEnd])
            let sides = subject[subject.index(after: groupEnd)...].split(separator: "->").map { String($0).trimmingSpaces }
            guard sides.count == 2 else { return nil }
            func uplinks(_ s: String) -> [String] { s == "none" ? [] : s.split(separator: ",").map(String.init) }
            return WANEvent(time: time, kind: kind, group: group, from: uplinks(sides[0]), to: uplinks(sides[1]), reason: reason)
        }
    }

    static func level(_ line: String) -> LogLevel {
        switch line.dropFirst().first {
        case "0", "1", "2", "3": .error
        case "4": .warning
        case "5": .notice
        case "6": .info
        default: .debug
        }
    }

    /// State bands from the events (a WAN is up until its `wan_down`), and per sample period the
    /// median ISP-side reply delay and the share of echo requests left unanswered.
    static func samples(scenario: Scenario, wanNames: [String], events: [WANEvent], echoes: [LabCapture.Echo],
                        origin: Duration) -> [StatusSample] {
        let period = max(Duration.milliseconds(100), scenario.duration / 120)
        var replies: [Int: [String: Duration]] = [:]
        for e in echoes where !e.request { replies[e.isp, default: [:]]["\(e.identifier).\(e.sequence).\(e.target)"] = e.time }
        var samples: [StatusSample] = []
        var t = Duration.zero
        var requests = echoes.filter(\.request)[...]
        while t <= scenario.duration {
            let end = t + period
            var inPeriod: [LabCapture.Echo] = []
            while let r = requests.first, r.time - origin < end {
                if r.time - origin >= t { inPeriod.append(r) }
                requests = requests.dropFirst()
            }
            let wans = wanNames.enumerated().map { index, name -> StatusSample.WAN in
                var state = WANStatus.State.up
                for e in events where e.time <= Instant(end) && e.interface == name {
                    if e.kind == .wanDown { state = .down } else if e.kind == .wanUp { state = .up }
                }
                let mine = inPeriod.filter { $0.isp == index }
                let delays = mine.compactMap { r in replies[index]?["\(r.identifier).\(r.sequence).\(r.target)"].map { $0 - r.time } }
                    .sorted()
                let latency = delays.isEmpty ? nil : Double(delays[delays.count / 2].nanoseconds) / 1e6
                let loss = mine.isEmpty ? 0 : Double(mine.count - delays.count) * 100 / Double(mine.count)
                return StatusSample.WAN(interface: name, state: state, latencyMs: latency, lossPercent: loss)
            }
            samples.append(StatusSample(time: Instant(t), wans: wans))
            t = end
        }
        return samples
    }
}

/// Failover for one fault that takes a WAN away (black hole, cable pulled): from the fault to the
/// first new connection that left on another uplink with none on the failed one after it, next
/// to the arithmetic bound `phase + (threshold_down - 1) x interval + timeout` (phase: from the
/// fault to the first probe it swallowed, seen on the ISP side), or 0 for carrier loss.
public struct FailoverMeasurement: Sendable, Equatable {
    public var interface: String
    public var fault: String
    public var faultTime: Duration
    public var bound: Duration?
    public var measured: Duration?
    public var resolution: Duration?
    public var note: String?

    public var beyondBound: Duration? {
        guard let bound, let measured else { return nil }
        return measured - bound
    }

    static func measure(scenario: Scenario, wanNames: [String], faults: [FaultRecord], flows: [FlowRecord],
                        leftAt: [Duration?], echoes: [LabCapture.Echo], origin: Duration) -> [FailoverMeasurement] {
        var out: [FailoverMeasurement] = []
        let spacing = scenario.traffic.map { 1 / max($0.rate, 1e-9) }.min().map { Duration.nanoseconds(Int64($0 * 1e9)) }
        for (i, fault) in faults.enumerated() {
            guard let name = fault.interface, let isp = wanNames.firstIndex(of: name) else { continue }
            let isBlackhole = fault.description.contains("blackhole = true")
            let isCarrier = fault.description.contains("carrier = false")
            guard isBlackhole || isCarrier else { continue }
            let t = fault.time.duration
            // Until the WAN's next fault or repair.
            let until = faults[(i + 1)...].first { $0.interface == name }?.time.duration ?? scenario.duration
            var m = FailoverMeasurement(interface: name, fault: fault.description, faultTime: t, resolution: spacing)
            if isCarrier {
                m.bound = .zero
            } else if let check = scenario.config.healthCheck(for: name), check.kind == .icmp {
                var answered = Set<String>()
                for e in echoes where !e.request && e.isp == isp { answered.insert("\(e.identifier).\(e.sequence).\(e.target)") }
                // nft returned at `t`: a probe a few ms before may already be its first victim.
                if let swallowed = echoes.first(where: { $0.request && $0.isp == isp && $0.time - origin >= t - .milliseconds(50)
                    && !answered.contains("\($0.identifier).\($0.sequence).\($0.target)") }) {
                    let phase = swallowed.time - origin - t
                    m.bound = phase + check.interval * (check.thresholdDown - 1) + check.timeout
                } else {
                    m.note = "no swallowed probe seen"
                }
            } else {
                m.note = "bound only for ICMP checks"
            }
            // The last connection that still left on the failed WAN, then the first on another one.
            var lastOnFailed = t
            for (f, left) in zip(flows, leftAt) {
                guard let left, left > t, left <= until, f.uplink == name else { continue }
                lastOnFailed = max(lastOnFailed, left)
            }
            m.measured = zip(flows, leftAt).compactMap { f, left -> Duration? in
                guard let left, left > lastOnFailed, left <= until, let u = f.uplink, u != name else { return nil }
                return left
            }.min().map { $0 - t }
            if m.measured == nil { m.note = (m.note.map { $0 + "; " } ?? "") + "no new connection left on another uplink" }
            out.append(m)
        }
        return out
    }
}

/// How closely the userspace responder's reply delay matched the link's latency (jitter-free
/// periods only): the reply's departure minus the request's arrival, both captured on the ISP side.
public struct LatencyAccuracy: Sendable, Equatable {
    public var samples: Int
    public var medianError: Duration
    public var maxError: Duration

    init?(echoes: [LabCapture.Echo], origin: Duration, history: [(time: Duration, isp: Int, state: LinkState)]) {
        var requests: [String: LabCapture.Echo] = [:]
        for e in echoes where e.request { requests["\(e.isp).\(e.identifier).\(e.sequence).\(e.target)"] = e }
        var errors: [Duration] = []
        for reply in echoes where !reply.request {
            guard let request = requests["\(reply.isp).\(reply.identifier).\(reply.sequence).\(reply.target)"] else { continue }
            let t = request.time - origin
            guard let state = history.last(where: { $0.isp == reply.isp && $0.time <= t })?.state, state.jitter == .zero else { continue }
            let delay = reply.time - request.time
            errors.append(delay - state.latency)
        }
        guard !errors.isEmpty else { return nil }
        errors.sort()
        samples = errors.count
        medianError = errors[errors.count / 2]
        maxError = errors.map { $0 < .zero ? .zero - $0 : $0 }.max()!
    }
}

extension Instant {
    var duration: Duration { .nanoseconds(nanoseconds) }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
