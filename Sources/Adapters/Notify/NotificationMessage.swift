#if canImport(Glibc)
import Glibc
#endif
import Domain
import Foundation

/// The text of one notification: the events of one subject (one WAN or group), oldest first, as an
/// email (subject line and plain-text body) or a webhook's JSON body. No items: the test message
/// of `flywall notify test` (`event` "test").
public struct NotificationMessage: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var event: WANEvent
        public var unixNanoseconds: Int64
        public init(_ event: WANEvent, unixNanoseconds: Int64) {
            self.event = event
            self.unixNanoseconds = unixNanoseconds
        }
    }

    public var items: [Item]
    /// The router's name, in the email's subject-free parts (`From` default, body).
    public var host: String

    public init(items: [Item], host: String = NotificationMessage.hostName()) {
        self.items = items
        self.host = host
    }

    /// `[flywall] eth0 down`, `[flywall] failover default: eth0 -> eth1`; several events:
    /// `[flywall] eth0: 5 events: down, up, down, up, down`.
    public var subject: String {
        guard items.count > 1, let last = items.last else {
            return "[flywall] " + (items.first.map { Self.headline($0.event) } ?? "test notification from \(host)")
        }
        let name = last.event.interface ?? last.event.group.map { "group " + $0 } ?? "flywall"
        return "[flywall] \(name): \(items.count) events: " + items.map { Self.word($0.event) }.joined(separator: ", ")
    }

    /// The one-line summary (the webhook's `text`, for Slack and Mattermost).
    public var text: String {
        if items.isEmpty { return "flywall test notification from \(host)" }
        return items.map { "\(Self.headline($0.event)) at \(WallClockText.rfc3339($0.unixNanoseconds)) (\($0.event.reason))" }
            .joined(separator: "; ")
    }

    /// The email body: per event its time, group, from/to, reason and evidence.
    public var body: String {
        var lines: [String] = items.isEmpty ? [text, ""] : []
        if items.count > 1 { lines += ["\(items.count) events on \(host), oldest first:", ""] }
        for item in items {
            let e = item.event
            lines.append(Self.headline(e))
            lines.append("  time:      \(WallClockText.rfc3339(item.unixNanoseconds))")
            lines.append("  router:    \(host)")
            if let interface = e.interface { lines.append("  interface: \(interface)") }
            if let group = e.group { lines.append("  group:     \(group)") }
            if !e.from.isEmpty || !e.to.isEmpty {
                lines.append("  from:      \(e.from.isEmpty ? "(none)" : e.from.joined(separator: ", "))")
                lines.append("  to:        \(e.to.isEmpty ? "(none)" : e.to.joined(separator: ", "))")
            }
            lines.append("  reason:    \(e.reason)")
            if let evidence = e.evidence {
                lines.append("  evidence:  \(evidence.cause.rawValue)" + (evidence.counter.map { ", " + $0 } ?? ""))
                for t in evidence.targets {
                    let rtts = t.rttMs.isEmpty ? "" : " (rtt ms: \(t.rttMs.map { String(format: "%.1f", $0) }.joined(separator: ", ")))"
                    lines.append("    \(t.target): \(t.results.joined(separator: ", "))\(rtts)")
                }
                if evidence.omittedTargets > 0 { lines.append("    and \(evidence.omittedTargets) more targets") }
                if let detail = evidence.detail { lines.append("    \(detail)") }
                if let command = evidence.command { lines.append("    command \"\(command)\"" + (evidence.origin.map { " from \($0)" } ?? "")) }
            }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }

    /// The webhook body: the newest event's fields at the top (`event`, `interface`, `group`, `from`,
    /// `to`, `reason`, `time`, `evidence`), `text`, and every event of the message in `events`.
    public func json() -> Data {
        let events = items.map(EventFields.init)
        // The top-level `text` is the whole message's summary; each event's own is its headline.
        var latest = events.last ?? EventFields(event: "test", time: WallClockText.rfc3339(KernelClock.realtime()))
        latest.text = text
        let payload = Payload(latest: latest, host: host, events: events)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(payload)) ?? Data("{}".utf8)
    }

    /// The whole email as sent (RFC 5322 headers, CRLF line ends, dot-stuffing is libcurl's).
    public func email(from: String, to: [String], unixNanoseconds: Int64) -> String {
        let headers = [
            "From: \(from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(subject)",
            "Date: \(Self.rfc5322Date(unixNanoseconds))",
            "Message-ID: <flywall.\(unixNanoseconds).\(UInt32.random(in: 0...UInt32.max))@\(host)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
        ]
        let text = headers.joined(separator: "\r\n") + "\r\n\r\n" + body.replacingOccurrences(of: "\n", with: "\r\n")
        return text
    }

    static func word(_ e: WANEvent) -> String {
        switch e.kind {
        case .wanDown: "down"
        case .wanUp: "up"
        case .failover: "failover"
        case .failback: "failback"
        case .allDown: "all down"
        }
    }

    static func headline(_ e: WANEvent) -> String {
        let arrow = "\(e.from.isEmpty ? "(none)" : e.from.joined(separator: ","))" + " -> "
            + "\(e.to.isEmpty ? "(none)" : e.to.joined(separator: ","))"
        switch e.kind {
        case .wanDown: return "\(e.interface ?? "?") down"
        case .wanUp: return "\(e.interface ?? "?") up"
        case .failover: return "failover \(e.group ?? "?"): \(arrow)"
        case .failback: return "failback \(e.group ?? "?"): \(arrow)"
        case .allDown: return "all uplinks down in \(e.group ?? "?")"
        }
    }

    static func rfc5322Date(_ unixNanoseconds: Int64) -> String {
        var seconds = Int(unixNanoseconds / 1_000_000_000)
        var t = tm()
        gmtime_r(&seconds, &t)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S +0000", &t)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "flywall" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "flywall" : name
    }

    private struct EventFields: Encodable {
        var event = ""
        var interface: String?
        var group: String?
        var from: [String] = []
        var to: [String] = []
        var reason = ""
        var time = ""
        var evidence: WANEvidence?
        var text = ""

        init(event: String, time: String) {
            self.event = event
            self.time = time
        }
        init(_ item: Item) {
            event = item.event.kind.rawValue
            interface = item.event.interface
            group = item.event.group
            from = item.event.from
            to = item.event.to
            reason = item.event.reason
            time = WallClockText.rfc3339(item.unixNanoseconds)
            evidence = item.event.evidence
            text = NotificationMessage.headline(item.event)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(event, forKey: .event)
            try c.encode(interface, forKey: .interface)
            try c.encode(group, forKey: .group)
            try c.encode(from, forKey: .from)
            try c.encode(to, forKey: .to)
            try c.encode(reason, forKey: .reason)
            try c.encode(time, forKey: .time)
            try c.encode(evidence, forKey: .evidence)
            try c.encode(text, forKey: .text)
        }
        enum CodingKeys: String, CodingKey { case event, interface, group, from, to, reason, time, evidence, text }
    }

    private struct Payload: Encodable {
        var latest: EventFields
        var host: String
        var events: [EventFields]

        func encode(to encoder: any Encoder) throws {
            try latest.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(host, forKey: .host)
            try c.encode(events, forKey: .events)
        }
        enum Keys: String, CodingKey { case host, events }
    }
}
