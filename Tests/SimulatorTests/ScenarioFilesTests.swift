import Domain
import Foundation
import Testing
@testable import Simulator

/// The files in Scenarios/: each one with a `scenario` block is a regression test that must PASS.
enum ScenarioFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let directory = root.appendingPathComponent("Scenarios")

    /// Paths relative to the repository root, sorted.
    static var all: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".hcl") }.sorted().compactMap { name -> String? in
            let path = "Scenarios/\(name)"
            return hasScenarioBlock(read(path)) ? path : nil
        }
    }

    static func hasScenarioBlock(_ text: String) -> Bool {
        text.split(separator: "\n").contains { line in
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            return trimmed.hasPrefix("scenario ") || trimmed.hasPrefix("scenario\"") || trimmed.hasPrefix("scenario{")
        }
    }

    static func read(_ path: String) -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path)
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    static func load(_ path: String) throws(DiagnosticList) -> Scenario {
        try ScenarioDecoder.load(source: read(path), file: path) { referenced in
            let url = referenced.hasPrefix("/") ? URL(fileURLWithPath: referenced) : root.appendingPathComponent(referenced)
            return try String(contentsOf: url, encoding: .utf8)
        }
    }
}

@Suite struct ScenarioFilesTests {
    @Test func thereAreScenarioFiles() {
        #expect(ScenarioFiles.all.count >= 15)
        #expect(ScenarioFiles.all.contains("Scenarios/\(DefaultScenario.fileName)"))
    }

    @Test(arguments: ScenarioFiles.all)
    func everyExpectationHolds(_ path: String) throws {
        let scenario: Scenario
        do {
            scenario = try ScenarioFiles.load(path)
        } catch {
            Issue.record("\(path) does not decode:\n\(error)")
            return
        }
        #expect(!scenario.expectations.isEmpty, "\(path) checks nothing")
        let report = Simulation(scenario: scenario).evaluate()
        for e in report.expectations where !e.passed {
            Issue.record("\(path): FAIL \(e.name) — \(e.detail)\n\(TextReporter.render(report))")
        }
    }

    @Test func theSameFileAndSeedGiveTheSameBytes() throws {
        let scenario = try ScenarioFiles.load("Scenarios/\(DefaultScenario.fileName)")
        let a = Simulation(scenario: scenario).evaluate()
        let b = Simulation(scenario: scenario).evaluate()
        #expect(TextReporter.render(a) == TextReporter.render(b))
        #expect(JSONReporter.render(a, verbose: true) == JSONReporter.render(b, verbose: true))
        #expect(SVGRenderer.render(a) == SVGRenderer.render(b))
    }

    @Test func randomScenariosAreReproducibleButSeedDependent() throws {
        var scenario = try ScenarioFiles.load("Scenarios/random-loss-max-loss.hcl")
        let first = TextReporter.render(Simulation(scenario: scenario).evaluate(), verbose: true)
        let again = TextReporter.render(Simulation(scenario: scenario).evaluate(), verbose: true)
        #expect(first == again)
        scenario.seed &+= 1
        let other = JSONReporter.render(Simulation(scenario: scenario).evaluate(), verbose: true)
        scenario.seed &-= 1
        #expect(other != JSONReporter.render(Simulation(scenario: scenario).evaluate(), verbose: true))
    }

    @Test func aWrongExpectationFails() throws {
        var scenario = try ScenarioFiles.load("Scenarios/\(DefaultScenario.fileName)")
        scenario.expectations = [
            Expectation(name: "too early", check: .event(kind: .failover, uplink: "eth1", group: nil, count: nil),
                        after: .seconds(30), before: .seconds(40)),
            Expectation(name: "wrong uplink", check: .share(uplink: "eth1", min: 0.5, max: 1), before: .seconds(30)),
            Expectation(name: "no failover at all", check: .event(kind: .failover, uplink: nil, group: nil, count: 0)),
        ]
        let report = Simulation(scenario: scenario).evaluate()
        #expect(report.expectations.map(\.passed) == [false, false, false])
        #expect(!report.allPassed)
        #expect(TextReporter.render(report).hasSuffix("0 passed, 3 failed\n"))
    }

    /// The binary embeds Sources/Simulator/Resources/<file>; it must stay a link to the file in
    /// Scenarios/, or the built-in default and the regression test could drift apart.
    @Test func theBuiltInDefaultIsTheFile() throws {
        let embedded = "Sources/Simulator/Resources/\(DefaultScenario.fileName)"
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: ScenarioFiles.root.appendingPathComponent(embedded).path)
        #expect(target == "../../../Scenarios/\(DefaultScenario.fileName)", "\(embedded) must be a symlink to Scenarios/")
        #expect(DefaultScenario.source == ScenarioFiles.read("Scenarios/\(DefaultScenario.fileName)"),
                "the binary embeds another text than Scenarios/\(DefaultScenario.fileName)")
        let scenario = try ScenarioDecoder.load(source: DefaultScenario.source, file: DefaultScenario.displayPath) { _ in "" }
        let report = Simulation(scenario: scenario).evaluate()
        #expect(report.allPassed)
        #expect(report.result.observations.events.contains { $0.kind == .failover && $0.to == ["eth1"] })
    }
}
