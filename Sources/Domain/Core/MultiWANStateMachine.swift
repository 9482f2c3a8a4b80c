/// The deterministic multi-WAN core: health, failover and balancing as a value-type state machine.
///
/// The shell (daemon or simulator) feeds it events stamped with the time they happened and carries
/// out the effects it returns, in order. It sleeps until `nextDeadline` (or the next I/O) and then
/// calls `handle(.tick, at:)`. The first call should be `handle(.tick, at: start)`: it sends the first
/// probes and the initial plan. Same inputs, same outputs: there is no clock and no randomness inside.
public struct MultiWANStateMachine: Sendable {
    public private(set) var config: FlywallConfig
    /// The plan last returned in an `.applyPlan` effect.
    public private(set) var plan: ForwardingPlan

    private var groups: [UplinkGroup]
    /// WANs in config order (an uplink's `index` in the plan is `uplinkIndex`'s, not its position here).
    private var trackers: [HealthTracker]
    private var trackerIndex: [String: Int]
    /// Each configured WAN's uplink number (its marks and tables): kept for as long as the WAN is
    /// configured, so a reload leaves its connections' marks meaning the same uplink; a removed
    /// WAN's number is free again, so the numbers stay below the dataplane's 64 however often
    /// WANs are renamed.
    private var uplinkIndex: [String: Int]
    /// Next hops learned from the system (DHCP client routes, netlink). A static `gateway` in the
    /// config wins over these; see `gateway(of:)`.
    private var learnedGateways: [String: IPAddress] = [:]
    /// IPv6 next hops learned from the system (router advertisements); a static one wins.
    private var learnedIPv6Gateways: [String: IPAddress] = [:]
    private var forced: [String: String] = [:]
    /// Groups whose force the operator released since the last reconcile: the failback that follows
    /// is the release's, whatever its uplinks' last change was.
    private var releasedForces: Set<String> = []
    /// The command behind each group's last force or release, for its failover event's evidence.
    private var forceEvidence: [String: WANEvidence] = [:]
    private var selections: [String: GroupSelector.Selection] = [:]
    /// Usability as last reported in events, to turn state changes into wan_up/wan_down once.
    private var reportedUsable: [String: Bool] = [:]
    /// Health and carrier as last seen, to flush an uplink's connections once when it dies.
    private var reportedAlive: [String: Bool] = [:]
    private var since: [String: Instant] = [:]
    private var started = false
    /// The WANs last named in a `.capturePassive` effect (nil before the first tick).
    private var capturedPassive: [String]?
    private var planApplied = false
    /// The next plan goes out as `.repairDataplane`: a link or address came back (the kernel deletes
    /// routes through a link that goes down) or the last programming failed.
    private var needsRepair = false
    /// Set when something that can change usability happened; the next reconcile computes the rest.
    private var dirty = true
    /// Hash slots per group predicted from the config (`GroupSelector.predictedSlots`).
    private var predictedSlots: [String: Int] = [:]
    /// Trackers whose check has a `standby_interval`: only these are judged for standby, so a
    /// config without one pays nothing per event.
    private var standbyCandidates: [Int] = []
    /// Kernel interface name -> tracker: what netlink and captures report is the device, which for
    /// a PPPoE WAN is its session's `ppp` interface, not the WAN's name.
    private var deviceTracker: [String: Int] = [:]
    /// The PPPoE lines the core runs pppd for, with their restart schedule.
    private var sessions: PPPoESessions
    /// This router's role in its HA pair; nil when standalone (no `ha_pair` block). A pair member is a
    /// backup until keepalived says otherwise: before that it does not hold the virtual addresses.
    public private(set) var role: HARole?
    /// The role file was just named (start, reload): log it with the plan's layout once planned.
    private var announceLayout = false
    /// `translations(config)`, kept with the config.
    private var translations: [String: (address: IPAddress, ownNetwork: CIDR?)]

    public init(config: FlywallConfig) {
        self.config = config
        self.plan = ForwardingPlan()
        self.groups = config.effectiveGroups
        self.trackers = []
        self.trackerIndex = [:]
        self.uplinkIndex = [:]
        self.sessions = PPPoESessions(config: config)
        self.role = config.ha == nil ? nil : .backup
        self.translations = Self.translations(config)
        installTrackers(for: config, at: .zero)
        predictSlots()
    }

    /// The earliest time the core wants a `.tick`.
    public var nextDeadline: Instant? {
        let restart = sessions.earliestRestart?.nanoseconds ?? .max
        let earliest = min(earliestDeadline, restart)
        return earliest == .max ? nil : Instant(nanoseconds: earliest)
    }

    /// Each tracker's next deadline (Int64.max: none), and their minimum, kept up to date because
    /// shells ask for `nextDeadline` after every event.
    private var deadlines: [Int64] = []
    private var earliestDeadline = Int64.max

    /// A tracker whose state moved its next round into the past (a shorter cadence counted from
    /// its last round's start) is due now: the core never names a deadline before `now`.
    private mutating func refreshDeadline(_ i: Int, now: Instant) {
        let old = deadlines[i]
        let new = trackers[i].nextDeadline.map { max($0.nanoseconds, now.nanoseconds) } ?? .max
        deadlines[i] = new
        if new <= earliestDeadline {
            earliestDeadline = new
        } else if old == earliestDeadline {
            earliestDeadline = deadlines.min() ?? .max
        }
    }

    public mutating func handle(_ event: CoreEvent, at now: Instant) -> [CoreEffect] {
        var effects: [CoreEffect] = []
        switch event {
        case .tick:
            if !started {
                started = true
                appendOperations(from: nil, to: &effects)
                appendEdgeConfiguration(to: &effects)
                for i in trackers.indices {
                    trackers[i].start(at: now)
                    refreshDeadline(i, now: now)
                    since[trackers[i].interface] = now
                }
            }
            startDueSessions(at: now, into: &effects)
            for i in trackers.indices where deadlines[i] <= now.nanoseconds {
                let wasUsable = trackers[i].usable
                for request in trackers[i].tick(at: now) { effects.append(.sendProbe(request)) }
                refreshDeadline(i, now: now)
                if trackers[i].usable != wasUsable { dirty = true }
            }
        case .probeResult(let id, let outcome):
            guard let i = trackerIndex[id.interface] else { return [] }
            let wasUsable = trackers[i].usable
            trackers[i].record(id, outcome)
            refreshDeadline(i, now: now)
            if trackers[i].usable != wasUsable { dirty = true }
        case .passive(let device, let observation, let capturedAt):
            guard let i = deviceTracker[device] else { return [] }
            let wasUsable = trackers[i].usable
            trackers[i].observe(observation, capturedAt: min(capturedAt ?? now, now), at: now)
            refreshDeadline(i, now: now)
            if trackers[i].usable != wasUsable { dirty = true }
        case .carrier(let device, let up):
            guard let i = deviceTracker[device] else { return [] }
            let interface = trackers[i].interface
            trackers[i].setCarrier(up, at: now)
            refreshDeadline(i, now: now)
            effects.append(.log(up ? .info : .warning, "\(interface): carrier \(up ? "up" : "down")"
                                + (device == interface ? "" : " on \(device)")))
            // A session's link that came or went changes its probe path: sockets bound to a ppp
            // interface that was deleted and made again would be bound to the old one.
            if sessions.setLink(interface, up: up) && started { effects.append(.configureProbes(probeBindings())) }
            // Routes through the link were deleted by the kernel when it went down.
            if up { needsRepair = true }
            dirty = true
        case .addressLearned(let device, _, let gateway):
            guard let i = deviceTracker[device] else { return [] }
            let interface = trackers[i].interface
            // An address that comes back may also bring back a link whose routes the kernel deleted.
            needsRepair = true
            dirty = true
            if let gateway, !gateway.isV4 {
                learnIPv6Gateway(gateway, of: interface, into: &effects)
            } else if learnedGateways[interface] != gateway {
                // nil: the system withdrew its route (lease lost); a static gateway is unaffected.
                learnedGateways[interface] = gateway
                effects.append(.log(.info, "\(interface): gateway \(gateway.map { "\($0)" } ?? "withdrawn")"))
            }
        case .ipv6GatewayLearned(let device, let gateway):
            // Netlink names the device, as for `.carrier` (a PPPoE WAN's is its session's).
            guard let i = deviceTracker[device] else { return [] }
            // Only routes change: the next plan replaces them.
            if gateway.map({ !$0.isV4 }) ?? true { learnIPv6Gateway(gateway, of: trackers[i].interface, into: &effects) }
        case .sessionEnded(let interface, let exit):
            guard let i = trackerIndex[interface], let delay = sessions.ended(interface, at: now) else { return [] }
            let reason = "PPPoE session down: \(exit.reason)"
            trackers[i].sessionEnded(reason, at: now)
            refreshDeadline(i, now: now)
            effects.append(.log(.warning, "\(interface): \(reason); restarting in \(DurationText.format(delay))"))
            if sessions.setLink(interface, up: false) && started { effects.append(.configureProbes(probeBindings())) }
            dirty = true
        case .dataplaneFailed:
            // The shell has logged its words; the next plan goes out as a repair.
            needsRepair = true
        case .configReplaced(let newConfig):
            guard newConfig != config else {
                return [.log(.info, "reload: configuration unchanged")]
            }
            let stopped = sessions.replace(with: newConfig)
            for interface in stopped {
                effects.append(.log(.info, "\(interface): stopping its PPPoE session (removed or changed)"))
                effects.append(.stopSession(interface: interface))
            }
            let old = config
            replaceConfig(newConfig, at: now)
            if started { appendOperations(from: old, to: &effects) }
            // Joining or leaving a pair: a new member waits for keepalived's word as a backup.
            if (newConfig.ha == nil) != (role == nil) { role = newConfig.ha == nil ? nil : .backup }
            effects.append(.log(.notice, "configuration reloaded: \(newConfig.wans.count) WANs, \(groups.count) groups"))
            if started {
                appendEdgeConfiguration(to: &effects)
                startDueSessions(at: now, into: &effects)
            }
            for i in trackers.indices {
                trackers[i].start(at: now)
                refreshDeadline(i, now: now)
            }
            dirty = true
            // Membership changed by the operator is not a failover: adopt the new selections silently.
            for group in groups { selections[group.name] = nil }
        case .manual(let command, let origin):
            effects.append(contentsOf: apply(command, origin: origin, at: now))
            dirty = true
        case .roleChanged(let newRole):
            changeRole(to: newRole, into: &effects)
        }
        if dirty && started { reconcile(at: now, into: &effects) }
        if announceLayout, let ha = config.ha {
            announceLayout = false
            effects.append(.log(.notice, "ha: role from \(ha.roleFile); dataplane layout \(DataplaneLayout(plan: plan).fingerprint) (must be equal on both routers)"))
        }
        if started && !standbyCandidates.isEmpty { updateStandby(at: now) }
        return effects
    }

    private mutating func learnIPv6Gateway(_ gateway: IPAddress?, of interface: String, into effects: inout [CoreEffect]) {
        guard learnedIPv6Gateways[interface] != gateway else { return }
        learnedIPv6Gateways[interface] = gateway
        dirty = true
        effects.append(.log(.info, "\(interface): IPv6 gateway \(gateway.map { "\($0)" } ?? "withdrawn")"))
    }

    // MARK: HA role

    /// A backup's kernel holds no LAN connections of its own (conntrackd keeps the master's in its
    /// external cache), so it flushes nothing. Becoming master, it now owns the connections
    /// conntrackd just committed: those pinned to an uplink that is dead here are dead, and go.
    private mutating func changeRole(to newRole: HARole, into effects: inout [CoreEffect]) {
        guard let old = role, old != newRole else { return }
        role = newRole
        effects.append(.log(.notice, "ha: role \(newRole.rawValue) (was \(old.rawValue))"))
        guard newRole == .master, planApplied else { return }
        for t in trackers where !(t.healthy && t.carrier) {
            if let uplink = plan.uplink(named: t.interface) { effects.append(.flushConnections(uplink)) }
        }
    }

    // MARK: Standby

    /// Judges each WAN with a `standby_interval` after every event (a round of the uplink it backs
    /// up may just have failed), moving its next round when its standby changed.
    private mutating func updateStandby(at now: Instant) {
        for i in standbyCandidates {
            if trackers[i].setStandby(isStandby(trackers[i].interface)) { refreshDeadline(i, now: now) }
        }
    }

    /// Standby: no policy route names the WAN, no group has it active, and in every group it is a
    /// member of the active uplinks are usable with no failed round since their last good one. A
    /// failed round of an active uplink (or none active) makes it a failover candidate at once.
    private func isStandby(_ interface: String) -> Bool {
        if config.policyRoutes.contains(where: { $0.uplink == interface }) { return false }
        for group in groups where group.members.contains(where: { $0.interface == interface }) {
            guard let active = selections[group.name]?.active, !active.isEmpty, !active.contains(interface) else {
                return false
            }
            for uplink in active {
                guard let j = trackerIndex[uplink], trackers[j].usable, trackers[j].failedRounds == 0 else { return false }
            }
        }
        return true
    }

    /// Tells the shell which WANs to capture connection attempts on (sorted by name, so reordering
    /// WANs in the config is no change), when that set differs from what it was last told.
    private mutating func announcePassiveCaptures(into effects: inout [CoreEffect]) {
        let names = trackers.filter(\.isPassive).map(\.interface).sorted()
        guard names != capturedPassive else { return }
        capturedPassive = names
        effects.append(.capturePassive(interfaces: names.map { config.interface(named: $0)?.device ?? $0 }))
    }

    // MARK: Status

    public var status: [WANStatus] {
        trackers.map { t in
            let state: WANStatus.State =
                t.maintenance ? .maintenance : (!t.healthy || !t.carrier) ? .down : t.degraded ? .degraded : .up
            let member = preferredMember(t.interface)
            let targets = zip(t.probeTargets, t.windows).map { target, w in
                WANStatus.TargetStatus(
                    target: target.description, latencyMs: w.meanRTT.map { Double($0) / 1e6 },
                    lossPercent: w.lossPercent, jitterMs: w.meanJitter.map { Double($0) / 1e6 },
                    lastOutcome: w.last.map { $0.map { "reply \(DurationText.milliseconds(.nanoseconds($0)))" } ?? "lost" })
            }
            return WANStatus(
                interface: t.interface, state: state, priority: member.priority, weight: member.weight,
                carrier: t.carrier, latencyMs: t.meanLatency.map { Double($0) / 1e6 }, lossPercent: t.lossPercent,
                jitterMs: t.meanJitter.map { Double($0) / 1e6 }, targets: targets, failedRounds: t.failedRounds,
                goodRounds: t.goodRounds, roundsTotal: t.roundsTotal, since: since[t.interface] ?? .zero,
                reason: t.maintenance ? "maintenance" : t.reason, evidence: t.evidence,
                probesSent: t.probesSent, probesLost: t.probesLost, probeBytes: t.probeBytes, standby: t.standby,
                nextCounter: t.nextCounter)
        }
    }

    /// The WAN's member settings in the default group (else its first group, else its `wan` block).
    private func preferredMember(_ interface: String) -> Member {
        let ordered = groups.sorted { ($0.name == config.defaultGroupName ? 0 : 1) < ($1.name == config.defaultGroupName ? 0 : 1) }
        for g in ordered { if let m = g.members.first(where: { $0.interface == interface }) { return m } }
        let wan = config.interface(named: interface)?.wan ?? WANSettings()
        return Member(interface: interface, priority: wan.priority, weight: wan.weight)
    }

    // MARK: Commands and config

    /// Carries out an operator's command; the log line and the history record say what came of it.
    private mutating func apply(_ command: ManualCommand, origin: CommandOrigin, at now: Instant) -> [CoreEffect] {
        let (refusal, result) = carryOut(command, evidence: WANEvidence(cause: .manual, command: command.text, origin: origin))
        return [.log(refusal == nil ? .notice : .warning, result),
                .commandHandled(CommandRecord(time: now, command: command.text, origin: origin, accepted: refusal == nil,
                                              result: result, refusal: refusal))]
    }

    /// The refusal (nil: carried out) and the core's words on it.
    private mutating func carryOut(_ command: ManualCommand, evidence: WANEvidence) -> (CommandRefusal?, String) {
        switch command {
        case .maintenance(let interface, let enabled):
            guard let i = trackerIndex[interface] else {
                return (.unknownWAN, "maintenance: no WAN named \(interface)")
            }
            trackers[i].setMaintenance(enabled, evidence: evidence)
            return (nil, "\(interface): maintenance \(enabled ? "on" : "off")")
        case .forceActive(let group, let interface):
            guard let g = groups.first(where: { $0.name == group }) else {
                return (.unknownGroup, "force: no uplink group named \(group)")
            }
            if let interface {
                guard g.members.contains(where: { $0.interface == interface }) else {
                    return (.notAMember, "force: \(interface) is not a member of \(group)")
                }
                forced[group] = interface
                forceEvidence[group] = evidence
                return (nil, "\(group): forced to \(interface)")
            }
            forced[group] = nil
            forceEvidence[group] = evidence
            releasedForces.insert(group)
            return (nil, "\(group): force released")
        }
    }

    private mutating func installTrackers(for config: FlywallConfig, at now: Instant) {
        var kept: [String: HealthTracker] = [:]
        for t in trackers { kept[t.interface] = t }
        trackers = []
        trackerIndex = [:]
        deadlines = []
        deviceTracker = [:]
        let checks = config.effectiveHealthChecks
        for wan in config.wans {
            var tracker = kept[wan.name] ?? HealthTracker(interface: wan.name, check: checks[wan.name])
            // A PPPoE WAN has no link until its session brings one (also one that just became PPPoE).
            if wan.pppoe != nil && !sessions.isLinkUp(wan.name) && tracker.carrier { tracker.awaitSession() }
            tracker.replaceCheck(checks[wan.name], at: now)
            deviceTracker[wan.device] = trackers.count
            trackerIndex[wan.name] = trackers.count
            trackers.append(tracker)
            deadlines.append(tracker.nextDeadline?.nanoseconds ?? .max)
        }
        assignUplinkIndexes(config.wans.map(\.name))
        earliestDeadline = deadlines.min() ?? .max
        standbyCandidates = trackers.indices.filter { trackers[$0].check?.standbyInterval != nil }
    }

    /// Keeps the numbers of WANs still configured and gives each new one the lowest free number.
    private mutating func assignUplinkIndexes(_ names: [String]) {
        let configured = Set(names)
        uplinkIndex = uplinkIndex.filter { configured.contains($0.key) }
        var taken = Set(uplinkIndex.values)
        var next = 0
        for name in names where uplinkIndex[name] == nil {
            while taken.contains(next) { next += 1 }
            uplinkIndex[name] = next
            taken.insert(next)
        }
    }

    private mutating func replaceConfig(_ newConfig: FlywallConfig, at now: Instant) {
        config = newConfig
        translations = Self.translations(newConfig)
        groups = newConfig.effectiveGroups
        installTrackers(for: newConfig, at: now)
        predictSlots()
        forced = forced.filter { g, i in groups.contains { $0.name == g && $0.members.contains { $0.interface == i } } }
        reportedUsable = reportedUsable.filter { trackerIndex[$0.key] != nil }
        reportedAlive = reportedAlive.filter { trackerIndex[$0.key] != nil }
    }

    private mutating func predictSlots() {
        predictedSlots = [:]
        for g in groups { predictedSlots[g.name] = GroupSelector.predictedSlots(g) }
    }

    /// What the edges must watch and open for this config: probe sockets per uplink, the
    /// interfaces whose links and addresses matter, and the passive captures. On start and after
    /// every config change.
    private mutating func appendEdgeConfiguration(to effects: inout [CoreEffect]) {
        effects.append(.configureProbes(probeBindings()))
        effects.append(.watchInterfaces(config.wans.map(\.device)))
        announcePassiveCaptures(into: &effects)
    }

    /// What the operations edges run with: notifications, the API and the HA role file, all at
    /// start (`old` nil) and then each one a reload changed. None of it is on the failover path:
    /// it comes only with the first tick and with `.configReplaced`.
    private mutating func appendOperations(from old: FlywallConfig?, to effects: inout [CoreEffect]) {
        if old?.notifications != config.notifications { effects.append(.configureNotifications(config.notifications)) }
        if old?.api != config.api {
            if let old, old.api.listen != config.api.listen {
                effects.append(.log(.warning, "reload: api { listen } changed to \(config.api.listen); the API keeps listening on \(old.api.listen) until a restart"))
            }
            effects.append(.configureAPI(config.api))
        }
        if old == nil || old?.ha?.roleFile != config.ha?.roleFile {
            // Logged with the layout of the plan this event programs (after the reconcile).
            announceLayout = config.ha != nil
            effects.append(.watchRoleFile(config.ha?.roleFile))
        }
    }

    /// Probe paths of every WAN whose device exists: a PPPoE WAN's only while its session's link is
    /// up (its probes meanwhile get no answer, and the WAN is down for its session anyway).
    private func probeBindings() -> [ProbeBinding] {
        let checks = config.effectiveHealthChecks
        return config.wans.filter { sessions.isLinkUp($0.name) }.map { wan in
            let check = checks[wan.name]
            return ProbeBinding(interface: wan.name, index: uplinkIndex[wan.name] ?? 0,
                                ipv6: check?.targets.contains { !$0.isV4 } ?? false, caFile: check?.caFile,
                                device: wan.device)
        }
    }

    /// Starts pppd for every PPPoE line that is due: all of them at start, then each at the end of
    /// its backoff (`SessionBackoff`).
    private mutating func startDueSessions(at now: Instant, into effects: inout [CoreEffect]) {
        for spec in sessions.startDue(at: now) {
            effects.append(.log(.info, "\(spec.interface): starting its PPPoE session (pppd, interface \(spec.device))"))
            effects.append(.startSession(spec))
        }
    }

    // MARK: Reconcile

    /// Turns the trackers' state into events, a new plan and connection flushes.
    private mutating func reconcile(at now: Instant, into effects: inout [CoreEffect]) {
        dirty = false
        // Connections on an uplink are flushed when it dies (probes or carrier): they are dead
        // anyway. Not for maintenance or a quality threshold: those links still carry traffic, so
        // their connections may finish; only new ones go elsewhere.
        var died: [String] = []
        for t in trackers {
            let alive = t.healthy && t.carrier
            if reportedAlive.updateValue(alive, forKey: t.interface) == true && !alive { died.append(t.interface) }
            let usable = t.usable
            let reported = reportedUsable[t.interface]
            reportedUsable[t.interface] = usable
            if reported == nil {
                since[t.interface] = now
                continue
            }
            guard reported != usable else { continue }
            since[t.interface] = now
            let reason = t.maintenance ? "maintenance" : t.reason
            effects.append(.emit(WANEvent(time: now, kind: usable ? .wanUp : .wanDown, interface: t.interface, reason: reason,
                                          evidence: t.evidence)))
        }

        var flushes: [String] = []
        for group in groups {
            let previous = selections[group.name]
            let selection = GroupSelector.select(group, usable: isUsable, forced: forced[group.name], previous: previous)
            selections[group.name] = selection
            guard let previous, previous.active != selection.active else { continue }
            if let event = groupEvent(group, from: previous.active, to: selection.active, at: now) {
                effects.append(.emit(event))
                if event.kind == .failback && group.failbackMovesConnections {
                    flushes += previous.active.filter { !selection.active.contains($0) }
                }
            }
        }

        releasedForces = []
        let newPlan = makePlan()
        if needsRepair {
            needsRepair = false
            plan = newPlan
            planApplied = true
            effects.append(.repairDataplane(newPlan))
        } else if newPlan != plan || !planApplied {
            plan = newPlan
            planApplied = true
            effects.append(.applyPlan(newPlan))
        }
        var flushed = Set<String>()
        for interface in died + flushes where role != .backup && flushed.insert(interface).inserted {
            if let uplink = newPlan.uplink(named: interface) { effects.append(.flushConnections(uplink)) }
        }
    }

    /// `nat_address` of each WAN that has one, with the IPv4 network of its own address (host bits
    /// cleared), from the config once: plans are made on the failover path.
    private static func translations(_ config: FlywallConfig) -> [String: (address: IPAddress, ownNetwork: CIDR?)] {
        var result: [String: (address: IPAddress, ownNetwork: CIDR?)] = [:]
        for i in config.wans {
            guard let nat = i.wan?.natAddress else { continue }
            var network: CIDR?
            if let own = i.address, case .v4(let v) = own.address {
                let mask: UInt32 = own.prefixLength == 0 ? 0 : ~UInt32(0) << (32 - UInt32(own.prefixLength))
                network = CIDR(address: .v4(v & mask), prefixLength: own.prefixLength)
            }
            result[i.name] = (nat, network)
        }
        return result
    }

    private func gateway(of interface: String) -> IPAddress? {
        config.interface(named: interface)?.gateway.flatMap { $0.isV4 ? $0 : nil } ?? learnedGateways[interface]
    }

    /// `gateway6`, else a static IPv6 `gateway`, else the advertised one.
    private func ipv6Gateway(of interface: String) -> IPAddress? {
        let settings = config.interface(named: interface)
        return settings?.gateway6 ?? settings?.gateway.flatMap { $0.isV4 ? nil : $0 } ?? learnedIPv6Gateways[interface]
    }

    private func isUsable(_ interface: String) -> Bool {
        trackerIndex[interface].map { trackers[$0].usable } ?? false
    }

    private func evidenceFor(_ interface: String?) -> WANEvidence? {
        interface.flatMap { trackerIndex[$0] }.flatMap { trackers[$0].evidence }
    }

    private func reasonFor(_ interface: String) -> String {
        guard let i = trackerIndex[interface] else { return "removed" }
        return trackers[i].maintenance ? "maintenance" : trackers[i].reason
    }

    /// failover: the active set lost an uplink (or was forced away); failback: it regained a preferred
    /// one; all_down: nothing is left.
    private func groupEvent(_ group: UplinkGroup, from: [String], to: [String], at now: Instant) -> WANEvent? {
        if to.isEmpty {
            let causes = from.map { "\($0) down: \(reasonFor($0))" }.joined(separator: "; ")
            let fallback = group.allDown == .lastActive ? "new connections keep using \(from.joined(separator: ", "))"
                                                         : "new connections refused"
            return WANEvent(time: now, kind: .allDown, group: group.name, from: from, to: [],
                            reason: "all uplinks down (\(causes)); \(fallback)", evidence: evidenceFor(from.last))
        }
        let lost = from.filter { !to.contains($0) }
        let gained = to.filter { !from.contains($0) }
        let lostDead = lost.filter { !isUsable($0) }
        let kind: WANEventKind
        let reason: String
        var evidence = evidenceFor(lostDead.first ?? gained.first)
        if from.isEmpty {
            let best = group.members.map(\.priority).min()
            let preferred = group.members.filter { $0.priority == best }.map(\.interface)
            kind = group.mode == .balance || to.contains(where: preferred.contains) ? .failback : .failover
            reason = "recovered from all uplinks down: " + gained.map { "\($0) up" }.joined(separator: ", ")
        } else if !lostDead.isEmpty {
            kind = .failover
            reason = lostDead.map { "\($0) down: \(reasonFor($0))" }.joined(separator: "; ")
        } else if forced[group.name] != nil && to == [forced[group.name]!] {
            kind = .failover
            reason = "forced to \(to[0]) by operator"
            evidence = forceEvidence[group.name]
        } else if !gained.isEmpty && releasedForces.contains(group.name) {
            kind = .failback
            reason = "force released: " + gained.joined(separator: ", ") + " preferred again"
            evidence = forceEvidence[group.name]
        } else if !gained.isEmpty {
            kind = .failback
            reason = gained.map { "\($0) up: \(reasonFor($0))" }.joined(separator: "; ")
        } else {
            kind = .failover
            reason = "force released"
            evidence = forceEvidence[group.name]
        }
        return WANEvent(time: now, kind: kind, group: group.name, from: from, to: to, reason: reason, evidence: evidence)
    }

    private func makePlan() -> ForwardingPlan {
        let uplinks = trackers.map { t in
            ForwardingPlan.Uplink(name: t.interface, index: uplinkIndex[t.interface] ?? 0, usable: t.usable,
                                  gateway: gateway(of: t.interface), ipv6Gateway: ipv6Gateway(of: t.interface),
                                  device: config.interface(named: t.interface)?.device,
                                  deviceExists: sessions.isLinkUp(t.interface),
                                  natAddress: translations[t.interface]?.address,
                                  ownNetwork: translations[t.interface]?.ownNetwork)
        }
        let planGroups = groups.map { g in
            let s = selections[g.name] ?? GroupSelector.Selection(active: [], buckets: [])
            let slots = GroupSelector.slots(predicted: predictedSlots[g.name] ?? 1, buckets: s.buckets)
            return ForwardingPlan.Group(name: g.name, mode: g.mode, sticky: g.sticky, stickyTimeout: g.stickyTimeout,
                                        active: s.active, buckets: s.buckets, members: g.members.map(\.interface),
                                        slots: slots)
        }
        let defaultGroup = config.defaultGroupName ?? groups.first?.name
        let policies = config.policyRoutes.map { route -> ForwardingPlan.Policy in
            let target: ForwardingPlan.Target = groups.contains { $0.name == route.uplink } ? .group(route.uplink) : .uplink(route.uplink)
            let resolution: ForwardingPlan.Resolution
            switch target {
            case .group(let g): resolution = .group(g)
            case .uplink(let u):
                if isUsable(u) { resolution = .uplink(u) }
                else if route.fallback, let d = defaultGroup { resolution = .group(d) }
                else { resolution = .drop }
            }
            return ForwardingPlan.Policy(
                name: route.name, protocols: route.match.protocols, destPorts: route.match.destPorts,
                sources: route.match.sources.isEmpty ? nil : expand(route.match.sources),
                destinations: route.match.destinations.isEmpty ? nil : expand(route.match.destinations),
                sourceSet: onlyIpset(route.match.sources), destinationSet: onlyIpset(route.match.destinations),
                target: target, fallback: route.fallback && defaultGroup != nil, resolution: resolution)
        }
        let ipsets = config.ipsets.map { ForwardingPlan.AddressSet(name: $0.name, entries: $0.entries) }
        return ForwardingPlan(uplinks: uplinks, groups: planGroups, policies: policies, defaultGroup: defaultGroup,
                              ipsets: ipsets)
    }

    /// The ipset's name when the match list is exactly one ipset.
    private func onlyIpset(_ matches: [AddressMatch]) -> String? {
        guard matches.count == 1, case .ipset(let name) = matches[0] else { return nil }
        return name
    }

    private func expand(_ matches: [AddressMatch]) -> [CIDR] {
        matches.flatMap { m -> [CIDR] in
            switch m {
            case .cidr(let c): [c]
            case .ipset(let name): config.ipset(named: name)?.entries ?? []
            }
        }
    }
}
