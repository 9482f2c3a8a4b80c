import Adapters
import Testing

#if canImport(Glibc)
import Glibc
#endif

private var isRoot: Bool { geteuid() == 0 }

@Suite("C libraries link and answer")
struct LibrarySmokeTests {
    @Test("libpcap reports its version")
    func pcapVersion() {
        let version = LibraryVersions.current.libpcap
        #expect(version.hasPrefix("libpcap"), "pcap_lib_version() = \(version)")
        #expect(version.contains { $0.isNumber })
    }

    @Test("libnl reports a 3.x run-time version")
    func libnlVersion() {
        let parts = LibraryVersions.current.libnl.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count == 3)
        #expect(parts.first == 3)
    }

    @Test("libpcap compiles a BPF filter")
    func pcapCompilesFilter() throws {
        // The filter the passive health check will use: outbound TCP SYNs.
        let count = try PcapProbe.compiledInstructionCount("tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn")
        #expect(count > 3)
        #expect(throws: SystemError.self) { _ = try PcapProbe.compiledInstructionCount("this is not a filter") }
    }

    @Test("libnl opens and connects a NETLINK_ROUTE socket and reads the link table")
    func routeSocket() throws {
        let info = try NetlinkProbe.openRouteSocket()
        #expect(info.localPort != 0)
        #expect(info.linkCount >= 1)
        #expect(info.loopbackIndex == 1)
    }

    @Test("libmnl opens and binds a NETLINK_NETFILTER socket")
    func netfilterSocket() throws {
        let portID = try NetfilterProbe.openNetfilterSocket()
        #expect(portID != 0)
    }

    @Test("libnftnl table object round-trips its name and family")
    func nftnlTableRoundTrip() {
        let (name, family) = NetfilterProbe.tableRoundTrip(name: "flywall", family: 1)  // NFPROTO_INET
        #expect(name == "flywall")
        #expect(family == 1)
        let other = NetfilterProbe.tableRoundTrip(name: "a-much-longer-table-name_42")
        #expect(other.name == "a-much-longer-table-name_42")
    }

    @Test("nf_tables answers a generation request (root only)", .enabled(if: isRoot, "needs CAP_NET_ADMIN"))
    func rulesetGeneration() throws {
        let first = try NetfilterProbe.rulesetGeneration()
        let second = try NetfilterProbe.rulesetGeneration()
        // Nothing in this test changes the ruleset; another process could, so only ever upwards.
        #expect(second >= first)
    }

    @Test("nf_tables refuses a generation request without privileges", .enabled(if: !isRoot, "runs as non-root only"))
    func rulesetGenerationNeedsPrivileges() {
        #expect(throws: SystemError.self) { _ = try NetfilterProbe.rulesetGeneration() }
    }
}
