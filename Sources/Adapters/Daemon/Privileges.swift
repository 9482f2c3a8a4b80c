#if canImport(Glibc)
import Glibc
#endif

/// What the daemon needs from the kernel: CAP_NET_ADMIN (nftables, rules, routes, conntrack) and
/// CAP_NET_RAW (raw ICMP sockets, SO_BINDTODEVICE). Checked up front for a clear message instead
/// of an EPERM from the middle of start-up.
public enum Privileges {
    static let netAdmin = 12
    static let netRaw = 13

    /// Names of the missing capabilities; empty when the process has both.
    public static func missing() -> [String] {
        guard let effective = effectiveCapabilities() else { return geteuid() == 0 ? [] : ["CAP_NET_ADMIN", "CAP_NET_RAW"] }
        var names: [String] = []
        if effective & (1 << netAdmin) == 0 { names.append("CAP_NET_ADMIN") }
        if effective & (1 << netRaw) == 0 { names.append("CAP_NET_RAW") }
        return names
    }

    /// The CapEff line of /proc/self/status.
    static func effectiveCapabilities() -> UInt64? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("CapEff:") {
                return UInt64(text.dropFirst(7).trimmingCharacters(), radix: 16)
            }
        }
        return nil
    }
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" { s.removeLast() }
        return s
    }
}
