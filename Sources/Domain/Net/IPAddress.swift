/// The two address families: what a route, a rule or a set of the dataplane is for.
public enum IPFamily: Sendable, Hashable, CaseIterable {
    case ipv4, ipv6
}

/// An IPv4 or IPv6 address, parsed without Foundation so the core stays dependency-free.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(high: UInt64, low: UInt64)

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` compression and an embedded IPv4 tail).
    public init?(_ text: String) {
        if text.contains(":") {
            guard let (h, l) = IPAddress.parseV6(Substring(text)) else { return nil }
            self = .v6(high: h, low: l)
        } else {
            guard let v = IPAddress.parseV4(Substring(text)) else { return nil }
            self = .v4(v)
        }
    }

    public var isV4: Bool { if case .v4 = self { true } else { false } }

    public var family: IPFamily { isV4 ? .ipv4 : .ipv6 }

    /// The address `n` further on (wrapping within the family), for `source_count` ranges.
    public func advanced(by n: Int) -> IPAddress {
        switch self {
        case .v4(let v): return .v4(v &+ UInt32(truncatingIfNeeded: n))
        case .v6(let h, let l):
            let (sum, overflow) = l.addingReportingOverflow(UInt64(truncatingIfNeeded: n))
            return .v6(high: overflow ? h &+ 1 : h, low: sum)
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): return x < y
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        case (.v6(let ah, let al), .v6(let bh, let bl)): return (ah, al) < (bh, bl)
        }
    }

    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        case .v6(let h, let l):
            let groups = (0..<8).map { i -> UInt16 in
                let word = i < 4 ? h : l
                return UInt16(truncatingIfNeeded: word >> (UInt64(3 - i % 4) * 16))
            }
            // Compress the longest run of two or more zero groups (RFC 5952).
            var bestStart = -1, bestLen = 0, i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                    i = j
                } else { i += 1 }
            }
            func hex(_ g: ArraySlice<UInt16>) -> String { g.map { String($0, radix: 16) }.joined(separator: ":") }
            if bestStart < 0 { return hex(groups[...]) }
            return hex(groups[..<bestStart]) + "::" + hex(groups[(bestStart + bestLen)...])
        }
    }

    static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let octet = UInt32(part), octet <= 255,
                  !(part.count > 1 && part.first == "0") else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseV6(_ text: Substring) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        let halves = text.components(separatedByString: "::")
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ s: Substring, allowV4Tail: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() {
                if allowV4Tail && index == parts.count - 1 && part.contains(".") {
                    guard let v4 = parseV4(part) else { return nil }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                } else {
                    guard (1...4).contains(part.count), let g = UInt16(part, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        if halves.count == 1 {
            guard let g = parseGroups(halves[0], allowV4Tail: true), g.count == 8 else { return nil }
            groups = g
        } else {
            guard let head = parseGroups(halves[0], allowV4Tail: false),
                  let rest = parseGroups(halves[1], allowV4Tail: true),
                  head.count + rest.count <= 7 else { return nil }
            groups = head
            tail = rest
            groups += Array(repeating: 0, count: 8 - head.count - rest.count) + tail
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(groups[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(groups[i]) }
        return (h, l)
    }
}

extension Substring {
    /// Splits on a multi-character separator (the standard library has only single-element splits).
    func components(separatedByString separator: String) -> [Substring] {
        var result: [Substring] = []
        var start = startIndex
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(separator) {
                result.append(self[start..<index])
                index = self.index(index, offsetBy: separator.count)
                start = index
            } else {
                index = self.index(after: index)
            }
        }
        result.append(self[start..<endIndex])
        return result
    }
}

/// An address prefix such as `192.168.1.0/24`; a bare address is a /32 (or /128).
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        let maxLength = address.isV4 ? 32 : 128
        var length = maxLength
        if parts.count == 2 {
            guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(parts[1]),
                  (0...maxLength).contains(n), !parts[1].isEmpty else { return nil }
            length = n
        }
        self.init(address: address, prefixLength: length)
    }

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public func contains(_ ip: IPAddress) -> Bool {
        switch (address, ip) {
        case (.v4(let net), .v4(let a)):
            if prefixLength == 0 { return true }
            let mask: UInt32 = prefixLength >= 32 ? .max : ~(UInt32.max >> UInt32(prefixLength))
            return net & mask == a & mask
        case (.v6(let nh, let nl), .v6(let ah, let al)):
            func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? .max : ~(UInt64.max >> UInt64(bits)) }
            return nh & mask(prefixLength) == ah & mask(prefixLength)
                && nl & mask(prefixLength - 64) == al & mask(prefixLength - 64)
        default:
            return false
        }
    }

    public var description: String {
        prefixLength == (address.isV4 ? 32 : 128) ? address.description : "\(address)/\(prefixLength)"
    }
}
