import CNetlinkRoute
import CPcap

/// Versions of the C libraries Flywall is linked against, as they report themselves at run time.
/// libmnl and libnftnl have no version call; `NetfilterProbe` shows that they answer.
struct LibraryVersions: Sendable, Equatable, CustomStringConvertible {
    /// libnl-3's run-time version, e.g. "3.7.0".
    var libnl: String
    /// `pcap_lib_version()`, e.g. "libpcap version 1.10.3 (with TPACKET_V3)".
    var libpcap: String

    static var current: LibraryVersions {
        LibraryVersions(
            libnl: "\(nl_ver_maj).\(nl_ver_min).\(nl_ver_mic)",
            libpcap: String(cString: pcap_lib_version())
        )
    }

    var description: String { "libnl \(libnl); \(libpcap)" }
}
