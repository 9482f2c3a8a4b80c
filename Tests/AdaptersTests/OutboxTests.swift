import Domain
import Foundation
import GRDB
import Testing
@testable import Adapters

/// The outbox table in the history store: the migration, the transaction shared with history,
/// delivery and failure marks.
@Suite("notification outbox")
struct OutboxTests {
    func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flywall-outbox-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static let down = WANEvent(time: .zero, kind: .wanDown, interface: "eth0", reason: "3 failed rounds")

    @Test func aStoreFromBeforeNotificationsKeepsItsHistoryAndGainsAnEmptyOutbox() async throws {
        let dir = try directory()
        // The history table as the operations issue created it, with one row, and no outbox.
        let old = try DatabaseQueue(path: dir + "/" + HistoryStore.fileName)
        try await old.write { db in
            try db.execute(sql: """
                CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, time_ns INTEGER NOT NULL, kind TEXT NOT NULL,
                    grp TEXT, interface TEXT, from_uplinks TEXT NOT NULL, to_uplinks TEXT NOT NULL, reason TEXT NOT NULL,
                    evidence TEXT, accepted INTEGER);
                INSERT INTO event (time_ns, kind, interface, from_uplinks, to_uplinks, reason)
                    VALUES (\(KernelClock.realtime()), 'wan_down', 'eth0', '', '', 'from the old store');
                """)
        }
        try old.close()
        let store = try HistoryStore(directory: dir, settings: HistorySettings())
        #expect(try await store.entries().map(\.reason) == ["from the old store"])
        #expect(try store.waitingSubjects(channel: "webhook-1").isEmpty)
    }

    @Test func rowsCommitWithTheirEventAndCarryTheirMarks() async throws {
        let store = try HistoryStore(directory: try directory(), settings: HistorySettings())
        let t = KernelClock.realtime()
        let item = OutboxItem(channel: "webhook-1", subject: "wan:eth0", unixNanoseconds: t, event: Self.down)
        try store.append(HistoryEntry(Self.down, unixNanoseconds: t), outbox: [item, item])
        #expect(try await store.entries().count == 1)
        let subjects = try store.waitingSubjects(channel: "webhook-1")
        #expect(subjects == [OutboxSubject(subject: "wan:eth0", oldestWaiting: t, lastSent: nil, retryAt: nil)])
        let waiting = try store.waitingItems(channel: "webhook-1", subject: "wan:eth0", limit: 10)
        #expect(waiting.map(\.event) == [Self.down, Self.down])

        try store.markFailed([waiting[0].id], error: "HTTP 503") { attempts in t + Int64(attempts) * 1_000 }
        let failed = try store.waitingItems(channel: "webhook-1", subject: "wan:eth0", limit: 10)[0]
        #expect(failed.attempts == 1 && failed.nextAttempt == t + 1_000 && failed.lastError == "HTTP 503")
        #expect(try store.waitingSubjects(channel: "webhook-1").first?.retryAt == t + 1_000)

        try store.markDelivered(waiting.map(\.id), at: t + 5)
        #expect(try store.waitingItems(channel: "webhook-1", subject: "wan:eth0", limit: 10).isEmpty)
        #expect(try store.waitingSubjects(channel: "webhook-1").isEmpty)
        // The next event of the subject sees when the last message went out.
        try store.append(HistoryEntry(Self.down, unixNanoseconds: t + 10), outbox: [item])
        #expect(try store.waitingSubjects(channel: "webhook-1").first?.lastSent == t + 5)
        #expect(try store.waitingSubjects(channel: "email-1").isEmpty)
    }

    @Test func theSignatureIsHMACSHA256OfTimestampDotBody() {
        // Expected: Python's hmac over "1796132532.{"a":1}". The second is RFC 4231 case 2's digest
        // of the timestamp alone, which the signature must not be: the dot is signed too.
        #expect(NotificationTransport.signature(secret: "Jefe", timestamp: "1796132532", body: Data(#"{"a":1}"#.utf8))
                == "sha256=0316d3cdf1e612db4dfcf6d64fdfdf282403805197d3c0f0d0ab092becadcba0")
        #expect(NotificationTransport.signature(secret: "Jefe", timestamp: "what do ya want for nothing?", body: Data())
                != "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "the dot is signed too")
    }
}
