import Benchmark
import Domain

/// Benchmarks for the deterministic core. Each one states what one iteration is, so its
/// throughput reads as "things per second". Others: core events/s, a simulated day, the
/// 1,000-route config (see docs/benchmarks.md).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    // Harness check: one iteration parses 1,000 address strings (half IPv4, half IPv6).
    let addresses: [String] = (0..<1_000).map { i in
        i.isMultiple(of: 2)
            ? "10.\(i / 256 % 256).\(i % 256).\(i % 200 + 1)"
            : "2001:db8:\(String(i, radix: 16))::\(String(i % 97, radix: 16))"
    }
    Benchmark("Parse 1,000 IP addresses") { _ in
        for text in addresses {
            blackHole(IPAddress(text))
        }
    }

    coreBenchmarks()
    simulatorBenchmarks()
}
