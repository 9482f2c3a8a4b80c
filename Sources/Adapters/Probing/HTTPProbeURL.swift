#if canImport(Glibc)
import Glibc
#endif
import Domain

/// The parts of an HTTP check URL (`http[s]://host[:port]/path?query`) that a probe needs, checked
/// before libcurl sees it, so a bad URL fails with the same words as in a config.
///
/// Only what a health check uses: no user info, and the fragment is dropped.
public struct HTTPProbeURL: Hashable, Sendable, CustomStringConvertible {
    public var scheme: String
    /// Host name or address, without IPv6 brackets.
    public var host: String
    public var port: UInt16
    /// Path and query as sent in the request line; "/" when the URL has none.
    public var target: String

    /// The host as an address, when the URL gives one (no name resolution needed).
    public var address: IPAddress? { IPAddress(host) }

    public init(_ text: String) throws(HTTPProbeURLError) {
        func fail(_ reason: String) -> HTTPProbeURLError { HTTPProbeURLError(url: text, reason: reason) }
        guard let schemeEnd = text.firstRange(of: "://") else { throw fail("expected http://host/path") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw fail("unsupported scheme \"\(scheme)\"") }
        var rest = text[schemeEnd.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty { target = "/" } else if target.first == "?" { target = "/" + target }
        guard !authority.contains("@") else { throw fail("user info is not supported") }

        var host: Substring
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw fail("unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
            guard IPAddress(String(host)).map({ !$0.isV4 }) == true else { throw fail("invalid IPv6 address \"\(host)\"") }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            guard !host.contains(":") else { throw fail("IPv6 addresses must be in brackets") }
        }
        guard !host.isEmpty else { throw fail("missing host") }
        guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._:".contains($0)) }) else {
            throw fail("invalid host \"\(host)\"")
        }
        var port: UInt16 = scheme == "https" ? 443 : 80
        if let portText {
            guard let value = UInt16(portText), value > 0 else { throw fail("invalid port \"\(portText)\"") }
            port = value
        }
        guard target.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw fail("the path must be ASCII without spaces (percent-encode it)")
        }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
        self.target = target
    }

    public var defaultPort: UInt16 { scheme == "https" ? 443 : 80 }

    /// The `Host` header: the host (bracketed if IPv6) and the port when it is not the default.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == defaultPort ? name : "\(name):\(port)"
    }

    public var description: String { "\(scheme)://\(hostHeader)\(target)" }
}

/// An HTTP check URL the prober cannot use, and why.
public struct HTTPProbeURLError: Error, Equatable, Sendable, CustomStringConvertible {
    public var url: String
    public var reason: String

    public var description: String { "invalid URL \"\(url)\": \(reason)" }
}
