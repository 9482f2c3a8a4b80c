#if canImport(Glibc)
import Glibc
#endif
import CMnl
import Domain
import SystemPackage

/// A growable buffer of netlink messages, built with libmnl, sent as one or more datagrams.
final class NetlinkBatch {
    private(set) var storage: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var length = 0
    private(set) var offsets: [Int] = []
    private(set) var lengths: [Int] = []
    private(set) var sequences: [UInt32] = []

    init(capacity: Int = 4096) {
        self.capacity = capacity
        self.storage = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit { storage.deallocate() }

    var count: Int { offsets.count }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: length) }

    func removeAll() {
        length = 0
        offsets.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        sequences.removeAll(keepingCapacity: true)
    }

    /// Appends one message. `reserve` bounds the message's size (libmnl does not check bounds);
    /// `build` may set the type and must add the family header and attributes.
    func append(type: UInt16, flags: UInt16, sequence: UInt32, reserve: Int, _ build: (inout NetlinkMessageWriter) -> Void) {
        if length + reserve > capacity {
            var newCapacity = capacity * 2
            while length + reserve > newCapacity { newCapacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
            grown.copyMemory(from: storage, byteCount: length)
            storage.deallocate()
            storage = grown
            capacity = newCapacity
        }
        let start = storage + length
        start.initializeMemory(as: UInt8.self, repeating: 0, count: reserve)
        let header = mnl_nlmsg_put_header(start)!
        header.pointee.nlmsg_type = type
        header.pointee.nlmsg_flags = flags
        header.pointee.nlmsg_seq = sequence
        var writer = NetlinkMessageWriter(header: header, limit: reserve)
        build(&writer)
        let size = Int(header.pointee.nlmsg_len)
        precondition(size <= reserve, "netlink message of \(size) bytes overran its \(reserve)-byte reservation")
        offsets.append(length)
        lengths.append(size)
        sequences.append(sequence)
        length += size
    }
}

/// Fills one message in place through libmnl.
struct NetlinkMessageWriter {
    let header: UnsafeMutablePointer<nlmsghdr>
    let limit: Int

    var type: UInt16 {
        get { header.pointee.nlmsg_type }
        nonmutating set { header.pointee.nlmsg_type = newValue }
    }

    /// Adds the family header (`rtmsg`, `ifinfomsg`, `nfgenmsg`, ...) right after the netlink header.
    func putFamilyHeader<T>(_ value: T) {
        let raw = mnl_nlmsg_put_extra_header(header, MemoryLayout<T>.size)!
        raw.storeBytes(of: value, as: T.self)
    }

    /// The `nfgenmsg` every nfnetlink message (nftables, ctnetlink) starts with, as libnftnl writes it.
    func putNetfilterHeader(family: Int32) {
        putFamilyHeader(nfgenmsg(nfgen_family: UInt8(family), version: UInt8(NFNETLINK_V0), res_id: 0))
    }

    func put(_ type: Int, u8 value: UInt8) { mnl_attr_put_u8(header, UInt16(type), value) }
    func put(_ type: Int, u32 value: UInt32) { mnl_attr_put_u32(header, UInt16(type), value) }
    func put(_ type: Int, string value: String) { mnl_attr_put_strz(header, UInt16(type), value) }
    func put(_ type: Int, bytes: UnsafeRawBufferPointer) {
        mnl_attr_put(header, UInt16(type), bytes.count, bytes.baseAddress)
    }
    func put(_ type: Int, address: IPAddress) {
        address.withNetworkBytes { put(type, bytes: $0) }
    }
    /// Copies an attribute received from the kernel, type, flags and payload as they were.
    func put(copyOf attribute: NetlinkAttribute) {
        mnl_attr_put(header, attribute.rawType, attribute.payload.count, attribute.payload.baseAddress)
    }
}

// MARK: - Reading messages

/// A message the kernel sent, valid only inside the callback that received it.
struct NetlinkMessage {
    let header: UnsafePointer<nlmsghdr>

    var type: UInt16 { header.pointee.nlmsg_type }
    var flags: UInt16 { header.pointee.nlmsg_flags }
    var sequence: UInt32 { header.pointee.nlmsg_seq }
    var portID: UInt32 { header.pointee.nlmsg_pid }
    var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mnl_nlmsg_get_payload(header), count: mnl_nlmsg_get_payload_len(header))
    }

    /// The family header (`rtmsg`, `ifaddrmsg`, ...) if the message is long enough to hold one.
    func familyHeader<T>(_: T.Type) -> T? {
        guard payload.count >= MemoryLayout<T>.size else { return nil }
        return payload.loadUnaligned(as: T.self)
    }

    /// The attributes after a family header of `headerSize` bytes.
    func attributes(after headerSize: Int) -> NetlinkAttributes {
        let aligned = (headerSize + 3) & ~3
        guard payload.count >= aligned else { return NetlinkAttributes(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[aligned...]))
    }

    /// `NLMSG_ERROR`: the errno (0 for an ack) and the kernel's extended ack, parsed here and
    /// nowhere else.
    var ack: NetlinkAck {
        let bytes = payload
        guard bytes.count >= MemoryLayout<Int32>.size else { return NetlinkAck(code: -EPROTO) }
        var ack = NetlinkAck(code: bytes.loadUnaligned(as: Int32.self))
        guard flags & UInt16(NLM_F_ACK_TLVS) != 0 else { return ack }
        // With NETLINK_CAP_ACK the request is not echoed (an ack of success never echoes it): the
        // TLVs follow nlmsgerr's fixed part, the request's header.
        let capped = flags & UInt16(NLM_F_CAPPED) != 0 || ack.code == 0
        let echoed = capped ? MemoryLayout<nlmsghdr>.size : Int(bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let offset = 4 + ((echoed + 3) & ~3)
        guard offset < bytes.count else { return ack }
        let tlvs = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        ack.text = tlvs[Int(NLMSGERR_ATTR_MSG.rawValue)]?.string
        ack.offset = tlvs[Int(NLMSGERR_ATTR_OFFS.rawValue)]?.u32
        return ack
    }

    /// `NLMSG_DONE` of a dump may carry an errno.
    var doneAck: NetlinkAck {
        NetlinkAck(code: payload.count >= 4 ? payload.loadUnaligned(as: Int32.self) : 0)
    }
}

/// The kernel's answer to one message: 0, or a negative errno with the kernel's extended ack.
struct NetlinkAck: Equatable {
    var code: Int32
    /// `NLMSGERR_ATTR_MSG`: the kernel's reason, in words.
    var text: String?
    /// `NLMSGERR_ATTR_OFFS`: where the attribute the kernel rejected starts, in bytes from the
    /// start of the message.
    var offset: UInt32?

    init(code: Int32, text: String? = nil, offset: UInt32? = nil) {
        self.code = code
        self.text = text
        self.offset = offset
    }

    var succeeded: Bool { code == 0 }
}

extension SystemError {
    /// A netlink message the kernel refused: the errno of its ack, and the extended ack's text and
    /// offset as the detail.
    static func netlink(_ operation: String, on subject: String? = nil, _ ack: NetlinkAck) -> SystemError {
        var detail = ack.text.flatMap { $0.isEmpty ? nil : $0 }
        if let offset = ack.offset {
            detail = (detail.map { "\($0), " } ?? "") + "at byte \(offset) of the message"
        }
        return SystemError(operation: operation, subject: subject, errno: Errno(rawValue: abs(ack.code)), detail: detail)
    }
}

/// One attribute of a received message.
struct NetlinkAttribute {
    let header: UnsafePointer<nlattr>

    /// The type without the nested / byte-order flags.
    var type: Int { Int(mnl_attr_get_type(header)) }
    /// The type as sent, flags included, for copying the attribute back to the kernel.
    var rawType: UInt16 { header.pointee.nla_type }
    var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mnl_attr_get_payload(header), count: Int(mnl_attr_get_payload_len(header)))
    }
    var u8: UInt8? { payload.count >= 1 ? payload.load(as: UInt8.self) : nil }
    var u16: UInt16? { payload.count >= 2 ? payload.loadUnaligned(as: UInt16.self) : nil }
    var u32: UInt32? { payload.count >= 4 ? payload.loadUnaligned(as: UInt32.self) : nil }
    var u64: UInt64? { payload.count >= 8 ? payload.loadUnaligned(as: UInt64.self) : nil }
    /// A NUL-terminated string payload.
    var string: String? {
        let bytes = payload.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network order.
    var address: IPAddress? { IPAddress(networkBytes: payload) }
    var nested: NetlinkAttributes { NetlinkAttributes(payload) }
}

/// The attributes of a message or nest, in order, with lookup by type.
struct NetlinkAttributes: Sequence {
    private(set) var all: [NetlinkAttribute] = []

    init(_ bytes: UnsafeRawBufferPointer) {
        guard var attribute = UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.assumingMemoryBound(to: nlattr.self) else { return }
        var remaining = Int32(bytes.count)
        all.reserveCapacity(16)
        while mnl_attr_ok(attribute, remaining) {
            all.append(NetlinkAttribute(header: UnsafePointer(attribute)))
            remaining -= (Int32(attribute.pointee.nla_len) + 3) & ~3
            guard let next = mnl_attr_next(attribute) else { break }
            attribute = next
        }
    }

    subscript(type: Int) -> NetlinkAttribute? { all.first { $0.type == type } }

    func makeIterator() -> IndexingIterator<[NetlinkAttribute]> { all.makeIterator() }
}

// MARK: - Addresses on the wire

extension IPAddress {
    /// Reads a 4- or 16-byte address in network byte order.
    init?(networkBytes bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 4:
            self = .v4(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self)))
        case 16:
            self = .v6(high: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)),
                       low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        default:
            return nil
        }
    }

    /// The address in network byte order, as netlink carries it.
    func withNetworkBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .v4(let value):
            return withUnsafeBytes(of: value.bigEndian, body)
        case .v6(let high, let low):
            return withUnsafeBytes(of: (high.bigEndian, low.bigEndian), body)
        }
    }
}

extension IPFamily {
    /// `AF_INET` or `AF_INET6`.
    var netlinkFamily: UInt8 { self == .ipv4 ? UInt8(AF_INET) : UInt8(AF_INET6) }
}
