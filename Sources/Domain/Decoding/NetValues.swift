/// Checks of network values in configs (ports, hosts, URLs, email addresses) that return the problem
/// as text for the caller to report.
enum NetValues {
    /// A port such as 443; nil with a message when outside 1...65535.
    static func port(_ n: Int) -> UInt16? { (1...65535).contains(n) ? UInt16(n) : nil }

    /// "443" or "1000-2000".
    static func portRange(_ text: String) -> Result<PortRange, DurationText.Problem> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else {
            return .failure(.init(message: "\"\(text)\" is not a port or port range (e.g. \"443\" or \"1000-2000\")"))
        }
        var ports: [UInt16] = []
        for p in parts {
            guard p.count <= 6, let n = Int(p), let port = port(n) else {
                return .failure(.init(message: "port \(p) is out of range (1-65535)"))
            }
            ports.append(port)
        }
        if ports.count == 2 && ports[0] > ports[1] {
            return .failure(.init(message: "port range \"\(text)\" runs backwards"))
        }
        return .success(PortRange(ports[0], ports.count == 2 ? ports[1] : nil))
    }

    /// A host name or IP literal (IPv6 in brackets when `bracketedV6`).
    static func isValidHost(_ host: String) -> Bool {
        if host.isEmpty || host.count > 253 { return false }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            let inner = String(host.dropFirst().dropLast())
            if case .v6? = IPAddress(inner) { return true }
            return false
        }
        if host.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) { return IPAddress(host) != nil }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }

    /// `host:port` with the port in 1...65535. Returns a problem description or nil.
    static func hostPortProblem(_ text: String) -> String? {
        guard let colon = text.lastIndex(of: ":") else {
            return "\"\(text)\" needs a port: write host:port, e.g. \"smtp.example.com:587\""
        }
        let host = String(text[..<colon]), portText = String(text[text.index(after: colon)...])
        if host.contains(":") && !host.hasPrefix("[") {
            return "\"\(text)\": write an IPv6 address in brackets, e.g. \"[2001:db8::1]:587\""
        }
        if !isValidHost(host) { return "\"\(text)\" has an invalid host \"\(host)\"" }
        guard !portText.isEmpty, portText.count <= 6, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Int(portText), port(n) != nil else {
            return "\"\(text)\" has an invalid port \"\(portText)\" (1-65535)"
        }
        return nil
    }

    /// http(s)://host[:port][/path...]. Returns a problem description or nil.
    static func urlProblem(_ text: String) -> String? {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") { rest = text.dropFirst(7) }
        else if lower.hasPrefix("https://") { rest = text.dropFirst(8) }
        else { return "\"\(text)\" is not an http:// or https:// URL" }
        if text.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            return "\"\(text)\" contains white space"
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.isEmpty { return "\"\(text)\" has no host" }
        var host = String(authority)
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            host = String(authority[..<colon])
            let portText = authority[authority.index(after: colon)...]
            guard !portText.isEmpty, portText.count <= 6, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(portText), port(n) != nil else {
                return "\"\(text)\" has an invalid port \"\(portText)\" (1-65535)"
            }
        }
        if host.isEmpty { return "\"\(text)\" has no host" }
        if !isValidHost(host) { return "\"\(text)\" has an invalid host \"\(host)\"" }
        return nil
    }

    static func isPlausibleEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !text.contains(where: { $0 == " " || $0 == "<" || $0 == ">" }) else { return false }
        return isValidHost(String(parts[1]))
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
