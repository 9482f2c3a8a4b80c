// swift-tools-version:6.0
import PackageDescription

// System C libraries, found through pkg-config. `scripts/install-deps.sh` installs them on Debian;
// the `providers` lines only tell SwiftPM what to suggest when one is missing.
let systemLibraries: [Target] = [
    .systemLibrary(
        name: "CNetlinkRoute",
        pkgConfig: "libnl-route-3.0",
        providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]
    ),
    .systemLibrary(
        name: "CMnl",
        pkgConfig: "libmnl",
        providers: [.apt(["libmnl-dev"])]
    ),
    .systemLibrary(
        name: "CNftnl",
        pkgConfig: "libnftnl",
        providers: [.apt(["libnftnl-dev"])]
    ),
    .systemLibrary(
        name: "CPcap",
        pkgConfig: "libpcap",
        providers: [.apt(["libpcap-dev"])]
    ),
    // HTTP(S) health checks; also meant for the notifiers (SMTP, webhooks).
    .systemLibrary(
        name: "CCurl",
        pkgConfig: "libcurl",
        providers: [.apt(["libcurl4-openssl-dev"])]
    ),
    // The webhook signature's HMAC-SHA256 (OpenSSL, already linked by libcurl).
    .systemLibrary(
        name: "CCrypto",
        pkgConfig: "libcrypto",
        providers: [.apt(["libssl-dev"])]
    ),
]

let package = Package(
    name: "flywall",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flywall", targets: ["flywall"]),
        .library(name: "Domain", targets: ["Domain"]),
        .library(name: "Simulator", targets: ["Simulator"]),
        .library(name: "Adapters", targets: ["Adapters"]),
        .library(name: "Lab", targets: ["Lab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        // Operations (docs/api.md): the HTTP API, the history store, metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: systemLibraries + [
        // Pure, deterministic core: no dependencies beyond the standard library.
        .target(name: "Domain"),
        // The default scenario is built into the binary; the file is a symlink to Scenarios/.
        .target(
            name: "Simulator",
            dependencies: ["Domain"],
            exclude: ["Lab"],
            resources: [.embedInCode("Resources/basic-dual-wan-blackhole.hcl")]
        ),
        // The simulator's other shell: the same scenario files for real, in network namespaces
        // against the real daemon (`flywall lab`). Its own target because it needs Foundation,
        // processes and the libpcap adapter, which the virtual-time simulator must not.
        .target(
            name: "Lab",
            dependencies: ["Simulator", "Domain", "Adapters"],
            path: "Sources/Simulator/Lab",
            resources: [.embedInCode("Resources/echo.py")]
        ),
        // The real edges: netlink, nftables, libpcap (and later probes, API, store).
        .target(
            name: "Adapters",
            dependencies: [
                "Domain", "CNetlinkRoute", "CMnl", "CNftnl", "CPcap", "CCurl", "CCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The web dashboard (docs/dashboard.md), built into the binary.
            resources: [
                .embedInCode("Operations/Dashboard/index.html"),
                .embedInCode("Operations/Dashboard/dashboard.js"),
                .embedInCode("Operations/Dashboard/dashboard.css"),
            ]
        ),
        .executableTarget(
            name: "flywall",
            dependencies: [
                "Domain", "Simulator", "Adapters", "Lab",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "DomainTests", dependencies: ["Domain"]),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "Domain"]),
        // The C modules too: the library smoke tests call each library directly.
        .testTarget(
            name: "AdaptersTests",
            dependencies: [
                "Adapters", "CNetlinkRoute", "CMnl", "CNftnl", "CPcap",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Runs the built `flywall` binary; depending on it makes `swift test` build it first.
        .testTarget(name: "FlywallCLITests", dependencies: ["flywall"]),
        // Runs the real daemon in network namespaces (root); also builds the binary first.
        .testTarget(name: "IntegrationTests", dependencies: ["flywall", "Lab", "Simulator", "Domain"]),
    ]
)
