import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The HTTP API (docs/api.md, docs/openapi.yaml), a Hummingbird 2 server beside the core loop.
///
/// Reads are served from the status board's snapshot and from SQLite directly, so no request ever
/// waits for the loop or slows it. Writes become `.manual` inputs through the board (which counts
/// them) and wait, without blocking a thread, until the loop has handled them. Bodies are limited
/// to `maxBody`; a connection idle for `idleTimeout` (a slowloris trickling its headers) is closed,
/// and a body still incomplete after `bodyTimeout` is refused.
public struct APIServer: Service {
    public static let maxBody = 64 * 1024
    public static let idleTimeout: TimeAmount = .seconds(5)
    public static let bodyTimeout: Duration = .seconds(5)
    public static let maxConnections = 256

    /// `--api ADDR:PORT`, which wins over the config's `api { listen }`; nil: the config's.
    let listenOverride: (host: String, port: Int)?
    let access: APIAccess
    let board: StatusBoard
    let inputs: DaemonInputQueue
    let history: HistoryStore?
    let logger: Logger

    /// `access` holds what the core says (`.configureAPI`): the token, and the listen address unless
    /// `listen` overrides it.
    public init(listen: (host: String, port: Int)?, access: APIAccess, board: StatusBoard, inputs: DaemonInputQueue,
                history: HistoryStore?, logger: Logger) {
        self.listenOverride = listen
        self.access = access
        self.board = board
        self.inputs = inputs
        self.history = history
        self.logger = logger
    }

    /// Runs until graceful shutdown. A port that cannot be bound is logged and the API stays off;
    /// the daemon (and failover) goes on. Without `--api` it binds where the core's first
    /// `.configureAPI` says, which comes with the loop's first tick.
    public func run() async throws {
        guard let listen = await listenAddress() else { return }
        let address = "\(listen.host.contains(":") ? "[\(listen.host)]" : listen.host):\(listen.port)"
        let logger = logger
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(idleTimeout: Self.idleTimeout)),
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil,
                                 availableConnectionsDelegate: MaximumAvailableConnections(Self.maxConnections)),
            onServerRunning: { _ in logger.notice("api: listening on http://\(address)") },
            logger: quietLogger())
        do {
            try await app.run()
        } catch {
            logger.error("api: cannot serve on \(address): \(error); the daemon goes on without its API")
            try? await gracefulShutdown()
        }
    }

    private func listenAddress() async -> (host: String, port: Int)? {
        if let listenOverride { return listenOverride }
        let access = access
        guard let text = await cancelWhenGracefulShutdown({ await access.listenAddress() }) else { return nil }
        guard let listen = splitListenAddress(text) else {
            logger.error("api: cannot serve on \(text): not ADDR:PORT; the daemon goes on without its API")
            return nil
        }
        return listen
    }

    /// Hummingbird logs every request at info; the daemon's log keeps to its own lines.
    private func quietLogger() -> Logger {
        var l = logger
        l.logLevel = .warning
        return l
    }

    func makeRouter() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: APIGuard(access: access))
        let board = board
        let history = history
        let statusBodies = SnapshotBodies { APIViews.encode(APIViews.status($0, clock: board.clock)) }
        let healthBodies = SnapshotBodies { APIViews.encode(APIViews.health($0, clock: board.clock)) }

        router.get("/api/wan/status") { _, _ -> Response in
            guard let s = board.snapshot else { return APIServer.failure(.serviceUnavailable, "the core has not started yet") }
            return APIServer.json(body: statusBodies.body(for: s))
        }
        router.get("/api/wan/health") { _, _ -> Response in
            guard let s = board.snapshot else { return APIServer.failure(.serviceUnavailable, "the core has not started yet") }
            return APIServer.json(body: healthBodies.body(for: s))
        }
        router.get("/api/wan/history") { request, _ -> Response in
            let q = request.uri.queryParameters
            var limit = 100
            if let text = q["limit"].map(String.init) {
                guard let n = Int(text), (1...HistoryStore.maxLimit).contains(n) else {
                    return APIServer.failure(.badRequest, "limit: expected an integer 1-\(HistoryStore.maxLimit)")
                }
                limit = n
            }
            var since: Int64?
            if let text = q["since"].map(String.init) {
                guard let t = WallClockText.parse(text) else {
                    return APIServer.failure(.badRequest, "since: expected an RFC 3339 time such as 2026-12-01T10:00:00Z")
                }
                since = t
            }
            let interface = q["interface"].map(String.init)
            if let interface, interface.isEmpty || interface.count > 64 {
                return APIServer.failure(.badRequest, "interface: expected an interface name")
            }
            let kind = q["kind"].map(String.init)
            if let kind, !APIServer.historyKinds.contains(kind) {
                return APIServer.failure(.badRequest, "kind: expected one of \(APIServer.historyKinds.joined(separator: ", "))")
            }
            guard let history else {
                return APIServer.failure(.serviceUnavailable, "history unavailable: \(board.historyProblem ?? "no store")")
            }
            do {
                return APIServer.json(APIViews.history(try await history.entries(since: since, limit: limit, interface: interface, kind: kind)))
            } catch {
                return APIServer.failure(.serviceUnavailable, "history unavailable: \(error)")
            }
        }
        router.get("/api/wan/samples") { request, _ -> Response in
            guard let s = board.snapshot else { return APIServer.failure(.serviceUnavailable, "the core has not started yet") }
            let q = request.uri.queryParameters
            var since: Int64?
            if let text = q["since"].map(String.init) {
                guard let t = WallClockText.parse(text) else {
                    return APIServer.failure(.badRequest, "since: expected an RFC 3339 time such as 2026-12-01T10:00:00Z")
                }
                since = t
            }
            var names = s.wanNames
            if let interface = q["interface"].map(String.init) {
                guard names.contains(interface) else { return APIServer.failure(.notFound, "no WAN named \(interface.prefix(64))") }
                names = [interface]
            }
            return APIServer.json(APIViews.samples(board, snapshot: s, names: names, sinceUnixNanos: since))
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: board.metrics.render(board.snapshot))))
        }

        router.post("/api/wan/:interface/disable") { await maintenance(true, $0, $1) }
        router.post("/api/wan/:interface/enable") { await maintenance(false, $0, $1) }
        router.post("/api/groups/:group/failover") { request, context -> Response in
            var request = request
            let body: ByteBuffer
            do {
                body = try await APIServer.collect(&request)
            } catch let e as APIRefusal {
                return APIServer.failure(e.status, e.message)
            }
            guard let choice = FailoverRequest(Data(buffer: body)) else {
                return APIServer.failure(.badRequest, "body: expected {\"interface\": \"eth1\"} or {\"auto\": true}")
            }
            let name = context.parameters.get("group").flatMap { $0.removingPercentEncoding } ?? ""
            if let problem = APIServer.nameProblem("group", name) { return APIServer.failure(.badRequest, problem) }
            if let i = choice.interface, let problem = APIServer.nameProblem("body: interface", i) {
                return APIServer.failure(.badRequest, problem)
            }
            return await command(.forceActive(group: name, interface: choice.interface), request, context)
        }

        /// `wan disable` (maintenance on) and `wan enable` (off) for the WAN the path names.
        @Sendable func maintenance(_ enabled: Bool, _ request: Request, _ context: APIRequestContext) async -> Response {
            let name = context.parameters.get("interface").flatMap { $0.removingPercentEncoding } ?? ""
            if let problem = APIServer.nameProblem("interface", name) { return APIServer.failure(.badRequest, problem) }
            return await command(.maintenance(interface: name, enabled: enabled), request, context)
        }

        /// Submits the command and waits for the core's record of it: whether the command names
        /// what the running config has is the core's decision (and in history either way).
        @Sendable func command(_ command: ManualCommand, _ request: Request, _ context: APIRequestContext) async -> Response {
            guard board.snapshot != nil else { return APIServer.failure(.serviceUnavailable, "the core has not started yet") }
            let client = request.headers[HTTPField.Name("X-Flywall-Client")!].flatMap { ["cli", "dashboard"].contains($0) ? $0 : nil } ?? "api"
            let origin = CommandOrigin(source: client, peer: context.remoteAddress.map(APIServer.peer))
            guard let ticket = board.submit(command, origin: origin, into: inputs) else {
                return APIServer.failure(.serviceUnavailable, "too many commands are waiting for the core; try again")
            }
            guard let record = await board.waitHandled(ticket) else {
                return APIServer.json(APIViews.CommandResult(command: command.text, handled: false), status: .accepted)
            }
            if let refusal = record.refusal { return APIServer.failure(APIServer.status(of: refusal), record.result) }
            return APIServer.json(APIViews.CommandResult(command: command.text, handled: true, accepted: record.accepted,
                                                         result: record.result))
        }
        Dashboard.register(on: router)
        return router
    }

    /// The answer to a command the core refused: what it names is not there (404), or a WAN that
    /// is there is not a member of the group named (409).
    static func status(of refusal: CommandRefusal) -> HTTPResponse.Status {
        switch refusal {
        case .unknownWAN, .unknownGroup: .notFound
        case .notAMember: .conflict
        }
    }

    /// Longest WAN or group name a command may carry to the core.
    static let maxNameLength = 64

    /// Syntax only, so that what reaches the core (and its log and history) is bounded and cannot
    /// forge a log line: 1-64 characters, no control characters. Whether the running config has
    /// the name is the core's to say (404/409 from its record).
    static func nameProblem(_ field: String, _ name: String) -> String? {
        if name.isEmpty || name.count > maxNameLength { return "\(field): expected a name of 1-\(maxNameLength) characters" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            return "\(field): a name has no control characters"
        }
        return nil
    }

    /// What `kind` may filter history by.
    static let historyKinds = WANEventKind.allCases.map(\.rawValue) + ["command"]

    /// `{"interface": "eth1"}` or `{"auto": true}`, nothing else.
    struct FailoverRequest {
        /// nil: `auto`.
        var interface: String?

        init?(_ data: Data) {
            // JSONDecoder keeps JSON's types apart (1 is not true), and a one-key object says which.
            if let object = try? JSONDecoder().decode([String: String].self, from: data), object.count == 1,
               let i = object["interface"], !i.isEmpty {
                interface = i
            } else if let object = try? JSONDecoder().decode([String: Bool].self, from: data), object == ["auto": true] {
                interface = nil
            } else {
                return nil
            }
        }
    }

    static func peer(_ address: SocketAddress) -> String {
        switch address {
        case .v4, .v6: "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        default: "local"
        }
    }

    /// The body, up to `maxBody`, within `bodyTimeout`.
    static func collect(_ request: inout Request) async throws -> ByteBuffer {
        let body = request.body
        let result = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                do {
                    return try await body.collect(upTo: maxBody)
                } catch {
                    throw APIRefusal(.contentTooLarge, "body larger than \(maxBody / 1024) KiB")
                }
            }
            group.addTask {
                try await Task.sleep(for: bodyTimeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        guard let result else { throw APIRefusal(.requestTimeout, "body not received within \(bodyTimeout)") }
        request.body = .init(buffer: result)
        return result
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        json(body: ByteBuffer(data: APIViews.encode(value)), status: status)
    }

    static func json(body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    static func failure(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(APIViews.Failure(error: message), status: status)
    }
}

/// A response body encoded once per published snapshot: under load every request of the same
/// 100 ms serves the same bytes instead of encoding them again.
final class SnapshotBodies: Sendable {
    private let encode: @Sendable (DaemonSnapshot) -> Data
    private let last = Mutex<(generation: UInt64, body: ByteBuffer)?>(nil)

    init(_ encode: @escaping @Sendable (DaemonSnapshot) -> Data) { self.encode = encode }

    func body(for snapshot: DaemonSnapshot) -> ByteBuffer {
        if let cached = last.withLock({ $0 }), cached.generation == snapshot.generation { return cached.body }
        let body = ByteBuffer(data: encode(snapshot))
        last.withLock { $0 = (snapshot.generation, body) }
        return body
    }
}

/// A refusal with its status, for the JSON error body.
struct APIRefusal: Error {
    var status: HTTPResponse.Status
    var message: String
    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// The request context: Hummingbird's, plus the peer's address (for loopback reads and history).
public struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Every request passes here first: bodies over the limit are refused by their declared length,
/// writes need the bearer token (401 without, 403 wrong or none configured), reads need it from
/// anywhere but loopback, and on loopback unless the request names loopback (127.x.x.x, [::1] or
/// localhost). Unknown paths and failures get JSON errors too.
struct APIGuard: RouterMiddleware {
    typealias Context = APIRequestContext
    let access: APIAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > APIServer.maxBody {
            return APIServer.failure(.contentTooLarge, "body larger than \(APIServer.maxBody / 1024) KiB")
        }
        let isWrite = request.method != .get && request.method != .head
        // The dashboard's files hold no data (a browser cannot add a header to a page load): every
        // value the page shows comes from the API under the rules below.
        let isPage = !isWrite && Dashboard.files[request.uri.path] != nil
        let tokenFreeRead = isPage || (isLoopback(context.remoteAddress) && namesLoopbackLiterally(request.head.authority))
        if isWrite || !tokenFreeRead {
            if let refusal = authorize(request.headers[.authorization]) { return refusal }
        }
        do {
            return try await next(request, context)
        } catch let e as APIRefusal {
            return APIServer.failure(e.status, e.message)
        } catch let e as HTTPError {
            if e.status == .notFound, let allowed = allowedMethod(request.uri.path) {
                var r = APIServer.failure(.methodNotAllowed, "\(request.uri.path) takes \(allowed) only")
                r.headers[.allow] = allowed
                return r
            }
            return APIServer.failure(e.status, e.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path)" : e.status.reasonPhrase)
        }
    }

    /// The method a known path takes, for 405 answers to the others.
    func allowedMethod(_ path: String) -> String? {
        if ["/api/wan/status", "/api/wan/health", "/api/wan/history", "/api/wan/samples", "/metrics"].contains(path)
            || Dashboard.files[path] != nil { return "GET" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 5, parts[1] == "api", parts[2] == "wan", ["disable", "enable"].contains(parts[4]) { return "POST" }
        if parts.count == 5, parts[1] == "api", parts[2] == "groups", parts[4] == "failover" { return "POST" }
        return nil
    }

    /// nil when authorized. The token is compared in constant time and never echoed.
    func authorize(_ header: String?) -> Response? {
        guard let header, header.hasPrefix("Bearer ") else {
            var r = APIServer.failure(.unauthorized, "this endpoint needs Authorization: Bearer <token> (api { token } in the config)")
            r.headers[.wwwAuthenticate] = "Bearer"
            return r
        }
        guard let token = access.token else { return APIServer.failure(.forbidden, "no api token is configured: writes are disabled") }
        let given = Array(header.dropFirst(7).utf8), expected = Array(token.utf8)
        var diff = given.count == expected.count ? 0 : 1
        for i in 0..<min(given.count, expected.count) { diff |= Int(given[i] ^ expected[i]) }
        return diff == 0 ? nil : APIServer.failure(.forbidden, "wrong token")
    }

    /// A token-free loopback read must also have been addressed to loopback by its number or as
    /// `localhost`. A web page the operator visits can point its own host name at 127.0.0.1 (DNS
    /// rebinding) and so make the browser read from loopback; its requests then carry that name.
    func namesLoopbackLiterally(_ authority: String?) -> Bool {
        guard let authority, !authority.isEmpty else { return true }  // HTTP/1.0 without Host: no browser
        var host = Substring(authority.lowercased())
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            host = host[host.index(after: host.startIndex)..<end]
            return host == "::1" || host.hasPrefix("::ffff:127.")
        }
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        if host == "localhost" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let address else { return false }
        switch address {
        case .v4: return address.ipAddress?.hasPrefix("127.") ?? false
        case .v6: return address.ipAddress == "::1" || address.ipAddress?.hasPrefix("::ffff:127.") == true
        default: return true
        }
    }
}
