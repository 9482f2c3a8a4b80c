import Domain

/// Runs a scenario against the real core in virtual time: a discrete-event loop, deterministic.
///
/// Everything that will happen is a `Happening` in one priority queue ordered by (time, rank,
/// insertion sequence): the core's deadlines (`nextDeadline` becomes a `.tick`), probe replies, the
/// scenario's timed faults, new connections from its traffic sources, and a status sample every
/// second. Virtual time jumps from one to the next; nothing waits on a real clock.
///
/// At one instant, things happen in rank order: first the scripted faults (a fault "at 30s" is in
/// place before anything else at 30s looks at the link), then probe replies and answers to
/// connection attempts, then the core's tick, then new connections (routed with the plan the core
/// settled on at that instant), then the status sample (which sees the instant's outcome). Equal
/// ranks keep insertion order.
///
/// Passive checks: on the WANs the core asked to capture (`.capturePassive`), every new TCP
/// connection routed there is an `.attempt` observation at its own instant, and the link model
/// decides whether and when its SYN-ACK comes back (an `.answer` at the reply rank).
///
/// Randomness (probe loss, jitter, per-connection entropy, connection answers) comes only from
/// `SplitMix64` streams derived from the scenario's seed, two per WAN and one per traffic source, and
/// nothing iterates a `Dictionary`: the same scenario and seed give the same result, byte for byte.
public struct Simulation: Sendable {
    public let scenario: Scenario

    public init(scenario: Scenario) {
        self.scenario = scenario
    }

    /// Runs the whole scenario and returns what happened.
    public func run() -> SimulationResult {
        var runner = Runner(scenario: scenario)
        return runner.run()
    }

    /// Runs the scenario and judges its expectations.
    public func evaluate() -> SimulationReport {
        let result = run()
        let results = ExpectationChecker.check(scenario.expectations, against: result.observations)
        return SimulationReport(result: result, expectations: results)
    }

    /// `eth0: blackhole = true, loss = 20%`: a scripted link change as reports show it.
    public static func describe(_ name: String, _ change: LinkChange) -> String { Runner.describe(name, change) }

    /// `eth1: maintenance on`, `group default: force eth1`: an operator command as reports show it.
    public static func describe(_ command: ManualCommand) -> (interface: String?, text: String) { Runner.describe(command) }

    /// The invented address of the `index`-th WAN (config order) when it has no static one: one /30
    /// per WAN out of 100.64.0.0/10 (shared address space, as a carrier-grade NAT would hand out).
    public static func inventedAddress(wanIndex index: Int) -> (address: CIDR, gateway: IPAddress) {
        let n = UInt32(truncatingIfNeeded: index + 1)
        let base: UInt32 = (100 << 24) | (64 << 16)
        let net = base &+ ((n / 256) << 16) &+ ((n % 256) << 8)
        return (CIDR(address: .v4(net | 2), prefixLength: 30), .v4(net | 1))
    }
}

/// What the simulator's queue holds.
enum Happening: Sendable {
    case fault(index: Int)
    case probeReply(ProbeID, ProbeOutcome)
    /// The SYN-ACK to a connection attempt on the WAN at `link` (an index into `Runner.links`).
    case connectionAnswer(link: Int, PassiveObservation)
    case tick(generation: UInt64)
    case connection(source: Int, ordinal: Int)
    case sample

    /// Order among happenings at the same instant (see `Simulation`).
    var rank: Int {
        switch self {
        case .fault: 0
        case .probeReply, .connectionAnswer: 1
        case .tick: 2
        case .connection: 3
        case .sample: 4
        }
    }
}

struct Runner {
    let scenario: Scenario
    let end: Instant
    let wanNames: [String]
    var core: MultiWANStateMachine
    var queue = EventQueue<Happening>()
    var now: Instant = .zero

    var links: [LinkModel]
    var trafficRandom: [SplitMix64]
    var sticky = StickyTable()
    /// Per WAN (index into `links`): whether the core asked to capture its connection attempts.
    var capturing: [Bool]

    // Tick bookkeeping: only the tick of the latest generation is live.
    var tickGeneration: UInt64 = 0
    var scheduledTick: Instant?
    var ticksThisInstant = 0
    var tickInstant: Instant = .zero
    static let maxTicksPerInstant = 10_000

    // Records.
    var events: [WANEvent] = []
    var flows: [FlowRecord] = []
    var plans: [PlanChange] = []
    var faults: [FaultRecord] = []
    var samples: [StatusSample] = []
    var flushes: [FlushRecord] = []
    var logs: [LogRecord] = []
    var probesSent = 0
    var probesAnswered = 0
    /// Passive observations handed to the core (for tests; the report shows their effect as rounds).
    var connectionAttempts = 0
    var connectionAnswers = 0

    init(scenario: Scenario) {
        self.scenario = scenario
        self.end = .zero + scenario.duration
        self.core = MultiWANStateMachine(config: scenario.config)
        self.wanNames = scenario.config.wans.map(\.name)
        self.links = wanNames.map { LinkModel(interface: $0, state: scenario.link($0), seed: scenario.seed) }
        self.trafficRandom = scenario.traffic.map { SplitMix64(seed: scenario.seed, stream: "traffic:\($0.name)") }
        self.capturing = Array(repeating: false, count: wanNames.count)
    }

    func linkIndex(_ name: String) -> Int? { wanNames.firstIndex(of: name) }

    /// The kernel name the core expects link events under (a PPPoE WAN's session device).
    func device(of name: String) -> String { scenario.config.interface(named: name)?.device ?? name }

    mutating func run() -> SimulationResult {
        // What the shell knows before the first tick: addresses and carrier of every WAN.
        for (index, wan) in scenario.config.wans.enumerated() {
            let (address, gateway) = Runner.addressing(wan, index: index)
            feed(.addressLearned(interface: wan.device, address: address, gateway: gateway))
        }
        for (index, name) in wanNames.enumerated() {
            feed(.carrier(interface: device(of: name), up: links[index].state.carrier))
        }
        feed(.tick)

        for (index, fault) in scenario.faults.enumerated() where .zero + fault.time <= end {
            queue.push(.fault(index: index), at: .zero + fault.time, rank: Happening.fault(index: 0).rank)
        }
        for index in scenario.traffic.indices {
            scheduleConnection(source: index, ordinal: 0)
        }
        queue.push(.sample, at: .zero, rank: Happening.sample.rank)

        while let entry = queue.pop() {
            guard entry.time <= end else { break }
            now = entry.time
            dispatch(entry.element)
        }
        now = end

        return SimulationResult(
            scenarioName: scenario.name, description: scenario.description, file: scenario.file,
            seed: scenario.seed, duration: scenario.duration, uplinks: wanNames,
            observations: Observations(events: events, flows: flows, plans: plans, start: .zero, end: end),
            faults: faults, samples: samples, flushes: flushes, logs: logs, finalStatus: orderedStatus(),
            probesSent: probesSent, probesAnswered: probesAnswered)
    }

    /// Static address and gateway from the config, else an invented one (DHCP, PPPoE).
    static func addressing(_ wan: Interface, index: Int) -> (CIDR?, IPAddress?) {
        if let address = wan.address {
            if let gateway = wan.gateway { return (address, gateway) }
            // No gateway given: the first host of the prefix that is not the address itself.
            guard case .v4(let a) = address.address, address.prefixLength <= 30 else { return (address, nil) }
            let mask: UInt32 = address.prefixLength == 0 ? 0 : ~(UInt32.max >> UInt32(address.prefixLength))
            let first = (a & mask) | 1
            return (address, .v4(first == a ? first + 1 : first))
        }
        let invented = Simulation.inventedAddress(wanIndex: index)
        return (invented.address, wan.gateway ?? invented.gateway)
    }

    // MARK: The loop

    mutating func dispatch(_ happening: Happening) {
        switch happening {
        case .fault(let index):
            applyFault(scenario.faults[index])
        case .probeReply(let id, let outcome):
            // A reply still in flight when the link went dark is lost.
            if let i = linkIndex(id.interface), !links[i].passes { return }
            probesAnswered += 1
            feed(.probeResult(id, outcome))
        case .connectionAnswer(let link, let observation):
            // Like a probe reply: lost if the link went dark while it was in flight, and not
            // reported once the core stopped asking for the WAN's captures.
            guard links[link].passes, capturing[link] else { return }
            connectionAnswers += 1
            feed(.passive(interface: wanNames[link], observation))
        case .tick(let generation):
            guard generation == tickGeneration else { return }
            scheduledTick = nil
            if tickInstant != now {
                tickInstant = now
                ticksThisInstant = 0
            }
            ticksThisInstant += 1
            feed(.tick)
        case .connection(let source, let ordinal):
            openConnection(source: source, ordinal: ordinal)
            scheduleConnection(source: source, ordinal: ordinal + 1)
        case .sample:
            sample()
            let next = now + Runner.samplePeriod(scenario.duration)
            if next <= end { queue.push(.sample, at: next, rank: Happening.sample.rank) }
        }
    }

    /// Hands one event to the core and carries out its effects, in order.
    mutating func feed(_ event: CoreEvent) {
        let effects = core.handle(event, at: now)
        for effect in effects { perform(effect) }
        scheduleTick()
    }

    mutating func perform(_ effect: CoreEffect) {
        switch effect {
        case .sendProbe(let request):
            probesSent += 1
            guard let i = linkIndex(request.id.interface) else { return }
            if let (outcome, delay) = links[i].answer(request.target) {
                queue.push(.probeReply(request.id, outcome), at: now + delay, rank: 1)
            }
        case .applyPlan(let plan), .repairDataplane(let plan):
            // The simulated dataplane never loses state: a repair is an apply.
            plans.append(PlanChange(time: now, plan: plan))
        case .flushConnections(let uplink):
            flushes.append(FlushRecord(time: now, interface: uplink.name))
        case .configureProbes, .watchInterfaces:
            // Simulated links need no sockets, and every WAN of the scenario is followed.
            break
        case .configureNotifications, .configureAPI, .watchRoleFile:
            // A scenario has no outbox, API or keepalived: its events are the record.
            break
        case .startSession, .stopSession:
            // A simulated PPPoE line has its session whenever its link has carrier: the link
            // model's carrier is reported on the session's device.
            break
        case .emit(let event):
            events.append(event)
        case .commandHandled:
            // The core's `.log` line beside it already says what came of the command.
            break
        case .log(let level, let message):
            logs.append(LogRecord(time: now, level: level, message: message))
        case .capturePassive(let interfaces):
            // Said once at the start even when empty; only a non-empty or changed set is worth a line.
            if !interfaces.isEmpty || capturing.contains(true) {
                let names = interfaces.isEmpty ? "none" : interfaces.joined(separator: ", ")
                logs.append(LogRecord(time: now, level: .info, message: "simulator: capturing connection attempts on \(names)"))
            }
            capturing = wanNames.map(interfaces.contains)
        }
    }

    /// Keeps exactly one live tick in the queue, at the core's current deadline.
    mutating func scheduleTick() {
        guard let deadline = core.nextDeadline else {
            if scheduledTick != nil {
                tickGeneration += 1
                scheduledTick = nil
            }
            return
        }
        let at = max(deadline, now)
        if at == now && tickInstant == now && ticksThisInstant >= Runner.maxTicksPerInstant {
            // A core whose deadline never moves past now would spin here forever; let time go on.
            if ticksThisInstant == Runner.maxTicksPerInstant {
                logs.append(LogRecord(time: now, level: .error,
                                      message: "simulator: core deadline stuck at \(now); ticks suspended for this instant"))
                ticksThisInstant += 1
            }
            tickGeneration += 1
            scheduledTick = nil
            return
        }
        if scheduledTick == at { return }
        tickGeneration += 1
        scheduledTick = at
        queue.push(.tick(generation: tickGeneration), at: at, rank: Happening.tick(generation: 0).rank)
    }

    // MARK: Faults

    mutating func applyFault(_ fault: TimedFault) {
        switch fault.action {
        case .link(let name, let change):
            faults.append(FaultRecord(time: now, interface: name, description: Runner.describe(name, change)))
            guard let i = linkIndex(name) else { return }
            if links[i].apply(change) {
                feed(.carrier(interface: device(of: name), up: links[i].state.carrier))
            }
        case .manual(let command):
            let (interface, text) = Runner.describe(command)
            faults.append(FaultRecord(time: now, interface: interface, description: text))
            feed(.manual(command, origin: CommandOrigin(source: "scenario")))
        }
    }

    static func describe(_ name: String, _ change: LinkChange) -> String {
        var parts: [String] = []
        if let v = change.carrier { parts.append("carrier = \(v)") }
        if let v = change.blackhole { parts.append("blackhole = \(v)") }
        if let v = change.loss { parts.append("loss = \(Format.number(v))%") }
        if let v = change.latency { parts.append("latency = \(DurationText.brief(v))") }
        if let v = change.jitter { parts.append("jitter = \(DurationText.brief(v))") }
        if let v = change.unreachable {
            parts.append("unreachable = [\(v.sorted().map(\.description).joined(separator: ", "))]")
        }
        if let v = change.httpStatus { parts.append("http_status = \(v)") }
        return "\(name): " + (parts.isEmpty ? "no change" : parts.joined(separator: ", "))
    }

    static func describe(_ command: ManualCommand) -> (String?, String) {
        switch command {
        case .maintenance(let interface, let enabled):
            return (interface, "\(interface): maintenance \(enabled ? "on" : "off")")
        case .forceActive(let group, let interface?):
            return (interface, "group \(group): force \(interface)")
        case .forceActive(let group, nil):
            return (nil, "group \(group): release forced uplink")
        }
    }

    // MARK: Traffic

    /// The `ordinal`-th connection of a source opens at start + ordinal / rate, evenly spaced.
    mutating func scheduleConnection(source index: Int, ordinal: Int) {
        let traffic = scenario.traffic[index]
        guard traffic.rate > 0, traffic.rate.isFinite, !traffic.sources.isEmpty else { return }
        let start = Instant.zero + (traffic.start ?? .zero)
        let stop = min(end, Instant.zero + (traffic.stop ?? scenario.duration))
        let offset = (Double(ordinal) * 1e9 / traffic.rate).rounded()
        guard offset < 9.0e18 else { return }
        let at = start.advanced(byNanoseconds: Int64(offset))
        guard at < stop else { return }
        queue.push(.connection(source: index, ordinal: ordinal), at: at, rank: Happening.connection(source: 0, ordinal: 0).rank)
    }

    static let defaultDestination = IPAddress.v4((198 << 24) | (51 << 16) | (100 << 8) | 1)

    mutating func openConnection(source index: Int, ordinal: Int) {
        let traffic = scenario.traffic[index]
        let source = traffic.sources[ordinal % traffic.sources.count]
        let destination = traffic.destinations.isEmpty
            ? Runner.defaultDestination : traffic.destinations[ordinal % traffic.destinations.count]
        let flow = Flow(source: source, destination: destination, proto: traffic.proto, destPort: traffic.destPort,
                        entropy: trafficRandom[index].nextUInt32())
        // The dataplane knows only the plans the core applied: route with the latest one.
        let decision = sticky.route(flow, plan: plans.last?.plan ?? ForwardingPlan(), at: now)
        flows.append(FlowRecord(time: now, traffic: traffic.name, source: source, destination: destination,
                                proto: traffic.proto, destPort: traffic.destPort, uplink: decision.uplink,
                                group: decision.group, policy: decision.policy,
                                planIndex: plans.isEmpty ? nil : plans.count - 1))
        if traffic.proto == .tcp, let uplink = decision.uplink, let link = linkIndex(uplink), capturing[link] {
            attemptConnection(flow, on: link, source: index, ordinal: ordinal)
        }
    }

    /// The destination port of TCP traffic without `dest_port`, for the passive check's 4-tuple.
    static let defaultDestinationPort: UInt16 = 443

    /// The passive check's view of a new TCP connection on a captured WAN: its SYN leaves now and its
    /// SYN-ACK comes back after the link's round trip, unless the link model drops it.
    ///
    /// The 4-tuple is deterministic: the LAN source address (the simulator models no masquerading),
    /// a source port from 1024 up numbered by connection ordinal interleaved across traffic blocks
    /// (so two blocks never share a port at one ordinal), the destination and `dest_port` (443 if
    /// none). The flow's entropy is the SYN's sequence number.
    mutating func attemptConnection(_ flow: Flow, on link: Int, source index: Int, ordinal: Int) {
        let portNumber = (ordinal % 64_512) * scenario.traffic.count + index
        let tuple = ConnectionTuple(local: flow.source, localPort: UInt16(1024 + portNumber % 64_512),
                                    remote: flow.destination,
                                    remotePort: flow.destPort ?? Runner.defaultDestinationPort)
        connectionAttempts += 1
        feed(.passive(interface: wanNames[link], .attempt(tuple, sequence: flow.entropy)))
        if let rtt = links[link].answerConnection(to: flow.destination) {
            let answer = Happening.connectionAnswer(link: link, .answer(tuple, acknowledgment: flow.entropy &+ 1))
            queue.push(answer, at: now + rtt, rank: answer.rank)
        }
    }

    // MARK: Samples

    static func samplePeriod(_ duration: Duration) -> Duration {
        let seconds = duration.nanoseconds / 1_000_000_000
        return .seconds(max(1, (seconds + 3599) / 3600))
    }

    func orderedStatus() -> [WANStatus] {
        let status = core.status
        var ordered: [WANStatus] = []
        for name in wanNames {
            if let s = status.first(where: { $0.interface == name }) { ordered.append(s) }
        }
        for s in status where !wanNames.contains(s.interface) { ordered.append(s) }
        return ordered
    }

    mutating func sample() {
        let wans = orderedStatus().map {
            StatusSample.WAN(interface: $0.interface, state: $0.state, latencyMs: $0.latencyMs, lossPercent: $0.lossPercent)
        }
        samples.append(StatusSample(time: now, wans: wans))
    }
}
