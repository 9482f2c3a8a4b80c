import Foundation

/// IPv6 for a built lab: the same router, ISPs and servers, dual-stack, plus a LAN client that has
/// IPv6 only.
///
/// ```
///   LAN ns "lan"   fd00:1::11 (and 192.168.1.x) ── lan0 fd00:1::1 ─┐
///   LAN ns "lan6"  fd00:2::10 only               ── lan1 fd00:2::1 ─┴ ROUTER ─ ethN 2001:db8:10N::2/64 ── cust 2001:db8:10N::1,
///                                                                                                   fe80::1 (the gateway)  ISP N
///                                                                   lo: 2001:db8:ffff::7, 2001:db8:fffe::7 (servers)
/// ```
/// Each ISP's router is `fe80::1` on its link, as an ISP's router advertises itself. Addresses
/// are set with `nodad` (no 1–2 s duplicate address detection); all are documentation or ULA
/// prefixes that exist only inside these namespaces.
public enum LabIPv6 {
    public static let server = "2001:db8:ffff::7"
    /// A second server address, for destination-matching policy routes.
    public static let otherServer = "2001:db8:fffe::7"
    /// The LAN client in the `lan` namespace beside the IPv4 clients (dual-stack).
    public static let dualStackClient = "fd00:1::11"
    /// The client of the IPv6-only LAN namespace.
    public static let onlyClient = "fd00:2::10"
    /// Every ISP's router, on its own link.
    public static let gateway = "fe80::1"

    /// The router's global address on WAN `index` (what the ISP sees after masquerade).
    public static func wanAddress(_ index: Int) -> String { "2001:db8:\(100 + index)::2" }
}

extension LabTopology {
    /// The IPv6-only LAN namespace (after `addIPv6`).
    public var ipv6OnlyLAN: String { Self.prefix + id + "-lan6" }

    /// Adds IPv6 to every part of the lab and the IPv6-only LAN (`LabIPv6`). The router forwards
    /// IPv6; WANs in `advertised` get the default route a router advertisement installs
    /// (`proto ra`, via fe80::1, a metric per WAN); the others get none, for a static `gateway6`.
    public func addIPv6(advertised: Set<Int>) throws {
        try exec(router, ["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"])
        try ip(router, "-6 addr add fd00:1::1/64 dev \(Self.lanDevice) nodad")
        try ip(lan, "-6 addr add \(LabIPv6.dualStackClient)/64 dev lan nodad")
        try ip(lan, "-6 route add default via fd00:1::1")

        try LabShell.run("ip", "netns", "add", ipv6OnlyLAN)
        try ip(ipv6OnlyLAN, "link set lo up")
        try LabShell.run("ip", "link", "add", "lan1", "netns", router, "type", "veth", "peer", "name", "lan", "netns", ipv6OnlyLAN)
        try ip(router, "-6 addr add fd00:2::1/64 dev lan1 nodad")
        try ip(router, "link set lan1 up")
        try ip(ipv6OnlyLAN, "-6 addr add \(LabIPv6.onlyClient)/64 dev lan nodad")
        try ip(ipv6OnlyLAN, "link set lan up")
        try ip(ipv6OnlyLAN, "-6 route add default via fd00:2::1")

        for isp in isps {
            try ip(isp.namespace, "-6 addr add 2001:db8:\(100 + isp.index)::1/64 dev cust nodad")
            try ip(isp.namespace, "-6 addr add \(LabIPv6.gateway)/64 dev cust nodad")
            for server in [LabIPv6.server, LabIPv6.otherServer] { try ip(isp.namespace, "-6 addr add \(server)/128 dev lo") }
            try ip(router, "-6 addr add \(LabIPv6.wanAddress(isp.index))/64 dev \(isp.wan) nodad")
            if advertised.contains(isp.index) {
                try ip(router, "-6 route add default via \(LabIPv6.gateway) dev \(isp.wan) proto ra metric \(1024 + isp.index)")
            }
        }
    }

    /// Starts counting IPv6 packets from the router that arrive at ISP `index` for the lab's IPv6
    /// servers, per source address (the router's masquerade address on that WAN, or a LAN address
    /// that leaked untranslated); `ipv6Sources(at:)` reads them.
    public func watchIPv6(at index: Int) throws {
        try exec(isps[index].namespace, ["nft", "-f", "-"], input: """
            table inet fwlab_watch6 {
              set seen {
                type ipv6_addr; flags dynamic; counter;
              }
              chain in {
                type filter hook prerouting priority -400; policy accept;
                iifname "cust" ip6 daddr { \(LabIPv6.server), \(LabIPv6.otherServer) } add @seen { ip6 saddr }
              }
            }
            """)
    }

    /// IPv6 source address -> packets that arrived at ISP `index` since `watchIPv6(at:)`.
    public func ipv6Sources(at index: Int) throws -> [String: Int] {
        let text = try exec(isps[index].namespace, ["nft", "list", "set", "inet", "fwlab_watch6", "seen"])
        var sources: [String: Int] = [:]
        for match in text.matches(of: /([0-9a-f:]+:[0-9a-f:]*) counter packets (\d+)/) {
            sources[String(match.1)] = Int(match.2) ?? 0
        }
        return sources
    }
}
