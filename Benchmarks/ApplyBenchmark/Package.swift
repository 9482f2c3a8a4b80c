// swift-tools-version:6.0
// The dataplane apply benchmark: a plain executable that prints numbers (needs root: it works in a
// scratch network namespace). Kept in its own package so it needs neither ordo-one/benchmark nor
// an edit of the shared Benchmarks/Package.swift.
// Run from the repository root: `swift run -c release --package-path Benchmarks/ApplyBenchmark ApplyBenchmark`
import PackageDescription

let package = Package(
    name: "flywall-apply-benchmark",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "flywall", path: "../..")],
    targets: [
        .executableTarget(
            name: "ApplyBenchmark",
            dependencies: [.product(name: "Adapters", package: "flywall"), .product(name: "Domain", package: "flywall")]
        ),
    ]
)
