#if canImport(Glibc)
import Glibc
#endif
import Domain

// Built by run.sh together with RoundSamples.swift (one module), so `RoundSamples` is in scope.

func status(_ n: Int, round: Int) -> [WANStatus] {
    (0..<n).map { i in
        WANStatus(interface: "wan\(i)", state: .up, priority: 1, weight: 1, carrier: true, latencyMs: 10 + Double(round % 7),
                  lossPercent: 0, jitterMs: 1, targets: [], failedRounds: 0, goodRounds: 0, roundsTotal: round,
                  since: .zero, reason: "x")
    }
}

func nanos(_ body: () -> Void) -> Int64 {
    var a = timespec(), b = timespec()
    clock_gettime(CLOCK_MONOTONIC, &a)
    body()
    clock_gettime(CLOCK_MONOTONIC, &b)
    return Int64(b.tv_sec - a.tv_sec) * 1_000_000_000 + Int64(b.tv_nsec - a.tv_nsec)
}

/// Median of `runs` timings of `body`, each divided by `per`.
func median(runs: Int = 7, per: Int, _ body: () -> Void) -> Double {
    let times = (0..<runs).map { _ in Double(nanos(body)) / Double(per) }.sorted()
    return times[runs / 2]
}

var sink = 0

for n in [2, 64] {
    // Full rings first, so every record below also overwrites the oldest sample.
    var rings = RoundSamples()
    let rounds = (0..<2_000).map { status(n, round: $0) }
    for (r, s) in rounds.enumerated() { rings.record(s, at: .seconds(Double(r) * 5)) }
    var t = 2_000
    let withRound = median(per: 1_000) {
        for k in 0..<1_000 {
            rings.record(rounds[k], at: .seconds(Double(t) * 5))
            t += 1
        }
    }
    let same = rounds[999]
    let noRound = median(per: 1_000) {
        for _ in 0..<1_000 { rings.record(same, at: .seconds(Double(t) * 5)) }
    }
    let names = (0..<n).map { "wan\($0)" }
    let fullRead = median(per: 1) { sink &+= rings.samples(for: names, since: nil).count }
    let recent = median(per: 1) { sink &+= rings.samples(for: names, since: .seconds(Double(t - 2) * 5)).count }
    print("\(n) WANs: publish with a new round \(Int(withRound)) ns, without one \(Int(noRound)) ns; "
          + "read all \(rings.sampleCount) samples \(Int(fullRead / 1_000)) µs, the last 2 rounds \(Int(recent / 1_000)) µs")
}

for n in [2, 64, 1_000] {
    var rings = RoundSamples()
    // Each round's status is built and dropped, so what stays is the rings.
    for r in 0..<2_000 { rings.record(status(n, round: r), at: .seconds(Double(r) * 5)) }
    let shape = RoundSamples.shape(forWANs: n)
    print("\(n) WANs full: \(rings.sampleCount) samples (\(shape.capacity) each, \(Double(shape.resolutionNanos) / 1e9) s apart), "
          + "\(rings.sampleCount * MemoryLayout<RoundSample>.stride) bytes of samples "
          + "(each ring reserves its capacity when it is made: \(n * shape.capacity * MemoryLayout<RoundSample>.stride) bytes)")
    sink &+= rings.sampleCount
}
if sink == 42 { print("") }
