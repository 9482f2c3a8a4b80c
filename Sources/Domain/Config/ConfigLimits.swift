/// The bounds of every numeric config attribute, in one place (docs/configuration.md, "Limits").
///
/// They keep the core's arithmetic far from overflow and its memory independent of a value's
/// magnitude: durations stay below an hour (nanosecond sums over a window of them fit in 64 bits
/// many times over), windows and target lists stay small, and a group's weights fit the dataplane's
/// hash slots.
public enum ConfigLimits {
    /// `wan { priority }` and `member { priority }`.
    public static let priority = IntRange.limited(0, 1_000)
    /// `wan { weight }` and `member { weight }`.
    public static let weight = IntRange.limited(1, 1_000)
    /// A group's weights, divided by their greatest common divisor, add up to at most this: the
    /// dataplane has 1,023 hash slots (docs/dataplane.md), and buckets are a multiple of the sum.
    public static let groupWeightSum = 1_023
    /// `threshold_down`, `threshold_up`.
    public static let threshold = IntRange.limited(1, 100)
    /// `window`: rounds kept per target.
    public static let window = IntRange.limited(1, 1_000)
    /// ICMP `targets` of one check.
    public static let targets = 16
    /// `interval`, `timeout`: from 10 ms (faster is a flood, not a check) to 1 h.
    public static let probeTime: ClosedRange<Duration> = .milliseconds(10) ... .seconds(3_600)
    /// `max_latency`, `recover_latency`.
    public static let latency: ClosedRange<Duration> = .milliseconds(1) ... .seconds(3_600)
    /// `sticky_timeout`: from 1 s to 7 days.
    public static let stickyTimeout: ClosedRange<Duration> = .seconds(1) ... .seconds(7 * 86_400)
    /// `notifications { coalesce }`: at least 1 s (the floor), at most a day.
    public static let coalesce: ClosedRange<Duration> = .seconds(1) ... .seconds(86_400)
    /// Secrets and user names in `notifications` (bytes).
    public static let secretBytes = 4_096
    /// Linux's IFNAMSIZ less the terminating NUL.
    public static let interfaceNameBytes = 15

    /// Why `name` cannot be a Linux interface name (the kernel's `dev_valid_name`), or nil.
    public static func interfaceNameProblem(_ name: String) -> String? {
        let bytes = name.utf8.count
        if bytes > interfaceNameBytes {
            return "is \(bytes) bytes long; Linux interface names have at most \(interfaceNameBytes)"
        }
        if name == "." || name == ".." { return "is not a valid interface name" }
        if let bad = name.unicodeScalars.first(where: { $0 == "/" || $0 == ":" || $0.properties.isWhitespace || $0.value < 0x20 }) {
            let shown = bad == "/" || bad == ":" ? "'\(bad)'" : "white space or a control character (U+\(String(bad.value, radix: 16, uppercase: true)))"
            return "contains \(shown); Linux interface names may not"
        }
        return nil
    }
}
