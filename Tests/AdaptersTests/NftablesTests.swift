import Dispatch
import Foundation
import SystemPackage
import Testing
@testable import Adapters
@testable import Domain

/// A scratch network namespace (`fw-<random>-<role>`), removed when the value goes away.
final class NftTestNamespace {
    let name: String

    init(role: String) throws {
        name = "fw-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))-\(role)"
        try NftTestShell.run("ip", "netns", "add", name)
    }

    deinit { _ = try? NftTestShell.run("ip", "netns", "delete", name) }

    /// Runs a command inside the namespace (`ip netns exec`).
    @discardableResult
    func exec(_ arguments: String..., input: String? = nil) throws -> String {
        try NftTestShell.run(["ip", "netns", "exec", name] + arguments, input: input)
    }

    /// Runs `body` on a thread that has entered the namespace; sockets opened there stay in it.
    func enter<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let path = "/var/run/netns/\(name)"
        let result = NftTestThreadResult<T>()
        let thread = Thread {
            let fd = open(path, O_RDONLY)
            guard fd >= 0, nftTestSetns(fd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
                result.set(.failure(NftTestShellError(command: "setns \(path)", status: errno, output: "")))
                return
            }
            close(fd)
            result.set(Result { try body() })
        }
        thread.start()
        return try result.wait().get()
    }
}

@_silgen_name("setns") func nftTestSetns(_ fd: Int32, _ nstype: Int32) -> Int32

final class NftTestThreadResult<T: Sendable>: @unchecked Sendable {
    private var value: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)
    func set(_ r: Result<T, any Error>) { value = r; done.signal() }
    func wait() -> Result<T, any Error> { done.wait(); return value! }
}

struct NftTestShellError: Error, CustomStringConvertible {
    var command: String
    var status: Int32
    var output: String
    var description: String { "\(command) exited \(status): \(output)" }
}

enum NftTestShell {
    @discardableResult
    static func run(_ arguments: String..., input: String? = nil) throws -> String { try run(arguments, input: input) }

    @discardableResult
    static func run(_ arguments: [String], input: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let inPipe = Pipe()
        if input != nil { p.standardInput = inPipe }
        try p.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try inPipe.fileHandleForWriting.close()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw NftTestShellError(command: arguments.joined(separator: " "), status: p.terminationStatus, output: text)
        }
        return text
    }
}

/// Needs root (CAP_NET_ADMIN) and `ip`/`nft` to create namespaces and check the kernel independently.
@Suite(.serialized) struct NftablesTests {
    static func compile(_ config: FlywallConfig) throws -> KernelPlan {
        try KernelPlan(plan: CorePlans.plan(config, usable: Set(config.wans.map(\.name))))
    }

    /// What nft itself builds from the ruleset's text, as `nft list` prints it.
    static func listingFromText(_ ruleset: NftRuleset) throws -> String {
        let ns = try NftTestNamespace(role: "nftref")
        try ns.exec("nft", "-f", "-", input: ruleset.text)
        return try ns.exec("nft", "list", "table", "inet", "flywall")
    }

    @Test func twoWANRulesetIsWhatNftBuildsAndWhatTheDocSays() throws {
        let kernel = try Self.compile(DataplaneConfigs.twoWAN)
        let ns = try NftTestNamespace(role: "nft2wan")
        let transport = try ns.enter { try NftablesTransport() }
        #expect(try transport.tableExists() == false)
        try transport.replaceRuleset(kernel.ruleset)
        #expect(try transport.tableExists())
        let listing = try ns.exec("nft", "list", "table", "inet", "flywall")
        #expect(listing == (try Self.listingFromText(kernel.ruleset)))
        #expect(listing == Self.twoWANListing)
    }

    @Test func largeRulesetIsWhatNftBuilds() throws {
        let kernel = try Self.compile(DataplaneConfigs.large(uplinks: 64, policies: 1_000))
        let ns = try NftTestNamespace(role: "nftbig")
        let transport = try ns.enter { try NftablesTransport() }
        try transport.replaceRuleset(kernel.ruleset)
        let listing = try ns.exec("nft", "list", "table", "inet", "flywall")
        #expect(listing == (try Self.listingFromText(kernel.ruleset)))
        #expect(listing.components(separatedBy: "\n").count > 2_000)
    }

    /// Prefix matches of every shape (whole bytes, a partial last byte, host addresses, IPv6) are
    /// encoded as nft encodes them.
    @Test func prefixMatchesAreWhatNftBuilds() throws {
        let prefixes = ["100.64.0.0/10", "198.51.100.4/30", "192.168.1.128/25", "10.0.0.0/8", "192.168.1.50",
                        "2001:db8::/48", "2001:db8:1::/61", "fd00::1", "2001:db8::/127"].map { CIDR($0)! }
        let rules = prefixes.enumerated().map { i, c in
            NftRule([.prefix(i % 2 == 0 ? .source : .destination, c)], [.accept])
        }
        let ruleset = NftRuleset(chains: [NftChain(name: "c", rules: rules)])
        let ns = try NftTestNamespace(role: "nftpfx")
        let transport = try ns.enter { try NftablesTransport() }
        try transport.replaceRuleset(ruleset)
        let listing = try ns.exec("nft", "list", "table", "inet", "flywall")
        #expect(listing == (try Self.listingFromText(ruleset)))
        #expect(listing.contains("ip saddr 100.64.0.0/10 accept"))
        #expect(listing.contains("ip6 saddr 2001:db8:1::/61 accept"))
    }

    @Test func replacingTwiceLeavesOneTableAndRemovingLeavesNone() throws {
        let kernel = try Self.compile(DataplaneConfigs.twoWAN)
        let ns = try NftTestNamespace(role: "nftrep")
        // Someone else's table must survive everything Flywall does.
        try ns.exec("nft", "add", "table", "inet", "other")
        let transport = try ns.enter { try NftablesTransport() }
        try transport.replaceRuleset(kernel.ruleset)
        try transport.replaceRuleset(kernel.ruleset)
        #expect(try ns.exec("nft", "list", "tables") == "table inet other\ntable inet flywall\n")
        let once = try ns.exec("nft", "list", "table", "inet", "flywall")
        #expect(once == Self.twoWANListing)

        try transport.removeTable()
        #expect(try ns.exec("nft", "list", "tables") == "table inet other\n")
        #expect(try transport.tableExists() == false)
        try transport.removeTable()  // nothing to remove is not an error
        #expect(try ns.exec("nft", "list", "tables") == "table inet other\n")
    }

    @Test func aRejectedRuleLeavesThePreviousRulesetIntact() throws {
        let kernel = try Self.compile(DataplaneConfigs.twoWAN)
        let ns = try NftTestNamespace(role: "nftbad")
        let transport = try ns.enter { try NftablesTransport() }
        try transport.replaceRuleset(kernel.ruleset)
        let before = try ns.exec("nft", "list", "ruleset")

        var broken = kernel.ruleset
        broken.chains[3].rules.append(NftRule([.address(.source, .ipv4, set: "no_such_set")], [.accept]))
        let error = #expect(throws: SystemError.self) { try transport.replaceRuleset(broken) }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.description.hasPrefix("replace table inet flywall on rule ") == true)
        #expect(error?.subject == "rule \(broken.chains[3].rules.count) of chain \(broken.chains[3].name): ip saddr @no_such_set accept")
        #expect(try ns.exec("nft", "list", "ruleset") == before)

        // A jump to a chain that does not exist is rejected too, with the rule named.
        var badJump = kernel.ruleset
        badJump.chains[0].rules.append(NftRule([], [.jump("nowhere")]))
        let jumpError = #expect(throws: SystemError.self) { try transport.replaceRuleset(badJump) }
        #expect(jumpError?.subject?.hasPrefix("rule 4 of chain prerouting") == true)
        #expect(try ns.exec("nft", "list", "ruleset") == before)
    }

    /// `nft list table inet flywall` for the spec's dual WAN (docs/dataplane.md explains each part).
    static let twoWANListing = """
table inet flywall {
	set ipset_streaming_services_v4 {
		type ipv4_addr
		flags interval
		elements = { 198.51.100.0/24, 203.0.113.128/25 }
	}

	set ipset_streaming_services_v6 {
		type ipv6_addr
		flags interval
	}

	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		iifname { "lo", "eth0", "eth1" } return
		ct state established,related ct mark & 0xff000000 vmap { 0x01000000 : jump restore_0, 0x02000000 : jump restore_1 }
		ct state new jump classify
	}

	chain output {
		type route hook output priority mangle; policy accept;
		meta mark != 0x00000000/8 return
		ct state established,related ct mark & 0xff000000 vmap { 0x01000000 : jump restore_0, 0x02000000 : jump restore_1 }
		ct state new jump classify
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname vmap { "eth0" : jump wan_0, "eth1" : jump wan_1 }
	}

	chain classify {
		udp dport 1194 jump policy_uplink_0_fallback
		ip daddr @ipset_streaming_services_v4 jump policy_uplink_1_fallback
		meta l4proto udp ip saddr 192.168.1.50 jump policy_uplink_0_fallback
		jump group_0
	}

	chain policy_uplink_0_fallback {
		meta mark set meta mark & 0x43ffffff | 0x43000000
		jump group_0
		accept
	}

	chain policy_uplink_1_fallback {
		meta mark set meta mark & 0x45ffffff | 0x45000000
		jump group_0
		accept
	}

	chain group_0 {
		numgen random mod 64 vmap { 0 : jump slot_0, 1 : jump slot_1, 2 : jump slot_2, 3 : jump slot_3, 4 : jump slot_4, 5 : jump slot_5, 6 : jump slot_6, 7 : jump slot_7, 8 : jump slot_8, 9 : jump slot_9, 10 : jump slot_10, 11 : jump slot_11, 12 : jump slot_12, 13 : jump slot_13, 14 : jump slot_14, 15 : jump slot_15, 16 : jump slot_16, 17 : jump slot_17, 18 : jump slot_18, 19 : jump slot_19, 20 : jump slot_20, 21 : jump slot_21, 22 : jump slot_22, 23 : jump slot_23, 24 : jump slot_24, 25 : jump slot_25, 26 : jump slot_26, 27 : jump slot_27, 28 : jump slot_28, 29 : jump slot_29, 30 : jump slot_30, 31 : jump slot_31, 32 : jump slot_32, 33 : jump slot_33, 34 : jump slot_34, 35 : jump slot_35, 36 : jump slot_36, 37 : jump slot_37, 38 : jump slot_38, 39 : jump slot_39, 40 : jump slot_40, 41 : jump slot_41, 42 : jump slot_42, 43 : jump slot_43, 44 : jump slot_44, 45 : jump slot_45, 46 : jump slot_46, 47 : jump slot_47, 48 : jump slot_48, 49 : jump slot_49, 50 : jump slot_50, 51 : jump slot_51, 52 : jump slot_52, 53 : jump slot_53, 54 : jump slot_54, 55 : jump slot_55, 56 : jump slot_56, 57 : jump slot_57, 58 : jump slot_58, 59 : jump slot_59, 60 : jump slot_60, 61 : jump slot_61, 62 : jump slot_62, 63 : jump slot_63 }
	}

	chain slot_0 {
		meta mark set meta mark & 0xfffc01ff | 0x00000100
	}

	chain slot_1 {
		meta mark set meta mark & 0xfffc02ff | 0x00000200
	}

	chain slot_2 {
		meta mark set meta mark & 0xfffc03ff | 0x00000300
	}

	chain slot_3 {
		meta mark set meta mark & 0xfffc04ff | 0x00000400
	}

	chain slot_4 {
		meta mark set meta mark & 0xfffc05ff | 0x00000500
	}

	chain slot_5 {
		meta mark set meta mark & 0xfffc06ff | 0x00000600
	}

	chain slot_6 {
		meta mark set meta mark & 0xfffc07ff | 0x00000700
	}

	chain slot_7 {
		meta mark set meta mark & 0xfffc08ff | 0x00000800
	}

	chain slot_8 {
		meta mark set meta mark & 0xfffc09ff | 0x00000900
	}

	chain slot_9 {
		meta mark set meta mark & 0xfffc0aff | 0x00000a00
	}

	chain slot_10 {
		meta mark set meta mark & 0xfffc0bff | 0x00000b00
	}

	chain slot_11 {
		meta mark set meta mark & 0xfffc0cff | 0x00000c00
	}

	chain slot_12 {
		meta mark set meta mark & 0xfffc0dff | 0x00000d00
	}

	chain slot_13 {
		meta mark set meta mark & 0xfffc0eff | 0x00000e00
	}

	chain slot_14 {
		meta mark set meta mark & 0xfffc0fff | 0x00000f00
	}

	chain slot_15 {
		meta mark set meta mark & 0xfffc10ff | 0x00001000
	}

	chain slot_16 {
		meta mark set meta mark & 0xfffc11ff | 0x00001100
	}

	chain slot_17 {
		meta mark set meta mark & 0xfffc12ff | 0x00001200
	}

	chain slot_18 {
		meta mark set meta mark & 0xfffc13ff | 0x00001300
	}

	chain slot_19 {
		meta mark set meta mark & 0xfffc14ff | 0x00001400
	}

	chain slot_20 {
		meta mark set meta mark & 0xfffc15ff | 0x00001500
	}

	chain slot_21 {
		meta mark set meta mark & 0xfffc16ff | 0x00001600
	}

	chain slot_22 {
		meta mark set meta mark & 0xfffc17ff | 0x00001700
	}

	chain slot_23 {
		meta mark set meta mark & 0xfffc18ff | 0x00001800
	}

	chain slot_24 {
		meta mark set meta mark & 0xfffc19ff | 0x00001900
	}

	chain slot_25 {
		meta mark set meta mark & 0xfffc1aff | 0x00001a00
	}

	chain slot_26 {
		meta mark set meta mark & 0xfffc1bff | 0x00001b00
	}

	chain slot_27 {
		meta mark set meta mark & 0xfffc1cff | 0x00001c00
	}

	chain slot_28 {
		meta mark set meta mark & 0xfffc1dff | 0x00001d00
	}

	chain slot_29 {
		meta mark set meta mark & 0xfffc1eff | 0x00001e00
	}

	chain slot_30 {
		meta mark set meta mark & 0xfffc1fff | 0x00001f00
	}

	chain slot_31 {
		meta mark set meta mark & 0xfffc20ff | 0x00002000
	}

	chain slot_32 {
		meta mark set meta mark & 0xfffc21ff | 0x00002100
	}

	chain slot_33 {
		meta mark set meta mark & 0xfffc22ff | 0x00002200
	}

	chain slot_34 {
		meta mark set meta mark & 0xfffc23ff | 0x00002300
	}

	chain slot_35 {
		meta mark set meta mark & 0xfffc24ff | 0x00002400
	}

	chain slot_36 {
		meta mark set meta mark & 0xfffc25ff | 0x00002500
	}

	chain slot_37 {
		meta mark set meta mark & 0xfffc26ff | 0x00002600
	}

	chain slot_38 {
		meta mark set meta mark & 0xfffc27ff | 0x00002700
	}

	chain slot_39 {
		meta mark set meta mark & 0xfffc28ff | 0x00002800
	}

	chain slot_40 {
		meta mark set meta mark & 0xfffc29ff | 0x00002900
	}

	chain slot_41 {
		meta mark set meta mark & 0xfffc2aff | 0x00002a00
	}

	chain slot_42 {
		meta mark set meta mark & 0xfffc2bff | 0x00002b00
	}

	chain slot_43 {
		meta mark set meta mark & 0xfffc2cff | 0x00002c00
	}

	chain slot_44 {
		meta mark set meta mark & 0xfffc2dff | 0x00002d00
	}

	chain slot_45 {
		meta mark set meta mark & 0xfffc2eff | 0x00002e00
	}

	chain slot_46 {
		meta mark set meta mark & 0xfffc2fff | 0x00002f00
	}

	chain slot_47 {
		meta mark set meta mark & 0xfffc30ff | 0x00003000
	}

	chain slot_48 {
		meta mark set meta mark & 0xfffc31ff | 0x00003100
	}

	chain slot_49 {
		meta mark set meta mark & 0xfffc32ff | 0x00003200
	}

	chain slot_50 {
		meta mark set meta mark & 0xfffc33ff | 0x00003300
	}

	chain slot_51 {
		meta mark set meta mark & 0xfffc34ff | 0x00003400
	}

	chain slot_52 {
		meta mark set meta mark & 0xfffc35ff | 0x00003500
	}

	chain slot_53 {
		meta mark set meta mark & 0xfffc36ff | 0x00003600
	}

	chain slot_54 {
		meta mark set meta mark & 0xfffc37ff | 0x00003700
	}

	chain slot_55 {
		meta mark set meta mark & 0xfffc38ff | 0x00003800
	}

	chain slot_56 {
		meta mark set meta mark & 0xfffc39ff | 0x00003900
	}

	chain slot_57 {
		meta mark set meta mark & 0xfffc3aff | 0x00003a00
	}

	chain slot_58 {
		meta mark set meta mark & 0xfffc3bff | 0x00003b00
	}

	chain slot_59 {
		meta mark set meta mark & 0xfffc3cff | 0x00003c00
	}

	chain slot_60 {
		meta mark set meta mark & 0xfffc3dff | 0x00003d00
	}

	chain slot_61 {
		meta mark set meta mark & 0xfffc3eff | 0x00003e00
	}

	chain slot_62 {
		meta mark set meta mark & 0xfffc3fff | 0x00003f00
	}

	chain slot_63 {
		meta mark set meta mark & 0xfffc40ff | 0x00004000
	}

	chain restore_0 {
		meta mark set meta mark & 0x010000ff | 0x01000000
	}

	chain restore_1 {
		meta mark set meta mark & 0x020000ff | 0x02000000
	}

	chain wan_0 {
		ct mark set ct mark & 0x01ffffff | 0x01000000
		masquerade
	}

	chain wan_1 {
		ct mark set ct mark & 0x02ffffff | 0x02000000
		masquerade
	}
}

"""
}
