#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A live packet capture on one interface (or `any`), read on its own thread, delivering a
/// `CapturedPacket` for every IP packet that passes the filter.
///
/// The capture socket is opened by `init`, in the network namespace of the calling thread, and
/// stays in that namespace; the reading thread is started there too, so interface names of the
/// `any` device resolve in the right namespace. The filter runs in the kernel, so a narrow one
/// costs nothing for the packets it rejects. Needs CAP_NET_RAW.
///
/// The thread sleeps in `poll(2)` on the capture and a `Wakeup`, so `stop()` returns as soon as
/// the current batch is delivered. Packets are delivered in arrival order on that thread: the
/// callback must be quick. It may call `stop()`.
public final class PacketCapture: Sendable {
    private let loop: CaptureLoop
    private let thread: Mutex<pthread_t?>

    /// Opens and activates the capture, then starts reading.
    ///
    /// - Parameters:
    ///   - onPacket: every decoded IP packet, on the capture thread.
    ///   - onError: called once, on the capture thread, if reading fails (the interface was removed
    ///     or went down); the capture has then stopped.
    public convenience init(_ configuration: CaptureConfiguration,
                            onPacket: @escaping @Sendable (CapturedPacket) -> Void,
                            onError: @escaping @Sendable (SystemError) -> Void = { _ in }) throws(SystemError) {
        try self.init(configuration, onPacket: onPacket, onError: onError, onFinish: nil)
    }

    /// A capture whose packets go into an `AsyncStream`, finished when the capture stops.
    public convenience init(_ configuration: CaptureConfiguration,
                            packets: AsyncStream<CapturedPacket>.Continuation) throws(SystemError) {
        try self.init(configuration, onPacket: { packets.yield($0) }, onError: { _ in }, onFinish: { packets.finish() })
    }

    private init(_ configuration: CaptureConfiguration, onPacket: @escaping @Sendable (CapturedPacket) -> Void,
                 onError: @escaping @Sendable (SystemError) -> Void,
                 onFinish: (@Sendable () -> Void)?) throws(SystemError) {
        let handle = try CaptureHandle.open(configuration)
        let wake = try Wakeup()
        let loop = CaptureLoop(handle: handle, wake: wake, onPacket: onPacket, onError: onError, onFinish: onFinish)
        self.loop = loop
        do {
            thread = Mutex(try DedicatedThread.start(name: "flywall-pcap") { loop.run() })
        } catch {
            loop.finish()
            var failure = error
            failure.subject = configuration.interface
            throw failure
        }
    }

    deinit { stop() }

    public var configuration: CaptureConfiguration { loop.configuration }

    /// Packets delivered so far.
    public var delivered: Int { loop.delivered.load(ordering: .relaxed) }

    /// libpcap's counters (packets that passed the filter, drops for a full buffer).
    public var statistics: CaptureStatistics { loop.statistics() }

    /// Stops reading and closes the capture; no callback runs after it returns (unless called from
    /// the callback itself, where the current one finishes first). Returns the final counters.
    /// Idempotent; also done on deinit.
    @discardableResult
    public func stop() -> CaptureStatistics {
        loop.requestStop()
        let thread = self.thread.withLock { thread -> pthread_t? in
            defer { thread = nil }
            return thread
        }
        if let thread {
            if pthread_equal(pthread_self(), thread) != 0 {
                // Called from the callback: the loop ends after this batch and closes the handle.
                pthread_detach(thread)
                return loop.statistics()
            }
            DedicatedThread.join(thread)
        }
        return loop.statistics()
    }
}

/// The capture's state shared between its owner and its thread. The handle lives behind a mutex
/// that the thread holds while it reads a batch, so statistics and the final close never race a read.
private final class CaptureLoop: Sendable {
    let configuration: CaptureConfiguration
    private let handle: Mutex<CaptureHandle?>
    private let wake: Wakeup
    private let stopping = Atomic(false)
    let delivered = Atomic(0)
    private let onPacket: @Sendable (CapturedPacket) -> Void
    private let onError: @Sendable (SystemError) -> Void
    private let onFinish: (@Sendable () -> Void)?

    init(handle: sending CaptureHandle, wake: Wakeup, onPacket: @escaping @Sendable (CapturedPacket) -> Void,
         onError: @escaping @Sendable (SystemError) -> Void, onFinish: (@Sendable () -> Void)?) {
        configuration = handle.configuration
        let fd = handle.selectableFD
        captureFD = fd
        self.handle = Mutex(handle)
        self.wake = wake
        self.onPacket = onPacket
        self.onError = onError
        self.onFinish = onFinish
    }

    // The wakeup outlives the handle: `stop()` may still write to it after the thread finished.
    deinit { wake.close() }

    private let captureFD: Int32

    func requestStop() {
        stopping.store(true, ordering: .releasing)
        wake.wake()
    }

    func statistics() -> CaptureStatistics {
        handle.withLock { $0?.statistics() } ?? finalStatistics.withLock { $0 }
    }

    private let finalStatistics = Mutex(CaptureStatistics())

    func run() {
        defer { finish() }
        var fds = [pollfd(fd: captureFD, events: Int16(POLLIN), revents: 0),
                   wake.pollDescriptor]
        while !stopping.load(ordering: .acquiring) {
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                report(.lastErrno("poll", on: configuration.interface))
                return
            }
            if fds[1].revents != 0 { wake.drain() }
            if stopping.load(ordering: .acquiring) { return }
            guard fds[0].revents != 0 else { continue }
            do {
                try readBatch()
            } catch {
                report(error)
                return
            }
        }
    }

    /// Reads what is queued, a bounded number of rounds so a stop request is seen between them.
    /// Packets are delivered outside the handle's lock, so the callback may ask for statistics or stop.
    private func readBatch() throws(SystemError) {
        var packets: [CapturedPacket] = []
        for _ in 0..<8 {
            packets.removeAll(keepingCapacity: true)
            let read = try handle.withLock { handle throws(SystemError) -> Int in
                guard let handle else { return 0 }
                return try handle.readAvailable(limit: 256) { packets.append($0) }
            }
            for packet in packets {
                if stopping.load(ordering: .acquiring) { return }
                delivered.add(1, ordering: .relaxed)
                onPacket(packet)
            }
            if read == 0 || stopping.load(ordering: .acquiring) { return }
        }
    }

    private func report(_ error: SystemError) {
        if !stopping.load(ordering: .acquiring) { onError(error) }
    }

    /// Closes the handle (once) and tells a stream that nothing more comes.
    func finish() {
        let closed = handle.withLock { handle -> Bool in
            guard let open = handle else { return false }
            let statistics = open.statistics()
            open.close()
            handle = nil
            finalStatistics.withLock { $0 = statistics }
            return true
        }
        if closed { onFinish?() }
    }
}
