import Adapters
import Domain
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("RoutingProgrammer over rtnetlink (root, network namespaces)", .enabled(if: netlinkTestsAreRoot, "needs root for namespaces"))
struct NetlinkRoutingProgrammerTests {
    private static let classA: UInt32 = 0xff00_0000
    private static let classB: UInt32 = 0x00ff_ff00

    /// A 2-WAN plan as docs/dataplane.md lays it out: the main table without its default route
    /// first, probe and pin tables per uplink, one group with three buckets (2:1 over wan0 and wan1).
    private let rules: [FwmarkRule] = [
        .mainWithoutDefault(priority: 10000),
        FwmarkRule(priority: 10000, mark: 64 << 24, mask: classA, table: 10000),
        FwmarkRule(priority: 10000, mark: 65 << 24, mask: classA, table: 10001),
        FwmarkRule(priority: 10200, mark: 1 << 24, mask: classA, table: 10300),
        FwmarkRule(priority: 10200, mark: 2 << 24, mask: classA, table: 10301),
        FwmarkRule(priority: 10300, mark: 1 << 8, mask: classB, table: 20000),
        FwmarkRule(priority: 10300, mark: 2 << 8, mask: classB, table: 20001),
        FwmarkRule(priority: 10300, mark: 3 << 8, mask: classB, table: 20002),
    ]
    private let wan0 = TableRoute.Kind.via(gateway: IPAddress("10.1.0.1")!, device: "wan0")
    private let wan1 = TableRoute.Kind.via(gateway: IPAddress("10.2.0.1")!, device: "wan1")
    private var routes: [TableRoute] {
        [TableRoute(table: 10000, kind: wan0), TableRoute(table: 10001, kind: wan1),
         TableRoute(table: 10300, kind: wan0), TableRoute(table: 10301, kind: wan1),
         TableRoute(table: 20000, kind: wan0), TableRoute(table: 20001, kind: wan0), TableRoute(table: 20002, kind: wan1)]
    }

    private let expectedRules = [
        "10000: from all lookup main suppress_prefixlength 0",
        "10000: from all fwmark 0x40000000/0xff000000 lookup 10000",
        "10000: from all fwmark 0x41000000/0xff000000 lookup 10001",
        "10200: from all fwmark 0x1000000/0xff000000 lookup 10300",
        "10200: from all fwmark 0x2000000/0xff000000 lookup 10301",
        "10300: from all fwmark 0x100/0xffff00 lookup 20000",
        "10300: from all fwmark 0x200/0xffff00 lookup 20001",
        "10300: from all fwmark 0x300/0xffff00 lookup 20002",
    ]

    /// A router namespace with wan0 (10.1.0.2/24) and wan1 (10.2.0.2/24), veths whose peers stay
    /// in the same namespace, and other software's rules and routes around Flywall's ranges.
    private func makeRouter() throws -> NetlinkTestNamespaces {
        let spaces = try NetlinkTestNamespaces(roles: ["router"])
        do {
            for (index, name) in ["wan0", "wan1"].enumerated() {
                try spaces.ip("router", "link add \(name) type veth peer name \(name)p")
                try spaces.ip("router", "addr add 10.\(index + 1).0.2/24 dev \(name)")
                try spaces.ip("router", "link set \(name) up")
                try spaces.ip("router", "link set \(name)p up")
            }
            // Foreign state, right outside Flywall's ranges: must survive everything.
            try spaces.ip("router", "rule add fwmark 0x5 lookup 100 priority 500")
            try spaces.ip("router", "rule add fwmark 0x6 lookup 9999 priority 9999")
            try spaces.ip("router", "rule add fwmark 0x7 lookup 11000 priority 11000")
            try spaces.ip("router", "route add default via 10.1.0.1 dev wan0 table 100")
            try spaces.ip("router", "route add default via 10.2.0.1 dev wan1 table 9999")
            try spaces.ip("router", "route add unreachable default table 11000")
            try spaces.ip("router", "route add unreachable default table 19999")
            try spaces.ip("router", "route add default via 10.1.0.1 dev wan0")
        } catch {
            spaces.remove()
            throw error
        }
        return spaces
    }

    private func flywallRules(_ spaces: NetlinkTestNamespaces) throws -> [String] {
        try spaces.ip("router", "rule show").split(separator: "\n").compactMap { line in
            let text = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            guard let priority = UInt32(text.prefix { $0 != ":" }), (10000...10999).contains(priority) else { return nil }
            return text
        }
    }

    private func table(_ spaces: NetlinkTestNamespaces, _ id: UInt32) throws -> [String] {
        try spaces.ip("router", "route show table \(id)").split(separator: "\n").map {
            $0.split(separator: " ").joined(separator: " ")
        }
    }

    /// Every IPv4 and IPv6 route in a Flywall table, as `ip route show table all` prints them.
    private func flywallRoutes(_ spaces: NetlinkTestNamespaces) throws -> [String] {
        let v4 = try spaces.ip("router", "-4 route show table all")
        let v6 = try spaces.ip("router", "-6 route show table all")
        return (v4 + v6).split(separator: "\n").map(String.init).filter { line in
            guard let range = line.range(of: " table ") else { return false }
            let id = UInt32(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
            return (10000...10999).contains(id) || (20000...85535).contains(id)
        }
    }

    private func foreignState(_ spaces: NetlinkTestNamespaces) throws -> String {
        let rules = try spaces.ip("router", "rule show").split(separator: "\n").filter {
            guard let priority = UInt32($0.prefix { $0 != ":" }) else { return true }
            return !(10000...10999).contains(priority)
        }
        var tables: [String] = []
        for id in ["100", "9999", "11000", "19999", "main"] {
            tables.append(try spaces.ip("router", "route show table \(id)"))
        }
        return rules.joined(separator: "\n") + "\n" + tables.joined(separator: "\n")
    }

    @Test("apply makes exactly the plan's rules and tables; again changes nothing; foreign state survives")
    func applyIsExactAndIdempotent() throws {
        let spaces = try makeRouter()
        defer { spaces.remove() }
        let foreignBefore = try foreignState(spaces)

        // Leftovers of a crashed run: a stale rule and table, a rule with a Flywall priority but
        // another shape, and a wrong route in a table the plan uses.
        try spaces.ip("router", "rule add fwmark 0x7000000/0xff000000 lookup 10006 priority 10000")
        try spaces.ip("router", "rule add from 192.0.2.0/24 lookup 10001 priority 10200")
        try spaces.ip("router", "route add unreachable default table 10006")
        try spaces.ip("router", "route add default via 10.2.0.1 dev wan1 table 20000")
        try spaces.ip("router", "route add 198.51.100.0/24 via 10.2.0.1 dev wan1 table 20000")
        try spaces.ip("router", "-6 route add unreachable default table 20001")

        let programmer = try NetworkNamespace.run(named: spaces.name("router")) { try RoutingProgrammer() }
        let first = try programmer.apply(rules: rules, routes: routes)
        #expect(first.rulesAdded == 8)
        #expect(first.rulesDeleted == 2)
        #expect(first.routesReplaced == 7)
        #expect(first.routesDeleted == 3)  // 198.51.100.0/24 in 20000, the IPv6 route, table 10006

        #expect(try flywallRules(spaces) == expectedRules)
        #expect(try table(spaces, 10000) == ["default via 10.1.0.1 dev wan0 proto static"])
        #expect(try table(spaces, 10001) == ["default via 10.2.0.1 dev wan1 proto static"])
        #expect(try table(spaces, 20000) == ["default via 10.1.0.1 dev wan0 proto static"])
        #expect(try table(spaces, 20002) == ["default via 10.2.0.1 dev wan1 proto static"])
        #expect(try flywallRoutes(spaces).count == 7)
        #expect(try foreignState(spaces) == foreignBefore)

        // The same plan again, from this programmer and from a fresh one (a daemon restart).
        let rulesAfterFirst = try spaces.ip("router", "rule show")
        let routesAfterFirst = try flywallRoutes(spaces)
        #expect(try programmer.apply(rules: rules, routes: routes).isEmpty)
        let restarted = try NetworkNamespace.run(named: spaces.name("router")) { try RoutingProgrammer() }
        #expect(try restarted.apply(rules: rules + rules, routes: routes).isEmpty)
        #expect(try spaces.ip("router", "rule show") == rulesAfterFirst)
        #expect(try flywallRoutes(spaces) == routesAfterFirst)

        let snapshot = try programmer.snapshot()
        #expect(Set(snapshot.rules) == Set(rules))
        #expect(snapshot.rules.count == rules.count)
        #expect(Set(snapshot.routes) == Set(routes))
        #expect(snapshot.otherEntries == 0)

        // A smaller plan removes what it no longer has.
        let smaller = try programmer.apply(rules: Array(rules.prefix(5)), routes: Array(routes.prefix(4)))
        #expect(smaller == RoutingChanges(rulesDeleted: 3, routesDeleted: 3))
        #expect(try flywallRules(spaces) == Array(expectedRules.prefix(5)))
        #expect(try table(spaces, 20000) == [])
        #expect(try foreignState(spaces) == foreignBefore)
    }

    @Test("replaceRoutes moves a table between uplinks and to throw, unreachable and device-only routes")
    func replaceRoutes() throws {
        let spaces = try makeRouter()
        defer { spaces.remove() }
        let programmer = try NetworkNamespace.run(named: spaces.name("router")) { try RoutingProgrammer() }
        try programmer.apply(rules: rules, routes: routes)
        let rulesBefore = try spaces.ip("router", "rule show")

        let cases: [(TableRoute.Kind, String)] = [
            (wan1, "default via 10.2.0.1 dev wan1 proto static"),
            (wan0, "default via 10.1.0.1 dev wan0 proto static"),
            (.throw, "throw default proto static"),
            (.unreachable, "unreachable default proto static"),
            (.via(gateway: nil, device: "wan1"), "default dev wan1 proto static scope link"),
            (wan1, "default via 10.2.0.1 dev wan1 proto static"),
        ]
        for (kind, expected) in cases {
            let changes = try programmer.replaceRoutes([TableRoute(table: 20000, kind: kind), TableRoute(table: 10300, kind: kind)])
            #expect(changes == RoutingChanges(routesReplaced: 2))
            #expect(try table(spaces, 20000) == [expected])
            #expect(try table(spaces, 10300) == [expected])
        }
        #expect(try table(spaces, 20001) == ["default via 10.1.0.1 dev wan0 proto static"])
        #expect(try spaces.ip("router", "rule show") == rulesBefore)

        // After the failover, apply with the new plan sees nothing to do for those tables.
        var moved = routes
        moved[2] = TableRoute(table: 10300, kind: wan1)
        moved[4] = TableRoute(table: 20000, kind: wan1)
        #expect(try programmer.apply(rules: rules, routes: moved).isEmpty)
    }

    @Test("IPv6 rules and routes live beside IPv4's in the same table ids: exact, idempotent, replaced and removed apart")
    func ipv6BesideIPv4() throws {
        let spaces = try makeRouter()
        defer { spaces.remove() }
        try spaces.ip("router", "-6 addr add 2001:db8:2::2/64 dev wan1 nodad")
        let v6Rules = rules.map { $0.inFamily(.ipv6) }
        let linkLocal = TableRoute.Kind.via(gateway: IPAddress("fe80::1")!, device: "wan0")
        let global = TableRoute.Kind.via(gateway: IPAddress("2001:db8:2::1")!, device: "wan1")
        let v6Routes = [TableRoute(table: 10000, kind: linkLocal, family: .ipv6), TableRoute(table: 10001, kind: global, family: .ipv6),
                        TableRoute(table: 20000, kind: linkLocal, family: .ipv6), TableRoute(table: 20001, kind: .throw, family: .ipv6),
                        TableRoute(table: 20002, kind: .unreachable, family: .ipv6)]
        let programmer = try NetworkNamespace.run(named: spaces.name("router")) { try RoutingProgrammer() }
        let first = try programmer.apply(rules: rules + v6Rules, routes: routes + v6Routes)
        #expect(first == RoutingChanges(rulesAdded: 16, routesReplaced: 12))

        func v6Table(_ id: UInt32) throws -> [String] {
            try spaces.ip("router", "-6 route show table \(id)").split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        }
        let v6Listed = try spaces.ip("router", "-6 rule show").split(separator: "\n").compactMap { line -> String? in
            let text = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            guard let priority = UInt32(text.prefix { $0 != ":" }), (10000...10999).contains(priority) else { return nil }
            return text
        }
        #expect(v6Listed == expectedRules)
        #expect(try flywallRules(spaces) == expectedRules)
        #expect(try v6Table(20000) == ["default via fe80::1 dev wan0 proto static metric 1024 pref medium"])
        #expect(try v6Table(10001) == ["default via 2001:db8:2::1 dev wan1 proto static metric 1024 pref medium"])
        #expect(try v6Table(20001) == ["throw default dev lo proto static metric 1024 pref medium"])
        #expect(try v6Table(20002) == ["unreachable default dev lo proto static metric 1024 pref medium"])
        #expect(try table(spaces, 20000) == ["default via 10.1.0.1 dev wan0 proto static"])

        // Again: nothing to do in either family.
        #expect(try programmer.apply(rules: rules + v6Rules, routes: routes + v6Routes).isEmpty)
        let snapshot = try programmer.snapshot()
        #expect(Set(snapshot.rules) == Set(rules + v6Rules) && snapshot.rules.count == 2 * rules.count)
        #expect(Set(snapshot.routes) == Set(routes + v6Routes))
        #expect(snapshot.otherEntries == 0)

        // A failover of IPv6 leaves the IPv4 route of the same table alone, and the other way round.
        #expect(try programmer.replaceRoutes([TableRoute(table: 20000, kind: global, family: .ipv6)]) == RoutingChanges(routesReplaced: 1))
        #expect(try v6Table(20000) == ["default via 2001:db8:2::1 dev wan1 proto static metric 1024 pref medium"])
        #expect(try table(spaces, 20000) == ["default via 10.1.0.1 dev wan0 proto static"])
        try programmer.replaceRoutes([TableRoute(table: 20000, kind: wan1)])
        #expect(try v6Table(20000) == ["default via 2001:db8:2::1 dev wan1 proto static metric 1024 pref medium"])

        // Dropping IPv6 from the plan removes exactly IPv6's part.
        let v4Only = try programmer.apply(rules: rules, routes: routes)
        #expect(v4Only == RoutingChanges(rulesDeleted: 8, routesReplaced: 1, routesDeleted: 5))
        #expect(try v6Table(20000) == [] && flywallRules(spaces) == expectedRules)
        #expect(try programmer.removeAll() == RoutingChanges(rulesDeleted: 8, routesDeleted: 7))
    }

    @Test("an unknown interface fails that route only, with its name in the error")
    func unknownInterface() throws {
        let spaces = try makeRouter()
        defer { spaces.remove() }
        let programmer = try NetworkNamespace.run(named: spaces.name("router")) { try RoutingProgrammer() }
        let bad = TableRoute(table: 20005, kind: .via(gateway: IPAddress("10.9.0.1")!, device: "nosuch0"))
        let error = #expect(throws: RoutingError.self) {
            try programmer.replaceRoutes([TableRoute(table: 20004, kind: wan0), bad])
        }
        #expect(error?.failures.count == 1)
        #expect(error?.failures.first?.change.contains("nosuch0") == true)
        #expect(error?.changes == RoutingChanges(routesReplaced: 1))
        #expect(try table(spaces, 20004) == ["default via 10.1.0.1 dev wan0 proto static"])

        // A gateway the kernel cannot reach is the kernel's error, also reported per route.
        let unreachable = TableRoute(table: 20006, kind: .via(gateway: IPAddress("203.0.113.1")!, device: "wan0"))
        let kernelError = #expect(throws: RoutingError.self) { try programmer.replaceRoutes([unreachable]) }
        #expect(kernelError?.failures.first?.error.errno == .networkUnreachable)
        #expect(kernelError?.description.contains("Network is unreachable (errno 101)") == true)
    }

    @Test("removeAll deletes Flywall's rules and tables and nothing else")
    func removeAll() throws {
        let spaces = try makeRouter()
        defer { spaces.remove() }
        let foreignBefore = try foreignState(spaces)
        let programmer = try NetworkNamespace.run(named: spaces.name("router")) { try RoutingProgrammer() }
        try programmer.apply(rules: rules, routes: routes)
        try spaces.ip("router", "-6 route add unreachable default table 85535")
        try spaces.ip("router", "-6 rule add lookup 10001 priority 10999")

        let removed = try programmer.removeAll()
        #expect(removed == RoutingChanges(rulesDeleted: 9, routesDeleted: 8))
        #expect(try flywallRules(spaces) == [])
        #expect(try spaces.ip("router", "-6 rule show").contains("10999") == false)
        #expect(try flywallRoutes(spaces) == [])
        #expect(try foreignState(spaces) == foreignBefore)
        #expect(try programmer.removeAll().isEmpty)
    }

    @Test("resetUnresolvedNeighbours deletes INCOMPLETE and FAILED entries of the given links only")
    func resetUnresolvedNeighbours() throws {
        let spaces = try makeRouter()
        defer { spaces.remove() }
        // What packets sent while wan0 had no carrier leave behind, next to entries that stay.
        try spaces.ip("router", "neigh add 10.1.0.7 dev wan0 nud incomplete")
        try spaces.ip("router", "neigh add 10.1.0.8 dev wan0 nud failed")
        try spaces.ip("router", "-6 neigh add fd00::7 dev wan0 nud incomplete")
        try spaces.ip("router", "neigh add 10.1.0.9 dev wan0 lladdr 02:00:00:00:00:09 nud stale")
        try spaces.ip("router", "neigh add 10.1.0.10 dev wan0 lladdr 02:00:00:00:00:0a nud permanent")
        try spaces.ip("router", "neigh add 10.2.0.7 dev wan1 nud incomplete")
        func entries(_ device: String) throws -> [String] {
            (try spaces.ip("router", "neigh show dev \(device)") + (try spaces.ip("router", "-6 neigh show dev \(device)")))
                .split(separator: "\n").map { String($0.split(separator: " ")[0]) }.sorted()
        }
        let programmer = try NetworkNamespace.run(named: spaces.name("router")) { try RoutingProgrammer() }
        #expect(try programmer.resetUnresolvedNeighbours(on: ["wan0", "nosuch0"]) == 3)
        #expect(try entries("wan0") == ["10.1.0.10", "10.1.0.9"])
        #expect(try entries("wan1") == ["10.2.0.7"])
        #expect(try programmer.resetUnresolvedNeighbours(on: ["wan0"]) == 0)
        #expect(try programmer.resetUnresolvedNeighbours(on: []) == 0)
    }
}
