import Foundation
import Testing
@testable import Domain
@testable import Simulator

/// Issue #10: the fuzzers' dictionary (Fuzz/hcl.dict) holds every keyword the decoders accept, so
/// mutations reach each block and attribute; a keyword added to a decoder without the dictionary
/// fails here.
@Suite("Fuzz dictionary")
struct FuzzDictionaryTests {
    static var entries: Set<String> {
        let text = ScenarioFiles.read("Fuzz/hcl.dict")
        return Set(text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("\""), line.hasSuffix("\""), line.count >= 2 else { return nil }
            return String(line.dropFirst().dropLast())
        })
    }

    static let keywords: [String] = ConfigDecoder.topLevelBlocks + ConfigDecoding.interfaceAttributes
        + ConfigDecoding.interfaceBlocks + ConfigDecoding.wanAttributes + ConfigDecoding.healthCheckAttributes
        + ConfigDecoding.groupAttributes + ConfigDecoding.memberAttributes + ConfigDecoding.policyAttributes
        + ConfigDecoding.matchAttributes + ConfigDecoding.emailAttributes + ConfigDecoding.webhookAttributes
        + ConfigDecoding.apiAttributes + ConfigDecoding.historyAttributes + ConfigDecoding.haAttributes
        + ["coalesce", "entries", "member", "match"]
        + ConfigDecoding.healthCheckKinds.map(\.rawValue) + ConfigDecoding.groupModes.map(\.rawValue)
        + ConfigDecoding.allDownPolicies.map(\.rawValue) + WANEventKind.allCases.map(\.rawValue)
        + Notifications.EmailTLS.allCases.map(\.rawValue) + TransportProtocol.allCases.map(\.rawValue)
        + ScenarioDecoder.topLevelBlocks + ScenarioDecoding.scenarioAttributes + ScenarioDecoding.linkAttributes
        + ScenarioDecoding.trafficAttributes + ScenarioDecoding.expectAttributes + ["maintenance", "force"]
        + ["ns", "us", "ms", "s", "m", "h", "d", "bps", "kbps", "Mbps", "Gbps", "Tbps"]

    @Test func holdsEveryKeywordTheDecodersAccept() {
        let entries = Self.entries
        #expect(entries.count > 100)
        let missing = Self.keywords.filter { !entries.contains($0) }
        #expect(missing.isEmpty, "missing from Fuzz/hcl.dict: \(missing)")
    }
}
