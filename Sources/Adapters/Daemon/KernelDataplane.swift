import Domain
import Logging

/// The real dataplane: compiles each plan with `KernelPlan` and programs it through nftables,
/// rtnetlink and ctnetlink, following docs/dataplane.md.
///
/// The ruleset depends on the plan's layout only (uplinks, groups and their slots, policy
/// matches), so a health change costs route replaces and nothing else; the nftables table is
/// rebuilt (one atomic batch) only when the layout changes. When to read the kernel's state and
/// repair everything instead of replacing what changed is the core's decision (`repair`).
/// Used from the core loop's thread only (`DataplaneApplying`), hence unchecked.
public final class KernelDataplane: DataplaneApplying, @unchecked Sendable {
    private let nftables: NftablesTransport
    private let routing: RoutingProgrammer
    private let conntrack: ConntrackFlusher
    private let logger: Logger
    /// The layout in the kernel and the routes last programmed: what a health change is diffed against.
    private var compiled: KernelPlan?
    private var routes: RouteSet?

    public init(logger: Logger) throws {
        nftables = try NftablesTransport()
        routing = try RoutingProgrammer()
        conntrack = try ConntrackFlusher()
        self.logger = logger
    }

    public func apply(_ plan: ForwardingPlan) throws {
        guard let compiled, compiled.accommodates(plan), let routes else {
            try rebuild(plan)
            return
        }
        let next = try compiled.routes(for: plan)
        let changed = next.changes(from: routes)
        guard !changed.isEmpty else { return }
        // Forget the routes first: if the replace fails half-way, what the kernel holds is unknown.
        self.routes = nil
        let result = try routing.replaceRoutes(changed)
        self.routes = next
        logger.info("dataplane: \(result)")
    }

    public func repair(_ plan: ForwardingPlan) throws {
        guard let compiled, compiled.accommodates(plan) else {
            try rebuild(plan)
            return
        }
        let result = try program(compiled, try compiled.routes(for: plan))
        // A repair follows a link or address coming back: neighbour entries left unresolved
        // while it had no carrier would hold the first packets (the first probe round) for up
        // to the kernel's 1 s retry (RoutingProgrammer.swift, "Unresolved neighbours").
        // Not a failure of the plan: the routes are in place, so it is logged, not retried.
        var reset = ""
        do {
            let n = try routing.resetUnresolvedNeighbours(on: Set(plan.uplinks.map(\.name)))
            if n > 0 { reset = ", \(n) unresolved neighbour entries reset" }
        } catch {
            logger.warning("dataplane: could not reset unresolved neighbour entries: \(error)")
        }
        logger.info("dataplane repaired: \(result)\(reset)")
    }

    /// First plan or a new layout. `replaceRuleset` deletes a table left by an earlier (crashed)
    /// run in the same batch, and `program` reconciles rules and routes with what the kernel has,
    /// so a restart never duplicates anything.
    private func rebuild(_ plan: ForwardingPlan) throws {
        let kernelPlan = try KernelPlan(plan: plan)
        let next = try kernelPlan.routes(for: plan)
        let first = compiled == nil
        // A reload that changes only health checks or weights leaves the ruleset as it is: no
        // nftables transaction, no RCU wait.
        if first || compiled?.ruleset != kernelPlan.ruleset {
            compiled = nil
            try nftables.replaceRuleset(kernelPlan.ruleset)
        }
        compiled = kernelPlan
        let result = try program(kernelPlan, next)
        logger.notice(
            "\(first ? "dataplane ready" : "dataplane rebuilt"): table inet flywall with \(kernelPlan.ruleset.ruleCount) rules, \(kernelPlan.rules.count + 2) ip rules (IPv4 and IPv6), \(next.routes.count) routes (\(result))")
    }

    /// Makes the kernel's Flywall rules and routes exactly `routes`, whatever happened to them.
    private func program(_ plan: KernelPlan, _ routes: RouteSet) throws -> RoutingChanges {
        self.routes = nil
        let result = try routing.apply(plan, routes: routes)
        self.routes = routes
        return result
    }

    public func flushConnections(uplink: ForwardingPlan.Uplink) throws -> Int {
        try conntrack.flush(mark: DataplaneMarks.pin(uplink: uplink.index), mask: DataplaneMarks.classMask)
    }

    public func removeAll() throws {
        try nftables.removeTable()
        _ = try routing.removeAll()
        compiled = nil
        routes = nil
    }
}
