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
/// The thread sleeps in `poll(2)` on the capture and a wake pipe, so `stop()` returns as soon as
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
                            onError: @escaping @Sendable (CaptureError) -> Void = { _ in }) throws(CaptureError) {
        try self.init(configuration, onPacket: onPacket, onError: onError, onFinish: nil)
    }

    /// A capture whose packets go into an `AsyncStream`, finished when the capture stops.
    public convenience init(_ configuration: CaptureConfiguration,
                            packets: AsyncStream<CapturedPacket>.Continuation) throws(CaptureError) {
        try self.init(configuration, onPacket: { packets.yield($0) }, onError: { _ in }, onFinish: { packets.finish() })
    }

    private init(_ configuration: CaptureConfiguration, onPacket: @escaping @Sendable (CapturedPacket) -> Void,
                 onError: @escaping @Sendable (CaptureError) -> Void,
                 onFinish: (@Sendable () -> Void)?) throws(CaptureError) {
        let handle = try CaptureHandle.open(configuration)
        let wake = try CaptureWakePipe(interface: configuration.interface)
        let loop = CaptureLoop(handle: handle, wake: wake, onPacket: onPacket, onError: onError, onFinish: onFinish)
        self.loop = loop
        do {
            thread = Mutex(try DedicatedThread.start(name: "flywall-pcap") { loop.run() })
        } catch {
            loop.finish()
            throw CaptureError(interface: configuration.interface, operation: "pthread_create",
                               status: -1, message: error.description)
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
    private let wake: CaptureWakePipe
    private let stopping = Atomic(false)
    let delivered = Atomic(0)
    private let onPacket: @Sendable (CapturedPacket) -> Void
    private let onError: @Sendable (CaptureError) -> Void
    private let onFinish: (@Sendable () -> Void)?

    init(handle: sending CaptureHandle, wake: CaptureWakePipe, onPacket: @escaping @Sendable (CapturedPacket) -> Void,
         onError: @escaping @Sendable (CaptureError) -> Void, onFinish: (@Sendable () -> Void)?) {
        configuration = handle.configuration
        let fd = handle.selectableFD
        captureFD = fd
        self.handle = Mutex(handle)
        self.wake = wake
        self.onPacket = onPacket
        self.onError = onError
        self.onFinish = onFinish
    }

    // The pipe outlives the handle: `stop()` may still write to it after the thread finished.
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
                   pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)]
        while !stopping.load(ordering: .acquiring) {
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                report(CaptureError(interface: configuration.interface, operation: "poll", status: -1,
                                    message: String(cString: strerror(errno))))
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
    private func readBatch() throws(CaptureError) {
        var packets: [CapturedPacket] = []
        for _ in 0..<8 {
            packets.removeAll(keepingCapacity: true)
            let read = try handle.withLock { handle throws(CaptureError) -> Int in
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

    private func report(_ error: CaptureError) {
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

/// A pipe that wakes a capture thread from `poll(2)`.
struct CaptureWakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    init(interface: String) throws(CaptureError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw CaptureError(interface: interface, operation: "pipe", status: -1, message: String(cString: strerror(errno)))
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    /// Safe from any thread; a full pipe already means "awake".
    func wake() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    func drain() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }

    func close() {
        _ = Glibc.close(readFD)
        _ = Glibc.close(writeFD)
    }
}
