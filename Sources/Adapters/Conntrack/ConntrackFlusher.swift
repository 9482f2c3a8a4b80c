#if canImport(Glibc)
import Glibc
#endif
import CMnl
import Synchronization

/// Deletes tracked connections by ct mark, over ctnetlink (libmnl, NETLINK_NETFILTER).
///
/// The delete is one `IPCTNL_MSG_CT_DELETE` without a tuple but with `CTA_MARK` and
/// `CTA_MARK_MASK`: the kernel walks its table once and deletes exactly the matching connections
/// (every zone, IPv4 and IPv6). That takes about half a millisecond for a few connections here,
/// where deleting them one by one after a dump takes over 10 ms, because a ctnetlink dump walks all
/// of the conntrack hash's buckets slowly (262,144 on this machine). The count comes from such a
/// dump, filtered by the same mark, just before the delete; `flushWithoutCounting` skips it.
/// The kernel must filter ctnetlink deletes by mark, as this one (6.18) does: the tests check it.
/// Calls are serialised; the socket stays in the network namespace it was opened in.
public final class ConntrackFlusher: Sendable {
    private let session: Mutex<NetlinkSession>

    /// Opens the ctnetlink socket. Reading and deleting connections needs CAP_NET_ADMIN.
    public init() throws(SystemError) {
        session = Mutex(try NetlinkSession(bus: NETLINK_NETFILTER))
    }

    /// Deletes every tracked connection (IPv4 and IPv6, all zones) whose ct mark, under `mask`,
    /// equals `mark` under `mask`, and returns how many there were. Others are left alone.
    ///
    /// The count is of the connections that matched just before the delete; one that starts in
    /// between is deleted too but not counted.
    @discardableResult
    public func flush(mark: UInt32, mask: UInt32) throws(SystemError) -> Int {
        try session.withLock { session throws(SystemError) in
            let count = try Self.count(session, mark: mark, mask: mask)
            if count > 0 { try Self.delete(session, mark: mark, mask: mask) }
            return count
        }
    }

    /// Like `flush`, without reading the table first: the fastest way to make clients reconnect.
    public func flushWithoutCounting(mark: UInt32, mask: UInt32) throws(SystemError) {
        try session.withLock { session throws(SystemError) in try Self.delete(session, mark: mark, mask: mask) }
    }

    /// How many tracked connections have this mark under `mask` now.
    public func count(mark: UInt32, mask: UInt32) throws(SystemError) -> Int {
        try session.withLock { session throws(SystemError) in try Self.count(session, mark: mark, mask: mask) }
    }

    private static func delete(_ session: NetlinkSession, mark: UInt32, mask: UInt32) throws(SystemError) {
        let operation = "IPCTNL_MSG_CT_DELETE mark 0x\(String(mark, radix: 16))/0x\(String(mask, radix: 16))"
        try session.request(operation: operation, reserve: 64) { message in
            message.type = ctnetlinkType(IPCTNL_MSG_CT_DELETE)
            // AF_UNSPEC: both families. Without CTA_TUPLE_ORIG the kernel deletes by filter.
            message.putNetfilterHeader(family: AF_UNSPEC)
            // ctnetlink numbers are big-endian.
            message.put(Int(CTA_MARK.rawValue), u32: mark.bigEndian)
            message.put(Int(CTA_MARK_MASK.rawValue), u32: mask.bigEndian)
        }
    }

    private static func count(_ session: NetlinkSession, mark: UInt32, mask: UInt32) throws(SystemError) -> Int {
        var count = 0
        try session.dump(operation: "IPCTNL_MSG_CT_GET mark 0x\(String(mark, radix: 16))/0x\(String(mask, radix: 16))",
                        reset: { count = 0 }, build: { message in
            message.type = ctnetlinkType(IPCTNL_MSG_CT_GET)
            message.putNetfilterHeader(family: AF_UNSPEC)
            message.put(Int(CTA_MARK.rawValue), u32: mark.bigEndian)
            message.put(Int(CTA_MARK_MASK.rawValue), u32: mask.bigEndian)
        }) { (message: NetlinkMessage) throws(SystemError) in
            guard message.type == ctnetlinkType(IPCTNL_MSG_CT_NEW) else { return }
            let attributes = message.attributes(after: MemoryLayout<nfgenmsg>.size)
            let entryMark = UInt32(bigEndian: attributes[Int(CTA_MARK.rawValue)]?.u32 ?? 0)
            if entryMark & mask == mark & mask { count += 1 }
        }
        return count
    }
}

private func ctnetlinkType(_ message: cntl_msg_types) -> UInt16 {
    UInt16(NFNL_SUBSYS_CTNETLINK << 8) | UInt16(message.rawValue)
}
