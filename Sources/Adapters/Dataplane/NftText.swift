import Domain

/// A closed range of big-endian keys (addresses or ports) of an interval set.
struct NftInterval: Sendable, Equatable {
    var lower: [UInt8]
    var upper: [UInt8]

    /// Sorts and merges overlapping and adjacent ranges, so the elements written are canonical and
    /// neither nft nor the kernel has anything left to merge (or to reject as overlapping).
    static func normalized(_ ranges: [NftInterval]) -> [NftInterval] {
        let sorted = ranges.sorted { $0.lower.lexicographicallyPrecedes($1.lower) }
        var out: [NftInterval] = []
        for r in sorted {
            if let last = out.last {
                // A range that reaches the top of the key space absorbs everything after it.
                guard let next = successor(last.upper) else { continue }
                if !next.lexicographicallyPrecedes(r.lower) {
                    if last.upper.lexicographicallyPrecedes(r.upper) { out[out.count - 1].upper = r.upper }
                    continue
                }
            }
            out.append(r)
        }
        return out
    }

    /// The key one above, or nil at the top of the key space.
    static func successor(_ key: [UInt8]) -> [UInt8]? {
        var k = key
        for i in k.indices.reversed() {
            if k[i] == 0xff { k[i] = 0 } else { k[i] += 1; return k }
        }
        return nil
    }

    static func addresses(_ prefixes: [CIDR], family: NftFamily) -> [NftInterval] {
        normalized(prefixes.filter { family.includes($0.address) }.map { cidr in
            let bytes = addressBytes(cidr.address)
            var lower = bytes, upper = bytes
            for bit in cidr.prefixLength..<(bytes.count * 8) {
                lower[bit / 8] &= ~(0x80 >> UInt8(bit % 8))
                upper[bit / 8] |= 0x80 >> UInt8(bit % 8)
            }
            return NftInterval(lower: lower, upper: upper)
        })
    }

    static func ports(_ ranges: [PortRange]) -> [NftInterval] {
        normalized(ranges.map {
            NftInterval(lower: [UInt8($0.lower >> 8), UInt8($0.lower & 0xff)],
                        upper: [UInt8($0.upper >> 8), UInt8($0.upper & 0xff)])
        })
    }

    static func addressBytes(_ address: IPAddress) -> [UInt8] {
        switch address {
        case .v4(let v): return (0..<4).map { UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * $0)) }
        case .v6(let h, let l):
            return (0..<8).map { UInt8(truncatingIfNeeded: h >> UInt64(56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: l >> UInt64(56 - 8 * $0)) }
        }
    }

    static func address(_ bytes: [UInt8]) -> IPAddress {
        if bytes.count == 4 { return .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) }) }
        let h = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let l = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return .v6(high: h, low: l)
    }

    /// `10.0.0.0/8`, `1.2.3.4` or `1.2.3.4-1.2.3.9`, as nft reads it.
    var addressText: String {
        let bits = lower.count * 8
        for length in 0...bits {
            let cidr = CIDR(address: NftInterval.address(lower), prefixLength: length)
            if NftInterval.addresses([cidr], family: lower.count == 4 ? .ipv4 : .ipv6) == [self] {
                return cidr.description
            }
        }
        return "\(NftInterval.address(lower))-\(NftInterval.address(upper))"
    }

    var portText: String {
        let lo = UInt16(lower[0]) << 8 | UInt16(lower[1]), hi = UInt16(upper[0]) << 8 | UInt16(upper[1])
        return lo == hi ? "\(lo)" : "\(lo)-\(hi)"
    }

    func contains(_ key: [UInt8]) -> Bool {
        !key.lexicographicallyPrecedes(lower) && !upper.lexicographicallyPrecedes(key)
    }
}

extension NftRuleset {
    /// The ruleset as `nft -f` input: `table inet flywall { ... }`. Loading this text with nft builds
    /// the same kernel objects as `NftablesTransport` does (the Nftables tests compare the two).
    public var text: String {
        var out = "table inet \(NftRuleset.tableName) {\n"
        for set in sets { out += set.text }
        for chain in chains { out += chain.text }
        out += "}\n"
        return out
    }
}

extension NftSet {
    var text: String {
        var out = "\tset \(name) {\n"
        switch kind {
        case .prefixes(let family, let prefixes):
            out += "\t\ttype \(family == .ipv4 ? "ipv4_addr" : "ipv6_addr")\n\t\tflags interval\n"
            let elements = NftInterval.addresses(prefixes, family: family)
            if !elements.isEmpty {
                out += "\t\telements = { " + elements.map(\.addressText).joined(separator: ", ") + " }\n"
            }
        case .dynamic(let family, let timeout, let size):
            out += "\t\ttype \(family == .ipv4 ? "ipv4_addr" : "ipv6_addr")\n\t\tsize \(size)\n"
            out += "\t\tflags dynamic,timeout\n\t\ttimeout \(timeout.nftMilliseconds)ms\n"
        }
        return out + "\t}\n"
    }
}

extension CIDR {
    /// The prefix with its host bits cleared, as nft prints it.
    var canonical: CIDR {
        let bytes = NftInterval.addresses([self], family: address.isV4 ? .ipv4 : .ipv6)[0].lower
        return CIDR(address: NftInterval.address(bytes), prefixLength: prefixLength)
    }
}

extension Duration {
    /// Whole milliseconds (nft's timeout resolution), at least 1.
    var nftMilliseconds: UInt64 {
        let (s, atto) = components
        return max(1, UInt64(max(0, s)) * 1000 + UInt64(max(0, atto)) / 1_000_000_000_000_000)
    }
}

extension NftChain {
    var text: String {
        var out = "\tchain \(name) {\n"
        if let hook {
            out += "\t\ttype \(hook.type.rawValue) hook \(hook.point.rawValue) priority \(hook.priority); policy accept;\n"
        }
        for rule in rules { out += "\t\t\(rule.text)\n" }
        return out + "\t}\n"
    }
}

extension NftRule {
    /// One line of nft syntax.
    public var text: String {
        (matches.map(\.text) + statements.map(\.text)).joined(separator: " ")
    }
}

func hex(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

/// `{ a, b }` for several elements, `a` for one (nft turns a one-element anonymous set into a plain
/// comparison; writing it that way keeps text and batch identical).
func braced(_ items: [String]) -> String {
    items.count == 1 ? items[0] : "{ " + items.joined(separator: ", ") + " }"
}

func protocolName(_ p: UInt8) -> String {
    switch p {
    case 6: "tcp"
    case 17: "udp"
    case 1: "icmp"
    case 58: "ipv6-icmp"
    default: "\(p)"
    }
}

extension NftMatch {
    var text: String {
        switch self {
        case .inputInterface(let names): "iifname " + braced(names.map { "\"\($0)\"" })
        case .ctState(let s):
            "ct state " + [(NftCtState.established, "established"), (.related, "related"), (.new, "new")]
                .filter { s.contains($0.0) }.map(\.1).joined(separator: ",")
        case .mark(let mask, let value, let equal): "meta mark & \(hex(mask)) \(equal ? "==" : "!=") \(hex(value))"
        case .l4proto(let protos): "meta l4proto " + braced(protos.map(protocolName))
        case .destinationPort(let ranges): "th dport " + braced(NftInterval.ports(ranges).map(\.portText))
        case .address(let field, let family, let set):
            "\(family.keyword) \(field == .source ? "saddr" : "daddr") @\(set)"
        case .prefix(let field, let cidr):
            "\(cidr.address.isV4 ? "ip" : "ip6") \(field == .source ? "saddr" : "daddr") \(cidr.canonical)"
        }
    }
}

extension NftDispatchKey {
    var text: String {
        switch self {
        case .random(let n): "numgen random mod \(n)"
        case .sourceHash(let f, let n, let seed): "jhash \(f.keyword) saddr mod \(n) seed \(hex(seed))"
        case .ctMark(let mask): "ct mark & \(hex(mask))"
        case .mark(let mask): "meta mark & \(hex(mask))"
        case .outputInterface: "oifname"
        }
    }
}

extension NftStatement {
    var text: String {
        switch self {
        case .setMark(let a, let o): "meta mark set meta mark & \(hex(a)) | \(hex(o))"
        case .setCtMark(let a, let o): "ct mark set ct mark & \(hex(a)) | \(hex(o))"
        case .dispatch(let key, let entries):
            key.text + " vmap { " + entries.map { e in
                let k: String
                switch e.key {
                case .number(let n):
                    switch key {
                    case .ctMark, .mark: k = hex(n)
                    default: k = "\(n)"
                    }
                case .interface(let name): k = "\"\(name)\""
                }
                return "\(k) : jump \(e.chain)"
            }.joined(separator: ", ") + " }"
        case .updateSet(let set, let f): "update @\(set) { \(f.keyword) saddr }"
        case .deleteFromSet(let set, let f): "delete @\(set) { \(f.keyword) saddr }"
        case .masquerade: "masquerade"
        case .snat(let address): "meta nfproto ipv4 snat ip to \(address)"
        case .jump(let chain): "jump \(chain)"
        case .accept: "accept"
        case .return: "return"
        }
    }
}
