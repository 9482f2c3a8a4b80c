#if canImport(Glibc)
import Glibc
#endif
import Domain
import Foundation

/// The JSON bodies of the API, as docs/openapi.yaml describes them (snake_case keys). Built from a
/// published `DaemonSnapshot` or history rows; nothing here reads the core.
public enum APIViews {
    public struct Status: Codable, Sendable {
        public struct WAN: Codable, Sendable {
            public var interface: String
            /// UP, DOWN, DEGRADED or MAINTENANCE.
            public var status: String
            public var priority: Int
            public var weight: Int
            public var carrier: Bool
            public var latencyMs: Double?
            public var lossPercent: Double
            public var jitterMs: Double?
            /// When the WAN last changed state (RFC 3339).
            public var since: String
            public var reason: String
        }
        public struct Group: Codable, Sendable {
            public var name: String
            public var mode: String
            public var members: [String]
            public var active: [String]
        }
        public var generatedAt: String
        /// `master` or `backup` in an HA pair (`ha_pair { }`); absent when standalone.
        public var role: String?
        /// `DataplaneLayout.fingerprint`: equal on both routers of a working pair; absent when standalone.
        public var layoutFingerprint: String?
        public var wans: [WAN]
        public var groups: [Group]
    }

    public struct Health: Codable, Sendable {
        public struct Check: Codable, Sendable {
            public var type: String
            public var targets: [String]
            public var url: String?
            public var expectedStatus: Int?
            public var interval: String
            public var timeout: String
            public var thresholdDown: Int
            public var thresholdUp: Int
            public var reliability: Int
            public var window: Int
        }
        public struct Target: Codable, Sendable {
            public var target: String
            public var lastResult: String?
            public var latencyMs: Double?
            public var lossPercent: Double
            public var jitterMs: Double?
        }
        public struct WAN: Codable, Sendable {
            public var interface: String
            public var status: String
            public var carrier: Bool
            public var check: Check?
            public var targets: [Target]
            public var latencyMs: Double?
            public var lossPercent: Double
            public var jitterMs: Double?
            public var failedRounds: Int
            public var goodRounds: Int
            /// `1/3 failed rounds` or `2/2 good rounds`: the counter that moves next.
            public var counter: String
            public var roundsTotal: Int
            public var probesSent: Int
            public var probesLost: Int
            public var lastChange: String
            public var reason: String
            public var evidence: WANEvidence?
        }
        public struct Lateness: Codable, Sendable {
            public var lastMs: Double
            public var maxMs: Double
        }
        public var generatedAt: String
        public var wans: [WAN]
        /// How late the core loop woke for its deadlines (probe rounds), real time.
        public var roundLateness: Lateness
        public var historyAvailable: Bool
        public var historyProblem: String?
    }

    public struct History: Codable, Sendable {
        public struct Entry: Codable, Sendable {
            public var id: Int64
            public var time: String
            public var kind: String
            public var group: String?
            public var interface: String?
            public var from: [String]
            public var to: [String]
            public var reason: String
            public var evidence: WANEvidence?
            public var accepted: Bool?
        }
        public var events: [Entry]
    }

    public struct CommandResult: Codable, Sendable {
        public var command: String
        /// The loop has carried it out (status and history show it).
        public var handled: Bool
        /// The core's verdict and words, once handled (a refusal is answered 404/409 instead).
        public var accepted: Bool?
        public var result: String?
        public init(command: String, handled: Bool, accepted: Bool? = nil, result: String? = nil) {
            self.command = command
            self.handled = handled
            self.accepted = accepted
            self.result = result
        }
    }

    public struct Failure: Codable, Sendable {
        public var error: String
    }

    public static func status(_ s: DaemonSnapshot, clock: MonotonicClock) -> Status {
        Status(
            generatedAt: WallClockText.rfc3339(clock.unixNanoseconds(of: s.takenAt)),
            role: s.role?.rawValue, layoutFingerprint: s.layoutFingerprint,
            wans: s.status.map { w in
                .init(interface: w.interface, status: w.state.rawValue, priority: w.priority, weight: w.weight,
                      carrier: w.carrier, latencyMs: finite(w.latencyMs), lossPercent: w.lossPercent,
                      jitterMs: finite(w.jitterMs), since: WallClockText.rfc3339(clock.unixNanoseconds(of: w.since)),
                      reason: w.reason)
            },
            groups: s.groups.map { .init(name: $0.name, mode: $0.mode, members: $0.members, active: $0.active) })
    }

    public static func health(_ s: DaemonSnapshot, clock: MonotonicClock) -> Health {
        Health(
            generatedAt: WallClockText.rfc3339(clock.unixNanoseconds(of: s.takenAt)),
            wans: s.status.map { w in
                let check = s.checks[w.interface]
                // Which counter moves the WAN next is the core's (`WANStatus.nextCounter`).
                let counter = w.nextCounter.map { "\($0.value)/\($0.threshold) \($0.kind.rawValue) rounds" } ?? "no health check"
                return .init(
                    interface: w.interface, status: w.state.rawValue, carrier: w.carrier, check: check.map(view),
                    targets: w.targets.map { .init(target: $0.target, lastResult: $0.lastOutcome, latencyMs: finite($0.latencyMs),
                                                   lossPercent: $0.lossPercent, jitterMs: finite($0.jitterMs)) },
                    latencyMs: finite(w.latencyMs), lossPercent: w.lossPercent, jitterMs: finite(w.jitterMs),
                    failedRounds: w.failedRounds, goodRounds: w.goodRounds, counter: counter, roundsTotal: w.roundsTotal,
                    probesSent: w.probesSent, probesLost: w.probesLost,
                    lastChange: WallClockText.rfc3339(clock.unixNanoseconds(of: w.since)), reason: w.reason,
                    evidence: w.evidence)
            },
            roundLateness: .init(lastMs: Double(s.lastLatenessNanos) / 1e6, maxMs: Double(s.maxLatenessNanos) / 1e6),
            historyAvailable: s.historyProblem == nil, historyProblem: s.historyProblem)
    }

    static func view(_ c: HealthCheck) -> Health.Check {
        Health.Check(type: c.kind.rawValue, targets: c.kind == .icmp ? c.targets.map(\.description) : [],
                     url: c.kind == .http ? c.url.map { ProbeTarget.shown(url: $0) } : nil, expectedStatus: c.kind == .http ? c.expectedStatus : nil,
                     interval: DurationText.format(c.interval), timeout: DurationText.format(c.timeout),
                     thresholdDown: c.thresholdDown, thresholdUp: c.thresholdUp, reliability: c.reliability,
                     window: c.window)
    }

    public static func history(_ entries: [HistoryEntry]) -> History {
        History(events: entries.map { e in
            .init(id: e.id, time: WallClockText.rfc3339(e.unixNanoseconds), kind: e.kind, group: e.group,
                  interface: e.interface, from: e.from, to: e.to, reason: e.reason, evidence: e.evidence,
                  accepted: e.accepted)
        })
    }

    /// JSON has no NaN or infinity.
    static func finite(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }

    public static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data(#"{"error":"encoding failed"}"#.utf8)
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

/// Wall-clock times as text: RFC 3339 in UTC with milliseconds for the API and logs
/// (`2026-12-01T10:15:00.123Z`), or in local time with its offset for the CLI.
public enum WallClockText {
    /// With `gmtime_r`/`localtime_r`: a formatter object per call would cost more than the rest of
    /// a status response.
    public static func rfc3339(_ unixNanoseconds: Int64, local: Bool = false) -> String {
        var seconds = Int(unixNanoseconds.dividedRoundingDown(by: 1_000_000_000))
        let millis = Int32((unixNanoseconds - Int64(seconds) * 1_000_000_000) / 1_000_000)
        var t = tm()
        if local { localtime_r(&seconds, &t) } else { gmtime_r(&seconds, &t) }
        func pad(_ n: Int32, _ width: Int) -> String {
            let text = String(n)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        var zone = "Z"
        if local && t.tm_gmtoff != 0 {
            let off = Int32(abs(t.tm_gmtoff) / 60)
            zone = (t.tm_gmtoff < 0 ? "-" : "+") + pad(off / 60, 2) + ":" + pad(off % 60, 2)
        }
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T"
            + "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(millis, 3))\(zone)"
    }

    /// Parses RFC 3339 (with or without fractional seconds) into Unix nanoseconds; nil for text that
    /// is not one. Times outside 1678...2261 (what nanoseconds in an Int64 hold) are clamped.
    public static func parse(_ text: String) -> Int64? {
        guard text.count <= 64 else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: text) ?? {
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: text)
        }() else { return nil }
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite else { return nil }
        return seconds >= 9.2e9 ? .max : seconds <= -9.2e9 ? .min : Int64(seconds * 1e9)
    }
}

extension Int64 {
    /// Floor division (times before 1970 have a negative remainder).
    func dividedRoundingDown(by d: Int64) -> Int64 {
        let q = self / d
        return (self % d < 0) ? q - 1 : q
    }
}
