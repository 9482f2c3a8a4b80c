/// Durations as written in configs: a sequence of number+unit pairs such as "500ms", "5s", "2m", "1h",
/// "1h30m", "1.5s". Units: ns, us (or µs), ms, s, m, h.
public enum DurationText {
    public struct Problem: Error, Equatable, Sendable {
        public var message: String
    }

    static let units: [(String, Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

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
                if whole > 1_000_000_000_000 { return .failure(Problem(message: "too large")) }
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
                return .failure(Problem(message: "missing unit (e.g. \"\(text)s\"; units: ms, s, m, h)"))
            }
            guard let scale = units.first(where: { $0.0 == unit })?.1 else {
                return .failure(Problem(message: "unknown unit \"\(unit)\" (use ms, s, m or h)"))
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
            if o1 || o2 || o3 { return .failure(Problem(message: "too large")) }
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
}
