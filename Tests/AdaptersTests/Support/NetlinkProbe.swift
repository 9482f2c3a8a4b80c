import Adapters
import CNetlinkRoute

/// What an rtnetlink socket opened through libnl saw.
struct RouteSocketInfo: Sendable, Equatable {
    /// The netlink port id the kernel (or libnl) assigned to the socket.
    var localPort: UInt32
    /// Number of links in the namespace's link table (`ip link`).
    var linkCount: Int
    /// Interface index of the loopback link `lo`, if the namespace has one (it always does).
    var loopbackIndex: Int32?
}

/// Smoke surface for libnl-route-3, which Flywall links but whose socket it does not use (its
/// netlink goes through libmnl): proves the library links, the socket opens and the kernel answers.
enum NetlinkProbe {
    /// Allocates an `nl_sock`, connects it to NETLINK_ROUTE, dumps the link table once, closes it.
    /// Works without privileges: reading the link table needs none.
    static func openRouteSocket() throws(SystemError) -> RouteSocketInfo {
        guard let sock = nl_socket_alloc() else {
            throw SystemError(operation: "nl_socket_alloc", errno: .noMemory)
        }
        defer { nl_socket_free(sock) }  // also closes the socket if it is still open

        let rc = nl_connect(sock, NETLINK_ROUTE)
        guard rc == 0 else { throw libnlError("nl_connect", rc) }
        defer { nl_close(sock) }

        var cache: OpaquePointer?
        let cacheRC = rtnl_link_alloc_cache(sock, AF_UNSPEC, &cache)
        guard cacheRC == 0, let cache else { throw libnlError("rtnl_link_alloc_cache", cacheRC) }
        defer { nl_cache_free(cache) }

        var loopbackIndex: Int32?
        if let lo = rtnl_link_get_by_name(cache, "lo") {
            loopbackIndex = rtnl_link_get_ifindex(lo)
            rtnl_link_put(lo)
        }
        return RouteSocketInfo(
            localPort: nl_socket_get_local_port(sock),
            linkCount: Int(nl_cache_nitems(cache)),
            loopbackIndex: loopbackIndex
        )
    }

    /// libnl's codes are its own (`NLE_*`), not errnos: only its text is kept.
    static func libnlError(_ operation: String, _ rc: Int32) -> SystemError {
        SystemError(operation: operation, errno: nil, detail: "\(String(cString: nl_geterror(rc))) (libnl \(rc))")
    }
}
