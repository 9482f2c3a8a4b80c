import Domain
import Foundation
import Testing
@testable import Adapters

/// The history store on its own: newest first, filters, pruning by age and count, a corrupt file.
@Suite("history store")
struct HistoryStoreTests {
    func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flywall-history-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func event(_ kind: WANEventKind, _ wan: String, at seconds: Int64) -> HistoryEntry {
        HistoryEntry(WANEvent(time: .zero, kind: kind, interface: wan, reason: "r",
                              evidence: WANEvidence(cause: .carrier, detail: "netlink: carrier down on \(wan)")),
                     unixNanoseconds: seconds * 1_000_000_000)
    }

    @Test func newestFirstWithFiltersAndEvidence() async throws {
        let store = try HistoryStore(directory: try directory(), settings: HistorySettings())
        for i in 0..<5 { try store.append(event(.wanDown, i % 2 == 0 ? "eth0" : "eth1", at: 1_000 + Int64(i))) }
        let all = try await store.entries()
        let expected: [Int64] = [1_004, 1_003, 1_002, 1_001, 1_000].map { $0 * 1_000_000_000 }
        #expect(all.map(\.unixNanoseconds) == expected)
        #expect(all[0].evidence?.detail == "netlink: carrier down on eth0")
        #expect(try await store.entries(interface: "eth1").count == 2)
        #expect(try await store.entries(since: 1_003 * 1_000_000_000).count == 2)
        #expect(try await store.entries(limit: 1).count == 1)
    }

    @Test func prunesByAgeAndCount() async throws {
        let store = try HistoryStore(directory: try directory(), settings: HistorySettings(retention: .seconds(100), maxEvents: 3))
        try store.append(event(.wanDown, "eth0", at: 0))
        try store.append(event(.wanUp, "eth0", at: 150)) // the first is now older than 100 s
        #expect(try await store.entries().count == 1)
        for i in 0..<5 { try store.append(event(.wanDown, "eth0", at: 200 + Int64(i))) }
        let kept = try await store.entries()
        #expect(kept.count == 3)
        #expect(kept.first?.unixNanoseconds == Int64(204_000_000_000))
    }

    @Test func aCorruptFileIsNamedInTheError() throws {
        let dir = try directory()
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: dir).appendingPathComponent(HistoryStore.fileName))
        #expect {
            _ = try HistoryStore(directory: dir, settings: HistorySettings())
        } throws: { error in
            "\(error)".contains("history.sqlite") && "\(error)".contains("not a database")
        }
    }
}
