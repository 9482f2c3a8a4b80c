#if canImport(Glibc)
import Glibc
#endif
import CMnl
import Domain

/// Neighbour (ARP / NDP) entries the kernel made while a link had no carrier.
///
/// The kernel flushes a device's neighbours when its carrier goes, but every packet sent through
/// it afterwards (a probe round, forwarded traffic under `all_down = "last_active"`) makes a new
/// entry that stays INCOMPLETE, with its retry timer (`retrans_time`, 1 s) running, and whose
/// solicitations go nowhere. When the carrier returns the kernel keeps that entry and its
/// schedule: a packet sent then waits in the entry's queue for the next retry, up to a second,
/// and with a shorter probe timeout the first round after the cable returns fails. Deleting the
/// entry makes the next packet solicit at once (measured in namespaces: resolved in 20 µs).
extension RoutingSession {
    func resetUnresolvedNeighbours(on interfaces: Set<String>) throws(SystemError) -> Int {
        guard !interfaces.isEmpty else { return 0 }
        try refreshInterfaces()
        let indexes = Set(interfaces.compactMap { interfaceIndex[$0] })
        guard !indexes.isEmpty else { return 0 }
        let unresolved = UInt16(NUD_INCOMPLETE) | UInt16(NUD_FAILED)
        var stale: [(family: UInt8, index: Int32, address: IPAddress)] = []
        for family in [AF_INET, AF_INET6] {
            do throws(SystemError) {
                try socket.dump(operation: "RTM_GETNEIGH", reset: { stale.removeAll { $0.family == UInt8(family) } }, build: { message in
                    message.type = UInt16(RTM_GETNEIGH)
                    message.putFamilyHeader(ndmsg(ndm_family: UInt8(family), ndm_pad1: 0, ndm_pad2: 0, ndm_ifindex: 0,
                                                  ndm_state: 0, ndm_flags: 0, ndm_type: 0))
                }) { (message: NetlinkMessage) throws(SystemError) in
                    guard Int(message.type) == RTM_NEWNEIGH, let header = message.familyHeader(ndmsg.self),
                          indexes.contains(header.ndm_ifindex), header.ndm_state & unresolved != 0,
                          let address = message.attributes(after: MemoryLayout<ndmsg>.size)[NDA_DST]?.address
                    else { return }
                    stale.append((header.ndm_family, header.ndm_ifindex, address))
                }
            } catch where family == AF_INET6 && error.errno == .addressFamilyNotSupported {
                continue
            }
        }
        guard !stale.isEmpty else { return 0 }
        let batch = NetlinkBatch(capacity: max(4096, stale.count * 64))
        for entry in stale {
            batch.append(type: UInt16(RTM_DELNEIGH), flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), sequence: socket.makeSequence(), reserve: 64) { message in
                message.putFamilyHeader(ndmsg(ndm_family: entry.family, ndm_pad1: 0, ndm_pad2: 0, ndm_ifindex: entry.index,
                                              ndm_state: 0, ndm_flags: 0, ndm_type: 0))
                message.put(NDA_DST, address: entry.address)
            }
        }
        // An entry already gone (ENOENT) is not counted.
        return try socket.execute(batch, operation: "RTM_DELNEIGH").filter(\.succeeded).count
    }
}
