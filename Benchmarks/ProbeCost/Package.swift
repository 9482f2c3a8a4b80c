// swift-tools-version:6.0
// The probing-cost benchmark: a plain executable that prints numbers (needs root: it works in
// scratch network namespaces). Its own package, like ApplyBenchmark, so it needs neither
// ordo-one/benchmark nor an edit of the shared Benchmarks/Package.swift.
// Run from the repository root: `swift run -c release --package-path Benchmarks/ProbeCost ProbeCost`
import PackageDescription

let package = Package(
    name: "flywall-probe-cost",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "flywall", path: "../..")],
    targets: [
        .executableTarget(
            name: "ProbeCost",
            dependencies: [.product(name: "Adapters", package: "flywall"), .product(name: "Domain", package: "flywall")]
        ),
    ]
)
