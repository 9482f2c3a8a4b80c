import Foundation
import Testing

/// Issue #10 at the command line: files that are not text Flywall reads, a FIFO, `--svg` safety,
/// bad option values, `--version`, the default-check warning.
@Suite("flywall command line: bad inputs")
struct HardeningCLITests {
    static func bytes(_ name: String, _ data: [UInt8]) throws -> String {
        let path = try CLI.temporaryFile(name, "")
        try Data(data).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func versionPrintsOneLine() throws {
        let r = try CLI.run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout == "flywall 0.1.0\n")
    }

    @Test(arguments: ["-1", "1.5", "18446744073709551616", "abc"])
    func aBadSeedNamesTheOptionAndTheRange(_ value: String) throws {
        let r = try CLI.run(["simulate", "--seed", value])
        #expect(r.status == 64, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("'--seed <n>': must be a whole number from 0 to 18446744073709551615, got '\(value)'"), "\(r.stderr)")
    }

    @Test func aLatin1FileIsLocatedAtItsFirstBadByte() throws {
        let path = try Self.bytes("latin1.hcl", Array("interface \"eth0\" {\n  zone = \"caf".utf8) + [0xE9] + Array("\"\n}\n".utf8))
        let r = try CLI.run(["config", "check", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(path):2:14: error: not UTF-8 text: byte 0xE9 at offset 32 is not valid UTF-8"), "\(r.stderr)")
    }

    @Test func crOnlyLineEndingsAreNamed() throws {
        let path = try Self.bytes("mac.hcl", Array("interface \"eth0\" {\r  wan {}\r}\r".utf8))
        for command in [["config", "check", path], ["simulate", path]] {
            let r = try CLI.run(command)
            #expect(r.status != 0)
            #expect(r.stderr.contains("\(path):1:19: error: a carriage return without a line feed (CR-only line endings)"), "\(r.stderr)")
        }
    }

    @Test func crlfIsFine() throws {
        let path = try Self.bytes("windows.hcl", Array("interface \"eth0\" {\r\n  wan {}\r\n}\r\n".utf8))
        let r = try CLI.run(["config", "check", path])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let path = try CLI.temporaryFile("placeholder", "") + ".fifo"
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let r = try CLI.run(["config", "check", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("is a FIFO (named pipe), not a regular file"), "\(r.stderr)")
        let s = try CLI.run(["simulate", path])
        #expect(s.status == 2)
        #expect(s.stderr.contains("is a FIFO"), "\(s.stderr)")
    }

    @Test func svgRefusesToOverwriteItsOwnInputBeforeTheRun() throws {
        let scenario = try CLI.temporaryFile("s.hcl", try String(contentsOf: CLI.repository.appendingPathComponent("Scenarios/basic-dual-wan-blackhole.hcl"), encoding: .utf8))
        let before = try String(contentsOfFile: scenario, encoding: .utf8)
        // The same file under another spelling of its path.
        let other = (scenario as NSString).deletingLastPathComponent + "/./s.hcl"
        let r = try CLI.run(["simulate", scenario, "--svg", other])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty, "the report must not be printed")
        #expect(r.stderr.contains("refusing to overwrite"), "\(r.stderr)")
        #expect(try String(contentsOfFile: scenario, encoding: .utf8) == before)
    }

    @Test func svgIntoAMissingDirectorySaysSoPlainly() throws {
        let r = try CLI.run(["simulate", "--svg", "/nonexistent-flywall-dir/run.svg"])
        #expect(r.status == 2)
        #expect(r.stderr == "/nonexistent-flywall-dir/run.svg: error: cannot write: directory /nonexistent-flywall-dir: No such file or directory\n")
        #expect(!r.stderr.contains("NSCocoaErrorDomain"))
    }

    /// `flywall lab --svg` follows `simulate`'s rules: refused before the run (so before the root
    /// check, and without root), the scenario and the config it names both counted as inputs.
    @Test func labSvgRefusesToOverwriteItsInputsBeforeTheRun() throws {
        let config = try CLI.temporaryFile("lab-c.hcl", "interface \"eth0\" {\n  wan {}\n}\n")
        let scenario = (config as NSString).deletingLastPathComponent + "/lab-s.hcl"
        try "scenario \"s\" {\n  config   = \"lab-c.hcl\"\n  duration = \"10s\"\n}\n".write(toFile: scenario, atomically: true, encoding: .utf8)
        let before = try String(contentsOfFile: config, encoding: .utf8)
        for target in [scenario, config] {
            let r = try CLI.run(["lab", scenario, "--svg", target])
            #expect(r.status == 2, "\(r.status) \(r.stderr)")
            #expect(r.stdout.isEmpty, "the lab must not run")
            #expect(r.stderr.contains("\(target): error: refusing to overwrite"), "\(r.stderr)")
        }
        #expect(try String(contentsOfFile: config, encoding: .utf8) == before)
        let missing = try CLI.run(["lab", scenario, "--svg", "/nonexistent-flywall-dir/run.svg"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "/nonexistent-flywall-dir/run.svg: error: cannot write: directory /nonexistent-flywall-dir: No such file or directory\n")
    }

    @Test func labToleranceEchoesABadValueCut() throws {
        let long = String(repeating: "x", count: 5_000)
        let r = try CLI.run(["lab", "Scenarios/basic-dual-wan-blackhole.hcl", "--tolerance", long])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("--tolerance: expected a duration with an optional percentage"), "\(r.stderr)")
        #expect(r.stderr.contains("xxx…\"") && r.stderr.utf8.count < 200, "\(r.stderr.utf8.count) bytes")
    }

    @Test func configCheckWarnsAboutTheBuiltInDefaultCheckAndShowsIt() throws {
        let path = try CLI.temporaryFile("dual.hcl", """
            interface "eth0" {
              zone = "WAN"
              dhcp = true
              wan { priority = 1 }
            }
            """)
        let c = try CLI.run(["config", "check", path])
        #expect(c.status == 0)
        #expect(c.stderr.contains("\(path):1:1: warning: WAN \"eth0\" has no health_check: it gets the built-in default"), "\(c.stderr)")
        #expect(c.stdout.contains("health_check {  # built-in default: the file gives this WAN no health_check"))
        #expect(c.stdout.contains("targets           = [\"1.1.1.1\", \"8.8.8.8\"]"))
    }

    @Test func tooLargeNumbersSaySo() throws {
        let path = try CLI.temporaryFile("big.hcl", "interface \"eth0\" {\n  wan { weight = 100000000 }\n}\n")
        let r = try CLI.run(["config", "check", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(path):2:18: error: weight: too large, at most 1000, got 100000000"), "\(r.stderr)")
    }
}
