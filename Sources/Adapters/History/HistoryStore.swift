import Domain
import Foundation
import GRDB

/// One row of the history: a WAN event or a manual command, with its evidence.
public struct HistoryEntry: Sendable, Equatable, Codable {
    public var id: Int64
    /// Wall-clock time, Unix nanoseconds.
    public var unixNanoseconds: Int64
    /// `wan_down`, `wan_up`, `failover`, `failback`, `all_down`, or `command`.
    public var kind: String
    public var group: String?
    public var interface: String?
    public var from: [String]
    public var to: [String]
    /// The human line; for a command, what came of it.
    public var reason: String
    public var evidence: WANEvidence?
    /// For a command: whether the core applied it.
    public var accepted: Bool?

    public init(id: Int64 = 0, unixNanoseconds: Int64, kind: String, group: String? = nil, interface: String? = nil,
                from: [String] = [], to: [String] = [], reason: String, evidence: WANEvidence? = nil, accepted: Bool? = nil) {
        self.id = id
        self.unixNanoseconds = unixNanoseconds
        self.kind = kind
        self.group = group
        self.interface = interface
        self.from = from
        self.to = to
        self.reason = reason
        self.evidence = evidence
        self.accepted = accepted
    }

    public init(_ event: WANEvent, unixNanoseconds: Int64) {
        self.init(unixNanoseconds: unixNanoseconds, kind: event.kind.rawValue, group: event.group, interface: event.interface,
                  from: event.from, to: event.to, reason: event.reason, evidence: event.evidence)
    }

    public init(_ command: CommandRecord, unixNanoseconds: Int64) {
        let (group, interface) = HistoryEntry.subject(command.command)
        self.init(unixNanoseconds: unixNanoseconds, kind: "command", group: group, interface: interface,
                  reason: command.result,
                  evidence: WANEvidence(cause: .manual, command: command.command, origin: command.origin),
                  accepted: command.accepted)
    }

    /// Group and interface named by a command's text (`wan failover GROUP IFACE`, `wan disable IFACE`).
    static func subject(_ text: String) -> (String?, String?) {
        let words = text.split(separator: " ").map(String.init)
        guard words.count >= 3 else { return (nil, nil) }
        if words[1] == "failover" { return (words[2], words.count > 3 && words[3] != "--auto" ? words[3] : nil) }
        return (nil, words[2])
    }
}

/// The crash-safe history: SQLite in write-ahead-log mode under the state directory.
///
/// One writer (the `HistoryWriter`'s queue) appends one transaction per entry with
/// `synchronous = FULL`, so an entry is on disk when its commit returns and survives `kill -9` and
/// power loss; readers (the API) use the pool's read connections, which WAL never blocks. Every
/// append also prunes: entries older than `retention`, and beyond the newest `maxEvents`.
public final class HistoryStore: Sendable {
    public static let fileName = "history.sqlite"
    /// Most entries one query returns.
    public static let maxLimit = 10_000
    public let path: String
    let pool: DatabasePool
    private let settings: HistorySettings

    /// Opens (creating) the store in `directory`; throws a message naming the file when it cannot.
    public init(directory: String, settings: HistorySettings) throws {
        path = (directory as NSString).appendingPathComponent(HistoryStore.fileName)
        self.settings = settings
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            configuration.busyMode = .timeout(2)
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS event (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        time_ns INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        grp TEXT,
                        interface TEXT,
                        from_uplinks TEXT NOT NULL,
                        to_uplinks TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        evidence TEXT,
                        accepted INTEGER
                    );
                    CREATE INDEX IF NOT EXISTS event_time ON event(time_ns);
                    """)
                // Added by the notifications issue: a new table, so stores written before it keep
                // their history and simply gain an empty outbox.
                try HistoryStore.createOutbox(db)
            }
            // A read checks the whole file is a database, not just its header.
            _ = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM event") }
        } catch {
            throw HistoryError("history store \(path): \(HistoryStore.describe(error))")
        }
    }

    /// Appends one entry and prunes; throws a message when SQLite cannot write. `outbox`: the
    /// notifications this entry causes, committed in the same transaction, so an event is never
    /// in history without its notifications (or the other way round).
    public func append(_ entry: HistoryEntry, outbox: [OutboxItem] = []) throws {
        do {
            let evidence = try entry.evidence.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO event (time_ns, kind, grp, interface, from_uplinks, to_uplinks, reason, evidence, accepted)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [entry.unixNanoseconds, entry.kind, entry.group, entry.interface,
                                entry.from.joined(separator: ","), entry.to.joined(separator: ","), entry.reason,
                                evidence, entry.accepted])
                let oldest = entry.unixNanoseconds - settings.retention.nanoseconds
                try db.execute(sql: "DELETE FROM event WHERE time_ns < ?", arguments: [oldest])
                try db.execute(sql: """
                    DELETE FROM event WHERE id <= (SELECT id FROM event ORDER BY id DESC LIMIT 1 OFFSET ?)
                    """, arguments: [settings.maxEvents])
                try HistoryStore.insert(outbox, db, prunedBefore: oldest)
            }
        } catch {
            throw HistoryError("history store \(path): \(HistoryStore.describe(error))")
        }
    }

    /// Entries newest first: at most `limit`, at or after `since` (Unix ns), about `interface`
    /// (as the WAN, or in from/to) and of `kind` (`failover`, `command`...) when given.
    public func entries(since: Int64? = nil, limit: Int = 100, interface: String? = nil,
                        kind: String? = nil) async throws -> [HistoryEntry] {
        let limit = min(max(1, limit), HistoryStore.maxLimit)
        do {
            return try await pool.read { db in
                var sql = "SELECT * FROM event WHERE 1"
                var arguments: StatementArguments = []
                if let since {
                    sql += " AND time_ns >= ?"
                    arguments += [since]
                }
                if let interface {
                    sql += " AND (interface = ? OR instr(',' || from_uplinks || ',', ?) > 0 OR instr(',' || to_uplinks || ',', ?) > 0)"
                    let delimited = "," + interface + ","
                    arguments += [interface, delimited, delimited]
                }
                if let kind {
                    sql += " AND kind = ?"
                    arguments += [kind]
                }
                sql += " ORDER BY id DESC LIMIT ?"
                arguments += [limit]
                return try Row.fetchAll(db, sql: sql, arguments: arguments).map(HistoryStore.entry)
            }
        } catch {
            throw HistoryError("history store \(path): \(HistoryStore.describe(error))")
        }
    }

    private static func entry(_ row: Row) -> HistoryEntry {
        let evidence: WANEvidence? = (row["evidence"] as String?).flatMap {
            try? JSONDecoder().decode(WANEvidence.self, from: Data($0.utf8))
        }
        func list(_ text: String) -> [String] { text.isEmpty ? [] : text.split(separator: ",").map(String.init) }
        return HistoryEntry(id: row["id"], unixNanoseconds: row["time_ns"], kind: row["kind"], group: row["grp"],
                            interface: row["interface"], from: list(row["from_uplinks"]), to: list(row["to_uplinks"]),
                            reason: row["reason"], evidence: evidence, accepted: row["accepted"])
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "\(e.resultCode)" }
        if let e = error as? HistoryError { return e.message }
        return (error as NSError).localizedDescription
    }
}

/// Why the history store could not open, write or read.
public struct HistoryError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
