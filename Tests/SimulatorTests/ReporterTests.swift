import Domain
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Simulator

enum SyntheticReport {
    static var report: SimulationReport {
        let plan = Synthetic.plan(usable: [:], active: ["eth0"], sticky: false)
        let flows = [
            Synthetic.flow(10, "192.168.1.10", "eth0"), Synthetic.flow(20, "192.168.1.11", "eth0"),
            Synthetic.flow(50, "192.168.1.10", "eth1"), Synthetic.flow(55, "192.168.1.11", nil),
        ]
        func status(_ name: String, _ state: WANStatus.State, _ priority: Int, _ latency: Double?, _ loss: Double) -> WANStatus {
            WANStatus(interface: name, state: state, priority: priority, weight: 1, carrier: true, latencyMs: latency,
                      lossPercent: loss, jitterMs: nil, targets: [], failedRounds: 0, goodRounds: 0, roundsTotal: 0,
                      since: .zero, reason: "")
        }
        let samples = (0...60).map { s -> StatusSample in
            let t = Instant.seconds(Double(s))
            let down = s >= 42
            return StatusSample(time: t, wans: [
                .init(interface: "eth0", state: down ? .down : .up, latencyMs: 12, lossPercent: down ? 60 : 0),
                .init(interface: "eth1", state: .up, latencyMs: 25, lossPercent: 0.5),
            ])
        }
        let result = SimulationResult(
            scenarioName: "primary-blackhole", description: "Primary ISP stops forwarding.", file: "Scenarios/x.hcl",
            seed: 7, duration: .seconds(60), uplinks: ["eth0", "eth1"],
            observations: Synthetic.observations(events: [Synthetic.down, Synthetic.failover], flows: flows,
                                                 plans: [PlanChange(time: .zero, plan: plan)], end: 60),
            faults: [FaultRecord(time: .seconds(30), interface: "eth0", description: "eth0: blackhole = true")],
            samples: samples,
            flushes: [FlushRecord(time: .seconds(42), interface: "eth0")],
            logs: [LogRecord(time: .seconds(42), level: .warning, message: "eth0: down")],
            finalStatus: [status("eth0", .down, 1, 12, 60), status("eth1", .up, 2, 25.4, 0.5)],
            probesSent: 48, probesAnswered: 40)
        return SimulationReport(result: result, expectations: [
            ExpectationResult(name: "moves to eth1", passed: true, detail: "failover to eth1 at 42.000s"),
            ExpectationResult(name: "stays", passed: false, detail: "0 matching events, expected 1+"),
        ])
    }
}

@Suite struct ReporterTests {
    @Test func textReport() {
        let expected = """
            scenario "primary-blackhole" (Scenarios/x.hcl)
              Primary ISP stops forwarding.
              seed 7, duration 60.000s, uplinks eth0, eth1

            timeline:
                30.000s  fault      eth0: blackhole = true
                42.000s  wan_down   eth0  (3 consecutive failed probe rounds)
                42.000s  failover   group=default  eth0 -> eth1  (eth0 down: 3 consecutive failed probe rounds)

            new connections: 4
              eth0            2   50.0%
              eth1            1   25.0%
              refused         1   25.0%
              connections flushed: eth0 at 42.000s

            status at 60.000s:
              INTERFACE  STATUS  PRIORITY  LATENCY  PACKET LOSS
              eth0       DOWN    1         12ms     60.0%
              eth1       UP      2         25ms     0.5%

            expectations:
            PASS moves to eth1 — failover to eth1 at 42.000s
            FAIL stays — 0 matching events, expected 1+
            1 passed, 1 failed

            """
        #expect(TextReporter.render(SyntheticReport.report) == expected)
    }

    @Test func verboseTextIncludesTheLog() {
        let text = TextReporter.render(SyntheticReport.report, verbose: true)
        #expect(text.contains("log:\n    42.000s  warning  eth0: down\n"))
    }

    @Test func jsonReport() throws {
        let json = JSONReporter.render(SyntheticReport.report)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["passed"] as? Int == 1)
        #expect(object?["failed"] as? Int == 1)
        #expect(object?["ok"] as? Bool == false)
        let events = object?["events"] as? [[String: Any]]
        #expect(events?.count == 2)
        #expect(events?[1]["kind"] as? String == "failover")
        #expect(events?[1]["to"] as? [String] == ["eth1"])
        #expect(events?[1]["time_s"] as? Double == 42)
        let expectations = object?["expectations"] as? [[String: Any]]
        #expect(expectations?.map { $0["result"] as? String } == ["PASS", "FAIL"])
        // Key order is fixed, so the text is stable.
        #expect(json.hasPrefix("""
            {
              "scenario": {
                "name": "primary-blackhole",
                "description": "Primary ISP stops forwarding.",
                "file": "Scenarios/x.hcl",
                "seed": 7,
                "duration_s": 60.000,
            """))
        #expect(json.contains("""
                "by_uplink": [
                  {
                    "uplink": "eth0",
                    "count": 2,
                    "share": 0.5000
                  },
            """))
        #expect(!json.contains("\"log\""))
        #expect(JSONReporter.render(SyntheticReport.report, verbose: true).contains("\"log\""))
    }

    @Test func jsonEscapesStrings() {
        #expect(JSONValue.quote("a\"b\\c\nd\u{1}") == #""a\"b\\c\nd\u0001""#)
        #expect(JSONValue.object([]).serialized() == "{}")
        #expect(JSONValue.array([.null, .number("1")]).serialized() == "[\n  null,\n  1\n]")
    }

    @Test func svgIsWellFormedWithABandPerUplink() throws {
        let svg = SVGRenderer.render(SyntheticReport.report)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = ElementCollector()
        parser.delegate = collector
        #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
        #expect(collector.bands == ["eth0", "eth1"])
        #expect(collector.classes.contains("rtt"))
        #expect(collector.classes.contains("loss"))
        #expect(collector.classes.contains("share"))
        #expect(collector.classes.contains("faults"))
        #expect(collector.classes.contains("events"))
        // eth0's band turns red exactly at the wan_down event (42s of 60s across the plot).
        let downRed = ##"fill="#d62d20"><title>eth0 DOWN 42.000s–60.000s</title>"##
        #expect(svg.contains(downRed))
        #expect(svg.contains("30.000s eth0: blackhole = true"))
        #expect(svg.contains("failover → eth1"))
    }

    @Test func stateSegmentsSnapToEvents() {
        var report = SyntheticReport.report
        // Samples say eth0 went down between 41s and 42s; the event says 41.5s.
        report.result.observations.events[0].time = .seconds(41.5)
        let segments = SVGRenderer.stateSegments(report.result, uplink: "eth0")
        #expect(segments.map(\.state) == [.up, .down])
        #expect(segments[0].to == .seconds(41.5))
        #expect(segments[1].from == .seconds(41.5))
        #expect(segments[1].to == .seconds(60))
    }
}

final class ElementCollector: NSObject, XMLParserDelegate {
    var bands: [String] = []
    var classes: Set<String> = []

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if let c = attributes["class"] {
            classes.insert(c)
            if c == "band", let u = attributes["data-uplink"] { bands.append(u) }
        }
    }
}
