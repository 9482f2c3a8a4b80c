/// The scenario `flywall simulate` runs when given no file: `Scenarios/basic-dual-wan-blackhole.hcl`,
/// embedded in the binary at build time so that the binary needs nothing on disk.
///
/// SwiftPM embeds only files inside the target's folder, so
/// `Sources/Simulator/Resources/basic-dual-wan-blackhole.hcl` is a symlink to the file in Scenarios/
/// (the one to edit), and Package.swift embeds it with `.embedInCode`, which generates
/// `PackageResources.basic_dual_wan_blackhole_hcl`.
public enum DefaultScenario {
    public static let fileName = "basic-dual-wan-blackhole.hcl"
    /// The path reports and diagnostics show for the built-in copy.
    public static let displayPath = "(built-in) Scenarios/basic-dual-wan-blackhole.hcl"

    public static let source = String(decoding: PackageResources.basic_dual_wan_blackhole_hcl, as: UTF8.self)
}
