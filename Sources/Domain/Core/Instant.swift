/// A point in time as the core sees it: nanoseconds since an arbitrary origin chosen by the shell.
///
/// The core never reads a clock. The daemon maps a monotonic clock onto this type and the simulator
/// counts virtual time with it. `ContinuousClock.Instant` cannot be built from a number, hence this.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func seconds(_ s: Double) -> Instant { Instant(nanoseconds: Int64(s * 1e9)) }

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds + d.nanoseconds)
    }

    public static func - (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds - d.nanoseconds)
    }

    public static func - (a: Instant, b: Instant) -> Duration {
        .nanoseconds(a.nanoseconds - b.nanoseconds)
    }

    /// Seconds since the origin, for reports.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String { DurationText.seconds(.nanoseconds(nanoseconds)) }
}

extension Duration {
    /// Whole nanoseconds; durations in this project never need finer resolution.
    public var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }

    /// Milliseconds as a floating point number, for metrics.
    public var milliseconds: Double { Double(nanoseconds) / 1e6 }
}
