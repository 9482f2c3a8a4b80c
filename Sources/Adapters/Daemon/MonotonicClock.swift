#if canImport(Glibc)
import Glibc
#endif
import Domain

/// Maps CLOCK_MONOTONIC onto the core's `Instant`, with the daemon's start as origin.
///
/// Monotonic, so a wall-clock step (NTP, a manual `date`) never fires or delays a probe round.
public struct MonotonicClock: Sendable {
    private let origin: Int64

    public init() { origin = KernelClock.monotonic() }

    public var now: Instant { Instant(nanoseconds: KernelClock.monotonic() - origin) }

    /// The absolute CLOCK_MONOTONIC reading of an instant, for timed waits.
    public func absolute(_ instant: Instant) -> timespec {
        let ns = instant.nanoseconds + origin
        return timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }
}
