#if canImport(Glibc)
import Glibc
#endif
import Domain
import Synchronization
import SystemPackage

/// Sends ICMP and ICMPv6 echo probes through a given uplink and reports each one's outcome once:
/// `.reply(rtt)`, `.failure("host unreachable")` (and other unreachable codes), `.failure(errno
/// text)` when the send fails, or `.timeout` at the request's deadline.
///
/// One raw socket per uplink and address family carries all of that uplink's targets. Each socket
/// is bound to the uplink's device (`SO_BINDTODEVICE`) and carries its probe class mark
/// (`SO_MARK`), so a probe leaves through its own uplink whatever the forwarding plan says. A raw
/// socket sees every ICMP message of the namespace: a kernel filter (`ICMP_FILTER`,
/// `ICMP6_FILTER`) lets only echo replies and destination-unreachable errors wake it, and a reply
/// counts only if its identifier (chosen per socket), sequence (a 16-bit wire sequence the prober
/// maps to the core's probe), source address and payload cookie all match a probe in flight.
///
/// RTT is CLOCK_MONOTONIC from just before `sendto` to the kernel's receive timestamp
/// (`SO_TIMESTAMPNS`), so time a reply spends queued while the receive thread is busy is not
/// counted. A reply stamped after the probe's deadline counts as a timeout: the deadline is
/// honoured exactly even when the report of it comes a little later.
///
/// Sockets are opened by `attach` (or the first `send` for that uplink and family) in the network
/// namespace of the calling thread, and need CAP_NET_RAW. Results are delivered on the prober's
/// receive thread, or on the sending thread when a probe fails at once; the callback must be quick
/// and must not call `shutdown()`.
public final class ICMPProber: Sendable {
    private let engine: ICMPEngine
    private let thread: ProbeThread

    /// Starts the receive thread. `onResult` gets each probe's outcome exactly once.
    ///
    /// - Parameter readInterval: after reading replies, the receive thread waits this long before
    ///   reading again, so that under load it reads many replies per wake-up. RTTs come from the
    ///   kernel's receive stamps, so this only delays reports (never past a probe's deadline,
    ///   which is checked against the stamp). Zero reads every reply as soon as it arrives.
    public init(readInterval: Duration = .milliseconds(2), onResult: @escaping @Sendable (ProbeResult) -> Void) throws(SystemError) {
        let engine = ICMPEngine(readInterval: readInterval, onResult: onResult)
        self.engine = engine
        thread = try ProbeThread { wakeup in engine.run(wakeup: wakeup) }
        engine.thread = thread
    }

    /// A prober that yields its results into an `AsyncStream`; the stream finishes on `shutdown()`.
    public convenience init(readInterval: Duration = .milliseconds(2), results: AsyncStream<ProbeResult>.Continuation) throws(SystemError) {
        try self.init(readInterval: readInterval, onResult: { results.yield($0) })
        engine.onShutdown = { results.finish() }
    }

    deinit { shutdown() }

    /// Opens the uplink's sockets now (IPv4, and IPv6 unless `ipv6: false`), so that a missing
    /// privilege or interface shows at start-up rather than as failed probes. Re-attaching an
    /// uplink under a new index moves its sockets to the new probe class mark.
    public func attach(_ uplink: ProbeUplink, ipv6: Bool = true) throws(SystemError) {
        try engine.attach(uplink, v6: false)
        if ipv6 { try engine.attach(uplink, v6: true) }
    }

    /// Closes the uplink's sockets; its probes in flight are dropped without a result.
    public func detach(interface: String) {
        engine.detach(interface: interface)
    }

    /// Sends one echo request to the request's `.icmp` target through `uplink`. Never blocks on the
    /// network; the outcome arrives through the callback.
    public func send(_ request: ProbeRequest, via uplink: ProbeUplink) {
        engine.send(request, via: uplink)
    }

    /// Probes in flight (for status and tests).
    public var inFlight: Int { engine.inFlight }

    /// Stops the receive thread and closes every socket. Probes in flight get no result.
    /// Idempotent; also done on deinit.
    public func shutdown() {
        guard engine.stop() else { return }
        thread.wake()
        if !thread.isCurrent { thread.join() }
        engine.closeAll()
    }
}

/// The prober's state and its receive loop. Everything mutable is behind one mutex; the loop
/// reads sockets without it (only the loop ever closes a socket, so an fd it polls stays valid).
private final class ICMPEngine: Sendable {
    struct Pending {
        var id: ProbeID
        var target: IPAddress
        var sentAt: Int64
        var deadline: Int64
    }

    struct RawSocket {
        var fd: Int32
        var v6: Bool
        var uplink: ProbeUplink
        var identifier: UInt16
        var cookie: UInt64
        var nextSequence: UInt16
        var pending: [UInt16: Pending] = [:]
    }

    struct SocketKey: Hashable {
        var interface: String
        var v6: Bool
    }

    /// A heap entry names a probe by socket slot, wire sequence and send time (the send time tells
    /// a live entry from a stale one after the sequence was reused).
    struct Token {
        var slot: Int
        var sequence: UInt16
        var sentAt: Int64
    }

    struct State: ~Copyable {
        var sockets: [Int: RawSocket] = [:]
        var slots: [SocketKey: Int] = [:]
        var nextSlot = 0
        var deadlines = ProbeDeadlineHeap<Token>()
        var identifierBase = UInt16.random(in: .min ... .max)
        /// Sockets detached since the loop last looked; only the loop closes them, and only when
        /// no `sendto` is running outside the lock (which could otherwise hit a reused fd number).
        var closing: [Int32] = []
        var sendsInProgress = 0
        var socketsChanged = true
        /// When the loop will next wake by itself (`.max`: not until woken; `.min`: awake now).
        var sleepingUntil: Int64 = .min
        var stopped = false
        var inFlight = 0
    }

    let onResult: @Sendable (ProbeResult) -> Void
    let readInterval: Int64
    private let state = Mutex(State())
    /// Set once right after the thread starts; read by senders to wake the loop.
    private let threadBox = Mutex<ProbeThread?>(nil)
    private let shutdownBox = Mutex<(@Sendable () -> Void)?>(nil)

    init(readInterval: Duration, onResult: @escaping @Sendable (ProbeResult) -> Void) {
        self.readInterval = max(0, readInterval.nanoseconds)
        self.onResult = onResult
    }

    var thread: ProbeThread? {
        get { threadBox.withLock { $0 } }
        set { threadBox.withLock { $0 = newValue } }
    }

    var onShutdown: (@Sendable () -> Void)? {
        get { shutdownBox.withLock { $0 } }
        set { shutdownBox.withLock { $0 = newValue } }
    }

    var inFlight: Int { state.withLock { $0.inFlight } }

    // MARK: Sockets

    func attach(_ uplink: ProbeUplink, v6: Bool) throws(SystemError) {
        let result: Result<Void, SystemError> = state.withLock { state in
            do throws(SystemError) {
                _ = try socketSlot(&state, uplink: uplink, v6: v6)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        thread?.wake()
    }

    func detach(interface: String) {
        let changed = state.withLock { state -> Bool in
            var changed = false
            for v6 in [false, true] {
                guard let slot = state.slots.removeValue(forKey: SocketKey(interface: interface, v6: v6)),
                      let socket = state.sockets.removeValue(forKey: slot) else { continue }
                state.inFlight -= socket.pending.count
                state.closing.append(socket.fd)
                state.socketsChanged = true
                changed = true
            }
            return changed
        }
        if changed { thread?.wake() }
    }

    /// The slot of the uplink's socket for the family, opening it if needed. Runs under the lock:
    /// opening is rare, and holding the lock keeps two senders from opening the same socket.
    private func socketSlot(_ state: inout State, uplink: ProbeUplink, v6: Bool) throws(SystemError) -> Int {
        guard !state.stopped else {
            throw .probe("ICMP prober is shut down", on: uplink, .socketShutdown)
        }
        let key = SocketKey(interface: uplink.interface, v6: v6)
        if let slot = state.slots[key], let existing = state.sockets[slot] {
            if existing.uplink.index != uplink.index {
                try ProbeSocket.setMark(existing.fd, uplink: uplink)
                state.sockets[slot]?.uplink = uplink
            }
            return slot
        }
        let fd = try Self.openRawSocket(uplink: uplink, v6: v6)
        let slot = state.nextSlot
        state.nextSlot += 1
        state.sockets[slot] = RawSocket(
            fd: fd, v6: v6, uplink: uplink,
            identifier: state.identifierBase &+ UInt16(truncatingIfNeeded: slot),
            cookie: UInt64.random(in: .min ... .max),
            nextSequence: UInt16.random(in: .min ... .max))
        state.slots[key] = slot
        state.socketsChanged = true
        return slot
    }

    private static func openRawSocket(uplink: ProbeUplink, v6: Bool) throws(SystemError) -> Int32 {
        let fd = try ProbeSocket.open(
            family: v6 ? AF_INET6 : AF_INET, type: ProbeSocket.raw,
            protocol: v6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP), uplink: uplink,
            describe: v6 ? "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)" : "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)")
        // Wake only for echo replies and unreachables: every other ICMP message of the namespace
        // (including other programs' pings and their replies) stays in the kernel.
        let filterOK: Bool
        if v6 {
            var blocked = [UInt32](repeating: .max, count: 8)  // struct icmp6_filter: a set bit blocks
            for type in [ICMPPacket.echoReplyV6, ICMPPacket.unreachableV6] {
                blocked[Int(type >> 5)] &= ~(1 << UInt32(type & 31))
            }
            filterOK = setsockopt(fd, Int32(IPPROTO_ICMPV6), icmp6Filter, blocked, socklen_t(32)) == 0
        } else {
            let blocked: UInt32 = ~(1 << UInt32(ICMPPacket.echoReplyV4) | 1 << UInt32(ICMPPacket.unreachableV4))
            filterOK = ProbeSocket.setOption(fd, solRaw, icmpFilter, blocked)
        }
        guard filterOK else {
            let code = errno
            close(fd)
            throw .probe(v6 ? "setsockopt(ICMP6_FILTER)" : "setsockopt(ICMP_FILTER)", on: uplink, Errno(rawValue: code))
        }
        ProbeSocket.setOption(fd, SOL_SOCKET, SO_TIMESTAMPNS, Int32(1))
        // Room for a burst of replies to a whole round of targets: with 1,000 targets the default
        // 208 KiB holds about 300 small packets. FORCE needs CAP_NET_ADMIN; plain is capped by rmem_max.
        if !ProbeSocket.setOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, Int32(4 << 20)) {
            ProbeSocket.setOption(fd, SOL_SOCKET, SO_RCVBUF, Int32(4 << 20))
        }
        // Receiving is non-blocking (MSG_DONTWAIT); sending blocks only if the send buffer is full.
        return fd
    }

    // MARK: Sending

    func send(_ request: ProbeRequest, via uplink: ProbeUplink) {
        guard case .icmp(let target) = request.target else {
            return onResult(ProbeResult(id: request.id, outcome: .failure("not an ICMP target: \(request.target)")))
        }
        let v6 = !target.isV4
        let timeout = max(0, request.timeout.nanoseconds)
        typealias Prepared = (fd: Int32, identifier: UInt16, sequence: UInt16, cookie: UInt64, slot: Int, sentAt: Int64, wake: Bool)
        let prepared: Result<Prepared, SystemError> = state.withLock { state in
            let slot: Int
            do throws(SystemError) {
                slot = try socketSlot(&state, uplink: uplink, v6: v6)
            } catch {
                return .failure(error)
            }
            guard let sequence = state.sockets[slot].flatMap(Self.freeSequence) else {
                return .failure(.probe("no free ICMP sequence: 65,536 probes in flight", on: uplink, .resourceBusy))
            }
            let now = KernelClock.monotonic()
            let deadline = now + timeout
            // Mutated in place through the dictionary: a copy of the socket would copy its whole
            // pending table on write.
            state.sockets[slot]!.nextSequence = sequence &+ 1
            state.sockets[slot]!.pending[sequence] = Pending(id: request.id, target: target, sentAt: now, deadline: deadline)
            state.deadlines.insert(deadline, Token(slot: slot, sequence: sequence, sentAt: now))
            state.inFlight += 1
            let wake = deadline < state.sleepingUntil || state.socketsChanged
            state.sendsInProgress += 1
            let socket = state.sockets[slot]!
            return .success((socket.fd, socket.identifier, sequence, socket.cookie, slot, now, wake))
        }
        let probe: Prepared
        switch prepared {
        case .success(let p): probe = p
        case .failure(let error): return onResult(ProbeResult(id: request.id, outcome: .failure(error.description)))
        }
        if probe.wake { thread?.wake() }

        let sent = withUnsafeTemporaryAllocation(byteCount: ICMPPacket.requestSize, alignment: 8) { buffer in
            ICMPPacket.writeEchoRequest(into: buffer, v6: v6, identifier: probe.identifier, sequence: probe.sequence, cookie: probe.cookie)
            return ProbeSocket.withSockaddr(target) { address, length in
                sendto(probe.fd, buffer.baseAddress, ICMPPacket.requestSize, 0, address, length)
            }
        }
        let code = sent < 0 ? errno : 0
        let (pending, wakeToClose) = state.withLock { state -> (Pending?, Bool) in
            state.sendsInProgress -= 1
            var removed: Pending?
            if sent < 0, let entry = state.sockets[probe.slot]?.pending[probe.sequence], entry.sentAt == probe.sentAt {
                state.sockets[probe.slot]?.pending[probe.sequence] = nil
                state.inFlight -= 1
                removed = entry
                if code == ENODEV || code == ENXIO {
                    // The interface went away (or was re-created under a new index): reopen next time.
                    Self.forget(&state, slot: probe.slot)
                }
            }
            // The last sender out lets the loop close detached sockets.
            return (removed, state.sendsInProgress == 0 && !state.closing.isEmpty)
        }
        if wakeToClose { thread?.wake() }
        if let pending { onResult(ProbeResult(id: pending.id, outcome: .failure(Self.sendFailure(code)))) }
    }

    /// Next wire sequence not in flight, starting from the socket's counter.
    private static func freeSequence(_ socket: RawSocket) -> UInt16? {
        var candidate = socket.nextSequence
        for _ in 0...UInt16.max {
            if socket.pending[candidate] == nil { return candidate }
            candidate &+= 1
        }
        return nil
    }

    private static func forget(_ state: inout State, slot: Int) {
        guard let socket = state.sockets.removeValue(forKey: slot) else { return }
        state.slots.removeValue(forKey: SocketKey(interface: socket.uplink.interface, v6: socket.v6))
        state.inFlight -= socket.pending.count
        state.closing.append(socket.fd)
        state.socketsChanged = true
    }

    static func sendFailure(_ code: Int32) -> String {
        switch code {
        case ENETUNREACH: "network unreachable"
        case EHOSTUNREACH: "host unreachable"
        case EACCES, EPERM: "sending refused by the local firewall (\(Errno(rawValue: code).description))"
        default: Errno(rawValue: code).description
        }
    }

    // MARK: Receive loop

    /// A message read from a socket, not yet matched (matching needs the lock).
    struct Received {
        var slot: Int
        var message: ICMPPacket.Message
        var stamp: Int64?
    }

    func stop() -> Bool {
        state.withLock { state in
            if state.stopped { return false }
            state.stopped = true
            return true
        }
    }

    func closeAll() {
        let fds = state.withLock { state -> [Int32] in
            let fds = state.sockets.values.map(\.fd) + state.closing
            state.sockets = [:]
            state.slots = [:]
            state.closing = []
            state.inFlight = 0
            return fds
        }
        for fd in fds { close(fd) }
        onShutdown?()
    }

    func run(wakeup: Wakeup) {
        var pollFDs: [pollfd] = []
        var polled: [(slot: Int, v6: Bool)] = []
        var received: [Received] = []
        var results: [ProbeResult] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        defer { buffer.deallocate() }
        let control = UnsafeMutableRawBufferPointer.allocate(byteCount: 128, alignment: 8)
        defer { control.deallocate() }
        let name = UnsafeMutableRawBufferPointer.allocate(byteCount: MemoryLayout<sockaddr_storage>.size, alignment: 8)
        defer { name.deallocate() }

        // After reading, the loop leaves the sockets alone for `readInterval` so that replies
        // queue up and are read many per wake-up, and the kernel need not wake this thread for
        // each one. RTTs come from kernel receive stamps, so this delays only the report.
        var holdUntil: Int64 = .min
        var wakeOnly = [wakeup.pollDescriptor]
        while true {
            let hold: Int32? = state.withLock { state in
                let now = KernelClock.monotonic()
                guard !state.stopped, now < holdUntil else { return nil }
                let until = min(holdUntil, state.deadlines.earliest ?? .max)
                guard now < until else { return nil }
                state.sleepingUntil = until
                return KernelClock.pollTimeout(until: until, now: now)
            }
            if let hold {
                if poll(&wakeOnly, 1, hold) > 0 { wakeup.drain() }
                state.withLock { $0.sleepingUntil = .min }
                continue
            }
            let timeout: Int32? = state.withLock { state in
                if state.stopped { return nil }
                if state.sendsInProgress == 0 {
                    for fd in state.closing { close(fd) }
                    state.closing = []
                }
                if state.socketsChanged {
                    state.socketsChanged = false
                    pollFDs = [wakeup.pollDescriptor]
                    polled = [(-1, false)]
                    for (slot, socket) in state.sockets {
                        pollFDs.append(pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0))
                        polled.append((slot, socket.v6))
                    }
                }
                let now = KernelClock.monotonic()
                let earliest = state.deadlines.earliest
                state.sleepingUntil = earliest ?? .max
                return KernelClock.pollTimeout(until: earliest, now: now)
            }
            guard let timeout else { return }

            let ready = poll(&pollFDs, nfds_t(pollFDs.count), timeout)
            state.withLock { $0.sleepingUntil = .min }
            if ready < 0 && errno != EINTR { return }

            if pollFDs[0].revents != 0 { wakeup.drain() }
            for index in pollFDs.indices.dropFirst() where pollFDs[index].revents != 0 {
                Self.drain(fd: pollFDs[index].fd, slot: polled[index].slot, v6: polled[index].v6,
                           buffer: buffer, control: control, name: name, into: &received)
            }
            let nowMonotonic = KernelClock.monotonic()
            if !received.isEmpty { holdUntil = nowMonotonic + readInterval }
            let nowRealtime = KernelClock.realtime()
            state.withLock { state in
                for message in received {
                    let at = message.stamp.map {
                        KernelClock.monotonic(fromRealtime: $0, nowMonotonic: nowMonotonic, nowRealtime: nowRealtime)
                    } ?? nowMonotonic
                    if let result = Self.match(&state, message, at: at) { results.append(result) }
                }
                while let expired = state.deadlines.popExpired(now: nowMonotonic) {
                    let token = expired.token
                    guard let pending = state.sockets[token.slot]?.pending[token.sequence],
                          pending.sentAt == token.sentAt else { continue }
                    state.sockets[token.slot]?.pending[token.sequence] = nil
                    state.inFlight -= 1
                    results.append(ProbeResult(id: pending.id, outcome: .timeout))
                }
            }
            received.removeAll(keepingCapacity: true)
            for result in results { onResult(result) }
            results.removeAll(keepingCapacity: true)
        }
    }

    /// Reads every queued message of one socket without blocking.
    private static func drain(
        fd: Int32, slot: Int, v6: Bool,
        buffer: UnsafeMutableRawBufferPointer, control: UnsafeMutableRawBufferPointer,
        name: UnsafeMutableRawBufferPointer, into received: inout [Received]
    ) {
        while true {
            var iov = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
            var header = msghdr()
            header.msg_name = name.baseAddress
            header.msg_namelen = socklen_t(name.count)
            header.msg_control = control.baseAddress
            header.msg_controllen = control.count
            let count = withUnsafeMutablePointer(to: &iov) { iovPointer in
                header.msg_iov = iovPointer
                header.msg_iovlen = 1
                return recvmsg(fd, &header, ProbeSocket.dontWait)
            }
            guard count > 0 else { return }  // EAGAIN: drained (other errors: nothing to read either)
            let packet = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            let message: ICMPPacket.Message?
            if v6 {
                guard let source = ProbeSocket.address(of: name.baseAddress!) else { continue }
                message = ICMPPacket.parseV6(packet, source: source)
            } else {
                message = ICMPPacket.parseV4(packet)
            }
            guard let message else { continue }
            let stamp = ProbeSocket.receiveTimestamp(control: UnsafeRawBufferPointer(rebasing: control[0..<Int(header.msg_controllen)]))
            received.append(Received(slot: slot, message: message, stamp: stamp))
        }
    }

    /// The result a message completes, if it answers a probe of this socket in flight.
    private static func match(_ state: inout State, _ received: Received, at: Int64) -> ProbeResult? {
        // Only values are read out of the socket, so that removing the entry below mutates its
        // pending table in place instead of copying it.
        guard let (identifier, cookie) = state.sockets[received.slot].map({ ($0.identifier, $0.cookie) }) else { return nil }
        let sequence: UInt16
        let outcome: (Pending) -> ProbeOutcome
        switch received.message {
        case let .echoReply(source, replyIdentifier, seq, replyCookie):
            guard replyIdentifier == identifier, replyCookie == cookie,
                  state.sockets[received.slot]?.pending[seq]?.target == source else { return nil }
            sequence = seq
            outcome = { at <= $0.deadline ? .reply(rtt: .nanoseconds(max(0, at - $0.sentAt))) : .timeout }
        case let .unreachable(target, errorIdentifier, seq, reason):
            guard errorIdentifier == identifier, state.sockets[received.slot]?.pending[seq]?.target == target else { return nil }
            sequence = seq
            outcome = { at <= $0.deadline ? .failure(reason) : .timeout }
        }
        guard let pending = state.sockets[received.slot]?.pending.removeValue(forKey: sequence) else { return nil }
        state.inFlight -= 1
        return ProbeResult(id: pending.id, outcome: outcome(pending))
    }
}

/// `SOL_RAW` / `ICMP_FILTER` from <linux/icmp.h>, and `ICMP6_FILTER` from <netinet/icmp6.h>
/// (neither header is in the Glibc module).
private let solRaw: Int32 = 255
private let icmpFilter: Int32 = 1
private let icmp6Filter: Int32 = 1
