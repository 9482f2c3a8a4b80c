import Foundation
import Testing

/// Runs the real `flywall` binary, built beside the test runner, as an operator would.
struct CLI {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("flywall")
    }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Runs the flywall binary, or `executable` (e.g. `/usr/bin/env` to find a tool on PATH).
    static func run(_ arguments: [String], executable: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? binary
        process.arguments = arguments
        process.currentDirectoryURL = repository
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func temporaryFile(_ name: String, _ text: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flywall-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

@Suite("flywall command line")
struct CLITests {
    @Test func builtInSimulationShowsAFailoverAndPasses() throws {
        let r = try CLI.run(["simulate"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("failover   group=default  eth0 -> eth1"))
        // The closing line counts every expectation as passed: "N passed, 0 failed" with N > 0, one
        // PASS line each (a bare contains("0 failed") would also accept "10 failed").
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let summary = try #require(lines.last?.wholeMatch(of: /(\d+) passed, (\d+) failed/), "last line: \(lines.last ?? "none")")
        #expect(Int(summary.2) == 0)
        #expect(Int(summary.1)! > 0)
        #expect(lines.filter { $0.contains("PASS") }.count == Int(summary.1)!)
        #expect(!lines.contains { $0.contains("FAIL") })
    }

    @Test func simulateIsByteIdenticalAcrossRuns() throws {
        let a = try CLI.run(["simulate", "Scenarios/sticky-sessions.hcl", "--json"])
        let b = try CLI.run(["simulate", "Scenarios/sticky-sessions.hcl", "--json"])
        #expect(a.status == 0)
        #expect(a.stdout == b.stdout)
        #expect(a.stdout.hasPrefix("{"))
    }

    @Test func aWrongExpectationExitsOne() throws {
        let path = try CLI.temporaryFile("wrong.hcl", """
        interface "eth0" {
          zone = "WAN"
          wan { priority = 1 }
        }
        scenario "wrong" { duration = "20s" }
        expect "never happens" {
          event  = "failover"
          uplink = "eth0"
        }
        """)
        let r = try CLI.run(["simulate", path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL never happens"))
    }

    @Test func invalidScenarioExitsTwoWithPositions() throws {
        let path = try CLI.temporaryFile("bad.hcl", """
        scenario "bad" { duration = "5x" }
        """)
        let r = try CLI.run(["simulate", path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.hcl:1:29: error:"), "\(r.stderr)")
    }

    @Test func configCheckReportsEveryErrorWithPosition() throws {
        let path = try CLI.temporaryFile("flywall.hcl", """
        interface "eth0" {
          zone = "WAN"
          wan {
            priority = 1
            weight   = 0
          }
        }
        uplink_group "default" {
          mode = "failover"
          member "eth9" { priority = 1 }
          member "eth0" {
            health_check { interval = "5x" }
          }
        }
        """)
        let r = try CLI.run(["config", "check", path])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").filter { $0.contains(": error: ") }
        #expect(lines.count == 3, "\(r.stderr)")
        #expect(r.stderr.contains("flywall.hcl:5:16: error:"))
        #expect(r.stderr.contains("flywall.hcl:10:10: error:"))
        #expect(r.stderr.contains("flywall.hcl:12:31: error:"))
    }

    @Test func configCheckPrintsTheResolvedConfig() throws {
        let path = try CLI.temporaryFile("ok.hcl", """
        interface "eth0" {
          zone = "WAN"
          dhcp = true
          wan { priority = 1 }
        }
        interface "eth1" {
          zone = "WAN"
          dhcp = true
          wan { priority = 2 }
        }
        uplink_group "default" {
          mode = "failover"
          member "eth0" {
            health_check { targets = ["1.1.1.1"] }
          }
          member "eth1" { priority = 2 }
        }
        """)
        let r = try CLI.run(["config", "check", path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("threshold_down    = 3"))
        #expect(r.stdout.contains("failure_interval  = \"5s\""))
        #expect(r.stdout.contains("interval"))
    }

    @Test func unreadableFileIsAClearError() throws {
        let r = try CLI.run(["config", "check", "/nonexistent/flywall.hcl"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("/nonexistent/flywall.hcl"))
    }
}
