import Testing
import Domain

/// The one duration formatter, JSON writer and HCL quoter every output goes through.
@Suite("Text formats")
struct TextFormatTests {
    @Test func durationStyles() {
        #expect(DurationText.format(.milliseconds(1500)) == "1s500ms")
        #expect(DurationText.format(.seconds(90)) == "1m30s")
        #expect(DurationText.brief(.seconds(90)) == "90s")
        #expect(DurationText.brief(.milliseconds(1500)) == "1.5s")
        #expect(DurationText.brief(.milliseconds(1250)) == "1.25s")
        #expect(DurationText.brief(.milliseconds(999)) == "999ms")
        #expect(DurationText.brief(.microseconds(1500)) == "1500us")
        #expect(DurationText.brief(.nanoseconds(7)) == "7ns")
        #expect(DurationText.milliseconds(.microseconds(12_340)) == "12.3ms")
        #expect(DurationText.milliseconds(.microseconds(11_960)) == "12ms")
        #expect(DurationText.seconds(.milliseconds(36_000)) == "36.000s")
        #expect(DurationText.seconds(.microseconds(250_400)) == "0.250s")
        #expect(DurationText.seconds(.milliseconds(-1500)) == "-1.500s")
        #expect(Instant(nanoseconds: 5_000_000).description == "0.005s")
    }

    @Test func jsonLayouts() {
        let value = JSONValue.object([
            ("names", .array([.string("eth0"), .string("eth1")])),
            ("n", .int(3)), ("x", .double(0.5)), ("inf", .double(.infinity)), ("ok", .bool(true)),
            ("empty", .array([])), ("nested", .object([])),
        ])
        #expect(value.serialized() == """
        {
          "names": [
            "eth0",
            "eth1"
          ],
          "n": 3,
          "x": 0.5,
          "inf": null,
          "ok": true,
          "empty": [],
          "nested": {}
        }
        """)
        #expect(value.serialized(scalarArraysOnOneLine: true).contains(#""names": ["eth0", "eth1"],"#))
        #expect(JSONValue.quote("a\"b\\c\nd\u{1}é") == #""a\"b\\c\nd\u0001é""#)
    }

    @Test func hclNumbers() {
        #expect(HCLFormatter.number(3) == "3")
        #expect(HCLFormatter.number(-0.0) == "0")
        #expect(HCLFormatter.number(12.5) == "12.5")
    }
}
