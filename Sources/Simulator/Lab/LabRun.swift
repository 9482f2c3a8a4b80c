import Domain
import Foundation
import Simulator

#if canImport(Glibc)
import Glibc
#endif

/// How much a real-time window is widened: `base` plus `fraction` of the window's length.
public struct LabTolerance: Sendable, Equatable {
    public var base: Duration
    public var fraction: Double
    public init(base: Duration = .milliseconds(100), fraction: Double = 0.02) {
        self.base = base
        self.fraction = fraction
    }

    public func amount(forWindow length: Duration) -> Duration {
        base + .nanoseconds(Int64(Double(max(.zero, length).nanoseconds) * fraction))
    }

    /// `100ms + 2% of the window`
    public var description: String {
        "\(DurationText.brief(base)) + \(Format.number(fraction * 100))% of the window"
    }
}

public struct LabOptions: Sendable {
    public var tolerance = LabTolerance()
    /// The `flywall` binary whose `daemon` runs in the router namespace.
    public var daemonBinary: String
    /// Keeps every process's output (daemon log included) in this directory.
    public var logDirectory: String?
    public init(daemonBinary: String, tolerance: LabTolerance = LabTolerance(), logDirectory: String? = nil) {
        self.daemonBinary = daemonBinary
        self.tolerance = tolerance
        self.logDirectory = logDirectory
    }
}

/// A run that could not be carried out (as opposed to expectations that failed).
public struct LabFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a scenario for real: builds its topology in network namespaces, starts the real daemon in
/// the router namespace, plays the scenario's faults and traffic on the wall clock, and returns
/// what the ISP-side captures and the daemon's log lines show, judged like `flywall simulate`.
///
/// Time zero is the daemon's first probe round as the ISP side sees it (or its `dataplane ready`
/// when nothing is probed); faults and connections are scheduled from it, log lines are stamped
/// on arrival, packets by the kernel, all on `LabClock`.
public enum LabRun {
    /// New connections leave from source ports counted up from here, one per connection, so the
    /// router's masquerade keeps them and a captured packet names its connection.
    static let firstSourcePort = 20_000
    static let sourcePorts = 40_000
    /// Bounds the work of one run.
    static let maximumConnections = 200_000

    public static func run(_ lab: LabScenario, options: LabOptions, cancelled: @escaping @Sendable () -> Bool) throws -> LabReport {
        let scenario = lab.scenario
        let plan = LabPlan(scenario)
        guard plan.connections.count <= maximumConnections else {
            throw LabFailure("\(scenario.file): the traffic blocks open \(plan.connections.count) connections; the lab runs at most \(maximumConnections)")
        }
        let topology = try LabTopology(plan.layout)
        if let dir = options.logDirectory { topology.logDirectory = dir }
        defer { topology.remove() }
        if !plan.hostNames.isEmpty { try topology.resolve(plan.hostNames) }

        try startDHCP(topology, plan)
        let links = try LabLinks(topology, initial: plan.layout.wans.map { scenario.link($0.name) })
        var linkHistory: [(time: Duration, isp: Int, state: LinkState)] = links.states.enumerated().map { (.zero, $0.offset, $0.element) }
        let capture = try LabCapture(topology)

        let schedule = topology.directory.appendingPathComponent("traffic").path
        try plan.connections.map { c in
            "\(c.offset.nanoseconds) \(c.source) \(c.sourcePort) \(c.proto.rawValue) \(c.destination) \(c.destinationPort)"
        }.joined(separator: "\n").appending("\n").write(toFile: schedule, atomically: true, encoding: .utf8)
        let traffic = try topology.spawn("traffic", in: topology.lan, ["python3", LabTopology.echoScript, "traffic", "--schedule", schedule])
        guard traffic.waitUntil(line: "ready", seconds: 15) else { throw LabFailure("the traffic generator did not start: \(traffic.text)") }

        let configPath = topology.directory.appendingPathComponent("flywall.hcl").path
        try lab.daemonConfig.write(toFile: configPath, atomically: true, encoding: .utf8)
        // It holds the API token.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: configPath)
        let spawned = LabClock.now()
        // Its own history store: never the host's /var/lib/flywall, nor another run's.
        let stateDirectory = topology.directory.appendingPathComponent("state").path
        var daemonArguments = [options.daemonBinary, "daemon", "--config", configPath, "--state-dir", stateDirectory]
        if scenario.config.wans.contains(where: { $0.pppoe != nil }) {
            // This kernel has no PPP: the lab made each session's device as a veth to its ISP, and
            // the daemon's pppd is a stand-in that holds the "session" until the daemon stops it.
            let pppd = topology.directory.appendingPathComponent("pppd-stand-in").path
            try "#!/bin/sh\n# The lab's stand-in for pppd: the session's device already exists.\nexec sleep infinity\n"
                .write(toFile: pppd, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: pppd)
            daemonArguments += ["--pppd", pppd]
        }
        let daemon = try topology.spawn("flywall daemon", in: topology.router, daemonArguments)
        guard daemon.waitUntil(seconds: 20, { $0.contains("dataplane ready") }) else {
            throw LabFailure("the daemon did not report `dataplane ready` within 20s (exit status \(daemon.exitStatus.map(String.init) ?? "none")):\n"
                + daemon.lines.suffix(30).joined(separator: "\n"))
        }
        // Time zero is the daemon's first probe round (its grid), as in the simulator; without
        // ICMP probes, the moment it reported ready.
        let ready = daemon.stampedLines.first { $0.line.contains("dataplane ready") }?.time ?? LabClock.now()
        var origin = ready
        if plan.layout.wans.contains(where: { !$0.targets.isEmpty }) {
            let deadline = LabClock.now() + .seconds(2)
            while LabClock.now() < deadline {
                if let first = capture.firstRequest(after: spawned) { origin = first; break }
                usleep(2_000)
            }
        }
        traffic.send("start \(origin.nanoseconds)")
        // A fault "at 30s" is in place before the probe round of 30s, as in the simulator, and
        // after the round before it was answered: see `start(of:)`.
        var lead = Duration.milliseconds(60)
        // Operator commands: one HTTP request on the router's loopback, answered once the daemon's
        // loop has handled it (a few ms); started this early, the longest so far.
        var commandLead = Duration.milliseconds(10)
        let api = lab.apiToken.flatMap { token in
            splitListenAddress(scenario.config.api.listen).map {
                LabAPIClient(namespace: topology.router, host: $0.host, port: UInt16(clamping: $0.port), token: token)
            }
        }

        var faults: [FaultRecord] = []
        let notes = ["time 0 is the daemon's first probe round, \(LabReport.signed(origin - ready)) from its `dataplane ready`"]
        for fault in scenario.faults where fault.time <= scenario.duration {
            let start = Self.start(of: fault, scenario: scenario, links: links, wans: plan.layout.wans.map(\.name),
                                   lead: fault.action.isManual ? commandLead : lead)
            guard LabClock.sleep(until: origin + start, cancelled: cancelled) else {
                throw LabFailure("interrupted")
            }
            switch fault.action {
            case .link(let name, let change):
                guard let index = plan.layout.wans.firstIndex(where: { $0.name == name }) else { continue }
                let began = LabClock.now()
                try links.apply(change, to: index)
                lead = max(lead, LabClock.now() - began)
                let at = LabClock.now() - origin
                linkHistory.append((at, index, links.states[index]))
                faults.append(FaultRecord(time: Instant(at), interface: name, description: Simulation.describe(name, change)))
            case .manual(let command):
                let (interface, text) = Simulation.describe(command)
                let began = LabClock.now()
                var outcome: String
                if let api {
                    do {
                        let answer = try api.give(command)
                        outcome = answer.status == 200 ? "API 200" : "API \(answer.status): \(answer.body.prefix(200))"
                    } catch {
                        outcome = "not given: \(error)"
                    }
                } else {
                    outcome = "not given: the config's api block has no token"
                }
                commandLead = max(commandLead, LabClock.now() - began)
                faults.append(FaultRecord(time: Instant(LabClock.now() - origin), interface: interface, description: "\(text) (\(outcome))"))
            }
        }
        guard LabClock.sleep(until: origin + scenario.duration, cancelled: cancelled) else { throw LabFailure("interrupted") }
        // Let the last packets arrive before the captures stop.
        _ = LabClock.sleep(until: LabClock.now() + .milliseconds(300), cancelled: { false })
        let seen = capture.finish()
        traffic.stop(grace: 1)
        daemon.stop(grace: 10)

        let observed = LabObservation(scenario: scenario, plan: plan, origin: origin, arrivals: seen.arrivals,
                                      echoes: seen.echoes, daemonLines: daemon.stampedLines, faults: faults,
                                      linkHistory: linkHistory)
        if let dir = options.logDirectory {
            // Every connection: planned time, time it left, uplink, source, source port (for a look by hand).
            var text = "planned_s\tleft_s\tuplink\tsource\tsport\tdestination\n"
            for (c, (f, left)) in zip(plan.connections, zip(observed.result.observations.flows, observed.leftAt)) {
                text += "\(Format.fixed(c.offset.seconds, 4))\t\(left.map { Format.fixed($0.seconds, 4) } ?? "-")\t\(f.uplink ?? "-")\t\(c.source)\t\(c.sourcePort)\t\(c.destination):\(c.destinationPort)\n"
            }
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try? text.write(toFile: dir + "/\(topology.id)-connections.tsv", atomically: true, encoding: .utf8)
        }
        return LabReport(lab: lab, observation: observed, tolerance: options.tolerance, notes: notes)
    }

    /// When to start a fault's commands (from the origin) so that they take effect as the
    /// simulator's fault does. The commands take up to `lead` (the longest so far: ip netns exec +
    /// nft, tens of ms, over 100 ms on a loaded machine). Probe rounds of the WAN lie on its
    /// interval grid from time 0: the fault must be in place by the first round at or after its
    /// time (`next`), and must not land before the round before that (`prev`) was answered.
    /// Within that, it aims at its own time, moving earlier only as far as `next` needs, and at
    /// the latest halfway from `prev`'s answer to `next`. Carrier
    /// changes act at once (netlink tells the daemon), so they start `lead` early, no more.
    static func start(of fault: TimedFault, scenario: Scenario, links: LabLinks, wans: [String], lead: Duration) -> Duration {
        let t = fault.time
        guard case .link(let name, let change) = fault.action, change.carrier == nil,
              let index = wans.firstIndex(of: name),
              let check = scenario.config.healthCheck(for: name), check.kind != .passive, check.interval > .zero else {
            return t - lead
        }
        let rounds = (t.nanoseconds + check.interval.nanoseconds - 1) / check.interval.nanoseconds
        let next = Duration.nanoseconds(rounds * check.interval.nanoseconds)
        let prev = next - check.interval
        let state = links.states[index]
        let earliest = prev + state.latency + state.jitter + .milliseconds(5)
        // At the latest halfway between: one slow command (200 ms when the machine is loaded)
        // must not miss the round. Landing early changes no verdict: the ISP-side captures see
        // packets before the fault rules, and the rules act on requests, not on replies.
        let latest = min(next - .milliseconds(10) - lead * 2, earliest + (next - earliest) / 2)
        return max(earliest, min(t - lead, latest))
    }

    /// A DHCP server for every DHCP WAN and a client on the router; waits for every lease, so the
    /// daemon starts with its addresses as the simulator's core does.
    static func startDHCP(_ topology: LabTopology, _ plan: LabPlan) throws {
        for (index, wan) in plan.layout.wans.enumerated() where !wan.staticAddress {
            _ = try topology.startDHCP(index, range: (wan.address, wan.address), metric: 100 + index)
        }
        for (index, wan) in plan.layout.wans.enumerated() where !wan.staticAddress {
            let deadline = LabClock.now() + .seconds(20)
            while !((try? topology.ip(topology.router, "-4 addr show dev \(wan.name)"))?.contains(wan.address + "/") ?? false) {
                if LabClock.now() > deadline {
                    throw LabFailure("no DHCP lease on \(wan.name) from isp\(index)'s dnsmasq within 20s")
                }
                usleep(50_000)
            }
        }
    }
}

extension Instant {
    init(_ d: Duration) { self.init(nanoseconds: d.nanoseconds) }
}

extension TimedFault.Action {
    var isManual: Bool { if case .manual = self { true } else { false } }
}
