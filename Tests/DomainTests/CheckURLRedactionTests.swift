import Domain
import Testing

/// Status, health, evidence and logs name an HTTP check's URL without what may be a credential.
@Suite("check URL redaction")
struct CheckURLRedactionTests {
    @Test(arguments: [
        ("http://connectivitycheck.gstatic.com/generate_204", "http://connectivitycheck.gstatic.com/generate_204"),
        ("https://status.example.net:8443/ping?key=s3cr3t&x=1", "https://status.example.net:8443/ping?<redacted>"),
        ("https://status.example.net/ping#token=abc", "https://status.example.net/ping?<redacted>"),
        ("http://user:pass@status.example.net/ping", "http://<redacted>@status.example.net/ping"),
        ("http://user:pass@status.example.net?k=v", "http://<redacted>@status.example.net?<redacted>"),
    ])
    func queryAndUserInfoAreRedacted(url: String, shown: String) {
        #expect(ProbeTarget.shown(url: url) == shown)
    }
}
