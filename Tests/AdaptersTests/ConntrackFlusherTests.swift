@testable import Adapters
import Domain
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("ConntrackFlusher over ctnetlink (root, network namespaces)",
       .enabled(if: netlinkTestsAreRoot, "needs root for namespaces"),
       .enabled(if: NetlinkTestShell.has("conntrack"), "needs the conntrack CLI (Debian package conntrack) to check the kernel's state"))
struct ConntrackFlusherTests {
    /// Marks by UDP destination port, in the pin-class layout of docs/dataplane.md: class A
    /// (bits 24–31) is the uplink pin, the low byte is other software's and must not matter.
    private static let ruleset = """
    table inet fwtest {
        chain zones {
            type filter hook output priority -310; policy accept;
            udp dport 5005 ct zone set 7
        }
        chain marks {
            type filter hook output priority 0; policy accept;
            udp dport 5001 ct mark set 0x01000000
            udp dport 5002 ct mark set 0x02000000
            udp dport 5003 ct mark set 0x01000042
            udp dport 5004 ct mark set 0x00000001
            udp dport 5005 ct mark set 0x01000000
        }
    }
    """

    /// Sends one datagram per (port, count), each from its own source port, so each is its own
    /// connection (a closed socket's port would be reused and land in the same entry).
    private func sendFlows(in spaces: NetlinkTestNamespaces, to ports: [UInt16: Int], ipv6Port: UInt16? = nil) throws {
        try NetworkNamespace.run(named: spaces.name("host")) {
            for (port, count) in ports {
                for index in 0..<count { try send(from: UInt16(40000 + index), to: port, ipv6: false) }
            }
            if let ipv6Port { try send(from: 40000, to: ipv6Port, ipv6: true) }
        }
    }

    private func send(from sourcePort: UInt16, to port: UInt16, ipv6: Bool) throws {
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SystemError.lastErrno("socket") }
        defer { close(fd) }
        func withAddress<R>(port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
            if ipv6 {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = port.bigEndian
                address.sin6_addr = in6addr_loopback
                return withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                }
            }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard withAddress(port: sourcePort, { bind(fd, $0, $1) }) == 0 else {
            throw SystemError.lastErrno("bind \(sourcePort)")
        }
        let byte: [UInt8] = [0x2a]
        let sent = withAddress(port: port) { sendto(fd, byte, 1, 0, $0, $1) }
        guard sent == 1 else { throw SystemError.lastErrno("sendto \(port)") }
    }

    /// Tracked UDP connections per destination port, as the conntrack CLI lists them.
    private func connectionsByPort(_ spaces: NetlinkTestNamespaces) throws -> [UInt16: Int] {
        var counts: [UInt16: Int] = [:]
        for family in ["ipv4", "ipv6"] {
            let listing = try spaces.exec("host", ["conntrack", "-L", "-f", family, "-p", "udp"])
            for line in listing.split(separator: "\n") {
                guard let range = line.range(of: "dport=") else { continue }
                if let port = UInt16(line[range.upperBound...].prefix { $0.isNumber }) { counts[port, default: 0] += 1 }
            }
        }
        return counts
    }

    @Test("deletes exactly the connections whose ct mark carries the pin class, and counts them")
    func flushByMark() throws {
        let spaces = try NetlinkTestNamespaces(roles: ["host"])
        defer { spaces.remove() }
        try spaces.exec("host", ["nft", "-f", "-"], input: Self.ruleset)

        // 3 + 2 + 1 + (the IPv6 one) + zone 7 connections carry pin class 1; the rest do not.
        try sendFlows(in: spaces, to: [5001: 3, 5002: 4, 5003: 2, 5004: 5, 5005: 1, 5006: 2], ipv6Port: 5001)
        let before = try connectionsByPort(spaces)
        #expect(before == [5001: 4, 5002: 4, 5003: 2, 5004: 5, 5005: 1, 5006: 2])

        let flusher = try NetworkNamespace.run(named: spaces.name("host")) { try ConntrackFlusher() }
        #expect(try flusher.count(mark: 0x0100_0000, mask: 0xff00_0000) == 7)
        let deleted = try flusher.flush(mark: 0x0100_0000, mask: 0xff00_0000)
        #expect(deleted == 7)
        #expect(try connectionsByPort(spaces) == [5002: 4, 5004: 5, 5006: 2])

        // Nothing left to match: a second flush deletes nothing.
        #expect(try flusher.flush(mark: 0x0100_0000, mask: 0xff00_0000) == 0)
        #expect(try connectionsByPort(spaces) == [5002: 4, 5004: 5, 5006: 2])
        // A full-mark match (mask 0xffffffff) takes only that exact mark.
        #expect(try flusher.flush(mark: 0x0000_0001, mask: 0xffff_ffff) == 5)
        #expect(try connectionsByPort(spaces) == [5002: 4, 5006: 2])
        // Without counting: the same effect, nothing else touched.
        try flusher.flushWithoutCounting(mark: 0x0200_0000, mask: 0xff00_0000)
        #expect(try connectionsByPort(spaces) == [5006: 2])
    }

    @Test("many connections: the marked ones go, the others stay")
    func flushMany() throws {
        let spaces = try NetlinkTestNamespaces(roles: ["host"])
        defer { spaces.remove() }
        try spaces.exec("host", ["nft", "-f", "-"], input: Self.ruleset)
        try sendFlows(in: spaces, to: [5001: 700, 5002: 300])

        let flusher = try NetworkNamespace.run(named: spaces.name("host")) { try ConntrackFlusher() }
        #expect(try flusher.flush(mark: 0x0100_0000, mask: 0xff00_0000) == 700)
        #expect(try connectionsByPort(spaces) == [5002: 300])
        #expect(try flusher.count(mark: 0x0200_0000, mask: 0xff00_0000) == 300)
    }
}
