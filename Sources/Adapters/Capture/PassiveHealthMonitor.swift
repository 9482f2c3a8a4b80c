#if canImport(Glibc)
import Glibc
#endif
import Domain
import Synchronization

/// The passive health check (`health_check { type = "passive" }`): watches real TCP connection
/// attempts leaving each attached WAN and reports, at most once per the check's `interval`, whether
/// they were answered. Each sample is one probe round for the core (`sample.coreEvent`).
///
/// Each WAN gets two captures on its interface, one for each direction, so the connections are
/// seen as they leave: after masquerading, with the WAN's own address, which is the tuple the
/// answers come back to. Kernel filters pass only outgoing SYNs (`outgoingFilter`) and incoming
/// SYN-ACKs and RST-ACKs (`incomingFilter`), so other traffic costs nothing. The direction is set
/// with `pcap_setdirection` rather than `inbound`/`outbound` in one filter: libpcap runs a new
/// filter in user space on the first packet after installing it, where those keywords cannot be
/// evaluated, and that first connection attempt would be lost. The exact rule that turns attempts
/// into samples is `PassiveHealthTracker`'s; in short, per interval: no attempts, no sample;
/// otherwise answered when more than half of the attempts resolved in it got a SYN-ACK (or
/// RST-ACK) within `timeout`.
///
/// One thread serves every WAN (poll on all captures, plus a timer for interval ends). Captures are
/// opened by `attach`, in the network namespace of the calling thread. If a capture fails later
/// (the interface was removed or taken down), the error is reported once and the monitor tries to
/// reopen it every `interval`, from its own thread, which is in the namespace the monitor was made
/// in: make the monitor and attach its WANs in the same namespace. Needs CAP_NET_RAW.
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

    /// Starts the monitor's thread (idle until a WAN is attached).
    ///
    /// - Parameters:
    ///   - onSample: each sample, on the monitor's thread; must be quick.
    ///   - onError: a WAN's capture failed at run time (it is retried every `interval`).
    public init(onSample: @escaping @Sendable (PassiveHealthSample) -> Void,
                onError: @escaping @Sendable (SystemError) -> Void = { _ in }) throws(SystemError) {
        let wake = try Wakeup()
        let engine = PassiveHealthEngine(wake: wake, onSample: onSample, onError: onError)
        self.engine = engine
        thread = Mutex(try DedicatedThread.start(name: "flywall-passive") { engine.run() })
    }

    deinit { shutdown() }

    /// Starts watching `interface` with `check`'s interval and timeout, opening its capture now so a
    /// missing privilege or interface shows at once. Attaching a WAN already watched only takes the
    /// new interval and timeout (its capture and waiting attempts stay).
    public func attach(interface: String, check: HealthCheck) throws(SystemError) {
        try engine.attach(interface: interface, check: check)
    }

    /// Watches exactly the WANs of `config` whose effective health check is passive: attaches new
    /// ones, updates the others' interval and timeout, detaches the rest. Returns the errors of the
    /// WANs that could not be attached (each is left out; the others are watched).
    @discardableResult
    public func configure(_ config: FlywallConfig) -> [SystemError] {
        var wanted: [String: HealthCheck] = [:]
        for wan in config.wans {
            if let check = config.healthCheck(for: wan.name), check.kind == .passive { wanted[wan.name] = check }
        }
        for name in interfaces where wanted[name] == nil { detach(interface: name) }
        var errors: [SystemError] = []
        for (name, check) in wanted.sorted(by: { $0.key < $1.key }) {
            do throws(SystemError) {
                try attach(interface: name, check: check)
            } catch {
                errors.append(error)
            }
        }
        return errors
    }

    /// Stops watching `interface`; its waiting attempts are dropped without a sample.
    public func detach(interface: String) {
        engine.remove(interface: interface)
    }

    /// The WANs being watched, sorted.
    public var interfaces: [String] { engine.interfaces }

    /// Attempts waiting for an answer on `interface` (for status and tests).
    public func waitingAttempts(interface: String) -> Int { engine.waiting(interface: interface) }

    /// Stops the thread and closes every capture. Idempotent; also done on deinit. Must not be
    /// called from `onSample` or `onError`.
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
        var tracker: PassiveHealthTracker
        var captures: WANCaptures?
        /// When to try reopening a capture that failed.
        var reopenAt: Int64?
    }

    struct State {
        var wans: [String: WAN] = [:]
        /// Captures of detached WANs, for the loop to close.
        var closing: [WANCaptures] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let wake: Wakeup
    private let onSample: @Sendable (PassiveHealthSample) -> Void
    private let onError: @Sendable (SystemError) -> Void

    init(wake: Wakeup, onSample: @escaping @Sendable (PassiveHealthSample) -> Void,
         onError: @escaping @Sendable (SystemError) -> Void) {
        self.wake = wake
        self.onSample = onSample
        self.onError = onError
    }

    deinit { wake.close() }

    var interfaces: [String] { state.withLock { $0.wans.keys.sorted() } }

    func waiting(interface: String) -> Int { state.withLock { $0.wans[interface]?.tracker.waiting ?? 0 } }

    /// Opens the WAN's capture (on the calling thread, so in its namespace) or updates its check.
    /// The capture is opened under the lock, which holds the loop up for the millisecond that takes
    /// but keeps the handle inside the state from its first moment.
    func attach(interface: String, check: HealthCheck) throws(SystemError) {
        let now = KernelClock.monotonic()
        try state.withLock { state throws(SystemError) in
            if state.wans[interface] != nil {
                state.wans[interface]!.tracker.update(interval: check.interval, timeout: check.timeout)
                return
            }
            let captures = try WANCaptures.open(interface)
            let tracker = PassiveHealthTracker(interface: interface, interval: check.interval, timeout: check.timeout,
                                               now: now)
            state.wans[interface] = WAN(tracker: tracker, captures: captures)
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
        var samples: [PassiveHealthSample] = []
        var errors: [SystemError] = []
        while true {
            // What to wait for: every open capture, the wakeup, and the earliest interval end or retry.
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
                    for candidate in [wan.tracker.nextDeadline, wan.reopenAt].compactMap({ $0 }) {
                        deadline = min(deadline ?? candidate, candidate)
                    }
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
            let readable = Set(zip(names, fds.dropFirst()).filter { $0.1.revents != 0 }.map(\.0))
            names = []
            deadline = nil

            state.withLock { state in
                for captures in state.closing { captures.close() }
                state.closing = []
                if state.stopped { return }
                for name in readable {
                    guard var wan = state.wans[name] else { continue }
                    read(&wan, errors: &errors)
                    state.wans[name] = wan
                }
                let now = KernelClock.monotonic()
                for name in state.wans.keys {
                    var wan = state.wans[name]!
                    if let sample = wan.tracker.advance(to: now) { samples.append(sample) }
                    if wan.captures == nil, let at = wan.reopenAt, now >= at { reopen(&wan, now: now) }
                    state.wans[name] = wan
                }
            }
            for error in errors { onError(error) }
            for sample in samples { onSample(sample) }
            errors.removeAll(keepingCapacity: true)
            samples.removeAll(keepingCapacity: true)
        }
    }

    /// Reads everything queued on one WAN's captures into its tracker. Capture stamps are realtime;
    /// each is carried over to the monotonic clock by how long ago it was taken.
    private func read(_ wan: inout WAN, errors: inout [SystemError]) {
        guard let captures = wan.captures else { return }
        let packets: [CapturedPacket]
        do {
            packets = try captures.readAll()
        } catch {
            captures.close()
            wan.captures = nil
            wan.reopenAt = KernelClock.monotonic() + wan.tracker.interval
            errors.append(error)
            return
        }
        let nowMonotonic = KernelClock.monotonic()
        let nowRealtime = KernelClock.realtime()
        for packet in packets {
            let stamp = PassiveHealthTracker.nanoseconds(packet.timestamp)
            wan.tracker.observe(packet, at: nowMonotonic - max(0, nowRealtime - stamp))
        }
    }

    /// Tries to reopen a failed WAN's captures (in this thread's namespace); errors were already reported.
    private func reopen(_ wan: inout WAN, now: Int64) {
        do {
            wan.captures = try WANCaptures.open(wan.tracker.interface)
            wan.reopenAt = nil
        } catch {
            wan.reopenAt = now + wan.tracker.interval
        }
    }
}
