/// A URL's text split at the places where secrets sit (user info before the host, a path or query
/// after it), for the redacted forms that status, logs and notifications show. Not a URL parser:
/// the probers and notifiers parse URLs for use; this only cuts text.
enum URLText {
    struct Parts {
        /// Up to and including `://`.
        var scheme: Substring
        /// Whether user info (`user:password@`) stood before the host.
        var hasUserInfo: Bool
        /// Host and port, without the user info.
        var host: Substring
        /// From the first `/`, `?` or `#` after the host on; empty when there is none.
        var rest: Substring
    }

    /// nil when the text has no `://`.
    static func split(_ url: String) -> Parts? {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        var host = afterScheme[..<authorityEnd]
        let at = host.lastIndex(of: "@")
        if let at { host = host[host.index(after: at)...] }
        return Parts(scheme: url[..<schemeEnd.upperBound], hasUserInfo: at != nil, host: host,
                     rest: afterScheme[authorityEnd...])
    }
}
