#if canImport(Glibc)
import Glibc
#endif
import CCrypto
import CCurl
import Domain
import Foundation

/// Delivers one message to one channel with libcurl's easy interface, blocking the calling thread
/// (a sender thread of its own, never the core loop) for at most `timeout`.
///
/// Email: SMTP with `STARTTLS` required (`tls = "starttls"`), TLS from the start (`"implicit"`,
/// `smtps://`) or none; AUTH (PLAIN or LOGIN, whichever the server offers) with `username` and
/// `password`; certificates verified against the system store or `ca_file`. Webhook: a JSON `POST`,
/// `https` verified the same way, 2xx is success. Sockets are not bound to a device: like all the
/// router's own traffic, they follow the forwarding plan (the `output` chain marks them for the
/// default group), so they leave through a working uplink and never through one that is down.
public enum NotificationTransport {
    public static let connectTimeout: Duration = .seconds(10)
    public static let timeout: Duration = .seconds(30)

    /// What the server answered: `250` for mail accepted, `200 OK` for a webhook; or why it failed.
    public struct Answer: Sendable, Equatable {
        public var delivered: Bool
        public var text: String
    }

    public static func send(_ message: NotificationMessage, to channel: NotificationPolicy.Channel,
                            unixNanoseconds: Int64, timeout: Duration = NotificationTransport.timeout) -> Answer {
        let answer: Answer
        var secrets: [String] = []
        switch channel {
        case .email(_, let email):
            secrets = [email.password].compactMap { $0 }
            answer = sendMail(message, email, unixNanoseconds: unixNanoseconds, timeout: timeout)
        case .webhook(_, let hook):
            secrets = [hook.secret, urlPath(hook.url)].compactMap { $0 }
            answer = post(message, hook, unixNanoseconds: unixNanoseconds, timeout: timeout)
        }
        var text = answer.text
        for secret in secrets where !secret.isEmpty { text = text.replacingOccurrences(of: secret, with: "<redacted>") }
        return Answer(delivered: answer.delivered, text: text)
    }

    /// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>") (docs/notifications.md).
    public static func signature(secret: String, timestamp: String, body: Data) -> String {
        let signed = Data((timestamp + ".").utf8) + body
        var digest = [UInt8](repeating: 0, count: 32)
        let key = Array(secret.utf8)
        let ok = signed.withUnsafeBytes { bytes in
            flywall_hmac_sha256(key, Int32(key.count), bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, &digest)
        }
        guard ok == 1 else { return "sha256=" }
        return "sha256=" + digest.map { String(format: "%02x", $0) }.joined()
    }

    private static func sendMail(_ message: NotificationMessage, _ email: Notifications.Email, unixNanoseconds: Int64,
                                 timeout: Duration) -> Answer {
        let from = email.from ?? "flywall@\(message.host)"
        let mail = Data(message.email(from: from, to: email.to, unixNanoseconds: unixNanoseconds).utf8)
        return perform(timeout: timeout) { handle, set in
            set(flywall_curl_setopt_string(handle, CURLOPT_URL, (email.tls == .implicit ? "smtps://" : "smtp://") + email.smtp))
            set(flywall_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"))
            let useSSL = email.tls == .starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE
            set(flywall_curl_setopt_long(handle, CURLOPT_USE_SSL, Int(useSSL.rawValue)))
            set(flywall_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>"))
            if let username = email.username { set(flywall_curl_setopt_string(handle, CURLOPT_USERNAME, username)) }
            if let password = email.password { set(flywall_curl_setopt_string(handle, CURLOPT_PASSWORD, password)) }
            if let caFile = email.caFile { set(flywall_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
            return (email.to.map { "<\($0)>" }, CURLOPT_MAIL_RCPT, mail, true)
        } answer: { code in
            (code == 250, "\(code) mail accepted")
        }
    }

    private static func post(_ message: NotificationMessage, _ hook: Notifications.Webhook, unixNanoseconds: Int64,
                             timeout: Duration) -> Answer {
        let body = message.json()
        let timestamp = String(unixNanoseconds / 1_000_000_000)
        var headers = ["Content-Type: application/json", "User-Agent: flywall", "Expect:", "X-Flywall-Timestamp: \(timestamp)"]
        if let secret = hook.secret { headers.append("X-Flywall-Signature: " + signature(secret: secret, timestamp: timestamp, body: body)) }
        return perform(timeout: timeout) { handle, set in
            set(flywall_curl_setopt_string(handle, CURLOPT_URL, hook.url))
            set(flywall_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
            set(flywall_curl_setopt_long(handle, CURLOPT_POST, 1))
            if let caFile = hook.caFile { set(flywall_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
            return (headers, CURLOPT_HTTPHEADER, body, false)
        } answer: { code in
            ((200...299).contains(code), "HTTP \(code)")
        }
    }

    /// Runs one transfer. `configure` sets the protocol's options and returns the list option to
    /// fill (recipients or headers) and the bytes to send (uploaded for SMTP, posted for HTTP).
    private static func perform(
        timeout: Duration,
        configure: (UnsafeMutableRawPointer, (CURLcode) -> Void) -> (list: [String], option: CURLoption, payload: Data, upload: Bool),
        answer: (Int) -> (Bool, String)
    ) -> Answer {
        _ = global
        guard let handle = curl_easy_init() else { return Answer(delivered: false, text: "libcurl: cannot create a handle") }
        defer { curl_easy_cleanup(handle) }
        var ok = true
        let set: (CURLcode) -> Void = { if $0 != CURLE_OK { ok = false } }
        let (items, listOption, payload, upload) = configure(handle, set)
        var list: UnsafeMutablePointer<curl_slist>?
        for item in items { list = curl_slist_append(list, item) }
        defer { curl_slist_free_all(list) }
        set(flywall_curl_setopt_slist(handle, listOption, list))
        set(flywall_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(flywall_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout.nanoseconds / 1_000_000)))
        set(flywall_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(max(1, timeout.nanoseconds / 1_000_000))))
        set(flywall_curl_setopt_string(handle, CURLOPT_PROXY, ""))
        set(flywall_curl_setopt_write_function(handle, discardBody))
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        defer { errorBuffer.deallocate() }
        set(flywall_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        let source = UploadSource(payload)
        if upload {
            set(flywall_curl_setopt_long(handle, CURLOPT_UPLOAD, 1))
            set(flywall_curl_setopt_read_function(handle, readUpload))
            set(flywall_curl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(source).toOpaque()))
            set(flywall_curl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(payload.count)))
        } else {
            set(flywall_curl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload.count)))
            set(flywall_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, source.bytes.baseAddress))
        }
        guard ok else { return Answer(delivered: false, text: "libcurl refused an option") }
        let code = withExtendedLifetime(source) { curl_easy_perform(handle) }
        var status = 0
        _ = flywall_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let words = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            return Answer(delivered: false, text: (status > 0 ? "\(status): " : "") + words)
        }
        let (delivered, text) = answer(status)
        return Answer(delivered: delivered, text: text)
    }

    /// The URL's path and query (a webhook's credential), for scrubbing messages.
    static func urlPath(_ url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return nil }
        let path = String(rest[slash...])
        return path.count > 1 ? path : nil
    }

    private static let global: Void = { _ = curl_global_init(3) }() // CURL_GLOBAL_DEFAULT
}

/// The bytes libcurl reads (SMTP upload) or posts, kept alive and in place for the transfer.
private final class UploadSource {
    let bytes: UnsafeMutableBufferPointer<UInt8>
    var offset = 0
    init(_ data: Data) {
        bytes = .allocate(capacity: max(1, data.count))
        _ = bytes.initialize(from: data)
        count = data.count
    }
    let count: Int
    deinit { bytes.deallocate() }
}

private let readUpload: curl_read_callback = { buffer, size, items, context in
    guard let buffer, let context else { return 0 }
    let source = Unmanaged<UploadSource>.fromOpaque(context).takeUnretainedValue()
    let n = min(size * items, source.count - source.offset)
    if n > 0 {
        UnsafeMutableRawPointer(buffer).copyMemory(from: source.bytes.baseAddress! + source.offset, byteCount: n)
        source.offset += n
    }
    return n
}

private let discardBody: curl_write_callback = { _, size, items, _ in size * items }
