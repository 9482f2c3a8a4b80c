import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The API token is the core's (`.configureAPI`): a SIGHUP that changes it changes who may write.
@Suite("api token on reload", .serialized)
struct ReloadTokenTests {
    @Test func aNewTokenTakesEffectOnSIGHUP() throws {
        let d = try DemoDaemon(speed: 1)
        defer { d.stop() }
        let newToken = "reloaded-token-9876543210"
        #expect(try d.cli(["wan", "enable", "eth1"], token: true).status == 0)

        let text = try String(contentsOfFile: d.scenarioPath, encoding: .utf8)
        try text.replacingOccurrences(of: DemoDaemon.token, with: newToken)
            .write(toFile: d.scenarioPath, atomically: true, encoding: .utf8)
        kill(try #require(d.process).processIdentifier, SIGHUP)

        // The reload is an input like any other: wait until the old token is refused.
        var old = try d.cli(["wan", "enable", "eth1"], token: true)
        for _ in 0..<100 where old.status == 0 {
            usleep(50_000)
            old = try d.cli(["wan", "enable", "eth1"], token: true)
        }
        #expect(old.status == 1 && old.stderr.contains("HTTP 403"), "\(old.stderr)\n\(d.logText.suffix(1500))")
        let new = try CLI.run(["wan", "enable", "eth1", "--api", d.api, "--token", newToken])
        #expect(new.status == 0 && new.stdout == "wan enable eth1: eth1: maintenance off\n", "\(new.stdout)\(new.stderr)")
        #expect(!d.logText.contains(newToken) && !d.logText.contains(DemoDaemon.token), "no token in the log")
    }
}
