#if canImport(Glibc)
import Glibc
#endif
import Domain
import Synchronization

/// The capture side of the passive health check (`health_check { type = "passive" }`): watches
/// the TCP connection attempts leaving each watched WAN and the answers arriving, and reports every
/// one as a `PassiveObservation`. It only observes: the rule that turns attempts into rounds
/// (deadlines, intervals, majorities) is the core's (`PassiveSampler` in Domain), and which WANs to
/// watch is the core's `.capturePassive` effect, handed to `watch(interfaces:)`.
///
/// Each WAN gets two captures on its interface, one for each direction, so the connections are
/// seen as they leave: after masquerading, with the WAN's own address, which is the tuple the
/// answers come back to. Kernel filters pass only outgoing SYNs (`outgoingFilter`) and incoming
/// SYN-ACKs and RST-ACKs (`incomingFilter`), so other traffic costs nothing. The direction is set
/// with `pcap_setdirection` rather than `inbound`/`outbound` in one filter: libpcap runs a new
/// filter in user space on the first packet after installing it, where those keywords cannot be
/// evaluated, and that first connection attempt would be lost. Captures are in immediate mode, so
/// an observation reaches the callback (and the shell stamps it) within the poll's latency.
///
/// One thread serves every WAN (poll on all captures). Captures are opened by `watch`, in the
/// network namespace of the calling thread. If a capture fails later (the interface was removed or
/// taken down), the error is reported once and the monitor tries to reopen it every `retryPeriod`,
/// from its own thread, which is in the namespace the monitor was made in: make the monitor and
/// watch its WANs in the same namespace. Needs CAP_NET_RAW.
public final class PassiveHealthMonitor: Sendable {
    /// TCP segments with SYN and without ACK, over IPv4 and IPv6 (IPv6 only without extension
    /// headers before TCP, which is how connection attempts travel). `and`/`or` have equal
    /// precedence in pcap-filter(7), hence every parenthesis.
    public static let outgoingFilter = "(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn)"
        + " or (ip6[6] == 6 and ip6[53] & 0x12 == 0x02)"

    /// TCP segments with ACK and SYN or RST.
    public static let incomingFilter = "(tcp[tcpflags] & tcp-ack != 0 and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0)"
        + " or (ip6[6] == 6 and ip6[53] & 0x10 != 0 and ip6[53] & 0x06 != 0)"

    /// The rings hold only connection attempts and their answers: a quarter of libpcap's default.
    static let bufferSize: Int32 = 256 << 10

    private let engine: PassiveHealthEngine
    private let thread: Mutex<pthread_t?>

    /// Starts the monitor's thread (idle until a WAN is watched).
    ///
    /// - Parameters:
    ///   - retryPeriod: how often a capture that failed at run time is reopened.
    ///   - onObservation: each attempt and answer with its WAN and the CLOCK_MONOTONIC nanoseconds
    ///     the kernel captured it at (the packet's timestamp carried over from CLOCK_REALTIME), in
    ///     capture order, on the monitor's thread; must be quick (the daemon pushes
    ///     `.core(.passive(...))` into its inbox).
    ///   - onError: a WAN's capture failed at run time (it is retried every `retryPeriod`).
    public init(retryPeriod: Duration = .seconds(1),
                onObservation: @escaping @Sendable (_ interface: String, PassiveObservation, _ capturedMonotonic: Int64) -> Void,
                onError: @escaping @Sendable (SystemError) -> Void = { _ in }) throws(SystemError) {
        let wake = try Wakeup()
        let engine = PassiveHealthEngine(wake: wake, retryPeriod: max(1_000_000, retryPeriod.nanoseconds),
                                         onObservation: onObservation, onError: onError)
        self.engine = engine
        thread = Mutex(try DedicatedThread.start(name: "flywall-passive") { engine.run() })
    }

    deinit { shutdown() }

    /// Watches exactly `interfaces` (the core's `.capturePassive` list): opens captures for new ones
    /// now, on the calling thread, so a missing privilege or interface shows at once, and closes the
    /// rest. A WAN already watched keeps its captures. Returns the errors of the WANs that could not
    /// be opened (each is left out; the others are watched).
    @discardableResult
    public func watch(interfaces: [String]) -> [SystemError] {
        let wanted = Set(interfaces)
        for name in self.interfaces where !wanted.contains(name) { engine.remove(interface: name) }
        var errors: [SystemError] = []
        for name in wanted.sorted() {
            do throws(SystemError) {
                try engine.add(interface: name)
            } catch {
                errors.append(error)
            }
        }
        return errors
    }

    /// The WANs being watched, sorted.
    public var interfaces: [String] { engine.interfaces }

    /// Stops the thread and closes every capture. Idempotent; also done on deinit. Must not be
    /// called from `onObservation` or `onError`.
    public func shutdown() {
        engine.requestStop()
        let thread = self.thread.withLock { thread -> pthread_t? in
            defer { thread = nil }
            return thread
        }
        if let thread { DedicatedThread.join(thread) }
        engine.closeAll()
    }
}

extension CapturedPacket {
    /// What this packet means to a passive check, if anything: a SYN without ACK that did not arrive
    /// is a connection attempt; a SYN-ACK or RST-ACK that did not leave is an answer, its 4-tuple
    /// turned around to the attempt's orientation. Anything else (a bare RST or ACK, UDP, the router
    /// as a server) is nil. The direction is the capture's, so each ring only yields its own kind.
    public var passiveObservation: PassiveObservation? {
        guard let tcp, let sourcePort, let destinationPort else { return nil }
        let flags = tcp.flags
        if flags.contains(.syn), !flags.contains(.ack), direction != .incoming {
            return .attempt(ConnectionTuple(local: source, localPort: sourcePort, remote: destination,
                                            remotePort: destinationPort), sequence: tcp.sequence)
        }
        if flags.contains(.ack), !flags.isDisjoint(with: [.syn, .rst]), direction != .outgoing {
            return .answer(ConnectionTuple(local: destination, localPort: destinationPort, remote: source,
                                           remotePort: sourcePort), acknowledgment: tcp.acknowledgment)
        }
        return nil
    }
}

/// A WAN's two captures: SYNs leaving, answers arriving.
private struct WANCaptures {
    var incoming: CaptureHandle
    var outgoing: CaptureHandle

    static func open(_ interface: String) throws(SystemError) -> WANCaptures {
        let incoming = try CaptureHandle.open(CaptureConfiguration(
            interface: interface, filter: PassiveHealthMonitor.incomingFilter, direction: .incoming,
            bufferSize: PassiveHealthMonitor.bufferSize))
        let outgoing: CaptureHandle
        do {
            outgoing = try CaptureHandle.open(CaptureConfiguration(
                interface: interface, filter: PassiveHealthMonitor.outgoingFilter, direction: .outgoing,
                bufferSize: PassiveHealthMonitor.bufferSize))
        } catch {
            incoming.close()
            throw error
        }
        return WANCaptures(incoming: incoming, outgoing: outgoing)
    }

    var descriptors: [Int32] { [incoming.selectableFD, outgoing.selectableFD] }

    /// Everything queued on both, in capture order. Answers are read first: an answer read now
    /// arrived before this read began, so its SYN (captured before the answer could exist) is in
    /// the other ring by the time that is read. Sorting by stamp then puts each SYN before its answer.
    func readAll() throws(SystemError) -> [CapturedPacket] {
        var packets: [CapturedPacket] = []
        for handle in [incoming, outgoing] {
            for _ in 0..<8 {
                let count = try handle.readAvailable { packets.append($0) }
                if count == 0 { break }
            }
        }
        packets.sort { $0.timestamp < $1.timestamp }
        return packets
    }

    func close() {
        incoming.close()
        outgoing.close()
    }
}

/// The monitor's state and loop. Everything mutable is behind one mutex; the loop polls without it.
/// Only the loop (or `closeAll` after it ended) closes a capture, so an fd it polls stays valid.
private final class PassiveHealthEngine: Sendable {
    struct WAN {
        var captures: WANCaptures?
        /// When to try reopening a capture that failed (CLOCK_MONOTONIC nanoseconds).
        var reopenAt: Int64?
    }

    struct State {
        var wans: [String: WAN] = [:]
        /// Captures of WANs no longer watched, for the loop to close.
        var closing: [WANCaptures] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let wake: Wakeup
    private let retryPeriod: Int64
    private let onObservation: @Sendable (String, PassiveObservation, Int64) -> Void
    private let onError: @Sendable (SystemError) -> Void

    init(wake: Wakeup, retryPeriod: Int64, onObservation: @escaping @Sendable (String, PassiveObservation, Int64) -> Void,
         onError: @escaping @Sendable (SystemError) -> Void) {
        self.wake = wake
        self.retryPeriod = retryPeriod
        self.onObservation = onObservation
        self.onError = onError
    }

    deinit { wake.close() }

    var interfaces: [String] { state.withLock { $0.wans.keys.sorted() } }

    /// Opens the WAN's captures (on the calling thread, so in its namespace) unless it is watched.
    /// The capture is opened under the lock, which holds the loop up for the millisecond that takes
    /// but keeps the handle inside the state from its first moment.
    func add(interface: String) throws(SystemError) {
        try state.withLock { state throws(SystemError) in
            if state.wans[interface] != nil { return }
            state.wans[interface] = WAN(captures: try WANCaptures.open(interface))
        }
        wake.wake()
    }

    func remove(interface: String) {
        state.withLock { state in
            if let captures = state.wans.removeValue(forKey: interface)?.captures { state.closing.append(captures) }
        }
        wake.wake()
    }

    func requestStop() {
        state.withLock { $0.stopped = true }
        wake.wake()
    }

    func closeAll() {
        state.withLock { state in
            for captures in state.closing { captures.close() }
            state.closing = []
            for name in state.wans.keys {
                state.wans[name]!.captures?.close()
                state.wans[name]!.captures = nil
            }
        }
    }

    func run() {
        var observations: [(String, PassiveObservation, Int64)] = []
        var errors: [SystemError] = []
        while true {
            // What to wait for: every open capture, the wake pipe, and the earliest reopen.
            let plan = state.withLock { state -> (fds: [pollfd], names: [String], deadline: Int64?)? in
                if state.stopped { return nil }
                var fds = [wake.pollDescriptor]
                var names: [String] = []
                var deadline: Int64?
                for (name, wan) in state.wans {
                    for fd in wan.captures?.descriptors ?? [] {
                        fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
                        names.append(name)
                    }
                    if let at = wan.reopenAt { deadline = min(deadline ?? at, at) }
                }
                return (fds, names, deadline)
            }
            guard var (fds, names, deadline) = plan else { return }
            let timeout = KernelClock.pollTimeout(until: deadline, now: KernelClock.monotonic())
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0, errno != EINTR {
                // Nothing sensible to do but not spin: wait a little and rebuild the poll set.
                usleep(100_000)
                continue
            }
            if fds[0].revents != 0 { wake.drain() }
            // Sorted: the order WANs are read in (and so observations of different WANs reported
            // in one pass) does not depend on a dictionary's order.
            let readable = Set(zip(names, fds.dropFirst()).filter { $0.1.revents != 0 }.map(\.0)).sorted()
            names = []
            deadline = nil

            state.withLock { state in
                for captures in state.closing { captures.close() }
                state.closing = []
                if state.stopped { return }
                for name in readable {
                    guard var wan = state.wans[name] else { continue }
                    read(&wan, interface: name, into: &observations, errors: &errors)
                    state.wans[name] = wan
                }
                let now = KernelClock.monotonic()
                for name in state.wans.keys {
                    guard var wan = state.wans[name], wan.captures == nil, let at = wan.reopenAt, now >= at else { continue }
                    reopen(&wan, interface: name, now: now)
                    state.wans[name] = wan
                }
            }
            for error in errors { onError(error) }
            for (interface, observation, captured) in observations { onObservation(interface, observation, captured) }
            errors.removeAll(keepingCapacity: true)
            observations.removeAll(keepingCapacity: true)
        }
    }

    /// Reads everything queued on one WAN's captures, in capture order, as observations.
    private func read(_ wan: inout WAN, interface: String, into observations: inout [(String, PassiveObservation, Int64)],
                      errors: inout [SystemError]) {
        guard let captures = wan.captures else { return }
        let packets: [CapturedPacket]
        do {
            packets = try captures.readAll()
        } catch {
            captures.close()
            wan.captures = nil
            wan.reopenAt = KernelClock.monotonic() + retryPeriod
            errors.append(error)
            return
        }
        // libpcap stamps packets on CLOCK_REALTIME; only how long each waited is carried over.
        let nowMonotonic = KernelClock.monotonic(), nowRealtime = KernelClock.realtime()
        for packet in packets {
            guard let observation = packet.passiveObservation else { continue }
            let captured = KernelClock.monotonic(fromRealtime: packet.timestamp.nanoseconds, nowMonotonic: nowMonotonic,
                                                 nowRealtime: nowRealtime)
            observations.append((interface, observation, captured))
        }
    }

    /// Tries to reopen a failed WAN's captures (in this thread's namespace); errors were already reported.
    private func reopen(_ wan: inout WAN, interface: String, now: Int64) {
        do {
            wan.captures = try WANCaptures.open(interface)
            wan.reopenAt = nil
        } catch {
            wan.reopenAt = now + retryPeriod
        }
    }
}

extension PassiveHealthMonitor: PassiveCapturing {
    public func capture(interfaces: [String]) -> [SystemError] { watch(interfaces: interfaces) }
}
