import Domain
import Logging

/// The real dataplane: compiles each plan with `KernelPlan` and programs it through nftables,
/// rtnetlink and ctnetlink, following docs/dataplane.md.
///
/// The ruleset depends on the config only, so a health change costs route replaces and nothing
/// else; the nftables table is rebuilt (one atomic batch) only when the config or the uplink
/// indices change.
///
/// The kernel deletes every route through an interface that goes down, in Flywall's tables too,
/// and a route through a link without carrier cannot be added. So after a failed replace, and
/// whenever the daemon sees a link or address come back (`resynchronize`), the next programming
/// reads the kernel's state and repairs all of Flywall's rules and routes.
public final class KernelDataplane: DataplaneApplying {
    private let nftables: NftablesTransport
    private let routing: RoutingProgrammer
    private let conntrack: ConntrackFlusher
    private let logger: Logger
    private var compiled: KernelPlan?
    private var compiledFor: FlywallConfig?
    private var routes: RouteSet?
    private var last: (plan: ForwardingPlan, config: FlywallConfig)?
    private var needsRepair = false

    public init(logger: Logger) throws {
        nftables = try NftablesTransport()
        routing = try RoutingProgrammer()
        conntrack = try ConntrackFlusher()
        self.logger = logger
    }

    public func apply(_ plan: ForwardingPlan, config: FlywallConfig) throws {
        last = (plan, config)
        if let compiled, compiledFor == config, compiled.accommodates(plan), let routes {
            let next = try compiled.routes(for: plan)
            if needsRepair {
                let result = try repair(compiled, next)
                logger.info("dataplane repaired: \(result)")
                return
            }
            let changed = next.changes(from: routes)
            guard !changed.isEmpty else { return }
            self.routes = next
            do {
                let result = try routing.replaceRoutes(changed)
                logger.info("dataplane: \(result)")
            } catch {
                needsRepair = true
                throw error
            }
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
        compiled = kernelPlan
        compiledFor = config
        let result: RoutingChanges
        do {
            result = try repair(kernelPlan, next)
        } catch {
            needsRepair = true
            throw error
        }
        logger.notice(
            "\(first ? "dataplane ready" : "dataplane rebuilt"): table inet flywall with \(kernelPlan.ruleset.ruleCount) rules, \(kernelPlan.rules.count + 1) ip rules, \(next.routes.count) routes (\(result))")
    }

    public func resynchronize() throws {
        needsRepair = true
        guard let last else { return }
        try apply(last.plan, config: last.config)
    }

    /// Makes the kernel's Flywall rules and routes exactly `routes`, whatever happened to them.
    private func repair(_ plan: KernelPlan, _ routes: RouteSet) throws -> RoutingChanges {
        self.routes = routes
        let result = try routing.apply(rules: [FwmarkRule.mainWithoutDefault(priority: plan.mainRule.priority)] + plan.rules,
                                       routes: routes.routes)
        needsRepair = false
        return result
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
