#if canImport(Glibc)
import Glibc
#endif
import CMnl
import Synchronization

/// Deleting some tracked connections failed; the others were deleted.
public struct ConntrackError: Error, Sendable, CustomStringConvertible {
    /// Connections deleted in spite of the failures.
    public var deleted: Int
    public var failures: [AdapterError]

    public var description: String {
        "deleted \(deleted) connection(s), \(failures.count) failure(s): "
            + failures.prefix(3).map(\.description).joined(separator: "; ")
    }
}

/// Deletes tracked connections by ct mark, over ctnetlink (libmnl, NETLINK_NETFILTER).
///
/// The kernel filters a dump by mark and mask; each connection found is then deleted by its
/// original tuple, zone and conntrack id, so exactly the connections that matched go, and the
/// count is exact. (A mark-filtered `IPCTNL_MSG_CT_DELETE` without a tuple also works on this
/// kernel, but it reports no count and cannot be told apart from a flush that matched nothing.)
/// Calls are serialised; the socket stays in the network namespace it was opened in.
public final class ConntrackFlusher: Sendable {
    private let socket: Mutex<NetlinkSocket>

    /// Opens the ctnetlink socket. Reading and deleting connections needs CAP_NET_ADMIN.
    public init() throws(AdapterError) {
        socket = Mutex(try NetlinkSocket(bus: NETLINK_NETFILTER, receiveBufferBytes: 4 << 20))
    }

    /// Deletes every tracked connection (IPv4 and IPv6, all zones) whose ct mark, under `mask`,
    /// equals `mark` under `mask`, and returns how many were deleted. Others are left alone.
    @discardableResult
    public func flush(mark: UInt32, mask: UInt32) throws(ConntrackError) -> Int {
        try socket.withLock { socket throws(ConntrackError) in
            let entries: [TrackedEntry]
            do throws(AdapterError) { entries = try Self.dump(socket, mark: mark, mask: mask) } catch {
                throw ConntrackError(deleted: 0, failures: [error])
            }
            guard !entries.isEmpty else { return 0 }

            let batch = NetlinkBatch(capacity: entries.count * 128 + 256)
            for entry in entries {
                batch.append(type: ctnetlinkType(IPCTNL_MSG_CT_DELETE), flags: UInt16(NLM_F_REQUEST | NLM_F_ACK),
                             sequence: socket.makeSequence(), reserve: entry.request.count + 64) { message in
                    message.putFamilyHeader(nfgenmsg(nfgen_family: entry.family, version: UInt8(NFNETLINK_V0), res_id: 0))
                    entry.request.withUnsafeBytes { bytes in
                        let tail = mnl_nlmsg_get_payload_tail(message.header)!
                        tail.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                        message.header.pointee.nlmsg_len += UInt32(bytes.count)
                    }
                }
            }
            let acks: [NetlinkAck]
            do throws(AdapterError) { acks = try socket.execute(batch, operation: "IPCTNL_MSG_CT_DELETE") } catch {
                throw ConntrackError(deleted: 0, failures: [error])
            }
            var deleted = 0
            var failures: [AdapterError] = []
            for ack in acks {
                if ack.succeeded {
                    deleted += 1
                } else if ack.code != -ENOENT {  // ENOENT: it expired or was replaced meanwhile
                    failures.append(.fromNetlink("IPCTNL_MSG_CT_DELETE", ack.code, ack.text))
                }
            }
            if !failures.isEmpty { throw ConntrackError(deleted: deleted, failures: failures) }
            return deleted
        }
    }

    /// How many tracked connections have this mark under `mask` now.
    public func count(mark: UInt32, mask: UInt32) throws(AdapterError) -> Int {
        try socket.withLock { socket throws(AdapterError) in try Self.dump(socket, mark: mark, mask: mask).count }
    }

    /// A connection to delete: its l3 family and the attributes that name it exactly, as the
    /// kernel sent them (original tuple, zone, id).
    private struct TrackedEntry {
        var family: UInt8
        var request: [UInt8]
    }

    private static func dump(_ socket: NetlinkSocket, mark: UInt32, mask: UInt32) throws(AdapterError) -> [TrackedEntry] {
        var entries: [TrackedEntry] = []
        try socket.dump(operation: "IPCTNL_MSG_CT_GET mark 0x\(String(mark, radix: 16))/0x\(String(mask, radix: 16))",
                        reset: { entries.removeAll() }, build: { message in
            message.type = ctnetlinkType(IPCTNL_MSG_CT_GET)
            message.putFamilyHeader(nfgenmsg(nfgen_family: UInt8(AF_UNSPEC), version: UInt8(NFNETLINK_V0), res_id: 0))
            // ctnetlink numbers are big-endian.
            message.put(Int(CTA_MARK.rawValue), u32: mark.bigEndian)
            message.put(Int(CTA_MARK_MASK.rawValue), u32: mask.bigEndian)
        }) { (message: NetlinkMessage) throws(AdapterError) in
            guard message.type == ctnetlinkType(IPCTNL_MSG_CT_NEW), let header = message.familyHeader(nfgenmsg.self) else { return }
            let attributes = message.attributes(after: MemoryLayout<nfgenmsg>.size)
            // The kernel filtered already; checking again costs nothing and guards against a
            // kernel that ignores the filter.
            let entryMark = UInt32(bigEndian: attributes[Int(CTA_MARK.rawValue)]?.u32 ?? 0)
            guard entryMark & mask == mark & mask, let tuple = attributes[Int(CTA_TUPLE_ORIG.rawValue)] else { return }
            var request: [UInt8] = []
            for attribute in [tuple, attributes[Int(CTA_ZONE.rawValue)], attributes[Int(CTA_ID.rawValue)]].compactMap({ $0 }) {
                let length = Int(attribute.header.pointee.nla_len)
                request.append(contentsOf: UnsafeRawBufferPointer(start: UnsafeRawPointer(attribute.header), count: length))
                request.append(contentsOf: repeatElement(0, count: ((length + 3) & ~3) - length))
            }
            entries.append(TrackedEntry(family: header.nfgen_family, request: request))
        }
        return entries
    }
}

private func ctnetlinkType(_ message: cntl_msg_types) -> UInt16 {
    UInt16(NFNL_SUBSYS_CTNETLINK << 8) | UInt16(message.rawValue)
}
