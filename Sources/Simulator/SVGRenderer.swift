import Domain

/// Draws a run as one self-contained SVG: a state band per uplink (green UP, amber DEGRADED, red DOWN,
/// grey MAINTENANCE), RTT and loss lines per uplink, fault markers (dashed, labelled), event markers,
/// and the share of new connections per uplink over time as stacked bars. No scripts, no external
/// resources; coordinates are printed with fixed decimals so the file is byte-stable.
public enum SVGRenderer {
    public static let width = 1400.0
    static let left = 120.0
    static let right = 40.0
    static var plotWidth: Double { width - left - right }

    public static let stateColors: [(WANStatus.State, String)] = [
        (.up, "#2e9d4a"), (.degraded, "#f0a500"), (.down, "#d62d20"), (.maintenance, "#9a9a9a"),
    ]
    static let unknownColor = "#e4e4e4"
    static let refusedColor = "#444444"
    /// Uplink colours for lines and shares: none of them green, amber, red or grey.
    static let palette = ["#1f63b4", "#9b4dca", "#14a3b8", "#e0569b", "#8c5a3c", "#5b6ee1", "#b8a214", "#2f4858"]

    static func color(forUplink index: Int) -> String { palette[index % palette.count] }

    /// Earlier uplinks get wider lines, so lines that coincide (equal RTTs) still show every colour.
    static func lineWidth(_ index: Int, of count: Int) -> String {
        n(max(1.4, 1.4 + 1.6 * Double(count - 1 - index)))
    }
    static func color(for state: WANStatus.State) -> String {
        stateColors.first { $0.0 == state }?.1 ?? unknownColor
    }

    public static func render(_ report: SimulationReport) -> String {
        var svg = SVG()
        let r = report.result
        let uplinks = r.uplinks
        let end = max(1e-9, r.duration.nanoseconds > 0 ? Double(r.duration.nanoseconds) / 1e9 : 1)
        func x(_ t: Instant) -> Double { left + plotWidth * min(max(t.seconds / end, 0), 1) }

        // Vertical layout.
        let titleHeight = 52.0
        let laneHeight = 15.0
        let faultLanes = 3, eventLanes = 3
        let faultTop = titleHeight + 6
        let eventTop = faultTop + Double(faultLanes) * laneHeight + 4
        let bandsTop = eventTop + Double(eventLanes) * laneHeight + 10
        let bandHeight = 22.0, bandGap = 6.0
        let bandsHeight = Double(max(1, uplinks.count)) * (bandHeight + bandGap) - bandGap
        let rttTop = bandsTop + bandsHeight + 34
        let rttHeight = 170.0
        let lossTop = rttTop + rttHeight + 34
        let lossHeight = 110.0
        let shareTop = lossTop + lossHeight + 34
        let shareHeight = 130.0
        let axisTop = shareTop + shareHeight
        let legendTop = axisTop + 40
        let height = legendTop + 34

        svg.open("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("width", n(width)), ("height", n(height)),
                         ("viewBox", "0 0 \(n(width)) \(n(height))"), ("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"),
                         ("font-size", "11")])
        svg.leaf("rect", [("x", "0"), ("y", "0"), ("width", n(width)), ("height", n(height)), ("fill", "#ffffff")])

        // Title.
        let verdict = report.allPassed ? "PASS" : "FAIL"
        svg.text("scenario \(r.scenarioName): \(report.passedCount) passed, \(report.failedCount) failed (\(verdict))",
                 x: 16, y: 22, attributes: [("font-size", "16"), ("font-weight", "bold")])
        let subtitle = [r.description, "seed \(r.seed)", "duration \(Instant.zero + r.duration)"]
            .filter { !$0.isEmpty }.joined(separator: " · ")
        svg.text(subtitle, x: 16, y: 40, attributes: [("fill", "#555555"), ("font-size", "12")])

        // Time grid and axis (drawn first, under everything).
        let step = timeStep(end)
        var ticks: [Double] = []
        var t = 0.0
        while t <= end + 1e-9 { ticks.append(t); t += step }
        svg.open("g", [("class", "grid"), ("stroke", "#ececec"), ("stroke-width", "1")])
        for tick in ticks {
            let gx = left + plotWidth * tick / end
            svg.leaf("line", [("x1", n(gx)), ("y1", n(bandsTop - 4)), ("x2", n(gx)), ("y2", n(axisTop))])
        }
        svg.close("g")
        svg.open("g", [("class", "time-axis")])
        svg.leaf("line", [("x1", n(left)), ("y1", n(axisTop)), ("x2", n(left + plotWidth)), ("y2", n(axisTop)),
                          ("stroke", "#333333")])
        for tick in ticks {
            let gx = left + plotWidth * tick / end
            svg.leaf("line", [("x1", n(gx)), ("y1", n(axisTop)), ("x2", n(gx)), ("y2", n(axisTop + 5)), ("stroke", "#333333")])
            svg.text(timeLabel(tick, step: step), x: gx, y: axisTop + 18, attributes: [("text-anchor", "middle")])
        }
        svg.close("g")

        // State bands.
        svg.text("state", x: 16, y: bandsTop - 8, attributes: [("font-weight", "bold")])
        for (i, uplink) in uplinks.enumerated() {
            let y = bandsTop + Double(i) * (bandHeight + bandGap)
            svg.open("g", [("class", "band"), ("data-uplink", uplink)])
            svg.text(uplink, x: left - 8, y: y + bandHeight / 2 + 4, attributes: [("text-anchor", "end")])
            svg.leaf("rect", [("x", n(left)), ("y", n(y)), ("width", n(plotWidth)), ("height", n(bandHeight)),
                              ("fill", unknownColor)])
            for segment in stateSegments(r, uplink: uplink) {
                let x0 = x(segment.from), x1 = x(segment.to)
                guard x1 > x0 else { continue }
                svg.leaf("rect", [("x", n(x0)), ("y", n(y)), ("width", n(x1 - x0)), ("height", n(bandHeight)),
                                  ("fill", color(for: segment.state))],
                         title: "\(uplink) \(segment.state.rawValue) \(segment.from)–\(segment.to)")
            }
            svg.close("g")
        }

        // RTT.
        let latencies = r.samples.flatMap { $0.wans.compactMap(\.latencyMs) }
        let rttMax = niceCeiling(latencies.max() ?? 0, minimum: 10)
        panelFrame(&svg, title: "RTT (ms)", top: rttTop, height: rttHeight, maximum: rttMax, unit: "ms")
        if latencies.isEmpty {
            svg.text("no RTT measured: no probe was answered (WANs without a health check are judged by carrier only)",
                     x: left + plotWidth / 2, y: rttTop + rttHeight / 2,
                     attributes: [("text-anchor", "middle"), ("fill", "#888888"), ("font-size", "13")])
        }
        for (i, uplink) in uplinks.enumerated() {
            let paths = lineSegments(r, uplink: uplink, value: { $0.latencyMs }, top: rttTop, height: rttHeight,
                                     maximum: rttMax, x: x)
            svg.open("g", [("class", "rtt"), ("data-uplink", uplink), ("fill", "none"), ("stroke", color(forUplink: i)),
                           ("stroke-width", lineWidth(i, of: uplinks.count))])
            for points in paths { svg.leaf("polyline", [("points", points)]) }
            svg.close("g")
        }

        // Loss.
        let lossMax = min(100, niceCeiling(r.samples.flatMap { $0.wans.map(\.lossPercent) }.max() ?? 0, minimum: 5))
        panelFrame(&svg, title: "loss (%)", top: lossTop, height: lossHeight, maximum: lossMax, unit: "%")
        for (i, uplink) in uplinks.enumerated() {
            let paths = lineSegments(r, uplink: uplink, value: { $0.lossPercent }, top: lossTop, height: lossHeight,
                                     maximum: lossMax, x: x)
            svg.open("g", [("class", "loss"), ("data-uplink", uplink), ("fill", "none"), ("stroke", color(forUplink: i)),
                           ("stroke-width", lineWidth(i, of: uplinks.count))])
            for points in paths { svg.leaf("polyline", [("points", points)]) }
            svg.close("g")
        }

        // Share of new connections per bucket, stacked.
        let bucket = shareBucket(end)
        panelFrame(&svg, title: "new connections (share per \(timeLabel(bucket, step: bucket)))", top: shareTop,
                   height: shareHeight, maximum: 100, unit: "%")
        let buckets = shareBuckets(r, bucketSeconds: bucket, end: end)
        svg.open("g", [("class", "share"), ("shape-rendering", "crispEdges")])
        for (index, counts) in buckets.enumerated() {
            let total = counts.reduce(0, +)
            guard total > 0 else { continue }
            let x0 = left + plotWidth * min(Double(index) * bucket / end, 1)
            let x1 = left + plotWidth * min(Double(index + 1) * bucket / end, 1)
            var y = shareTop + shareHeight
            for (k, count) in counts.enumerated() where count > 0 {
                let h = shareHeight * Double(count) / Double(total)
                let name = k < uplinks.count ? uplinks[k] : "refused"
                svg.leaf("rect", [("x", n(x0)), ("y", n(y - h)), ("width", n(max(0.5, x1 - x0))), ("height", n(h)),
                                  ("fill", k < uplinks.count ? color(forUplink: k) : refusedColor)],
                         title: "\(name): \(count) of \(total)")
                y -= h
            }
        }
        svg.close("g")

        // Fault markers: dashed lines through every panel, labels in staggered lanes on top.
        var faultLaneEnds = Array(repeating: -Double.infinity, count: faultLanes)
        svg.open("g", [("class", "faults")])
        for fault in r.faults {
            let fx = x(fault.time)
            let label = "\(fault.time) \(fault.description)"
            let lane = pickLane(&faultLaneEnds, x: fx, width: textWidth(label))
            let ly = faultTop + Double(lane) * laneHeight + 11
            svg.leaf("line", [("x1", n(fx)), ("y1", n(ly + 3)), ("x2", n(fx)), ("y2", n(axisTop)),
                              ("stroke", "#555555"), ("stroke-width", "1.2"), ("stroke-dasharray", "5,4")],
                     title: label)
            svg.text(label, x: fx + 3, y: ly, attributes: [("fill", "#333333")])
        }
        svg.close("g")

        // Event markers: a triangle and a line through the state bands, labelled in their own lanes.
        var eventLaneEnds = Array(repeating: -Double.infinity, count: eventLanes)
        svg.open("g", [("class", "events")])
        for event in r.observations.events {
            let ex = x(event.time)
            let colour = eventColor(event.kind)
            let label = eventLabel(event)
            let lane = pickLane(&eventLaneEnds, x: ex, width: textWidth(label))
            let ly = eventTop + Double(lane) * laneHeight + 11
            svg.leaf("line", [("x1", n(ex)), ("y1", n(ly + 3)), ("x2", n(ex)), ("y2", n(bandsTop + bandsHeight)),
                              ("stroke", colour), ("stroke-width", "1.5")],
                     title: "\(event.time) \(event.kind.rawValue): \(event.reason)")
            svg.leaf("path", [("d", "M\(n(ex - 4)),\(n(bandsTop - 9)) L\(n(ex + 4)),\(n(bandsTop - 9)) L\(n(ex)),\(n(bandsTop - 2)) Z"),
                              ("fill", colour)])
            svg.text(label, x: ex + 3, y: ly, attributes: [("fill", colour), ("font-weight", "bold")])
        }
        svg.close("g")

        // Legend.
        svg.open("g", [("class", "legend")])
        var lx = left
        for (i, uplink) in uplinks.enumerated() {
            svg.leaf("rect", [("x", n(lx)), ("y", n(legendTop - 9)), ("width", "14"), ("height", "10"),
                              ("fill", color(forUplink: i))])
            svg.text(uplink, x: lx + 18, y: legendTop)
            lx += 28 + textWidth(uplink)
        }
        if buckets.contains(where: { $0.count > uplinks.count && $0[uplinks.count] > 0 }) {
            svg.leaf("rect", [("x", n(lx)), ("y", n(legendTop - 9)), ("width", "14"), ("height", "10"), ("fill", refusedColor)])
            svg.text("refused", x: lx + 18, y: legendTop)
            lx += 28 + textWidth("refused")
        }
        lx += 20
        for (state, colour) in stateColors {
            svg.leaf("rect", [("x", n(lx)), ("y", n(legendTop - 9)), ("width", "14"), ("height", "10"), ("fill", colour)])
            svg.text(state.rawValue, x: lx + 18, y: legendTop)
            lx += 28 + textWidth(state.rawValue)
        }
        lx += 20
        svg.leaf("line", [("x1", n(lx)), ("y1", n(legendTop - 4)), ("x2", n(lx + 20)), ("y2", n(legendTop - 4)),
                          ("stroke", "#555555"), ("stroke-dasharray", "5,4")])
        svg.text("fault", x: lx + 26, y: legendTop)
        lx += 40 + textWidth("fault")
        for kind in WANEventKind.allCases {
            svg.leaf("rect", [("x", n(lx)), ("y", n(legendTop - 9)), ("width", "3"), ("height", "10"), ("fill", eventColor(kind))])
            svg.text(kind.rawValue, x: lx + 7, y: legendTop)
            lx += 18 + textWidth(kind.rawValue)
        }
        svg.close("g")

        svg.close("svg")
        return svg.text
    }

    // MARK: Data

    struct Segment: Equatable {
        var from: Instant
        var to: Instant
        var state: WANStatus.State
    }

    /// Consecutive samples in the same state merged; a sample holds until the next one (the last until
    /// the end). A change seen between two samples is placed at the uplink's wan_up/wan_down event in
    /// between, when there is one, so band edges are exact rather than rounded to the sample period.
    static func stateSegments(_ r: SimulationResult, uplink: String) -> [Segment] {
        let end = Instant.zero + r.duration
        let changes = r.observations.events.filter { ($0.kind == .wanUp || $0.kind == .wanDown) && $0.interface == uplink }
        var segments: [Segment] = []
        var previousTime: Instant?
        for (i, sample) in r.samples.enumerated() {
            let until = i + 1 < r.samples.count ? r.samples[i + 1].time : end
            defer { previousTime = sample.time }
            guard let wan = sample.wans.first(where: { $0.interface == uplink }) else { continue }
            if var last = segments.last, last.state == wan.state, last.to == sample.time {
                last.to = until
                segments[segments.count - 1] = last
                continue
            }
            var from = sample.time
            if let previous = previousTime, let last = segments.last, last.to == sample.time,
               let change = changes.last(where: { $0.time > previous && $0.time <= sample.time }) {
                from = change.time
                segments[segments.count - 1].to = change.time
            }
            segments.append(Segment(from: from, to: until, state: wan.state))
        }
        return segments
    }

    /// Polyline point lists; a sample without a value breaks the line.
    static func lineSegments(_ r: SimulationResult, uplink: String, value: (StatusSample.WAN) -> Double?, top: Double,
                             height: Double, maximum: Double, x: (Instant) -> Double) -> [String] {
        var paths: [String] = []
        var current: [String] = []
        for sample in r.samples {
            guard let wan = sample.wans.first(where: { $0.interface == uplink }), let v = value(wan) else {
                if !current.isEmpty { paths.append(current.joined(separator: " ")); current = [] }
                continue
            }
            let y = top + height - height * min(max(v / maximum, 0), 1)
            current.append("\(n(x(sample.time))),\(n(y))")
        }
        if !current.isEmpty { paths.append(current.joined(separator: " ")) }
        return paths.map { $0.contains(" ") ? $0 : $0 + " " + $0 }
    }

    /// Per bucket: new connections per uplink (config order), then refused ones.
    static func shareBuckets(_ r: SimulationResult, bucketSeconds: Double, end: Double) -> [[Int]] {
        let count = max(1, Int((end / bucketSeconds).rounded(.up)))
        var buckets = Array(repeating: Array(repeating: 0, count: r.uplinks.count + 1), count: count)
        for flow in r.observations.flows {
            let b = min(count - 1, max(0, Int(flow.time.seconds / bucketSeconds)))
            let k = flow.uplink.flatMap { r.uplinks.firstIndex(of: $0) } ?? r.uplinks.count
            buckets[b][k] += 1
        }
        return buckets
    }

    static func panelFrame(_ svg: inout SVG, title: String, top: Double, height: Double, maximum: Double, unit: String) {
        svg.text(title, x: 16, y: top - 8, attributes: [("font-weight", "bold")])
        svg.open("g", [("class", "panel")])
        svg.leaf("rect", [("x", n(left)), ("y", n(top)), ("width", n(plotWidth)), ("height", n(height)),
                          ("fill", "none"), ("stroke", "#bbbbbb")])
        for fraction in [0.0, 0.5, 1.0] {
            let y = top + height - height * fraction
            if fraction > 0 && fraction < 1 {
                svg.leaf("line", [("x1", n(left)), ("y1", n(y)), ("x2", n(left + plotWidth)), ("y2", n(y)),
                                  ("stroke", "#eeeeee")])
            }
            svg.text(Format.number(maximum * fraction) + unit, x: left - 8, y: y + 4, attributes: [("text-anchor", "end"),
                                                                                                   ("fill", "#555555")])
        }
        svg.close("g")
    }

    // MARK: Scales and labels

    /// A step for time ticks giving at most about 12 of them.
    static func timeStep(_ end: Double) -> Double {
        let steps: [Double] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
        return steps.first { end / $0 <= 12 } ?? (end / 12).rounded(.up)
    }

    /// Share buckets: at most about 120 bars.
    static func shareBucket(_ end: Double) -> Double {
        let steps: [Double] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]
        return steps.first { end / $0 <= 120 } ?? (end / 120).rounded(.up)
    }

    static func timeLabel(_ t: Double, step: Double) -> String {
        let s = Int64(t.rounded())
        if step >= 3600 && s % 3600 == 0 { return "\(s / 3600)h" }
        if step >= 60 && s % 60 == 0 { return "\(s / 60)m" }
        return "\(Format.number(t))s"
    }

    /// 1, 2, 5 times a power of ten, at least `minimum`.
    static func niceCeiling(_ v: Double, minimum: Double) -> Double {
        let target = max(v * 1.1, minimum)
        var magnitude = 1.0
        while magnitude * 10 <= target { magnitude *= 10 }
        while magnitude > target { magnitude /= 10 }
        for m in [1.0, 2.0, 5.0, 10.0] where m * magnitude >= target { return m * magnitude }
        return 10 * magnitude
    }

    /// A rough width of 11px text: capitals and digits are wider than lower case.
    static func textWidth(_ s: String) -> Double {
        s.reduce(0.0) { w, c in w + (c.isUppercase ? 8.0 : c.isNumber ? 7.0 : c == " " || c == "." ? 3.5 : 6.4) }
    }

    static func pickLane(_ ends: inout [Double], x: Double, width: Double) -> Int {
        var lane = ends.firstIndex { x > $0 + 6 } ?? -1
        if lane < 0 {
            lane = 0
            for i in ends.indices where ends[i] < ends[lane] { lane = i }
        }
        ends[lane] = x + width
        return lane
    }

    static func eventColor(_ kind: WANEventKind) -> String {
        switch kind {
        case .wanDown: "#b0201a"
        case .wanUp: "#1f7a38"
        case .failover: "#c05800"
        case .failback: "#1f63b4"
        case .allDown: "#000000"
        }
    }

    static func eventLabel(_ e: WANEvent) -> String {
        let to = e.to.isEmpty ? "none" : e.to.joined(separator: "+")
        switch e.kind {
        case .wanDown: return "\(e.interface ?? "?") down"
        case .wanUp: return "\(e.interface ?? "?") up"
        case .failover: return "failover → \(to)"
        case .failback: return "failback → \(to)"
        case .allDown: return "all down"
        }
    }

    static func n(_ v: Double) -> String { Format.fixed(v, 1).trimmingTrailingZeros }
}

/// A tiny XML writer.
struct SVG {
    var text = ""
    var depth = 0

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    private func attributes(_ list: [(String, String)]) -> String {
        list.map { " \($0.0)=\"\(SVG.escape($0.1))\"" }.joined()
    }

    private var indent: String { String(repeating: "  ", count: depth) }

    mutating func open(_ name: String, _ attrs: [(String, String)] = []) {
        text += "\(indent)<\(name)\(attributes(attrs))>\n"
        depth += 1
    }

    mutating func close(_ name: String) {
        depth -= 1
        text += "\(indent)</\(name)>\n"
    }

    mutating func leaf(_ name: String, _ attrs: [(String, String)], title: String? = nil) {
        if let title {
            text += "\(indent)<\(name)\(attributes(attrs))><title>\(SVG.escape(title))</title></\(name)>\n"
        } else {
            text += "\(indent)<\(name)\(attributes(attrs))/>\n"
        }
    }

    mutating func text(_ content: String, x: Double, y: Double, attributes attrs: [(String, String)] = []) {
        let all = [("x", SVGRenderer.n(x)), ("y", SVGRenderer.n(y))] + attrs
        text += "\(indent)<text\(attributes(all))>\(SVG.escape(content))</text>\n"
    }
}
