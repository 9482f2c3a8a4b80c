import Domain
import Foundation
import GRDB

/// One notification waiting for (or past) delivery to one channel: a WAN event, its wall-clock time,
/// and the delivery state. Rows live in the history database (table `outbox`), so a restart or
/// `kill -9` resends what was not delivered.
public struct OutboxItem: Sendable, Equatable {
    public var id: Int64
    /// `email-1`, `webhook-2` (`NotificationPolicy.Channel.id`).
    public var channel: String
    /// `wan:eth0` or `group:default` (`NotificationPolicy.subject(of:)`).
    public var subject: String
    public var unixNanoseconds: Int64
    public var event: WANEvent
    public var attempts: Int
    /// Set after a failed attempt: not before this (Unix ns).
    public var nextAttempt: Int64?
    public var deliveredAt: Int64?
    public var lastError: String?

    public init(id: Int64 = 0, channel: String, subject: String, unixNanoseconds: Int64, event: WANEvent,
                attempts: Int = 0, nextAttempt: Int64? = nil, deliveredAt: Int64? = nil, lastError: String? = nil) {
        self.id = id
        self.channel = channel
        self.subject = subject
        self.unixNanoseconds = unixNanoseconds
        self.event = event
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.deliveredAt = deliveredAt
        self.lastError = lastError
    }
}

/// A subject of one channel with undelivered items: what `NotificationPolicy.due` needs.
public struct OutboxSubject: Sendable, Equatable {
    public var subject: String
    public var oldestWaiting: Int64
    public var lastSent: Int64?
    public var retryAt: Int64?
}

extension HistoryStore {
    /// Undelivered rows kept at most; beyond it the oldest undelivered are dropped (and counted in
    /// the log), so a channel that never answers cannot fill the disk.
    public static let maxUndelivered = 10_000

    static func createOutbox(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                channel TEXT NOT NULL,
                subject TEXT NOT NULL,
                time_ns INTEGER NOT NULL,
                event TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_ns INTEGER,
                delivered_ns INTEGER,
                last_error TEXT
            );
            CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox(channel, delivered_ns, subject);
            """)
    }

    /// Inside `append`'s transaction: the new rows, then pruning of delivered rows past retention
    /// and of undelivered ones beyond `maxUndelivered`.
    static func insert(_ items: [OutboxItem], _ db: Database, prunedBefore oldest: Int64) throws {
        for item in items {
            let event = String(decoding: try JSONEncoder().encode(item.event), as: UTF8.self)
            try db.execute(sql: "INSERT INTO outbox (channel, subject, time_ns, event) VALUES (?, ?, ?, ?)",
                           arguments: [item.channel, item.subject, item.unixNanoseconds, event])
        }
        guard !items.isEmpty else { return }
        try db.execute(sql: "DELETE FROM outbox WHERE delivered_ns IS NOT NULL AND delivered_ns < ?", arguments: [oldest])
        try db.execute(sql: """
            DELETE FROM outbox WHERE delivered_ns IS NULL AND id <= (
                SELECT id FROM outbox WHERE delivered_ns IS NULL ORDER BY id DESC LIMIT 1 OFFSET ?)
            """, arguments: [maxUndelivered])
    }

    /// The channel's subjects that have undelivered items.
    public func waitingSubjects(channel: String) throws -> [OutboxSubject] {
        try outboxRead { db in
            try Row.fetchAll(db, sql: """
                SELECT w.subject, MIN(w.time_ns) AS oldest, MAX(w.next_attempt_ns) AS retry,
                       (SELECT MAX(d.delivered_ns) FROM outbox d WHERE d.channel = w.channel AND d.subject = w.subject) AS sent
                FROM outbox w WHERE w.channel = ? AND w.delivered_ns IS NULL GROUP BY w.subject
                """, arguments: [channel]).map {
                OutboxSubject(subject: $0["subject"], oldestWaiting: $0["oldest"], lastSent: $0["sent"], retryAt: $0["retry"])
            }
        }
    }

    /// A subject's undelivered items, oldest first, at most `limit`.
    public func waitingItems(channel: String, subject: String, limit: Int) throws -> [OutboxItem] {
        try outboxRead { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM outbox WHERE channel = ? AND subject = ? AND delivered_ns IS NULL ORDER BY id LIMIT ?
                """, arguments: [channel, subject, limit]).compactMap(HistoryStore.outboxItem)
        }
    }

    /// The server accepted them at `time` (Unix ns).
    public func markDelivered(_ ids: [Int64], at time: Int64) throws {
        try outboxWrite { db in
            for id in ids {
                try db.execute(sql: "UPDATE outbox SET delivered_ns = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
                               arguments: [time, id])
            }
        }
    }

    /// Records a failed attempt on each: its attempt count goes up by one, and `nextAttempt` turns
    /// the new count into the time before which it is not tried again.
    public func markFailed(_ ids: [Int64], error: String, nextAttempt: (Int) -> Int64) throws {
        try outboxWrite { db in
            for id in ids {
                let attempts = (try Int.fetchOne(db, sql: "SELECT attempts FROM outbox WHERE id = ?", arguments: [id]) ?? 0) + 1
                try db.execute(sql: "UPDATE outbox SET attempts = ?, next_attempt_ns = ?, last_error = ? WHERE id = ?",
                               arguments: [attempts, nextAttempt(attempts), error, id])
            }
        }
    }

    private static func outboxItem(_ row: Row) -> OutboxItem? {
        guard let event = try? JSONDecoder().decode(WANEvent.self, from: Data((row["event"] as String).utf8)) else { return nil }
        return OutboxItem(id: row["id"], channel: row["channel"], subject: row["subject"], unixNanoseconds: row["time_ns"],
                          event: event, attempts: row["attempts"], nextAttempt: row["next_attempt_ns"],
                          deliveredAt: row["delivered_ns"], lastError: row["last_error"])
    }

    private func outboxRead<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch {
            throw HistoryError("history store \(path): outbox: \(HistoryStore.describe(error))")
        }
    }

    private func outboxWrite(_ body: (Database) throws -> Void) throws {
        do { try pool.write(body) } catch {
            throw HistoryError("history store \(path): outbox: \(HistoryStore.describe(error))")
        }
    }
}
