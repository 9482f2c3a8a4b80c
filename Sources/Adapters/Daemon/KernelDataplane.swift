import Domain
import Logging

/// The real dataplane: compiles each plan with `KernelPlan` and programs it through nftables,
/// rtnetlink and ctnetlink, following docs/dataplane.md.
///
/// The ruleset depends on the config only, so a health change costs route replaces and nothing
/// else; the nftables table is rebuilt (one atomic batch) only when the config or the uplink
/// indices change.
public final class KernelDataplane: DataplaneApplying {
    private let nftables: NftablesTransport
    private let routing: RoutingProgrammer
    private let conntrack: ConntrackFlusher
    private let logger: Logger
    private var compiled: KernelPlan?
    private var compiledFor: FlywallConfig?
    private var routes: RouteSet?

    public init(logger: Logger) throws {
        nftables = try NftablesTransport()
        routing = try RoutingProgrammer()
        conntrack = try ConntrackFlusher()
        self.logger = logger
    }

    public func apply(_ plan: ForwardingPlan, config: FlywallConfig) throws {
        if let compiled, compiledFor == config, compiled.accommodates(plan), let routes {
            let next = try compiled.routes(for: plan)
            let changed = next.changes(from: routes)
            guard !changed.isEmpty else { return }
            let result = try routing.replaceRoutes(changed)
            self.routes = next
            logger.info("dataplane: \(result)")
            return
        }
        // First plan, new config, or buckets the ruleset cannot hold: rebuild. `replaceRuleset`
        // deletes a table left by an earlier (crashed) run in the same batch, and `apply` reconciles
        // rules and routes with what the kernel has, so a restart never duplicates anything.
        let kernelPlan = try KernelPlan(config: config, plan: plan)
        let next = try kernelPlan.routes(for: plan)
        let first = compiled == nil
        // A reload that changes only health checks or weights leaves the ruleset as it is: no
        // nftables transaction, no RCU wait.
        if first || compiled?.ruleset != kernelPlan.ruleset {
            try nftables.replaceRuleset(kernelPlan.ruleset)
        }
        let result = try routing.apply(rules: [FwmarkRule.mainWithoutDefault(priority: kernelPlan.mainRule.priority)]
                                          + kernelPlan.rules, routes: next.routes)
        compiled = kernelPlan
        compiledFor = config
        routes = next
        logger.notice(
            "\(first ? "dataplane ready" : "dataplane rebuilt"): table inet flywall with \(kernelPlan.ruleset.ruleCount) rules, \(kernelPlan.rules.count + 1) ip rules, \(next.routes.count) routes (\(result))")
    }

    public func flushConnections(uplink: ForwardingPlan.Uplink) throws -> Int {
        guard let (mark, mask) = compiled?.connectionMark(uplink: uplink.name) else { return 0 }
        return try conntrack.flush(mark: mark, mask: mask)
    }

    public func removeAll() throws {
        try nftables.removeTable()
        _ = try routing.removeAll()
        compiled = nil
        routes = nil
    }
}
