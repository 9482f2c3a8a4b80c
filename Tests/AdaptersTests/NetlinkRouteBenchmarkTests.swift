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

    /// The tables of a plan as `KernelPlan` lays them out (docs/dataplane.md): a pin table per
    /// uplink, two policy tables per uplink, a sticky table per sticky member, a table per hash slot.
    private func tables(uplinks: Int, sticky: Int, slots: Int) -> [UInt32] {
        (0..<uplinks).map { 10000 + UInt32($0) } + (0..<(2 * uplinks)).map { 10100 + UInt32($0) }
            + (0..<sticky).map { 10300 + UInt32($0) } + (0..<slots).map { 20000 + UInt32($0) }
    }

    @Test("replace the default route of N tables in one batch (failover), and a full apply")
    func routeReplace() throws {
        let spaces = try makeRouter(uplinks: 64)
        defer { spaces.remove() }
        let programmer = try NetworkNamespace.run(named: spaces.name("bench")) { try RoutingProgrammer() }

        // A failover replaces the routes of the dead uplink's policy and sticky tables and of the
        // hash slots that pointed to it (pin tables never change).
        let deadUplinkTables: [UInt32] = [10100, 10101, 10300]
        let twoWANSlots: [UInt32] = (0..<64).map { 20000 + UInt32($0) }
        let bigSlots: [UInt32] = stride(from: 0, to: 1023, by: 64).map { 20000 + UInt32($0) }
        let twoWANFailover = deadUplinkTables + twoWANSlots
        let bigFailover = deadUplinkTables + bigSlots
        let cases: [(label: String, tables: [UInt32], runs: Int)] = [
            ("1 table", [20000], 500),
            ("2-WAN failover (2 policy, 1 sticky, 64 hash-slot tables)", twoWANFailover, 500),
            ("2-WAN plan, every table (2 pin, 4 policy, 2 sticky, 64 slots)", tables(uplinks: 2, sticky: 2, slots: 64), 500),
            ("64 uplinks, 1,000 policies: one uplink fails (2 policy, 1 sticky, 1/64 of 1,023 slots)", bigFailover, 300),
            ("64 uplinks, 1,000 policies: every table (64 pin, 128 policy, 63 sticky, 1,023 slots)",
             tables(uplinks: 64, sticky: 63, slots: 1023), 60),
        ]
        print("rtnetlink route replace (RoutingProgrammer.replaceRoutes), median [p10–p90] of N runs:")
        for (label, tables, runs) in cases {
            try programmer.removeAll()
            try programmer.replaceRoutes(tables.map { TableRoute(table: $0, kind: via(0)) })
            // Every run moves every table to the other uplink, so each replace is a real change.
            let result = try measure(runs: runs) { run in
                let kind = run % 2 == 0 ? via(1) : via(0)
                let changes = try programmer.replaceRoutes(tables.map { TableRoute(table: $0, kind: kind) })
                precondition(changes.routesReplaced == tables.count)
            }
            print("  \(label): \(tables.count) routes: \(format(result.median)) [\(format(result.p10))–\(format(result.p90))]"
                  + String(format: ", %.1f µs per route", result.median / Double(tables.count)))
        }
        let last = try spaces.ip("bench", "route show table 20500")
        #expect(last.contains("dev wan0") || last.contains("dev wan1"))

        // The reconcile path (start, config reload): dump rules, routes and links, then diff.
        print("rtnetlink apply (dump + reconcile), median of N runs:")
        for (label, uplinks, sticky, slots) in [("2-WAN plan", 2, 2, 64), ("64 uplinks, 1,023 slots", 64, 63, 1023)] {
            try programmer.removeAll()
            let ids = tables(uplinks: uplinks, sticky: sticky, slots: slots)
            let rules = ids.enumerated().map { index, table in
                FwmarkRule(priority: table < 20000 ? 10100 : 10300, mark: UInt32(index + 1) << 8, mask: 0x00ff_ff00, table: table)
            }
            var routes = ids.map { TableRoute(table: $0, kind: via(Int($0) % uplinks)) }
            let first = try measure(runs: 1) { _ in try programmer.apply(rules: rules, routes: routes) }
            let unchanged = try measure(runs: 20) { _ in
                let changes = try programmer.apply(rules: rules, routes: routes)
                precondition(changes.isEmpty, "\(changes)")
            }
            routes = ids.map { TableRoute(table: $0, kind: via((Int($0) + 1) % uplinks)) }
            let moved = try measure(runs: 1) { _ in try programmer.apply(rules: rules, routes: routes) }
            print("  \(label) (\(rules.count) rules, \(routes.count) routes): from empty \(format(first.median)), "
                  + "nothing to do \(format(unchanged.median)), every route moved \(format(moved.median))")
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
