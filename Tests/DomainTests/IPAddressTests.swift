import Testing
@testable import Domain

@Suite("IP addresses and prefixes")
struct IPAddressTests {
    @Test(arguments: ["0.0.0.0", "192.168.1.10", "255.255.255.255", "::", "::1", "2001:db8::7", "fe80::1:2:3:4",
                      "2001:db8:0:1:1:1:1:1", "1:2:3:4:5:6:7:8"])
    func roundTrips(_ text: String) {
        #expect(IPAddress(text)?.description == text)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.a", "1:2:3:4:5:6:7:8:9", "1::2::3",
                      "12345::", "g::1", ":::", "1.2.3.4 "])
    func rejectsMalformedAddresses(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(arguments: ["1.1.1.1/33", "1.1.1.1/", "1.1.1.1/-1", "::/129", "10.0.0.0/8/8", "x/8"])
    func rejectsMalformedPrefixes(_ text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test func embeddedIPv4AndCompression() {
        #expect(IPAddress("::ffff:192.0.2.1") == .v6(high: 0, low: 0x0000_ffff_c000_0201))
        #expect(IPAddress("2001:0db8:0000:0000:0000:0000:0000:0001")?.description == "2001:db8::1")
    }

    @Test func prefixesContain() {
        let lan = CIDR("192.168.1.0/24")!
        #expect(lan.contains(IPAddress("192.168.1.255")!))
        #expect(!lan.contains(IPAddress("192.168.2.1")!))
        #expect(CIDR("0.0.0.0/0")!.contains(IPAddress("8.8.8.8")!))
        #expect(!CIDR("0.0.0.0/0")!.contains(IPAddress("::1")!))
        let v6 = CIDR("2001:db8::/33")!
        #expect(v6.contains(IPAddress("2001:db8:7fff::1")!))
        #expect(!v6.contains(IPAddress("2001:db8:8000::1")!))
        #expect(CIDR("203.0.113.7")!.prefixLength == 32)
        #expect(CIDR("10.0.0.0/8")!.description == "10.0.0.0/8")
    }

    @Test func advancing() {
        #expect(IPAddress("192.168.1.10")!.advanced(by: 49).description == "192.168.1.59")
        #expect(IPAddress("192.168.1.255")!.advanced(by: 1).description == "192.168.2.0")
        #expect(IPAddress("::ffff:ffff:ffff:ffff")!.advanced(by: 1).description == "0:0:0:1::")
    }
}

@Suite("Group selection and buckets")
struct GroupSelectorTests {
    let members = [Member(interface: "a", priority: 1, weight: 3), Member(interface: "b", priority: 1, weight: 1),
                   Member(interface: "c", priority: 2, weight: 2)]

    @Test func failoverPicksLowestPriorityTierAndSharesByWeight() {
        let g = UplinkGroup(name: "g", mode: .failover, members: members)
        let s = GroupSelector.select(g, usable: { _ in true }, forced: nil, previous: nil)
        #expect(s.active == ["a", "b"])
        #expect(s.buckets.filter { $0 == "a" }.count == 3 * s.buckets.filter { $0 == "b" }.count)
        #expect(!s.buckets.contains("c"))
        let s2 = GroupSelector.select(g, usable: { $0 == "c" }, forced: nil, previous: s)
        #expect(s2.active == ["c"])
        #expect(Set(s2.buckets) == ["c"])
    }

    @Test func bucketLayoutIsInterleavedAndExact() {
        let layout = GroupSelector.baseLayout(members)
        #expect(layout.count == 66)
        #expect(layout.filter { $0 == "a" }.count == 33)
        #expect(layout.filter { $0 == "c" }.count == 22)
        #expect(Array(layout.prefix(6)).sorted() == ["a", "a", "a", "b", "c", "c"])
    }

    @Test func deadMembersBucketsGoToSurvivorsByWeight() {
        let g = UplinkGroup(name: "g", mode: .balance, members: members)
        let all = GroupSelector.select(g, usable: { _ in true }, forced: nil, previous: nil)
        let noB = GroupSelector.select(g, usable: { $0 != "b" }, forced: nil, previous: all)
        for (x, y) in zip(all.buckets, noB.buckets) where x != "b" { #expect(x == y) }
        // b's 11 buckets split 3:2 between a and c (smooth weighted round robin: 7 and 4, nearest).
        let moved = zip(all.buckets, noB.buckets).filter { $0.0 == "b" }.map(\.1)
        #expect(moved.count == 11)
        #expect(moved.filter { $0 == "a" }.count == 7)
    }

    @Test func forcedMemberWinsWhileUsable() {
        let g = UplinkGroup(name: "g", mode: .failover, members: members)
        #expect(GroupSelector.select(g, usable: { _ in true }, forced: "c", previous: nil).active == ["c"])
        #expect(GroupSelector.select(g, usable: { $0 != "c" }, forced: "c", previous: nil).active == ["a", "b"])
    }

    @Test func allDownPolicies() {
        var g = UplinkGroup(name: "g", mode: .failover, members: members)
        let before = GroupSelector.select(g, usable: { $0 == "c" }, forced: nil, previous: nil)
        let keep = GroupSelector.select(g, usable: { _ in false }, forced: nil, previous: before)
        #expect(keep.active.isEmpty)
        #expect(keep.buckets == before.buckets)
        g.allDown = .unreachable
        #expect(GroupSelector.select(g, usable: { _ in false }, forced: nil, previous: before).buckets.isEmpty)
    }

    @Test func sourceHashIsStable() {
        // Fixed values: the nftables compiler and the lab rely on this exact function (Jenkins'
        // one-at-a-time over the address bytes; computed independently with Python's ipaddress).
        #expect(SourceHash.hash(IPAddress("192.168.1.10")!) == 0x69CB_3E61)
        #expect(SourceHash.hash(IPAddress("192.168.1.11")!) == 0xAC1D_C301)
        #expect(SourceHash.hash(IPAddress("10.0.0.1")!) == 0xC98E_016B)
        #expect(SourceHash.hash(IPAddress("2001:db8::5")!) == 0x36C4_C2C7)
        let hashes = (0..<1000).map { SourceHash.hash(IPAddress.v4(0xC0A8_0000).advanced(by: $0)) % 66 }
        let distinct = Set(hashes)
        #expect(distinct.count > 60)
    }
}
