/// The bounds of every numeric config attribute, in one place (docs/configuration.md, "Limits").
///
/// They keep the core's arithmetic far from overflow and its memory independent of a value's
/// magnitude: durations stay below an hour (nanosecond sums over a window of them fit in 64 bits
/// many times over), windows and target lists stay small, and the WANs, sticky members and groups'
/// weights fit the dataplane's mark fields (checked by the decoder, with `KernelPlan` as backstop).
public enum ConfigLimits {
    /// `wan { priority }` and `member { priority }`.
    public static let priority = IntRange.limited(0, 1_000)
    /// `wan { weight }` and `member { weight }`.
    public static let weight = IntRange.limited(1, 1_000)
    /// WANs of one config: field A of the dataplane's fwmark holds a pin (1...64) and two policy
    /// classes (66...193) per uplink (docs/dataplane.md, "Mark layout"; `KernelPlan` refuses more).
    public static let uplinks = 64
    /// Members of all sticky groups together: field S of the fwmark has 63 values.
    public static let stickyMembers = 63
    /// Hash slots of all groups together: field B of the fwmark has 1,023 values. Each group takes
    /// the most its layout may grow to under any health (`GroupSelector.mostSlots`), at least
    /// `GroupSelector.minimumBuckets`.
    public static let hashSlots = 1_023
    /// A group's weights, divided by their greatest common divisor, add up to at most this: buckets
    /// are a multiple of the sum, and one slot routes one bucket.
    public static let groupWeightSum = hashSlots
    /// `wan { bandwidth }` in bits per second: from 1bps to 1,000Tbps (far above any link, and far
    /// below where a `Double` stops holding whole bit rates).
    public static let bandwidth: ClosedRange<Int64> = 1 ... 1_000_000_000_000_000
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
    /// `history { retention }`: from 1 minute to 10 years (3,650 days). Longer is a typo, not a
    /// policy: the pruning cutoff `now − retention` must stay a real instant.
    public static let historyRetention: ClosedRange<Duration> = .seconds(60) ... .seconds(3_650 * 86_400)
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
