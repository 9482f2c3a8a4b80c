@testable import Adapters
import Domain
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Micro-benchmark of the failover path over rtnetlink: prints numbers, asserts only correctness.
/// Off unless `FLYWALL_BENCH` is set; run it in release mode as root:
///
///     FLYWALL_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter NetlinkRouteBenchmark
@Suite("Netlink route and conntrack micro-benchmarks (FLYWALL_BENCH=1, root)", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["FLYWALL_BENCH"] != nil, "set FLYWALL_BENCH=1"),
       .enabled(if: netlinkTestsAreRoot, "needs root for namespaces"))
struct NetlinkRouteBenchmarkTests {
    /// Median, 10th and 90th percentile of `runs` timings of `body`, in microseconds.
    private func measure(runs: Int, _ body: (Int) throws -> Void) rethrows -> (median: Double, p10: Double, p90: Double) {
        var samples: [Double] = []
        let clock = ContinuousClock()
        for run in 0..<runs {
            let elapsed = try clock.measure { try body(run) }
            samples.append(microseconds(elapsed))
        }
        samples.sort()
        return (samples[runs / 2], samples[runs / 10], samples[(runs * 9) / 10])
    }

    private func microseconds(_ duration: Duration) -> Double {
        Double(duration.components.attoseconds) / 1e12 + Double(duration.components.seconds) * 1e6
    }

    private func format(_ value: Double) -> String {
        value >= 1000 ? String(format: "%.2f ms", value / 1000) : String(format: "%.0f µs", value)
    }

    /// A router namespace with `count` veth uplinks wan0... (10.64.i.2/24, gateway 10.64.i.1).
    private func makeRouter(uplinks count: Int) throws -> NetlinkTestNamespaces {
        let spaces = try NetlinkTestNamespaces(roles: ["bench"])
        var batch = ""
        for i in 0..<count {
            batch += "link add wan\(i) type veth peer name wan\(i)p\n"
            batch += "address add 10.\(64 + i / 256).\(i % 256).2/24 dev wan\(i)\n"
            batch += "link set wan\(i) up\nlink set wan\(i)p up\n"
        }
        do { try spaces.exec("bench", ["ip", "-batch", "-"], input: batch) } catch {
            spaces.remove()
            throw error
        }
        return spaces
    }

    private func via(_ i: Int) -> TableRoute.Kind {
        .via(gateway: IPAddress("10.\(64 + i / 256).\(i % 256).1")!, device: "wan\(i)")
    }

    /// A config's plans made by the core (`CorePlans`), compiled by `KernelPlan` as the daemon does,
    /// with gateways moved onto this benchmark's veths (10.64.i.1 for uplink i; fe80::1 on each
    /// for IPv6 when the uplinks have IPv6 gateways, else their IPv6 routes all throw).
    private struct Layout {
        var kernel: KernelPlan
        var up: RouteSet
        var down: RouteSet

        init(_ config: FlywallConfig, failing: Set<String>, ipv6: Bool = false, via: (Int) -> TableRoute.Kind) throws {
            var plans = CorePlans(config, withoutIPv6: ipv6 ? [] : Set(config.wans.map(\.name)))
            let all = Set(config.wans.map(\.name))
            let upPlan = plans.plan(usable: all)
            let downPlan = plans.plan(usable: all.subtracting(failing))
            kernel = try KernelPlan(plan: upPlan)
            let devices = Dictionary(uniqueKeysWithValues: kernel.uplinks.map { ($0.name, $0.index) })
            func onBench(_ set: RouteSet) -> RouteSet {
                RouteSet(routes: set.routes.map { route in
                    guard case .via(_, let device) = route.kind, let i = devices[device] else { return route }
                    if route.family == .ipv6 {
                        return TableRoute(table: route.table, kind: .via(gateway: IPAddress("fe80::1")!, device: "wan\(i)"), family: .ipv6)
                    }
                    return TableRoute(table: route.table, kind: via(i))
                })
            }
            up = onBench(try kernel.routes(for: upPlan))
            down = onBench(try kernel.routes(for: downPlan))
        }

        /// What the daemon sends on this failure: the routes that differ.
        var failover: [TableRoute] { down.changes(from: up) }
        var failback: [TableRoute] { up.changes(from: down) }
        var counts: String {
            let policy = up.routes.filter { (10_100..<10_300).contains($0.table) }.count
            return "\(kernel.uplinks.count) pin, \(policy) policy, \(kernel.groups.map(\.stickySlots.count).reduce(0, +)) sticky, "
                + "\(kernel.groups.map(\.slots).reduce(0, +)) slot tables"
        }
    }

    @Test("replace the default route of N tables in one batch (failover), and a full apply")
    func routeReplace() throws {
        let spaces = try makeRouter(uplinks: 64)
        defer { spaces.remove() }
        let programmer = try NetworkNamespace.run(named: spaces.name("bench")) { try RoutingProgrammer() }

        // The product's layouts: the spec's 2 WANs (eth0 fails), and 64 balanced WANs with 1,000
        // policies (wan0 fails, or half of them). A failover sends only the routes that differ.
        let twoWAN = try Layout(DataplaneConfigs.twoWAN, failing: ["eth0"], via: via)
        let dualStack = try Layout(DataplaneConfigs.twoWAN, failing: ["eth0"], ipv6: true, via: via)
        let large = DataplaneConfigs.large(uplinks: 64, policies: 1_000)
        let oneOf64 = try Layout(large, failing: ["wan0"], via: via)
        let halfOf64 = try Layout(large, failing: Set((0..<32).map { "wan\($0)" }), via: via)
        // The mark layout's maximum (docs/dataplane.md) as plain tables: no config here makes it;
        // it bounds what any config can cost.
        let maximum: [UInt32] = (0..<64).map { DataplaneTables.pin(uplink: $0) }
            + (0..<64).flatMap { [DataplaneTables.policy(uplink: $0, fallback: false), DataplaneTables.policy(uplink: $0, fallback: true)] }
            + (0..<63).map { DataplaneTables.sticky(slot: $0) } + (0..<1023).map { DataplaneTables.hashSlot($0) }
        // Each case alternates between two route lists, so every run is a real change.
        let cases: [(label: String, there: [TableRoute], back: [TableRoute], runs: Int)] = [
            ("1 table", [TableRoute(table: 20_000, kind: via(1))], [TableRoute(table: 20_000, kind: via(0))], 500),
            ("spec 2 WANs (\(twoWAN.counts)), eth0 fails: the routes that differ", twoWAN.failover, twoWAN.failback, 500),
            ("spec 2 WANs dual-stack (IPv6 gateways on both), eth0 fails: the routes that differ", dualStack.failover,
             dualStack.failback, 500),
            ("spec 2 WANs, every table of the plan (both families)", twoWAN.down.routes, twoWAN.up.routes, 500),
            ("64 WANs + 1,000 policies (\(oneOf64.counts)), wan0 fails: the routes that differ", oneOf64.failover, oneOf64.failback, 300),
            ("64 WANs + 1,000 policies, 32 WANs fail: the routes that differ", halfOf64.failover, halfOf64.failback, 300),
            ("64 WANs + 1,000 policies, every table of the plan", oneOf64.down.routes, oneOf64.up.routes, 100),
            ("mark layout maximum (64 pin, 128 policy, 63 sticky, 1,023 slot tables), every table",
             maximum.map { TableRoute(table: $0, kind: via(1)) }, maximum.map { TableRoute(table: $0, kind: via(0)) }, 60),
        ]
        print("rtnetlink route replace (RoutingProgrammer.replaceRoutes), median [p10–p90] of N runs:")
        for (label, there, back, runs) in cases {
            try programmer.removeAll()
            try programmer.replaceRoutes(back)
            let result = try measure(runs: runs) { run in
                let routes = run % 2 == 0 ? there : back
                let changes = try programmer.replaceRoutes(routes)
                precondition(changes.routesReplaced == routes.count)
            }
            print("  \(label): \(there.count) routes: \(format(result.median)) [\(format(result.p10))–\(format(result.p90))]"
                  + String(format: ", %.1f µs per route", result.median / Double(there.count)))
        }
        #expect(twoWAN.failover.count == 65)
        #expect(dualStack.failover.count == 130 && dualStack.failover.prefix(65).allSatisfy { $0.family == .ipv4 })
        // 3 IPv4 routes, then wan0's no-fallback policy table, which refuses IPv6 too once wan0 is down.
        #expect(oneOf64.failover.count == 4 && oneOf64.failover.last?.family == .ipv6)

        // The reconcile path (start, config reload, crash recovery): dump rules, routes and links,
        // then diff against the plan.
        print("rtnetlink apply (dump + reconcile), median of N runs:")
        for (label, layout) in [("spec 2 WANs", twoWAN), ("64 WANs + 1,000 policies", oneOf64)] {
            try programmer.removeAll()
            let rules = layout.kernel.rules
            let first = try measure(runs: 1) { _ in try programmer.apply(rules: rules, routes: layout.up.routes) }
            let unchanged = try measure(runs: 20) { _ in
                let changes = try programmer.apply(rules: rules, routes: layout.up.routes)
                precondition(changes.isEmpty, "\(changes)")
            }
            let moved = try measure(runs: 1) { _ in try programmer.apply(rules: rules, routes: layout.down.routes) }
            print("  \(label) (\(rules.count) rules, \(layout.up.routes.count) routes): from empty \(format(first.median)), "
                  + "nothing to do \(format(unchanged.median)), after the failover (\(layout.failover.count) routes differ) \(format(moved.median))")
            let routes = try spaces.ip("bench", "route show table \(layout.failover.last { $0.family == .ipv4 }!.table)")
            #expect(routes.contains("dev wan"), "\(routes)")
        }
        try programmer.removeAll()
    }

    @Test("flush one uplink's connections out of many")
    func conntrackFlush() throws {
        let spaces = try NetlinkTestNamespaces(roles: ["ct"])
        defer { spaces.remove() }
        try spaces.exec("ct", ["nft", "-f", "-"], input: """
        table inet fwbench {
            chain marks {
                type filter hook output priority 0; policy accept;
                udp dport 5001 ct mark set 0x01000000
                udp dport 5002 ct mark set 0x02000000
            }
        }
        """)
        let flusher = try NetworkNamespace.run(named: spaces.name("ct")) { try ConntrackFlusher() }
        let buckets = (try? String(contentsOfFile: "/proc/sys/net/netfilter/nf_conntrack_buckets", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        print("ctnetlink flush by mark, median of 5 runs (conntrack hash: \(buckets) buckets):")
        for marked in [10, 1000, 10000] {
            var counted: [Double] = []
            var uncounted: [Double] = []
            for run in 0..<10 {
                try NetworkNamespace.run(named: spaces.name("ct")) {
                    try Self.sendFlows(port: 5001, count: marked)
                    try Self.sendFlows(port: 5002, count: 1000)
                }
                let start = ContinuousClock.now
                if run % 2 == 0 {
                    let deleted = try flusher.flush(mark: 0x0100_0000, mask: 0xff00_0000)
                    counted.append(microseconds(ContinuousClock.now - start))
                    #expect(deleted == marked)
                } else {
                    try flusher.flushWithoutCounting(mark: 0x0100_0000, mask: 0xff00_0000)
                    uncounted.append(microseconds(ContinuousClock.now - start))
                }
                #expect(try flusher.count(mark: 0x0100_0000, mask: 0xff00_0000) == 0)
            }
            counted.sort()
            uncounted.sort()
            print("  \(marked) marked of \(marked + 1000) tracked: flush (count + delete) \(format(counted[2])), "
                  + "flushWithoutCounting \(format(uncounted[2]))")
            #expect(try flusher.count(mark: 0x0200_0000, mask: 0xff00_0000) == 1000)
        }
    }

    /// One UDP datagram to 127.0.0.1:`port` from each of `count` distinct source ports.
    private static func sendFlows(port: UInt16, count: Int) throws {
        for index in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(fd) }
            var source = sockaddr_in()
            source.sin_family = sa_family_t(AF_INET)
            source.sin_port = UInt16(20000 + index).bigEndian
            source.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            var destination = source
            destination.sin_port = port.bigEndian
            let ok = withUnsafePointer(to: &source) { src in
                withUnsafePointer(to: &destination) { dst in
                    src.withMemoryRebound(to: sockaddr.self, capacity: 1) { src in
                        dst.withMemoryRebound(to: sockaddr.self, capacity: 1) { dst in
                            bind(fd, src, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                                && sendto(fd, [UInt8(1)], 1, 0, dst, socklen_t(MemoryLayout<sockaddr_in>.size)) == 1
                        }
                    }
                }
            }
            guard ok else { throw SystemError.lastErrno("send flow \(index)") }
        }
    }
}
