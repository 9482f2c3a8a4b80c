/// `api { listen token }`: where the daemon's HTTP API listens and the bearer token its write
/// endpoints require (docs/api.md). Without a token, every write is refused.
public struct APISettings: Sendable, Equatable {
    public static let defaultListen = "127.0.0.1:8080"
    /// `ADDR:PORT`, an IP address (IPv6 in brackets) or `localhost`.
    public var listen: String
    public var token: String?
    public init(listen: String = APISettings.defaultListen, token: String? = nil) {
        self.listen = listen
        self.token = token
    }
}

/// `history { retention max_events }`: how long and how many WAN events the history store keeps.
public struct HistorySettings: Sendable, Equatable {
    public static let defaultRetention: Duration = .seconds(90 * 86_400)
    public static let defaultMaxEvents = 100_000
    public static let maxEventsLimit = 10_000_000
    public var retention: Duration
    public var maxEvents: Int
    public init(retention: Duration = HistorySettings.defaultRetention, maxEvents: Int = HistorySettings.defaultMaxEvents) {
        self.retention = retention
        self.maxEvents = maxEvents
    }
}

/// Splits `ADDR:PORT` (`[v6]:PORT`) into host and port; nil when it is not one.
public func splitListenAddress(_ text: String) -> (host: String, port: Int)? {
    guard let colon = text.lastIndex(of: ":") else { return nil }
    var host = String(text[..<colon])
    let portText = text[text.index(after: colon)...]
    guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
          let port = Int(portText), (1...65_535).contains(port) else { return nil }
    if host.hasPrefix("[") && host.hasSuffix("]") {
        host = String(host.dropFirst().dropLast())
        guard case .v6 = IPAddress(host) else { return nil }
    } else if host != "localhost" {
        guard case .v4 = IPAddress(host) else { return nil }
    }
    return (host, port)
}

extension ConfigDecoding {
    static let apiAttributes = ["listen", "token"]
    static let historyAttributes = ["retention", "max_events"]
    /// Shorter tokens are guessable; a token is a secret, never printed.
    static let minimumTokenLength = 16

    func decodeAPI(_ block: HCLBlock) -> APISettings {
        noLabels(block)
        let r = BodyReader(block.body, context: "api", attributes: Self.apiAttributes, sink: sink)
        var api = APISettings()
        if let a = r.attribute("listen"), let text = HCLValue.string(a.value, "listen", sink) {
            if splitListenAddress(text) == nil {
                sink.error(a.value.location, "listen: \"\(text)\" is not ADDR:PORT (an IP address or localhost, and a port 1-65535), e.g. \"127.0.0.1:8080\"")
            } else {
                api.listen = text
            }
        }
        if let a = r.attribute("token"), let text = HCLValue.string(a.value, "token", sink) {
            // The message never repeats the token.
            if text.count < Self.minimumTokenLength {
                sink.error(a.value.location, "token: must be at least \(Self.minimumTokenLength) characters")
            } else if text.contains(where: { $0.isWhitespace || !$0.isASCII }) {
                sink.error(a.value.location, "token: must be printable ASCII without spaces")
            } else {
                api.token = text
            }
        }
        return api
    }

    func decodeHistory(_ block: HCLBlock) -> HistorySettings {
        noLabels(block)
        let r = BodyReader(block.body, context: "history", attributes: Self.historyAttributes, sink: sink)
        var history = HistorySettings()
        if let retention = r.duration("retention") {
            let limits = ConfigLimits.historyRetention
            if retention < limits.lowerBound {
                sink.error(r.attribute("retention")!.value.location, "retention: must be at least 1m, got \"\(DurationText.format(retention))\"")
            } else if retention > limits.upperBound {
                sink.error(r.attribute("retention")!.value.location, "retention: too long, at most \(limits.upperBound.nanoseconds / 86_400_000_000_000)d (10 years), got \"\(DurationText.format(retention))\"")
            } else {
                history.retention = retention
            }
        }
        if let n = r.integer("max_events", in: .limited(1, HistorySettings.maxEventsLimit)) { history.maxEvents = n }
        return history
    }
}
