#if canImport(Glibc)
import Glibc
#endif
import CCurl
import Domain
import Synchronization
import SystemPackage

/// Runs `type = "http"` health checks, `http://` and `https://`, through a given uplink with
/// libcurl: a GET on a fresh connection whose socket is bound to the uplink's device
/// (`CURLOPT_INTERFACE "if!name"`, i.e. `SO_BINDTODEVICE`) and carries its pin mark (`SO_MARK`,
/// set from `CURLOPT_SOCKOPTFUNCTION` before the connect), like the ICMP probes.
///
/// Outcomes, each reported once: `.reply(rtt)` for the expected status; `.wrongStatus(status, rtt)`
/// for any other; `.timeout` when nothing completes by the request's timeout (name lookup,
/// connect, TLS and status line together); `.failure(reason)` otherwise ("connection refused",
/// "host unreachable", "TLS certificate not trusted (...)", a name that does not resolve). RTT is
/// from the start of the connect to the first byte of the response (the TLS handshake included
/// for `https`). Certificates are verified against the system CA store, or the check's
/// `ca_file`; no proxy from the environment is used, and redirects are not followed (a 3xx is a
/// status like any other). Only the status matters: the transfer stops at the first body byte.
///
/// All transfers run on one I/O thread (`curl_multi`), whose sockets are opened in the network
/// namespace that thread was started in: the namespace of the thread that creates the prober.
public final class HTTPProber: Sendable {
    private let engine: CurlEngine
    private let thread: ProbeThread

    /// Starts the I/O thread. `onResult` gets each probe's outcome exactly once.
    public init(onResult: @escaping @Sendable (ProbeResult) -> Void) throws(SystemError) {
        let engine = CurlEngine(onResult: onResult)
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

    /// Starts one check of the request's `.http` target through `uplink`; `caFile` replaces the
    /// system CA store for `https`. Never blocks on the network; the outcome arrives through the
    /// callback.
    public func send(_ request: ProbeRequest, via uplink: ProbeUplink, caFile: String? = nil) {
        engine.send(request, via: uplink, caFile: caFile)
    }

    /// Checks in flight (for status and tests).
    public var inFlight: Int { engine.inFlight }

    /// Stops the I/O thread and abandons every transfer. Checks in flight get no result.
    /// Idempotent; also done on deinit.
    public func shutdown() {
        guard engine.stop() else { return }
        thread.wake()
        if !thread.isCurrent { thread.join() }
        engine.onShutdown?()
    }
}

/// What the I/O thread needs to start one transfer.
private struct PendingCheck: Sendable {
    var id: ProbeID
    var url: HTTPProbeURL
    var expectedStatus: Int
    var timeoutMilliseconds: Int
    var uplink: ProbeUplink
    var caFile: String?
}

private final class CurlEngine: Sendable {
    struct State: ~Copyable {
        var pending: [PendingCheck] = []
        var inFlight = 0
        var stopped = false
    }

    let onResult: @Sendable (ProbeResult) -> Void
    private let state = Mutex(State())
    private let threadBox = Mutex<ProbeThread?>(nil)
    private let shutdownBox = Mutex<(@Sendable () -> Void)?>(nil)

    /// libcurl's process-wide setup (OpenSSL), once, before the first handle.
    private static let global: Void = { _ = curl_global_init(3) }() // CURL_GLOBAL_DEFAULT

    init(onResult: @escaping @Sendable (ProbeResult) -> Void) {
        _ = Self.global
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

    func send(_ request: ProbeRequest, via uplink: ProbeUplink, caFile: String?) {
        guard case .http(let text, let expectedStatus) = request.target else {
            return onResult(ProbeResult(id: request.id, outcome: .failure("not an HTTP target: \(request.target)")))
        }
        let url: HTTPProbeURL
        do { url = try HTTPProbeURL(text) } catch {
            return onResult(ProbeResult(id: request.id, outcome: .failure(error.description)))
        }
        let check = PendingCheck(id: request.id, url: url, expectedStatus: expectedStatus,
                                 timeoutMilliseconds: Int(max(1, request.timeout.nanoseconds / 1_000_000)),
                                 uplink: uplink, caFile: caFile)
        let accepted = state.withLock { state -> Bool in
            if state.stopped { return false }
            state.pending.append(check)
            state.inFlight += 1
            return true
        }
        guard accepted else {
            return onResult(ProbeResult(id: request.id, outcome: .failure("HTTP prober is shut down")))
        }
        thread?.wake()
    }

    func stop() -> Bool {
        state.withLock { state in
            if state.stopped { return false }
            state.stopped = true
            return true
        }
    }

    // MARK: I/O loop

    /// One transfer on the I/O thread: its handle and what must live as long as it does.
    struct Transfer {
        var id: ProbeID
        var expectedStatus: Int
        var host: String
        var headers: UnsafeMutablePointer<curl_slist>?
        var errorBuffer: UnsafeMutablePointer<CChar>
    }

    func run(wakeup: Wakeup) {
        guard let multi = curl_multi_init() else {
            return failAll("curl_multi_init failed")
        }
        var transfers: [UnsafeMutableRawPointer: Transfer] = [:]
        var results: [ProbeResult] = []
        while true {
            let (batch, stopped) = state.withLock { state -> ([PendingCheck], Bool) in
                defer { state.pending.removeAll(keepingCapacity: true) }
                return (state.pending, state.stopped)
            }
            if stopped { break }
            for check in batch {
                switch start(check) {
                case .started(let handle, let transfer):
                    if curl_multi_add_handle(multi, handle) == CURLM_OK {
                        transfers[handle] = transfer
                    } else {
                        release(handle, transfer)
                        results.append(ProbeResult(id: check.id, outcome: .failure("curl_multi_add_handle failed")))
                    }
                case .failed(let outcome):
                    results.append(ProbeResult(id: check.id, outcome: outcome))
                }
            }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                      let transfer = transfers.removeValue(forKey: handle) else { continue }
                let outcome = Self.outcome(of: handle, code: message.pointee.data.result, transfer)
                curl_multi_remove_handle(multi, handle)
                release(handle, transfer)
                results.append(ProbeResult(id: transfer.id, outcome: outcome))
            }
            if !results.isEmpty {
                state.withLock { $0.inFlight -= results.count }
                for result in results { onResult(result) }
                results.removeAll(keepingCapacity: true)
            }
            // Sleeps until a socket is ready, curl's own timer (timeouts), or a wake.
            var extra = curl_waitfd(fd: wakeup.pollDescriptor.fd, events: Int16(POLLIN), revents: 0)
            _ = curl_multi_poll(multi, &extra, 1, 1000, nil)
            if extra.revents != 0 { wakeup.drain() }
        }
        for (handle, transfer) in transfers {
            curl_multi_remove_handle(multi, handle)
            release(handle, transfer)
        }
        curl_multi_cleanup(multi)
        state.withLock { $0.inFlight = 0 }
    }

    private func failAll(_ reason: String) {
        let batch = state.withLock { state -> [PendingCheck] in
            state.stopped = true
            state.inFlight = 0
            defer { state.pending = [] }
            return state.pending
        }
        for check in batch { onResult(ProbeResult(id: check.id, outcome: .failure(reason))) }
    }

    private func release(_ handle: UnsafeMutableRawPointer, _ transfer: Transfer) {
        curl_easy_cleanup(handle)
        curl_slist_free_all(transfer.headers)
        transfer.errorBuffer.deallocate()
    }

    enum Start {
        case started(UnsafeMutableRawPointer, Transfer)
        case failed(ProbeOutcome)
    }

    /// An easy handle for one check, with every option set; nothing is sent until `perform`.
    private func start(_ check: PendingCheck) -> Start {
        guard let handle = curl_easy_init() else { return .failed(.failure("curl_easy_init failed")) }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(to: 0)
        let headers = curl_slist_append(nil, "Connection: close")
        let transfer = Transfer(id: check.id, expectedStatus: check.expectedStatus, host: check.url.host,
                                headers: headers, errorBuffer: errorBuffer)
        var ok = true
        func set(_ code: CURLcode) { if code != CURLE_OK { ok = false } }
        set(flywall_curl_setopt_string(handle, CURLOPT_URL, check.url.description))
        set(flywall_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(flywall_curl_setopt_string(handle, CURLOPT_INTERFACE, "if!" + check.uplink.interface))
        set(flywall_curl_setopt_sockopt_function(handle, setProbeMark))
        set(flywall_curl_setopt_pointer(handle, CURLOPT_SOCKOPTDATA, UnsafeMutableRawPointer(bitPattern: UInt(check.uplink.mark))))
        set(flywall_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, check.timeoutMilliseconds))
        set(flywall_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(flywall_curl_setopt_long(handle, CURLOPT_FRESH_CONNECT, 1))
        set(flywall_curl_setopt_long(handle, CURLOPT_FORBID_REUSE, 1))
        // An empty proxy overrides http_proxy/https_proxy from the environment.
        set(flywall_curl_setopt_string(handle, CURLOPT_PROXY, ""))
        set(flywall_curl_setopt_string(handle, CURLOPT_USERAGENT, "flywall"))
        set(flywall_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers))
        set(flywall_curl_setopt_write_function(handle, discardBody))
        set(flywall_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        if let caFile = check.caFile { set(flywall_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
        guard ok else {
            release(handle, transfer)
            return .failed(.failure("libcurl rejected an option (libcurl older than 7.85?)"))
        }
        return .started(handle, transfer)
    }

    /// The outcome of a finished transfer, from its result code and what curl measured.
    private static func outcome(of handle: UnsafeMutableRawPointer, code: CURLcode, _ transfer: Transfer) -> ProbeOutcome {
        var status = 0
        _ = flywall_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        // A write error is ours: the transfer stops at the first body byte, the status is in.
        if (code == CURLE_OK || code == CURLE_WRITE_ERROR) && status > 0 {
            var lookup: curl_off_t = 0, firstByte: curl_off_t = 0
            _ = flywall_curl_getinfo_offset(handle, CURLINFO_NAMELOOKUP_TIME_T, &lookup)
            _ = flywall_curl_getinfo_offset(handle, CURLINFO_STARTTRANSFER_TIME_T, &firstByte)
            let rtt = Duration.microseconds(max(0, Int64(firstByte - lookup)))
            return status == transfer.expectedStatus ? .reply(rtt: rtt) : .wrongStatus(status, rtt: rtt)
        }
        if code == CURLE_OPERATION_TIMEDOUT { return .timeout }
        let detail = String(cString: transfer.errorBuffer)
        let words = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        switch code {
        case CURLE_COULDNT_CONNECT:
            var osErrno = 0
            _ = flywall_curl_getinfo_long(handle, CURLINFO_OS_ERRNO, &osErrno)
            return .failure(osErrno != 0 ? connectFailure(Int32(osErrno)) : words)
        case CURLE_COULDNT_RESOLVE_HOST:
            return .failure("cannot resolve \(transfer.host)")
        case CURLE_PEER_FAILED_VERIFICATION:
            return .failure("TLS certificate not trusted (\(words))")
        case CURLE_SSL_CACERT_BADFILE:
            return .failure("cannot use ca_file (\(words))")
        case CURLE_ABORTED_BY_CALLBACK:
            return .failure("setsockopt(SO_MARK) failed: \(Errno(rawValue: errno)) (needs CAP_NET_ADMIN)")
        default:
            return .failure(words)
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
}

/// Sets the uplink's pin mark (passed as the callback's data) on every socket curl opens.
private let setProbeMark: curl_sockopt_callback = { data, fd, _ in
    var mark = UInt32(truncatingIfNeeded: UInt(bitPattern: data))
    let rc = setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, socklen_t(MemoryLayout<UInt32>.size))
    return rc == 0 ? CURL_SOCKOPT_OK : CURL_SOCKOPT_ERROR
}

/// Ends the transfer at the first body byte: only the status line is wanted.
private let discardBody: curl_write_callback = { _, _, _, _ in 0 }
