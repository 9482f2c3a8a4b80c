#if canImport(Glibc)
import Glibc
#endif
import CMnl
import Domain

/// A netlink socket opened through libmnl, with its own sequence numbers and receive buffer.
///
/// Not Sendable: each owner keeps it on one thread or behind a `Mutex`. The socket stays in the
/// network namespace of the thread that opened it for its whole life, whichever thread uses it later.
final class NetlinkSocket {
    let handle: OpaquePointer
    let portID: UInt32
    /// `NETLINK_ROUTE`, `NETLINK_NETFILTER`, ...; named in errors.
    let bus: Int32
    private var nextSequence: UInt32
    private let buffer: UnsafeMutableRawPointer
    /// Large enough for any single datagram the kernel sends: dump parts are at most 32 KiB.
    private let bufferSize = 64 * 1024

    /// - Parameter receiveTimeout: how long one receive may wait for the kernel before it fails
    ///   with EAGAIN, so that a request the kernel never answers cannot hang the caller forever.
    init(bus: Int32, receiveBufferBytes: Int32 = 1 << 20, receiveTimeout: Duration = .seconds(10)) throws(AdapterError) {
        guard let handle = mnl_socket_open2(bus, Int32(SOCK_CLOEXEC.rawValue)) else { throw .errno("mnl_socket_open(\(bus))") }
        guard mnl_socket_bind(handle, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let error = AdapterError.errno("mnl_socket_bind(\(bus))")
            mnl_socket_close(handle)
            throw error
        }
        self.handle = handle
        self.bus = bus
        self.portID = mnl_socket_get_portid(handle)
        // Sequence numbers only need to differ from those of recent requests on this socket.
        self.nextSequence = UInt32(truncatingIfNeeded: time(nil))
        self.buffer = .allocate(byteCount: bufferSize, alignment: 8)

        // Capped acks keep a batch's answers small; extended acks carry the kernel's reason text.
        var on: Int32 = 1
        _ = mnl_socket_setsockopt(handle, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(handle, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        // A bigger receive queue makes multicast overruns (ENOBUFS) rare; FORCE works as root only.
        var size = receiveBufferBytes
        let fd = mnl_socket_get_fd(handle)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let (seconds, attoseconds) = receiveTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        mnl_socket_close(handle)
        buffer.deallocate()
    }

    var fileDescriptor: Int32 { mnl_socket_get_fd(handle) }

    func makeSequence() -> UInt32 {
        nextSequence &+= 1
        return nextSequence
    }

    /// Joins a multicast group (`RTNLGRP_*`), so the kernel's notifications arrive on this socket.
    func subscribe(group: UInt32) throws(AdapterError) {
        var value = group
        guard mnl_socket_setsockopt(handle, NETLINK_ADD_MEMBERSHIP, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            throw .errno("NETLINK_ADD_MEMBERSHIP \(group)")
        }
    }

    // MARK: Receiving

    /// Reads one datagram and calls `body` for each message in it. Throws `ENOBUFS` when the kernel
    /// dropped notifications because the queue overflowed: the caller must re-read its state.
    func receive(_ body: (NetlinkMessage) throws(AdapterError) -> Void) throws(AdapterError) {
        let n = mnl_socket_recvfrom(handle, buffer, bufferSize)
        guard n >= 0 else { throw .errno("recv(netlink \(bus))") }
        try forEachMessage(in: UnsafeRawBufferPointer(start: buffer, count: n), body)
    }

    private func forEachMessage(in bytes: UnsafeRawBufferPointer, _ body: (NetlinkMessage) throws(AdapterError) -> Void) throws(AdapterError) {
        guard var header = UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.assumingMemoryBound(to: nlmsghdr.self) else { return }
        var remaining = Int32(bytes.count)
        while mnl_nlmsg_ok(header, remaining) {
            try body(NetlinkMessage(header: UnsafePointer(header)))
            guard let next = mnl_nlmsg_next(header, &remaining) else { break }
            header = next
        }
    }

    /// Sends a dump request built by `build` and calls `body` for every answer message.
    ///
    /// When the kernel flags the dump as interrupted (the table changed while it was read), the whole
    /// dump is read again, up to a few times: `reset` is called before each new attempt.
    func dump(
        operation: String,
        reset: () -> Void = {},
        build: (inout NetlinkMessageWriter) -> Void,
        _ body: (NetlinkMessage) throws(AdapterError) -> Void
    ) throws(AdapterError) {
        for attempt in 0..<4 {
            if attempt > 0 { reset() }
            let request = NetlinkBatch()
            let sequence = makeSequence()
            request.append(type: 0, flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), sequence: sequence, reserve: 512, build)
            try send(request.bytes, operation: operation)
            var interrupted = false
            var done = false
            while !done {
                try receive { (message: NetlinkMessage) throws(AdapterError) in
                    guard message.sequence == sequence, message.portID == portID || message.portID == 0 else { return }
                    if message.flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
                    switch Int32(message.type) {
                    case NLMSG_DONE:
                        done = true
                        let code = message.doneError
                        if code < 0 { throw AdapterError.fromNetlink(operation, code, nil) }
                    case NLMSG_ERROR:
                        done = true
                        let (code, text) = message.errorCode
                        if code < 0 { throw AdapterError.fromNetlink(operation, code, text) }
                    case NLMSG_NOOP, NLMSG_OVERRUN:
                        break
                    default:
                        if !done { try body(message) }
                    }
                }
            }
            if !interrupted { return }
        }
        throw AdapterError(operation: operation, code: EAGAIN, message: "dump interrupted four times by concurrent changes")
    }

    // MARK: Sending

    func send(_ bytes: UnsafeRawBufferPointer, operation: String) throws(AdapterError) {
        let n = mnl_socket_sendto(handle, bytes.baseAddress, bytes.count)
        guard n >= 0 else { throw .errno("send(\(operation))") }
        guard n == bytes.count else {
            throw AdapterError(operation: "send(\(operation))", code: EMSGSIZE, message: "short send: \(n) of \(bytes.count) bytes")
        }
    }

    /// Sends every message of `batch` (each must carry `NLM_F_ACK`) and waits for all their acks.
    ///
    /// Messages go out in datagrams of up to `chunkBytes`, each chunk's acks read before the next is
    /// sent, so the receive queue never overflows. The kernel handles the messages of a datagram
    /// one after the other and goes on after a failed one. Returns one `Ack` per message, in order.
    func execute(_ batch: NetlinkBatch, operation: String, chunkBytes: Int = 32 * 1024) throws(AdapterError) -> [NetlinkAck] {
        var acks = [NetlinkAck](repeating: NetlinkAck(code: 0, text: nil), count: batch.count)
        var first = 0
        while first < batch.count {
            var last = first
            let start = batch.offsets[first]
            while last + 1 < batch.count && batch.offsets[last + 1] + batch.lengths[last + 1] - start <= chunkBytes {
                last += 1
            }
            let end = batch.offsets[last] + batch.lengths[last]
            try send(UnsafeRawBufferPointer(rebasing: batch.bytes[start..<end]), operation: operation)

            // Sequence numbers of a batch are consecutive from its first message.
            let firstSequence = batch.sequences[first]
            var pending = last - first + 1
            while pending > 0 {
                try receive { (message: NetlinkMessage) throws(AdapterError) in
                    guard Int32(message.type) == NLMSG_ERROR else { return }
                    let index = first + Int(message.sequence &- firstSequence)
                    guard index >= first, index <= last, batch.sequences[index] == message.sequence else { return }
                    let (code, text) = message.errorCode
                    acks[index] = NetlinkAck(code: code, text: text)
                    pending -= 1
                }
            }
            first = last + 1
        }
        return acks
    }
}

/// The kernel's answer to one message: 0, or a negative errno with the kernel's reason text.
struct NetlinkAck: Equatable {
    var code: Int32
    var text: String?
    var succeeded: Bool { code == 0 }
}

extension AdapterError {
    /// An error a netlink ack or dump reported (`code` is the negative errno the kernel sent).
    static func fromNetlink(_ operation: String, _ code: Int32, _ text: String?) -> AdapterError {
        let errno = code < 0 ? -code : code
        var message = String(cString: strerror(errno))
        if let text, !text.isEmpty { message += " (\(text))" }
        return AdapterError(operation: operation, code: errno, message: message)
    }
}

// MARK: - Building messages

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

    /// `NLMSG_ERROR`: the errno (0 for an ack) and the kernel's extended-ack text, if any.
    var errorCode: (Int32, String?) {
        let bytes = payload
        guard bytes.count >= MemoryLayout<Int32>.size else { return (-EPROTO, nil) }
        let code = bytes.loadUnaligned(as: Int32.self)
        var text: String?
        if flags & UInt16(NLM_F_ACK_TLVS) != 0 {
            // With NETLINK_CAP_ACK the request is not echoed (unless this is an ack of success,
            // where it never is): the TLVs follow nlmsgerr's fixed part.
            let capped = flags & UInt16(NLM_F_CAPPED) != 0 || code == 0
            let echoed = capped ? MemoryLayout<nlmsghdr>.size : Int(bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let offset = 4 + ((echoed + 3) & ~3)
            if offset < bytes.count {
                let tlvs = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                text = tlvs[Int(NLMSGERR_ATTR_MSG.rawValue)]?.string
            }
        }
        return (code, text)
    }

    /// `NLMSG_DONE` of a dump may carry an errno.
    var doneError: Int32 {
        payload.count >= 4 ? payload.loadUnaligned(as: Int32.self) : 0
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

    /// `AF_INET` or `AF_INET6`.
    var family: UInt8 { isV4 ? UInt8(AF_INET) : UInt8(AF_INET6) }
}
