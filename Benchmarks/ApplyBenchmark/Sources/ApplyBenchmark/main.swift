// Applying forwarding plans to the kernel, in a scratch network namespace (run as root):
//   - the failover path as built: `KernelPlan.routes(for:)`, the diff, and `RoutingProgrammer.replaceRoutes`
//     (nftables is not touched on failover);
//   - a full ruleset replace through libnftnl (`NftablesTransport.replaceRuleset`, the config-reload path);
//   - `nft -f` replacing the same ruleset from its text.
// Medians over repeated runs, side by side, for plans the core makes (`MultiWANStateMachine`, as
// in the daemon, for dual-stack uplinks): the spec's 2-WAN config with eth0 failing, and 64 balanced
// uplinks with 1,000 policy routes with one and with 32 uplinks failing. Prints a table (the routes
// of both families that changed); docs/benchmarks.md records a run.
#if canImport(Glibc)
import Glibc
#endif
import Adapters
import Domain

@_silgen_name("setns") func sys_setns(_ fd: Int32, _ nstype: Int32) -> Int32

/// Runs a program and waits for it; returns its exit status.
@discardableResult
func spawn(_ arguments: [String]) -> Int32 {
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    guard posix_spawnp(&pid, arguments[0], nil, nil, argv, environ) == 0 else { return -1 }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return status
}

/// The scratch namespace, removed on every way out.
nonisolated(unsafe) var namespace = ""

func fail(_ message: String) -> Never {
    if !namespace.isEmpty { spawn(["ip", "netns", "delete", namespace]) }
    let text = "apply benchmark: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func median(_ samples: [Duration]) -> Duration {
    let sorted = samples.sorted()
    return sorted[sorted.count / 2]
}

func ms(_ d: Duration) -> String {
    let v = Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
    let rounded = (v * 1000).rounded() / 1000
    return "\(rounded) ms"
}

func measure(_ iterations: Int, _ body: (Int) throws -> Void) rethrows -> Duration {
    let clock = ContinuousClock()
    var samples: [Duration] = []
    for i in 0..<iterations {
        let start = clock.now
        try body(i)
        samples.append(clock.now - start)
    }
    return median(samples)
}

struct Case {
    var name: String
    var config: FlywallConfig
    var up: ForwardingPlan
    var down: ForwardingPlan
    var iterations: Int
}

/// Plans made by the core itself (`MultiWANStateMachine`), as the daemon gets them for dual-stack
/// uplinks: each WAN's IPv4 gateway learned as from DHCP (10.i.0.1, on-link on the benchmark's
/// veths) and its IPv6 gateway as from a router advertisement (fe80::1 on the WAN's device: the
/// daemon's `LinkMonitor` feeds `.ipv6GatewayLearned` for the IPv6 default route netlink reports
/// on a WAN's device, as a DHCP WAN behind an IPv6 ISP has); the WANs not in `usable` taken out by
/// the operator's maintenance command (the same plan a failure gives).
func corePlan(_ config: FlywallConfig, usable: Set<String>) -> ForwardingPlan {
    var core = MultiWANStateMachine(config: config)
    _ = core.handle(.tick, at: .zero)
    for (i, wan) in config.wans.enumerated() {
        _ = core.handle(.addressLearned(interface: wan.name, address: nil, gateway: IPAddress.v4(0x0A00_0001 | UInt32(i) << 16)),
                        at: .zero)
        _ = core.handle(.ipv6GatewayLearned(interface: wan.name, gateway: .v6(high: 0xfe80 << 48, low: 1)), at: .zero)
    }
    for wan in config.wans where !usable.contains(wan.name) {
        _ = core.handle(.manual(.maintenance(interface: wan.name, enabled: true), origin: CommandOrigin(source: "benchmark")), at: .zero)
    }
    return core.plan
}

/// The spec's dual WAN with its three policy routes; eth0 fails.
func twoWAN() -> Case {
    let config = FlywallConfig(
        interfaces: [
            Interface(name: "lan0", zone: "LAN"),
            Interface(name: "eth0", zone: "WAN", dhcp: true, wan: WANSettings(priority: 1)),
            Interface(name: "eth1", zone: "WAN", dhcp: true, wan: WANSettings(priority: 2)),
        ],
        uplinkGroups: [UplinkGroup(name: "default", mode: .failover,
                                   members: [Member(interface: "eth0", priority: 1), Member(interface: "eth1", priority: 2)])],
        policyRoutes: [
            PolicyRoute(name: "work-vpn", match: .init(protocols: [.udp], destPorts: [PortRange(1194)]), uplink: "eth0"),
            PolicyRoute(name: "streaming", match: .init(destinations: [.ipset("streaming_services")]), uplink: "eth1"),
            PolicyRoute(name: "gaming", match: .init(protocols: [.udp], sources: [.cidr(CIDR("192.168.1.50")!)]), uplink: "eth0"),
        ],
        ipsets: [IPSet(name: "streaming_services", entries: [CIDR("198.51.100.0/24")!, CIDR("203.0.113.128/25")!])])
    return Case(name: "spec 2 WANs, eth0 fails", config: config,
                up: corePlan(config, usable: ["eth0", "eth1"]), down: corePlan(config, usable: ["eth1"]), iterations: 51)
}

/// 64 WANs balanced with equal weights and 1,000 policy routes over them (ports, sources); `failing`
/// of them fail at once.
func large(failing: Int) -> Case {
    let n = 64
    var interfaces = [Interface(name: "lan0", zone: "LAN")]
    for i in 0..<n { interfaces.append(Interface(name: "wan\(i)", zone: "WAN", dhcp: true, wan: WANSettings())) }
    let group = UplinkGroup(name: "default", mode: .balance, members: (0..<n).map { Member(interface: "wan\($0)") })
    let routes = (0..<1_000).map { k in
        PolicyRoute(name: "policy-\(k)",
                    match: .init(protocols: [k % 2 == 0 ? .tcp : .udp], destPorts: [PortRange(UInt16(1000 + k))],
                                 sources: [.cidr(CIDR(address: .v4(0x0A00_0000 | UInt32(k) << 8), prefixLength: 24))]),
                    uplink: "wan\(k % n)", fallback: k % 3 != 0)
    }
    let config = FlywallConfig(interfaces: interfaces, uplinkGroups: [group], policyRoutes: routes)
    let all = (0..<n).map { "wan\($0)" }
    return Case(name: failing == 1 ? "64 WANs + 1,000 policies, wan0 fails" : "64 WANs + 1,000 policies, \(failing) WANs fail",
                config: config, up: corePlan(config, usable: Set(all)), down: corePlan(config, usable: Set(all.dropFirst(failing))),
                iterations: 21)
}

// MARK: - Run

guard getuid() == 0 else { fail("needs root (network namespaces, nftables, routes)") }
namespace = "fw-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))-bench"
guard spawn(["ip", "netns", "add", namespace]) == 0 else { fail("ip netns add \(namespace) failed") }
do {
    // This thread (the only one that opens sockets or spawns processes) enters the namespace.
    let fd = open("/var/run/netns/\(namespace)", O_RDONLY)
    guard fd >= 0, sys_setns(fd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
        spawn(["ip", "netns", "delete", namespace])
        fail("setns into \(namespace) failed")
    }
    close(fd)
}

print("Applying forwarding plans made by the core (median of N runs, namespace \(namespace))")
print("case                                   | slots | failover (routes) | changed routes (IPv4+IPv6) | libnftnl replace | nft -f replace | nft -f / failover | nft -f / libnftnl")
var failed = false
for c in [twoWAN(), large(failing: 1), large(failing: 32)] {
    // The uplinks as veth links (this kernel has no dummy links) with an on-link gateway each.
    let script = c.config.wans.enumerated().map { i, w in
        "link add \(w.name) type veth peer name \(w.name)p\nlink set \(w.name)p up\n"
            + "address add 10.\(i).0.2/16 dev \(w.name)\nlink set \(w.name) up"
    }.joined(separator: "\n") + "\n"
    let scriptPath = "/tmp/\(namespace)-links"
    let f = fopen(scriptPath, "w")!
    fputs(script, f)
    fclose(f)
    guard spawn(["ip", "-batch", scriptPath]) == 0 else { fail("creating links failed") }
    unlink(scriptPath)

    do {
        let kernel = try KernelPlan(plan: c.up)
        guard kernel.accommodates(c.down) else { fail("\(c.name): the down plan needs a new ruleset") }
        let transport = try NftablesTransport()
        let routing = try RoutingProgrammer()
        try transport.replaceRuleset(kernel.ruleset)
        var current = try kernel.routes(for: c.up)
        try routing.apply(rules: kernel.rules, routes: current.routes)

        // Failover and failback, alternately: the whole health-change path after the core decided.
        var changed = 0
        var changedIPv6 = 0
        let failover = try measure(c.iterations) { i in
            let next = try kernel.routes(for: i % 2 == 0 ? c.down : c.up)
            let changes = next.changes(from: current)
            try routing.replaceRoutes(changes)
            changed = changes.count
            changedIPv6 = changes.filter { $0.family == .ipv6 }.count
            current = next
        }

        let libnftnl = try measure(c.iterations) { _ in try transport.replaceRuleset(kernel.ruleset) }

        let textPath = "/tmp/\(namespace)-ruleset.nft"
        let t = fopen(textPath, "w")!
        fputs("table inet flywall\ndelete table inet flywall\n" + kernel.ruleset.text, t)
        fclose(t)
        defer { unlink(textPath) }
        var nftFailed = false
        let nft = measure(c.iterations) { _ in if spawn(["nft", "-f", textPath]) != 0 { nftFailed = true } }
        if nftFailed { fail("\(c.name): nft -f failed") }

        func ratio(_ a: Duration, _ b: Duration) -> String {
            let r = (a / b * 10).rounded() / 10
            return "\(r)x"
        }
        let slots = kernel.groups.map(\.slots).reduce(0, +)
        print("\(c.name.padding(38)) | \(String(slots).padding(5)) | \(ms(failover).padding(17)) | \("\(changed) (\(changed - changedIPv6)+\(changedIPv6) v6)".padding(14)) | \(ms(libnftnl).padding(16)) | \(ms(nft).padding(14)) | \(ratio(nft, failover).padding(17)) | \(ratio(nft, libnftnl))")
        try routing.removeAll()
        try transport.removeTable()
    } catch {
        print("\(c.name): \(error)")
        failed = true
    }
    for w in c.config.wans { spawn(["ip", "link", "delete", w.name]) }
}
spawn(["ip", "netns", "delete", namespace])
if failed { exit(1) }

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
