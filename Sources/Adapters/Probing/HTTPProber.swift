#if canImport(Glibc)
import Glibc
#endif
import Domain
import Synchronization
import SystemPackage

/// Runs `type = "http"` health checks through a given uplink: a GET over a TCP connection whose
/// socket is bound to the uplink's device and carries its probe class mark, like the ICMP probes.
///
/// Outcomes, each reported once: `.reply(rtt)` for the expected status; `.wrongStatus(status, rtt)`
/// for any other; `.failure("connection refused")` when the server port is closed; `.timeout` when
/// nothing completes by the request's timeout (connect, request and status line together);
/// `.failure(...)` with the reason otherwise (unreachable, reset, malformed response, a name that
/// does not resolve, `https`). RTT is from the start of the connect to the status line.
///
/// Host names are resolved with `getaddrinfo` on a short-lived thread per probe, through the
/// system resolver (so the lookup itself follows the main routing table, not the probed uplink);
/// addresses are tried in the order it returns while they fail at once (e.g. no IPv6 route on the
/// uplink). Sockets are opened in the network namespace of the thread that calls `send` (the
/// resolver thread inherits it). Only the status line is read; the connection is then closed.
public final class HTTPProber: Sendable {
    private let engine: HTTPEngine
    private let thread: ProbeThread

    /// Starts the I/O thread. `onResult` gets each probe's outcome exactly once.
    public init(onResult: @escaping @Sendable (ProbeResult) -> Void) throws(SystemError) {
        let engine = HTTPEngine(onResult: onResult)
        self.engine = engine
        thread = try ProbeThread { wakeup in engine.run(wakeup: wakeup) }
        engine.thread = thread
    }

    /// A prober that yields its results into an `AsyncStream`; the stream finishes on `shutdown()`.
    public convenience init(results: AsyncStream<ProbeResult>.Continuation) throws(SystemError) {
        try self.init(onResult: { results.yield($0) })
        engine.onShutdown = { results.finish() }
    }

    deinit { shutdown() }

    /// Starts one check of the request's `.http` target through `uplink`. Never blocks on the
    /// network; the outcome arrives through the callback.
    public func send(_ request: ProbeRequest, via uplink: ProbeUplink) {
        engine.send(request, via: uplink)
    }

    /// Checks in flight (for status and tests).
    public var inFlight: Int { engine.inFlight }

    /// Stops the I/O thread and closes every connection. Checks in flight get no result.
    /// Idempotent; also done on deinit.
    public func shutdown() {
        guard engine.stop() else { return }
        thread.wake()
        if !thread.isCurrent { thread.join() }
        engine.closeAll()
    }
}

private final class HTTPEngine: Sendable {
    enum Phase {
        case resolving
        case connecting
        case sending(offset: Int)
        case receiving
    }

    struct Exchange {
        var id: ProbeID
        var url: HTTPProbeURL
        var expectedStatus: Int
        var deadline: Int64
        var fd: Int32 = -1
        var phase = Phase.resolving
        var connectStartedAt: Int64 = 0
        var request: [UInt8]
        var response: [UInt8] = []
    }

    struct State: ~Copyable {
        var exchanges: [UInt64: Exchange] = [:]
        var nextKey: UInt64 = 0
        var deadlines = ProbeDeadlineHeap<UInt64>()
        var sleepingUntil: Int64 = .min
        var stopped = false
    }

    let onResult: @Sendable (ProbeResult) -> Void
    private let state = Mutex(State())
    private let threadBox = Mutex<ProbeThread?>(nil)
    private let shutdownBox = Mutex<(@Sendable () -> Void)?>(nil)

    init(onResult: @escaping @Sendable (ProbeResult) -> Void) {
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

    var inFlight: Int { state.withLock { $0.exchanges.count } }

    // MARK: Starting a check

    func send(_ request: ProbeRequest, via uplink: ProbeUplink) {
        guard case .http(let text, let expectedStatus) = request.target else {
            return onResult(ProbeResult(id: request.id, outcome: .failure("not an HTTP target: \(request.target)")))
        }
        let url: HTTPProbeURL
        do { url = try HTTPProbeURL(text) } catch {
            return onResult(ProbeResult(id: request.id, outcome: .failure(error.description)))
        }
        guard url.scheme == "http" else {
            return onResult(ProbeResult(id: request.id, outcome: .failure("https checks are not supported yet")))
        }
        let deadline = KernelClock.monotonic() + max(0, request.timeout.nanoseconds)
        let key: UInt64? = state.withLock { state in
            if state.stopped { return nil }
            let key = state.nextKey
            state.nextKey += 1
            state.exchanges[key] = Exchange(id: request.id, url: url, expectedStatus: expectedStatus,
                                            deadline: deadline, request: Array(url.request.utf8))
            state.deadlines.insert(deadline, key)
            return key
        }
        guard let key else {
            return onResult(ProbeResult(id: request.id, outcome: .failure("HTTP prober is shut down")))
        }
        thread?.wake()

        if let address = url.address {
            connect(key, to: [address], port: url.port, via: uplink)
            return
        }
        do throws(SystemError) {
            try DedicatedThread.detach(name: "flywall-resolve") { [self] in
                switch HTTPProbeURL.resolve(url.host, port: url.port) {
                case .addresses(let addresses): connect(key, to: addresses, port: url.port, via: uplink)
                case .failed(let reason): finish(key, .failure(reason))
                }
            }
        } catch {
            finish(key, .failure(error.description))
        }
    }

    /// Opens a bound, marked, non-blocking socket and starts connecting to the first address that
    /// does not fail at once, then hands the socket to the I/O thread.
    private func connect(_ key: UInt64, to addresses: [IPAddress], port: UInt16, via uplink: ProbeUplink) {
        var lastFailure = "no address to connect to"
        for address in addresses {
            // A check that already timed out (slow resolver) needs no connection.
            guard state.withLock({ $0.exchanges[key] != nil }) else { return }
            let fd: Int32
            do {
                fd = try ProbeSocket.open(
                    family: address.isV4 ? AF_INET : AF_INET6,
                    type: ProbeSocket.stream | ProbeSocket.nonBlocking, protocol: 0,
                    uplink: uplink, describe: address.isV4 ? "socket(AF_INET, SOCK_STREAM)" : "socket(AF_INET6, SOCK_STREAM)")
            } catch {
                return finish(key, .failure(error.description))
            }
            let startedAt = KernelClock.monotonic()
            let rc = ProbeSocket.withSockaddr(address, port: port) { Glibc.connect(fd, $0, $1) }
            let code = errno
            if rc == 0 || code == EINPROGRESS {
                let registered = state.withLock { state -> Bool in
                    guard state.exchanges[key] != nil else { return false }
                    state.exchanges[key]!.fd = fd
                    state.exchanges[key]!.phase = .connecting
                    state.exchanges[key]!.connectStartedAt = startedAt
                    return true
                }
                if registered { thread?.wake() } else { close(fd) }
                return
            }
            close(fd)
            lastFailure = Self.connectFailure(code)
        }
        finish(key, .failure(lastFailure))
    }

    /// Ends a check that has no socket with the I/O thread yet (resolution or connect failed).
    private func finish(_ key: UInt64, _ outcome: ProbeOutcome) {
        let exchange = state.withLock { $0.exchanges.removeValue(forKey: key) }
        if let exchange {
            if exchange.fd >= 0 { close(exchange.fd) }
            onResult(ProbeResult(id: exchange.id, outcome: outcome))
        }
    }

    static func connectFailure(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ECONNRESET: "connection reset"
        case EHOSTUNREACH: "host unreachable"
        case ENETUNREACH: "network unreachable"
        default: Errno(rawValue: code).description
        }
    }

    // MARK: I/O loop

    func stop() -> Bool {
        state.withLock { state in
            if state.stopped { return false }
            state.stopped = true
            return true
        }
    }

    func closeAll() {
        let fds = state.withLock { state -> [Int32] in
            let fds = state.exchanges.values.map(\.fd).filter { $0 >= 0 }
            state.exchanges = [:]
            return fds
        }
        for fd in fds { close(fd) }
        onShutdown?()
    }

    func run(wakeup: Wakeup) {
        var pollFDs: [pollfd] = []
        var keys: [UInt64] = []
        var results: [ProbeResult] = []
        while true {
            let timeout: Int32? = state.withLock { state in
                if state.stopped { return nil }
                pollFDs = [wakeup.pollDescriptor]
                keys = [0]
                for (key, exchange) in state.exchanges where exchange.fd >= 0 {
                    let events: Int32
                    switch exchange.phase {
                    case .resolving: continue
                    case .connecting, .sending: events = Int32(POLLOUT)
                    case .receiving: events = Int32(POLLIN)
                    }
                    pollFDs.append(pollfd(fd: exchange.fd, events: Int16(events), revents: 0))
                    keys.append(key)
                }
                let earliest = state.deadlines.earliest
                state.sleepingUntil = earliest ?? .max
                return KernelClock.pollTimeout(until: earliest, now: KernelClock.monotonic())
            }
            guard let timeout else { return }
            let ready = poll(&pollFDs, nfds_t(pollFDs.count), timeout)
            if ready < 0 && errno != EINTR { return }
            if pollFDs[0].revents != 0 { wakeup.drain() }

            let now = KernelClock.monotonic()
            state.withLock { state in
                state.sleepingUntil = .min
                for index in pollFDs.indices.dropFirst() where pollFDs[index].revents != 0 {
                    let key = keys[index]
                    guard var exchange = state.exchanges[key] else { continue }
                    if let outcome = Self.advance(&exchange, now: now) {
                        close(exchange.fd)
                        state.exchanges[key] = nil
                        results.append(ProbeResult(id: exchange.id, outcome: outcome))
                    } else {
                        state.exchanges[key] = exchange
                    }
                }
                while let expired = state.deadlines.popExpired(now: now) {
                    guard let exchange = state.exchanges.removeValue(forKey: expired.token) else { continue }
                    if exchange.fd >= 0 { close(exchange.fd) }
                    results.append(ProbeResult(id: exchange.id, outcome: .timeout))
                }
            }
            for result in results { onResult(result) }
            results.removeAll(keepingCapacity: true)
        }
    }

    /// Moves one exchange on after its socket became ready; the outcome once it is decided.
    private static func advance(_ exchange: inout Exchange, now: Int64) -> ProbeOutcome? {
        switch exchange.phase {
        case .resolving:
            return nil
        case .connecting:
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(exchange.fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
                return .failure(Errno(rawValue: errno).description)
            }
            if error == EINPROGRESS || error == EALREADY { return nil }
            if error == ETIMEDOUT { return .timeout }
            if error != 0 { return .failure(connectFailure(error)) }
            exchange.phase = .sending(offset: 0)
            return advance(&exchange, now: now)
        case .sending(let offset):
            let written = exchange.request[offset...].withUnsafeBytes {
                Glibc.send(exchange.fd, $0.baseAddress, $0.count, ProbeSocket.noSignal)
            }
            if written < 0 {
                let code = errno
                return code == EAGAIN || code == EINTR ? nil : .failure(connectFailure(code))
            }
            if offset + written < exchange.request.count {
                exchange.phase = .sending(offset: offset + written)
            } else {
                exchange.phase = .receiving
                exchange.request = []
            }
            return nil
        case .receiving:
            var chunk = [UInt8](repeating: 0, count: 1024)
            let count = chunk.withUnsafeMutableBytes { recv(exchange.fd, $0.baseAddress, $0.count, ProbeSocket.dontWait) }
            if count < 0 {
                let code = errno
                return code == EAGAIN || code == EINTR ? nil : .failure(connectFailure(code))
            }
            if count == 0 {
                if exchange.response.isEmpty { return .failure("connection closed before a response") }
                return .failure("malformed HTTP response")
            }
            exchange.response += chunk[0..<count]
            switch HTTPStatusLine.parse(exchange.response) {
            case .incomplete:
                return nil
            case .malformed:
                return .failure("malformed HTTP response")
            case .status(let status):
                if now > exchange.deadline { return .timeout }
                let rtt = Duration.nanoseconds(max(0, now - exchange.connectStartedAt))
                return status == exchange.expectedStatus ? .reply(rtt: rtt) : .wrongStatus(status, rtt: rtt)
            }
        }
    }
}
