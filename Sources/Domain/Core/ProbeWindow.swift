/// The last `capacity` probe outcomes of one target: the rolling window behind latency, loss and jitter.
///
/// Running sums keep every update O(1), since the core handles millions of probe results.
struct ProbeWindow: Sendable {
    /// An answered probe's RTT in nanoseconds, or nil for a lost one.
    private var samples: [Int64?]
    private var next = 0
    private(set) var count = 0
    private var answered = 0
    private var rttSum: Int64 = 0
    /// |rtt[i] - rtt[i-1]| over consecutive answered samples inside the window.
    private var jitterSum: Int64 = 0
    private var jitterPairs = 0
    private(set) var last: Int64?? = nil

    init(capacity: Int) {
        samples = Array(repeating: nil, count: max(1, capacity))
    }

    var capacity: Int { samples.count }

    private func sample(at age: Int) -> Int64?? {
        // age 0 = newest
        guard age < count else { return .none }
        let i = (next - 1 - age + samples.count * 2) % samples.count
        return .some(samples[i])
    }

    mutating func record(_ rtt: Int64?) {
        if count == samples.count {
            // Evict the oldest, and its jitter pair with the second oldest.
            let oldest = sample(at: count - 1)!
            let secondOldest = count > 1 ? sample(at: count - 2)! : nil
            if let o = oldest {
                answered -= 1
                rttSum -= o
                if let s = secondOldest {
                    jitterSum -= abs(s - o)
                    jitterPairs -= 1
                }
            }
            count -= 1
        }
        if let r = rtt {
            if count > 0, let previous = sample(at: 0)! {
                jitterSum += abs(r - previous)
                jitterPairs += 1
            }
            answered += 1
            rttSum += r
        }
        samples[next] = rtt
        next = (next + 1) % samples.count
        count += 1
        last = .some(rtt)
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
