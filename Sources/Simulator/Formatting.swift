/// Number formatting without Foundation, byte-stable across platforms. Durations: `DurationText`.
public enum Format {
    /// `x` with exactly `decimals` digits after the point, rounded half away from zero.
    public static func fixed(_ x: Double, _ decimals: Int) -> String {
        guard x.isFinite else { return x.isNaN ? "0" : (x > 0 ? "1e308" : "-1e308") }
        var scale: Double = 1
        for _ in 0..<max(0, decimals) { scale *= 10 }
        let scaled = (abs(x) * scale).rounded(.toNearestOrAwayFromZero)
        guard scaled < 9.0e18 else { return x.description }
        let n = Int64(scaled)
        let negative = x < 0 && n != 0
        let unit = Int64(scale)
        let whole = n / unit
        var text = "\(negative ? "-" : "")\(whole)"
        if decimals > 0 {
            let frac = String(n % unit)
            text += "." + String(repeating: "0", count: decimals - frac.count) + frac
        }
        return text
    }

    /// A number as short as it can be written exactly (`20`, `0.5`, `12.25`), for attribute values.
    public static func number(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return "\(Int64(x))" }
        return fixed(x, 6).trimmingTrailingZeros
    }

    public static func padRight(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    public static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}

extension String {
    var trimmingTrailingZeros: String {
        guard contains(".") else { return self }
        var s = Substring(self)
        while s.last == "0" { s = s.dropLast() }
        if s.last == "." { s = s.dropLast() }
        return String(s)
    }
}
