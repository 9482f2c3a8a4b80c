// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "flywall",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flywall", targets: ["flywall"]),
        .library(name: "Domain", targets: ["Domain"]),
        .library(name: "Simulator", targets: ["Simulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Pure, deterministic core: no dependencies beyond the standard library.
        .target(name: "Domain"),
        .target(name: "Simulator", dependencies: ["Domain"]),
        .executableTarget(
            name: "flywall",
            dependencies: [
                "Domain", "Simulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "DomainTests", dependencies: ["Domain"]),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "Domain"]),
    ]
)
