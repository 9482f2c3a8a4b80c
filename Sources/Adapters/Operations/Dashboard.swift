import HTTPTypes
import Hummingbird
import NIOCore

/// The web dashboard (docs/dashboard.md): three static files built into the binary, served by the
/// API server at `/`. The page draws everything from the same API the CLI uses (`fetch` against
/// `/api/wan/...`); it holds no data and never the token, so serving it needs none.
public enum Dashboard {
    public struct File: Sendable {
        public var contentType: String
        public var bytes: [UInt8]
    }

    /// By request path.
    public static let files: [String: File] = [
        "/": File(contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        "/dashboard.js": File(contentType: "text/javascript; charset=utf-8", bytes: PackageResources.dashboard_js),
        "/dashboard.css": File(contentType: "text/css; charset=utf-8", bytes: PackageResources.dashboard_css),
    ]

    /// Only the page's own files and API: no inline script or style, no other origin, no framing
    /// (so a hostile page cannot overlay the controls).
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static func register(on router: Router<APIRequestContext>) {
        for (path, file) in files {
            let body = ByteBuffer(bytes: file.bytes)
            var headers = HTTPFields()
            headers[.contentType] = file.contentType
            headers[.cacheControl] = "no-cache"
            headers[HTTPField.Name("Content-Security-Policy")!] = contentSecurityPolicy
            headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
            headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
            headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
            let response = headers
            router.get(RouterPath(path)) { _, _ -> Response in
                Response(status: .ok, headers: response, body: .init(byteBuffer: body))
            }
        }
    }
}
