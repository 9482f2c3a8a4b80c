/// A point in time as the core sees it: nanoseconds since an arbitrary origin chosen by the shell.
///
/// The core never reads a clock. The daemon maps a monotonic clock onto this type and the simulator
/// counts virtual time with it. `ContinuousClock.Instant` cannot be built from a number, hence this.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func seconds(_ s: Double) -> Instant {
        let n = s * 1e9
        guard n.isFinite else { return n.isNaN ? .zero : Instant(nanoseconds: n > 0 ? .max : .min) }
        return Instant(nanoseconds: n >= 9.2e18 ? .max : n <= -9.2e18 ? .min : Int64(n))
    }

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    // Arithmetic saturates at the ends of Int64 (292 years either way) instead of trapping: no
    // input may crash the core, and a deadline "at the end of time" is as good as none.

    public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds.saturatingAdd(d.nanoseconds))
    }

    public static func - (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds.saturatingSubtract(d.nanoseconds))
    }

    public static func - (a: Instant, b: Instant) -> Duration {
        .nanoseconds(a.nanoseconds.saturatingSubtract(b.nanoseconds))
    }

    /// `nanoseconds` later, saturating.
    public func advanced(byNanoseconds n: Int64) -> Instant { Instant(nanoseconds: nanoseconds.saturatingAdd(n)) }

    /// Seconds since the origin, for reports.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String { DurationText.seconds(.nanoseconds(nanoseconds)) }
}

extension Duration {
    /// Whole nanoseconds; durations in this project never need finer resolution.
    /// Saturates at Int64's range (about 292 years) rather than trapping.
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (whole, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s < 0 ? .min : .max }
        return whole.saturatingAdd(atto / 1_000_000_000)
    }

    /// Milliseconds as a floating point number, for metrics.
    public var milliseconds: Double { Double(nanoseconds) / 1e6 }
}

extension Int64 {
    /// `self + other`, clamped to Int64's range.
    @inline(__always) public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, clamped to Int64's range.
    @inline(__always) public func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : difference
    }
}
