/// Durations as text: parsed as configs write them, and formatted in the few styles Flywall prints.
///
/// Configs write a sequence of number+unit pairs such as "500ms", "5s", "2m", "1h", "1h30m",
/// "1.5s". Units: ns, us (or µs), ms, s, m, h, d (days: history retention). Every duration
/// Flywall prints goes through one of the formatters here, so configs, messages, logs and reports
/// agree and stay byte-stable:
///
/// - `format`: config syntax, exact ("1h30m", "1s500ms"): the resolved config, error messages.
/// - `brief`: one unit, as a person writes it ("90s", "1.5s", "400ms"): the simulator's fault lines.
/// - `milliseconds`: a measurement to 0.1 ms ("12.3ms"): probe replies and latency reasons.
/// - `seconds`: three decimals ("36.000s"): points on a timeline (`Instant.description`).
public enum DurationText {
    public struct Problem: Error, Equatable, Sendable {
        public var message: String
    }

    static let units: [(String, Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000),
    ]

    /// Every unit `parse` takes, for hints (`µs` is accepted as `us`).
    static let unitList = "ns, us, ms, s, m, h, d"
    static let tooLarge = "too large, at most 2562047h (about 292 years)"

    public static func parse(_ text: String) -> Result<Duration, Problem> {
        if text.isEmpty { return .failure(Problem(message: "empty (write e.g. \"5s\")")) }
        let chars = Array(text)
        var i = 0
        var total: Int64 = 0
        while i < chars.count {
            // Number: digits with an optional fraction.
            var whole: Int64 = 0
            var fraction: [Int64] = []
            var digits = 0
            while i < chars.count, let d = chars[i].wholeNumberValue, chars[i].isASCII {
                if whole > 1_000_000_000_000 { return .failure(Problem(message: tooLarge)) }
                whole = whole * 10 + Int64(d)
                digits += 1
                i += 1
            }
            if i < chars.count, chars[i] == "." {
                i += 1
                while i < chars.count, let d = chars[i].wholeNumberValue, chars[i].isASCII {
                    if fraction.count < 12 { fraction.append(Int64(d)) }
                    digits += 1
                    i += 1
                }
            }
            if digits == 0 {
                // A lone "." (as in "5s.") leaves nothing after it to name.
                guard i < chars.count else { return .failure(Problem(message: "expected digits after \".\"")) }
                let rest = String(chars[i...])
                if chars[i] == "-" { return .failure(Problem(message: "must not be negative")) }
                return .failure(Problem(message: "expected a number before \"\(rest)\""))
            }
            // Unit: letters up to the next digit.
            var unit = ""
            while i < chars.count, !(chars[i].isASCII && (chars[i].isNumber || chars[i] == ".")) {
                unit.append(chars[i])
                i += 1
            }
            if unit.isEmpty {
                return .failure(Problem(message: "missing unit (e.g. \"\(text)s\"; units: \(unitList))"))
            }
            guard let scale = units.first(where: { $0.0 == unit })?.1 else {
                return .failure(Problem(message: "unknown unit \"\(unit)\" (use ns, us, ms, s, m, h or d)"))
            }
            let (w, o1) = whole.multipliedReportingOverflow(by: scale)
            var fractionalNanos: Int64 = 0
            var place: Int64 = scale
            for d in fraction {
                place /= 10
                if place == 0 { break }
                fractionalNanos += d * place
            }
            let (sum, o2) = total.addingReportingOverflow(w)
            let (sum2, o3) = sum.addingReportingOverflow(fractionalNanos)
            if o1 || o2 || o3 { return .failure(Problem(message: tooLarge)) }
            total = sum2
        }
        return .success(.nanoseconds(total))
    }

    /// The shortest text `parse` reads back as the same duration: "5s", "1h30m", "1s500ms", "0s".
    public static func format(_ d: Duration) -> String {
        var n = d.nanoseconds
        if n == 0 { return "0s" }
        var out = n < 0 ? "-" : ""
        n = abs(n)
        for (unit, scale) in [("h", Int64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000),
                              ("ms", 1_000_000), ("us", 1_000), ("ns", 1)] where n >= scale {
            out += "\(n / scale)\(unit)"
            n %= scale
        }
        return out
    }

    /// One unit, as a person would write it: whole seconds as "5s" or "120s", whole milliseconds as
    /// "400ms" or (from a second up) "1.5s", else "250us" or "7ns".
    public static func brief(_ d: Duration) -> String {
        let ns = d.nanoseconds
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 {
            let ms = ns / 1_000_000
            guard ms >= 1000 else { return "\(ms)ms" }
            var text = decimal(ms, places: 3)
            while text.last == "0" { text.removeLast() }
            return text + "s"
        }
        if ns % 1000 == 0 { return "\(ns / 1000)us" }
        return "\(ns)ns"
    }

    /// A measured time rounded to a tenth of a millisecond: "12ms", "12.3ms".
    public static func milliseconds(_ d: Duration) -> String {
        let tenths = (d.nanoseconds + 50_000) / 100_000
        return tenths % 10 == 0 ? "\(tenths / 10)ms" : "\(tenths / 10).\(tenths % 10)ms"
    }

    /// Seconds with exactly three decimals, rounded to the millisecond: "36.000s", "0.250s", "-1.500s".
    /// The fixed width keeps timelines aligned and output byte-stable.
    public static func seconds(_ d: Duration) -> String {
        let ns = d.nanoseconds
        let ms = ((ns < 0 ? -ns : ns) + 500_000) / 1_000_000
        return (ns < 0 ? "-" : "") + decimal(ms, places: 3) + "s"
    }

    /// A non-negative count of 10^-places units written as a decimal with `places` digits: 1500, 3 → "1.500".
    private static func decimal(_ units: Int64, places: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let fraction = String(units % scale)
        return "\(units / scale)." + String(repeating: "0", count: places - fraction.count) + fraction
    }
}
