#if canImport(Glibc)
import Glibc
#endif
import Domain

/// Maps CLOCK_MONOTONIC onto the core's `Instant`, with the daemon's start as origin.
///
/// Monotonic, so a wall-clock step (NTP, a manual `date`) never fires or delays a probe round.
/// `speed` runs the core's time N times faster than real time (the demo daemon's `--speed N`);
/// the real daemon runs at 1, where every mapping is the plain offset.
public struct MonotonicClock: Sendable {
    /// The largest `speed`: keeps `Instant` arithmetic far from overflow for years of uptime.
    public static let maxSpeed = 1_000
    private let origin: Int64
    /// Core nanoseconds per real nanosecond, 1...maxSpeed.
    public let speed: Int64

    public init(speed: Int = 1) {
        precondition((1...MonotonicClock.maxSpeed).contains(speed), "speed must be 1...\(MonotonicClock.maxSpeed)")
        origin = KernelClock.monotonic()
        self.speed = Int64(speed)
    }

    public var now: Instant { Instant(nanoseconds: (KernelClock.monotonic() - origin) * speed) }

    /// The instant of a CLOCK_MONOTONIC reading (nanoseconds), e.g. a packet's capture time.
    public func instant(ofMonotonic nanoseconds: Int64) -> Instant {
        Instant(nanoseconds: (nanoseconds - origin) * speed)
    }

    /// The absolute CLOCK_MONOTONIC reading of an instant, for timed waits.
    public func absolute(_ instant: Instant) -> timespec {
        let ns = instant.nanoseconds / speed + origin
        return timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }

    /// Real nanoseconds from `instant` until now (negative: it is still ahead).
    public func realNanoseconds(since instant: Instant) -> Int64 {
        KernelClock.monotonic() - (instant.nanoseconds / speed + origin)
    }

    /// The wall-clock time (Unix nanoseconds) at which `instant` happened or will happen.
    public func unixNanoseconds(of instant: Instant) -> Int64 {
        KernelClock.realtime() - realNanoseconds(since: instant)
    }
}
