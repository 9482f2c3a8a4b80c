import Foundation
import Testing
@testable import Adapters
@testable import Domain

/// The HA pair's example configs (dist/ha): one ruleset on both routers, with the WAN's own network
/// masqueraded before LAN connections are translated to the virtual address.
@Suite("KernelPlan: HA pair")
struct HAKernelPlanTests {
    static func plan(_ router: String) throws -> KernelPlan {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("dist/ha/flywall-\(router).hcl").path
        let config = try ConfigDecoder.load(source: try String(contentsOfFile: path, encoding: .utf8), file: path)
        var plans = CorePlans(config)
        return try KernelPlan(plan: plans.plan(usable: ["wan0", "wan1"]))
    }

    @Test func bothRoutersCompileOneRulesetThatTranslatesOnlyLANConnections() throws {
        let a = try Self.plan("a"), b = try Self.plan("b")
        #expect(a.ruleset == b.ruleset && a.rules == b.rules)
        let text = a.ruleset.text
        let own = try #require(text.range(of: "ip saddr 100.64.0.0/24 masquerade"), "\(text)")
        let snat = try #require(text.range(of: "snat ip to 100.64.0.10"), "\(text)")
        #expect(own.lowerBound < snat.lowerBound)
        #expect(text.contains("snat ip to 100.64.1.10"))
    }
}
