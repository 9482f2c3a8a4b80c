#if canImport(Glibc)
import Glibc
#endif
import CMnl
import SystemPackage

/// A netlink socket opened through libmnl, with its own sequence numbers and receive buffer: the
/// one way Flywall talks to rtnetlink (links, addresses, rules, routes), nfnetlink (nftables
/// batches) and ctnetlink (conntrack).
///
/// It asks for capped and extended acks, so the kernel's refusals come back small and with its
/// reason (`NetlinkMessage.ack` parses them). Not Sendable: each owner keeps it on one thread or
/// behind a `Mutex`. The socket stays in the network namespace of the thread that opened it for
/// its whole life, whichever thread uses it later.
final class NetlinkSession {
    let handle: OpaquePointer
    let portID: UInt32
    /// `NETLINK_ROUTE`, `NETLINK_NETFILTER`, ...
    let bus: Int32
    private var nextSequence: UInt32
    private let buffer: UnsafeMutableRawPointer
    /// Large enough for any single datagram the kernel sends: dump parts are at most 32 KiB.
    private let bufferSize = 64 * 1024

    /// - Parameter receiveTimeout: how long one receive may wait for the kernel before it fails
    ///   with EAGAIN, so that a request the kernel never answers cannot hang the caller forever.
    init(bus: Int32, receiveBufferBytes: Int32 = 1 << 20, receiveTimeout: Duration = .seconds(10)) throws(SystemError) {
        let name = NetlinkSession.name(of: bus)
        guard let handle = mnl_socket_open2(bus, Int32(SOCK_CLOEXEC.rawValue)) else { throw .lastErrno("mnl_socket_open(\(name))") }
        guard mnl_socket_bind(handle, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let error = SystemError.lastErrno("mnl_socket_bind(\(name))")
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
    func subscribe(group: UInt32) throws(SystemError) {
        var value = group
        guard mnl_socket_setsockopt(handle, NETLINK_ADD_MEMBERSHIP, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            throw .lastErrno("NETLINK_ADD_MEMBERSHIP \(group)")
        }
    }

    // MARK: Receiving

    /// Reads one datagram and calls `body` for each message in it. Throws `ENOBUFS` when the kernel
    /// dropped notifications because the queue overflowed: the caller must re-read its state.
    ///
    /// - Parameter wait: false: return false at once when nothing is queued, instead of waiting.
    @discardableResult
    func receive(wait: Bool = true, _ body: (NetlinkMessage) throws(SystemError) -> Void) throws(SystemError) -> Bool {
        // MSG_TRUNC: recv returns the datagram's whole length, so one too big for the buffer shows.
        let flags = Int32(MSG_TRUNC) | (wait ? 0 : Int32(MSG_DONTWAIT))
        var n: Int
        repeat {
            n = recv(fileDescriptor, buffer, bufferSize, flags)
        } while n < 0 && Glibc.errno == EINTR
        if n < 0 {
            if !wait && Glibc.errno == EAGAIN { return false }
            throw .lastErrno("recv(\(NetlinkSession.name(of: bus)))")
        }
        guard n <= bufferSize else {
            throw SystemError(operation: "recv(\(NetlinkSession.name(of: bus)))", errno: .noSpace,
                              detail: "a \(n)-byte datagram does not fit the \(bufferSize)-byte buffer")
        }
        try forEachMessage(in: UnsafeRawBufferPointer(start: buffer, count: n), body)
        return true
    }

    private func forEachMessage(in bytes: UnsafeRawBufferPointer, _ body: (NetlinkMessage) throws(SystemError) -> Void) throws(SystemError) {
        guard var header = UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.assumingMemoryBound(to: nlmsghdr.self) else { return }
        var remaining = Int32(bytes.count)
        while mnl_nlmsg_ok(header, remaining) {
            try body(NetlinkMessage(header: UnsafePointer(header)))
            guard let next = mnl_nlmsg_next(header, &remaining) else { break }
            header = next
        }
    }

    /// Whether a message answers the request with this sequence number on this socket.
    private func answers(_ sequence: UInt32, _ message: NetlinkMessage) -> Bool {
        message.sequence == sequence && (message.portID == portID || message.portID == 0)
    }

    // MARK: Sending

    func send(_ bytes: UnsafeRawBufferPointer, operation: String) throws(SystemError) {
        let n = mnl_socket_sendto(handle, bytes.baseAddress, bytes.count)
        guard n >= 0 else { throw .lastErrno("send(\(operation))") }
        guard n == bytes.count else {
            throw SystemError(operation: "send(\(operation))", errno: .messageTooLong, detail: "short send: \(n) of \(bytes.count) bytes")
        }
    }

    // MARK: Requests and their acks

    /// Sends one message built by `build` with `NLM_F_REQUEST | NLM_F_ACK` (and `flags`), calls
    /// `body` for every answer, and returns at the kernel's ack. A refusal is thrown with the
    /// kernel's reason, named by `operation` and `subject`.
    func request(
        operation: String,
        subject: String? = nil,
        reserve: Int = 512,
        build: (inout NetlinkMessageWriter) -> Void,
        _ body: (NetlinkMessage) throws(SystemError) -> Void = { _ in }
    ) throws(SystemError) {
        let request = NetlinkBatch(capacity: reserve)
        let sequence = makeSequence()
        request.append(type: 0, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence, reserve: reserve, build)
        try send(request.bytes, operation: operation)
        var acked = false
        while !acked {
            try receive { (message: NetlinkMessage) throws(SystemError) in
                guard !acked, answers(sequence, message) else { return }
                guard Int32(message.type) == NLMSG_ERROR else { return try body(message) }
                acked = true
                let ack = message.ack
                if !ack.succeeded { throw .netlink(operation, on: subject, ack) }
            }
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
        _ body: (NetlinkMessage) throws(SystemError) -> Void
    ) throws(SystemError) {
        for attempt in 0..<4 {
            if attempt > 0 { reset() }
            let request = NetlinkBatch()
            let sequence = makeSequence()
            request.append(type: 0, flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), sequence: sequence, reserve: 512, build)
            try send(request.bytes, operation: operation)
            var interrupted = false
            var done = false
            while !done {
                try receive { (message: NetlinkMessage) throws(SystemError) in
                    guard answers(sequence, message) else { return }
                    if message.flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
                    switch Int32(message.type) {
                    case NLMSG_DONE, NLMSG_ERROR:
                        done = true
                        let ack = Int32(message.type) == NLMSG_DONE ? message.doneAck : message.ack
                        if ack.code < 0 { throw .netlink(operation, ack) }
                    case NLMSG_NOOP, NLMSG_OVERRUN:
                        break
                    default:
                        if !done { try body(message) }
                    }
                }
            }
            if !interrupted { return }
        }
        throw SystemError(operation: operation, errno: .resourceTemporarilyUnavailable, detail: "dump interrupted four times by concurrent changes")
    }

    /// Sends every message of `batch` (each must carry `NLM_F_ACK`) and waits for all their acks.
    ///
    /// Messages go out in datagrams of up to `chunkBytes`, each chunk's acks read before the next is
    /// sent, so the receive queue never overflows. The kernel handles the messages of a datagram
    /// one after the other and goes on after a failed one. Returns one `Ack` per message, in order.
    func execute(_ batch: NetlinkBatch, operation: String, chunkBytes: Int = 32 * 1024) throws(SystemError) -> [NetlinkAck] {
        var acks = [NetlinkAck](repeating: NetlinkAck(code: 0), count: batch.count)
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
                try receive { (message: NetlinkMessage) throws(SystemError) in
                    guard Int32(message.type) == NLMSG_ERROR else { return }
                    let index = first + Int(message.sequence &- firstSequence)
                    guard index >= first, index <= last, batch.sequences[index] == message.sequence else { return }
                    acks[index] = message.ack
                    pending -= 1
                }
            }
            first = last + 1
        }
        return acks
    }

    /// Sends an nfnetlink transaction (`NFNL_MSG_BATCH_BEGIN` ... `END`, built by the caller) in one
    /// datagram, as the kernel takes a transaction from one message buffer, and returns every
    /// error the kernel reported, by sequence number. The message numbered `acknowledged` must
    /// carry `NLM_F_ACK`: its ack proves the batch was processed; errors come unasked.
    func commit(_ transaction: UnsafeRawBufferPointer, acknowledged: UInt32, operation: String) throws(SystemError) -> [(sequence: UInt32, ack: NetlinkAck)] {
        var size = Int32(max(transaction.count * 2, 1 << 20))
        _ = setsockopt(fileDescriptor, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        try send(transaction, operation: operation)

        var errors: [(sequence: UInt32, ack: NetlinkAck)] = []
        var acked = false
        // The kernel processes the transaction inside sendto: everything it has to say is queued
        // already, so an empty queue means it has said all.
        while !acked {
            let read = try receive(wait: false) { (message: NetlinkMessage) throws(SystemError) in
                guard Int32(message.type) == NLMSG_ERROR else { return }
                let ack = message.ack
                if !ack.succeeded {
                    errors.append((message.sequence, ack))
                } else if message.sequence == acknowledged {
                    acked = true
                }
            }
            if !read { break }
        }
        guard acked || !errors.isEmpty else {
            throw SystemError(operation: operation, errno: .protocolError, detail: "the kernel did not acknowledge the batch")
        }
        return errors
    }

    /// The bus's name for errors.
    static func name(of bus: Int32) -> String {
        switch bus {
        case NETLINK_ROUTE: "NETLINK_ROUTE"
        case NETLINK_NETFILTER: "NETLINK_NETFILTER"
        default: "netlink \(bus)"
        }
    }
}
