import Adapters
import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The CLI's side of the daemon's HTTP API: one request, its JSON decoded, failures turned into a
/// message and an exit code (`unreachable` when nothing answers at the URL).
struct APIClient {
    /// EX_UNAVAILABLE (sysexits.h): the daemon is not running or the URL is wrong.
    static let unreachable: Int32 = 69
    /// The daemon answered with an error (4xx/5xx).
    static let refused: Int32 = 1

    var base: URL
    var token: String?

    init(api: String, token: String?) throws {
        guard let url = URL(string: api), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("--api: \"\(api)\" is not an http:// URL such as http://127.0.0.1:8080")
        }
        base = url
        self.token = token
    }

    func get<T: Decodable>(_ path: String, query: [URLQueryItem] = [], as type: T.Type) async throws -> (T, Data) {
        let data = try await send("GET", path, query: query, body: nil)
        do {
            return (try APIViews.decoder().decode(T.self, from: data), data)
        } catch {
            printError("error: the daemon at \(base.absoluteString) answered \(path) with JSON this flywall cannot read: \(error)")
            throw ExitCode(APIClient.refused)
        }
    }

    func post(_ path: String, body: Data?) async throws -> Data {
        try await send("POST", path, query: [], body: body)
    }

    private func send(_ method: String, _ path: String, query: [URLQueryItem], body: Data?) async throws -> Data {
        var components = URLComponents(url: base.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.queryItems = query }
        var request = URLRequest(url: components.url!, timeoutInterval: 10)
        request.httpMethod = method
        request.setValue("cli", forHTTPHeaderField: "X-Flywall-Client")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data, response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            printError("error: cannot reach the flywall daemon at \(base.absoluteString): \(error.localizedDescription)")
            printError("       is it running (systemctl status flywall)? Another address: --api http://ADDR:PORT")
            throw ExitCode(APIClient.unreachable)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            let message = (try? APIViews.decoder().decode(APIViews.Failure.self, from: data))?.error
                ?? String(decoding: data.prefix(200), as: UTF8.self)
            printError("error: \(method) \(path): HTTP \(status): \(message)")
            if status == 401 || status == 403 {
                printError("       writes need the api token: --token TOKEN or FLYWALL_API_TOKEN")
            }
            throw ExitCode(APIClient.refused)
        }
        return data
    }
}

/// `--api URL` and `--json`, shared by every `flywall wan` command.
struct APIOptions: ParsableArguments {
    @Option(help: "The daemon's API.")
    var api: String = "http://127.0.0.1:8080"

    @Flag(help: "Print the daemon's JSON answer instead of a table.")
    var json = false

    @Option(help: "Bearer token for commands that change state (default: $FLYWALL_API_TOKEN).")
    var token: String?

    func client() throws -> APIClient {
        try APIClient(api: api, token: token ?? ProcessInfo.processInfo.environment["FLYWALL_API_TOKEN"])
    }
}
