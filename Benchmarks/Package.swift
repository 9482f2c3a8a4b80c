// swift-tools-version:6.1
// Flywall's benchmarks, kept out of the main package so its build stays lean.
// Run with `bash scripts/bench.sh` from the repository root (release mode).
import PackageDescription

let package = Package(
    name: "flywall-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "flywall", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "FlywallBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Domain", package: "flywall"),
                .product(name: "Simulator", package: "flywall"),
            ],
            path: "Benchmarks/FlywallBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
