/// The last `capacity` probe outcomes of one target: the rolling window behind latency, loss and jitter.
///
/// Running sums keep every update O(1), since the core handles millions of probe results.
struct ProbeWindow: Sendable {
    /// An answered probe's RTT in nanoseconds, or `lost` for a lost one.
    private var samples: [Int64]
    private static let lost: Int64 = -1
    /// Where the next sample goes; once full, also where the oldest one is.
    private var next = 0
    private(set) var count = 0
    private var answered = 0
    private var rttSum: Int64 = 0
    /// |rtt[i] - rtt[i-1]| over consecutive answered samples inside the window.
    private var jitterSum: Int64 = 0
    private var jitterPairs = 0

    /// At most `ConfigLimits.window` (the decoder's bound), also for hand-built configs: memory
    /// never follows a value's magnitude.
    init(capacity: Int) {
        samples = Array(repeating: ProbeWindow.lost, count: min(max(1, capacity), ConfigLimits.window.upper ?? 1_000))
    }

    var capacity: Int { samples.count }

    /// The newest outcome: nil before any, `.some(nil)` for a lost probe.
    var last: Int64?? {
        guard count > 0 else { return nil }
        let s = samples[next == 0 ? samples.count - 1 : next - 1]
        return .some(s == ProbeWindow.lost ? nil : s)
    }

    /// RTTs are kept between 0 and this (an hour, the longest timeout a config may give), so the
    /// window's running sums cannot overflow whatever a prober reports.
    static let longestRTT: Int64 = 3_600_000_000_000

    /// The newest `n` outcomes (at most `count`), oldest first; nil for a lost probe.
    func recent(_ n: Int) -> [Int64?] {
        let k = min(max(0, n), count)
        let capacity = samples.count
        return (0..<k).map { i in
            let s = samples[((next - k + i) % capacity + capacity) % capacity]
            return s == ProbeWindow.lost ? nil : s
        }
    }

    mutating func record(_ reported: Int64?) {
        let rtt = reported.map { min(max($0, 0), ProbeWindow.longestRTT) }
        let capacity = samples.count
        let newest = next == 0 ? capacity - 1 : next - 1
        if count == capacity {
            // Evict the oldest (at `next`) and its jitter pair with the second oldest.
            let oldest = samples[next]
            if oldest != ProbeWindow.lost {
                answered -= 1
                rttSum -= oldest
                let second = samples[next + 1 == capacity ? 0 : next + 1]
                if capacity > 1 && second != ProbeWindow.lost {
                    jitterSum -= abs(second - oldest)
                    jitterPairs -= 1
                }
            }
            count -= 1
        }
        if let r = rtt {
            if count > 0 && samples[newest] != ProbeWindow.lost {
                jitterSum += abs(r - samples[newest])
                jitterPairs += 1
            }
            answered += 1
            rttSum += r
        }
        samples[next] = rtt ?? ProbeWindow.lost
        next = next + 1 == capacity ? 0 : next + 1
        count += 1
    }

    /// Mean RTT of the answered probes, nanoseconds.
    var meanRTT: Int64? { answered == 0 ? nil : rttSum / Int64(answered) }
    var lossPercent: Double { count == 0 ? 0 : Double(count - answered) * 100 / Double(count) }
    var meanJitter: Int64? { jitterPairs == 0 ? nil : jitterSum / Int64(jitterPairs) }
    var answeredCount: Int { answered }
    var rttTotal: Int64 { rttSum }
    var jitterTotal: Int64 { jitterSum }
    var jitterPairCount: Int { jitterPairs }
}
