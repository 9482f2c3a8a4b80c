/// What the notifiers send and when: the pure half of notifications. The sender (Adapters'
/// `NotificationSender`) keeps the outbox and talks to servers; every decision about which events
/// go where, how they are grouped and when a message (or its retry) is due is made here, from
/// times it is given (Unix nanoseconds, wall clock: the outbox outlives the process, and a
/// monotonic clock does not).
///
/// Coalescing, exactly: messages are per channel and per *subject* (the WAN of `wan_up`/`wan_down`,
/// the group of `failover`/`failback`/`all_down`). An event whose subject had no message sent in the
/// last `coalesce` goes out at once. Otherwise it waits until `coalesce` after that last message;
/// every event of the subject that waits then goes out in that one message, in order. So a
/// flapping link costs one message per window, the first event of a quiet link is never delayed,
/// and nothing is dropped.
public struct NotificationPolicy: Sendable, Equatable {
    /// One configured destination. `id` (`email-1`, `webhook-2`: kind and 1-based place in the
    /// config) names it in the outbox, logs and `flywall notify test`.
    public enum Channel: Sendable, Equatable {
        case email(id: String, Notifications.Email)
        case webhook(id: String, Notifications.Webhook)

        public var id: String {
            switch self {
            case .email(let id, _), .webhook(let id, _): id
            }
        }
        public var events: [WANEventKind] {
            switch self {
            case .email(_, let e): e.events
            case .webhook(_, let w): w.events
            }
        }
        /// Where it goes, without secrets: `smtp.example.com:587`, `https://hooks.slack.com/<redacted>`.
        public var destination: String {
            switch self {
            case .email(_, let e): e.smtp
            case .webhook(_, let w): NotificationPolicy.redactedURL(w.url)
            }
        }
    }

    /// Retries wait `firstRetry`, doubling per failed attempt, never more than `maxRetry`.
    public static let firstRetry: Duration = .seconds(1)
    public static let maxRetry: Duration = .seconds(300)
    /// Most events one message lists; more wait for the next message (the outbox keeps them).
    public static let maxEventsPerMessage = 100

    /// The enabled channels, in config order.
    public let channels: [Channel]
    public let coalesce: Duration

    public init(_ notifications: Notifications) {
        var channels: [Channel] = []
        for (i, e) in notifications.email.enumerated() where e.enabled { channels.append(.email(id: "email-\(i + 1)", e)) }
        for (i, w) in notifications.webhook.enumerated() where w.enabled { channels.append(.webhook(id: "webhook-\(i + 1)", w)) }
        self.channels = channels
        coalesce = notifications.coalesce
    }

    /// The channels this event goes to (its kind is in their `events`).
    public func channels(for event: WANEvent) -> [Channel] {
        channels.filter { $0.events.contains(event.kind) }
    }

    /// What events are grouped by: `wan:eth0` or `group:default`.
    public static func subject(of event: WANEvent) -> String {
        switch event.kind {
        case .wanUp, .wanDown: "wan:" + (event.interface ?? "")
        case .failover, .failback, .allDown: "group:" + (event.group ?? "")
        }
    }

    /// When the message holding a subject's waiting events is due: at once (`oldestWaiting`) when no
    /// message for the subject went out in the `coalesce` before it, else `coalesce` after the last
    /// one; never before a retry time a failed attempt set.
    public func due(oldestWaiting: Int64, lastSent: Int64?, retryAt: Int64?) -> Int64 {
        var due = oldestWaiting
        if let lastSent {
            let windowEnd = lastSent.saturatingAdd(coalesce.nanoseconds)
            if oldestWaiting < windowEnd { due = windowEnd }
        }
        if let retryAt { due = max(due, retryAt) }
        return due
    }

    /// The wait after `failedAttempts` failures (1, 2, 3, ...): 1 s, 2 s, 4 s, ... at most 300 s.
    public static func retryDelay(failedAttempts: Int) -> Duration {
        let exponent = min(max(failedAttempts, 1) - 1, 20)
        let delay = firstRetry * (1 << exponent)
        return min(delay, maxRetry)
    }

    /// `https://hooks.slack.com/services/T/B/X` -> `https://hooks.slack.com/<redacted>`: the scheme
    /// and host are shown, the path, query and any user info never are.
    public static func redactedURL(_ url: String) -> String {
        guard let parts = URLText.split(url) else { return "<redacted>" }
        let shown = String(parts.scheme + parts.host)
        return parts.rest.isEmpty || parts.rest == "/" ? shown : shown + "/<redacted>"
    }
}
