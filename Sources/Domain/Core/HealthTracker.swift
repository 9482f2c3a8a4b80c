/// Health of one WAN: probe rounds, threshold counting with hysteresis, carrier, quality, maintenance.
///
/// A round sends one probe to every target at once and ends when every target has an outcome or the
/// check's timeout passes. It succeeds when at least `reliability` targets answered. `thresholdDown`
/// consecutive failed rounds mark the WAN down; `thresholdUp` consecutive good rounds bring it back.
/// Carrier loss marks it down at once; after carrier returns it still needs `thresholdUp` good rounds.
///
/// Cadence (docs/configuration.md, "When rounds start"): a round starts `interval` after the previous
/// round's start; after a failed round while still up, `failureInterval`; while down,
/// `recoveryInterval`; while on standby, `standbyInterval`. The interval is chosen again whenever the
/// state changes, counted from the last round's start, so a round never waits longer than its rule.
///
/// A passive check (`type = "passive"`) sends no probes while its WAN is up: its `PassiveSampler`
/// turns observed connection attempts into samples at interval ends, and each sample is one round.
/// Once the WAN is down it carries no new connections, so no sample would ever bring it back: while
/// down, the tracker falls back to active ICMP rounds to the check's targets on the check's interval
/// (the first one interval after it went down), and `thresholdUp` good rounds bring it back, after
/// which it is passive again (docs/configuration.md, "Passive checks").
///
/// Quality thresholds judge a window only once it holds `qualityMinimumRounds` rounds, so one lost
/// probe at start does not read as 50 % loss.
struct HealthTracker: Sendable {
    let interface: String
    private(set) var check: HealthCheck?

    /// The probe verdict: false after `thresholdDown` failed rounds or carrier loss.
    private(set) var healthy = true
    private(set) var carrier = true
    /// Past a quality threshold (max_latency / max_loss).
    private(set) var degraded = false
    var maintenance = false

    private(set) var failedRounds = 0
    private(set) var goodRounds = 0
    private(set) var roundsTotal = 0
    private var badQualityRounds = 0
    private var goodQualityRounds = 0

    /// Why the WAN is in its current state, for events and status.
    private(set) var reason = "starting: assumed up until probes say otherwise"
    /// What the last change of state was decided on (nil until the first change).
    private(set) var evidence: WANEvidence?
    /// Probes sent and probes that got no good answer, since start (for metrics).
    private(set) var probesSent = 0
    private(set) var probesLost = 0

    private var sequence: UInt32 = 0
    private var roundOpen = false
    private var outcomes: [ProbeOutcome?] = []
    private(set) var roundDeadline: Instant?
    private(set) var nextRoundAt: Instant?
    /// When the last round started, on its grid: the next one is this plus the cadence.
    private var roundStartedAt: Instant?
    /// Carries no traffic and no uplink it would replace is failing (the core decides; see `setStandby`).
    private(set) var standby = false
    /// IP bytes of probes sent and of their answers (headers included, link layer not): what
    /// monitoring costs on this WAN. ICMP exact, HTTP estimated (`ProbeTarget.estimatedBytes`).
    private(set) var probeBytes: Int64 = 0
    private(set) var windows: [ProbeWindow]
    /// The passive check's attempts and intervals; nil unless the check is passive and started.
    private(set) var passive: PassiveSampler?

    init(interface: String, check: HealthCheck?) {
        self.interface = interface
        self.check = check
        self.windows = HealthTracker.makeWindows(check)
        self.probeTargets = HealthTracker.targets(of: check)
        self.timeoutNanos = check?.timeout.nanoseconds ?? 0
        self.cadences = Cadences(check)
    }

    /// Rounds a window must hold before quality thresholds judge it: all of a short window, else 5.
    static func qualityMinimumRounds(_ check: HealthCheck) -> Int { min(check.window, 5) }

    private static func makeWindows(_ check: HealthCheck?) -> [ProbeWindow] {
        guard let check else { return [] }
        return Array(repeating: ProbeWindow(capacity: check.window), count: max(1, check.targets.count))
    }

    var usable: Bool { healthy && carrier && !degraded && !maintenance }

    /// What each round probes, derived from the check (stored: rounds are the hot path, and
    /// `Duration` arithmetic goes through 128-bit integers).
    private(set) var probeTargets: [ProbeTarget]
    private var timeoutNanos: Int64 = 0
    private var cadences: Cadences

    /// The check's intervals in nanoseconds.
    private struct Cadences: Sendable {
        var normal: Int64 = 0, failure: Int64 = 0, recovery: Int64 = 0, standby: Int64 = 0
        init(_ check: HealthCheck?) {
            guard let check else { return }
            normal = check.interval.nanoseconds
            failure = check.failureInterval.nanoseconds
            recovery = check.recoveryInterval.nanoseconds
            standby = check.standbyInterval?.nanoseconds ?? normal
        }
    }

    /// Time from the last round's start to the next one's, by the WAN's state now: down, then a
    /// failed round in progress, then standby, in that order of precedence.
    private var cadenceNanos: Int64 {
        if !healthy { return cadences.recovery }
        if failedRounds > 0 { return cadences.failure }
        return standby ? cadences.standby : cadences.normal
    }

    /// Moves the next round to the cadence of the state just entered. A time already past means
    /// at once: the shells tick at `max(deadline, now)`.
    private mutating func reschedule() {
        guard nextRoundAt != nil, let start = roundStartedAt, !isPassive else { return }
        nextRoundAt = start.advanced(byNanoseconds: cadenceNanos)
    }

    private static func targets(of check: HealthCheck?) -> [ProbeTarget] {
        guard let check else { return [] }
        switch check.kind {
        case .icmp: return check.targets.map { .icmp($0) }
        case .http: return [.http(url: check.url ?? "", expectedStatus: check.expectedStatus)]
        case .passive: return check.targets.map { .icmp($0) }   // recovery probes, only while down
        }
    }

    /// The earliest time this tracker needs a tick: a round's timeout, the next round, or the end
    /// of the passive check's open interval.
    var nextDeadline: Instant? {
        // Asked after every event: plain comparisons, no temporary collections.
        var earliest = roundDeadline
        if let next = nextRoundAt, earliest.map({ next < $0 }) ?? true { earliest = next }
        if let end = passive?.intervalEnd, earliest.map({ end < $0.nanoseconds }) ?? true {
            earliest = Instant(nanoseconds: end)
        }
        return earliest
    }

    var isPassive: Bool { check?.kind == .passive }

    /// Replaces the check (config reload). Counters and verdict survive; an open round is abandoned and
    /// a new one starts at once, since the targets may have changed. A passive check that stays
    /// passive keeps its waiting attempts and interval grid, taking the new interval and timeout; one
    /// that becomes passive starts monitoring at the next `start`.
    mutating func replaceCheck(_ newCheck: HealthCheck?, at now: Instant) {
        guard newCheck != check else { return }
        let stayedPassive = isPassive && newCheck?.kind == .passive
        // Same targets and window size: the measurements stay valid (only timings or thresholds changed).
        let keepsWindows = newCheck.map { HealthTracker.targets(of: $0) == probeTargets && $0.window == check?.window } ?? false
        check = newCheck
        if stayedPassive, let newCheck {
            passive?.update(interval: newCheck.interval.nanoseconds, timeout: newCheck.timeout.nanoseconds)
        } else {
            passive = nil
        }
        if !keepsWindows { windows = HealthTracker.makeWindows(newCheck) }
        probeTargets = HealthTracker.targets(of: newCheck)
        cadences = Cadences(newCheck)
        if newCheck?.standbyInterval == nil { standby = false }
        timeoutNanos = newCheck?.timeout.nanoseconds ?? 0
        roundOpen = false
        roundDeadline = nil
        nextRoundAt = newCheck == nil ? nil : newCheck?.kind == .passive ? (healthy ? nil : now) : now
        if newCheck == nil && carrier && !healthy {
            healthy = true
            reason = "health check removed"
        }
    }

    mutating func start(at now: Instant) {
        guard let check else { return }
        if check.kind == .passive {
            // Intervals count from here: the moment the core starts watching this WAN's connections.
            if passive == nil {
                passive = PassiveSampler(interval: cadences.normal, timeout: timeoutNanos, origin: now.nanoseconds)
            }
        } else if nextRoundAt == nil {
            nextRoundAt = now
        }
    }

    // MARK: Time

    /// Closes a round whose deadline passed and opens the next one when due.
    mutating func tick(at now: Instant) -> [ProbeRequest] {
        closePassiveInterval(at: now)
        if roundOpen, let deadline = roundDeadline, now >= deadline {
            closeRound()
        }
        guard let check, let due = nextRoundAt, now >= due else { return [] }
        if roundOpen { closeRound() } // cannot happen while timeout <= interval, kept for safety
        sequence &+= 1
        roundOpen = true
        let targets = probeTargets
        if outcomes.count == targets.count {
            for i in outcomes.indices { outcomes[i] = nil }
        } else {
            outcomes = Array(repeating: nil, count: targets.count)
        }
        roundDeadline = now.advanced(byNanoseconds: timeoutNanos)
        // Keep rounds on their grid so that a slow tick never drifts the schedule.
        let cadence = cadenceNanos
        let start = due.advanced(byNanoseconds: cadence) > now ? due : now
        roundStartedAt = start
        nextRoundAt = start.advanced(byNanoseconds: cadence)
        probesSent += targets.count
        var requests: [ProbeRequest] = []
        requests.reserveCapacity(targets.count)
        for (index, target) in targets.enumerated() {
            probeBytes &+= target.estimatedBytes.request
            requests.append(ProbeRequest(id: ProbeID(interface: interface, target: index, sequence: sequence),
                                         target: target, timeout: check.timeout))
        }
        return requests
    }

    // MARK: Inputs

    /// Records a probe outcome; closes the round when every target has one. Late or unknown results are ignored.
    mutating func record(_ id: ProbeID, _ outcome: ProbeOutcome) {
        guard roundOpen, id.sequence == sequence, id.target >= 0, id.target < outcomes.count,
              outcomes[id.target] == nil else { return }
        outcomes[id.target] = outcome
        switch outcome {
        case .reply, .wrongStatus: probeBytes &+= probeTargets[id.target].estimatedBytes.answer
        case .timeout, .failure: break
        }
        if !outcomes.contains(where: { $0 == nil }) { closeRound() }
    }

    mutating func setCarrier(_ up: Bool, at now: Instant) {
        guard up != carrier else { return }
        carrier = up
        evidence = WANEvidence(cause: .carrier, detail: "netlink: carrier \(up ? "up" : "down") on \(interface)")
        if !up {
            healthy = false
            goodRounds = 0
            reason = "carrier lost"
            startRecoveryProbes(at: now)
        } else if check == nil {
            healthy = true
            reason = "carrier restored"
        } else {
            reason = "carrier restored, waiting for \(check!.thresholdUp) good \(roundNoun)"
        }
        reschedule()
    }

    /// A PPPoE WAN before its session has a link: down for that, though (as any WAN at start)
    /// assumed healthy once its link is there.
    mutating func awaitSession() {
        carrier = false
        reason = "PPPoE session starting"
    }

    /// Its PPPoE session ended: down as for a lost carrier, with pppd's reason.
    mutating func sessionEnded(_ why: String, at now: Instant) {
        if carrier { setCarrier(false, at: now) }
        reason = why
        evidence = WANEvidence(cause: .carrier, detail: why)
    }

    /// Standby on or off (the core's judgement after each event); true when that changed. The next
    /// round moves to the new cadence, counted from the last round's start.
    mutating func setStandby(_ on: Bool) -> Bool {
        guard on != standby else { return false }
        standby = on
        reschedule()
        return true
    }

    /// Takes in what the passive check's capture saw. An interval that ended before `now` is closed
    /// first (its round counts), so the observation lands in the interval it happened in; one at the
    /// very instant of a close still belongs to the closing interval. Ignored unless the check is
    /// passive and started.
    /// `captured` (at most `now`) times the attempt or answer; `now` closes intervals that ended.
    mutating func observe(_ observation: PassiveObservation, capturedAt captured: Instant, at now: Instant) {
        guard passive != nil else { return }
        if let end = passive!.intervalEnd, now.nanoseconds > end { closePassiveInterval(at: now) }
        passive!.observe(observation, at: captured.nanoseconds)
    }

    /// Ends the passive check's interval if due: its sample, if any, is one round.
    private mutating func closePassiveInterval(at now: Instant) {
        guard passive != nil, let sample = passive!.advance(to: now.nanoseconds) else { return }
        finishRound(success: sample.answered, detail: sample.description)
        if !healthy { startRecoveryProbes(at: now) }
    }

    /// A passive WAN that is down gets active rounds, from one interval on, until it is back.
    private mutating func startRecoveryProbes(at now: Instant) {
        guard isPassive, !healthy, nextRoundAt == nil, !probeTargets.isEmpty else { return }
        nextRoundAt = now.advanced(byNanoseconds: cadences.normal)
    }

    /// `evidence`: the command and who asked, kept as the WAN's evidence.
    mutating func setMaintenance(_ on: Bool, evidence: WANEvidence? = nil) {
        if maintenance && !on && healthy && carrier { reason = "maintenance ended" }
        maintenance = on
        if let evidence { self.evidence = evidence }
    }

    // MARK: Rounds

    static let reasonTargets = 8

    private mutating func closeRound() {
        guard let check else { return }
        roundOpen = false
        roundDeadline = nil
        var successes = 0
        var failures: [String] = []
        for (index, outcome) in outcomes.enumerated() {
            let o = outcome ?? .timeout
            switch o {
            case .reply(let rtt):
                successes += 1
                windows[index].record(rtt.nanoseconds)
            case .wrongStatus(let status, _):
                probesLost += 1
                windows[index].record(nil)
                failures.append("\(probeTargets[index]): HTTP \(status), expected \(check.expectedStatus)")
            case .timeout:
                probesLost += 1
                windows[index].record(nil)
                failures.append("\(probeTargets[index]): timeout")
            case .failure(let message):
                probesLost += 1
                windows[index].record(nil)
                failures.append("\(probeTargets[index]): \(message)")
            }
        }
        let success = successes >= min(check.reliability, max(1, probeTargets.count))
        // A reason names a few failing targets, so 1,000 targets do not make a 30 KB log line.
        let named = failures.prefix(HealthTracker.reasonTargets).joined(separator: ", ")
        let more = failures.count > HealthTracker.reasonTargets ? ", and \(failures.count - HealthTracker.reasonTargets) more" : ""
        finishRound(success: success, detail: named + more, probed: true)
    }

    /// The counter `finishRound` compares with a threshold next: good rounds while the probes'
    /// verdict holds the WAN down with its link up, failed rounds otherwise (a WAN without a link
    /// comes back with its carrier, then counts good rounds).
    var nextCounter: WANStatus.RoundCounter? {
        guard let check else { return nil }
        return !healthy && carrier
            ? .init(kind: .good, value: goodRounds, threshold: check.thresholdUp)
            : .init(kind: .failed, value: failedRounds, threshold: check.thresholdDown)
    }

    /// `probed`: the round was active probes (for a passive check: its recovery probes).
    private mutating func finishRound(success: Bool, detail: String, probed: Bool = false) {
        guard let check else { return }
        roundsTotal += 1
        if success {
            goodRounds += 1
            failedRounds = 0
            if !healthy && carrier && goodRounds >= check.thresholdUp {
                healthy = true
                reason = "\(goodRounds) consecutive good \(roundNoun)"
                if isPassive {
                    // Back up: connections judge it again; the recovery probes stop.
                    nextRoundAt = nil
                    if probed { reason = "recovery probes: \(goodRounds) consecutive good probe rounds" }
                }
                evidence = roundEvidence("\(goodRounds)/\(check.thresholdUp) good \(roundNoun)", rounds: goodRounds, detail: detail)
            }
        } else {
            failedRounds += 1
            goodRounds = 0
            // Without a link (a PPPoE WAN before its first session) the link is why it is down:
            // rounds that fail for it do not replace that reason, and its first link is trusted
            // as any WAN's is at start.
            if healthy && carrier && failedRounds >= check.thresholdDown {
                healthy = false
                reason = "\(failedRounds) consecutive failed \(roundNoun)" + (detail.isEmpty ? "" : " (\(detail))")
                evidence = roundEvidence("\(failedRounds)/\(check.thresholdDown) failed \(roundNoun)", rounds: failedRounds, detail: detail)
            }
        }
        evaluateQuality(check)
        reschedule()
    }

    /// The verdict's evidence: the counter, and each target's outcomes over the rounds it counted.
    private func roundEvidence(_ counter: String, rounds: Int, detail: String) -> WANEvidence {
        let targets = zip(probeTargets, windows).prefix(WANEvidence.maxTargets).map { target, window in
            let recent = window.recent(rounds)
            return WANEvidence.Target(
                target: target.description,
                results: recent.map { $0.map { "reply \(DurationText.milliseconds(.nanoseconds($0)))" } ?? "lost" },
                rttMs: recent.compactMap { $0.map { Double($0) / 1e6 } })
        }
        return WANEvidence(cause: isPassive ? .passive : .probes, counter: counter, targets: targets,
                           omittedTargets: max(0, probeTargets.count - targets.count),
                           detail: isPassive && !detail.isEmpty ? detail : nil)
    }

    /// What a round is, for reasons: a passive round is an interval of real connections, not probes.
    private var roundNoun: String { isPassive ? "passive rounds" : "probe rounds" }

    /// Quality thresholds with hysteresis: `thresholdDown` consecutive rounds past the limit degrade,
    /// `thresholdUp` consecutive rounds under the (lower) recovery limit restore.
    private mutating func evaluateQuality(_ check: HealthCheck) {
        guard check.maxLatency != nil || check.maxLoss != nil else { return }
        let minimum = HealthTracker.qualityMinimumRounds(check)
        guard windows.allSatisfy({ $0.count >= minimum }) else { return }
        let latency = meanLatency
        let loss = lossPercent
        if !degraded {
            var problem: String?
            if let max = check.maxLatency, let l = latency, l > max.nanoseconds {
                problem = "latency \(DurationText.milliseconds(.nanoseconds(l))) above max_latency \(DurationText.milliseconds(max))"
            } else if let max = check.maxLoss, loss > max {
                problem = "loss \(formatPercent(loss)) above max_loss \(formatPercent(max))"
            }
            if let problem {
                badQualityRounds += 1
                if badQualityRounds >= check.thresholdDown {
                    degraded = true
                    goodQualityRounds = 0
                    if healthy && carrier {
                        reason = problem
                        evidence = WANEvidence(cause: .quality, counter: "\(badQualityRounds)/\(check.thresholdDown) rounds past the limit", detail: problem)
                    }
                }
            } else {
                badQualityRounds = 0
            }
        } else {
            let recoverLatency = check.recoverLatency ?? check.maxLatency.map { .nanoseconds($0.nanoseconds * 8 / 10) }
            let recoverLoss = check.recoverLoss ?? check.maxLoss.map { $0 / 2 }
            let latencyOK = recoverLatency.map { limit in latency.map { $0 < limit.nanoseconds } ?? false } ?? true
            let lossOK = recoverLoss.map { loss < $0 || loss == 0 } ?? true
            if latencyOK && lossOK {
                goodQualityRounds += 1
                if goodQualityRounds >= check.thresholdUp {
                    degraded = false
                    badQualityRounds = 0
                    reason = "quality recovered: latency \(latency.map { DurationText.milliseconds(.nanoseconds($0)) } ?? "n/a"), loss \(formatPercent(loss))"
                    evidence = WANEvidence(cause: .quality, counter: "\(goodQualityRounds)/\(check.thresholdUp) rounds under the recovery limit", detail: reason)
                }
            } else {
                goodQualityRounds = 0
            }
        }
    }

    // MARK: Metrics

    var meanLatency: Int64? {
        var sum: Int64 = 0, n = 0
        for w in windows { sum += w.rttTotal; n += w.answeredCount }
        return n == 0 ? nil : sum / Int64(n)
    }

    var lossPercent: Double {
        var lost = 0, total = 0
        for w in windows { lost += w.count - w.answeredCount; total += w.count }
        return total == 0 ? 0 : Double(lost) * 100 / Double(total)
    }

    var meanJitter: Int64? {
        var sum: Int64 = 0, n = 0
        for w in windows { sum += w.jitterTotal; n += w.jitterPairCount }
        return n == 0 ? nil : sum / Int64(n)
    }
}

func formatPercent(_ p: Double) -> String {
    let tenths = Int((p * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)%"
}
