@testable import Adapters
import CPcap

/// Smoke surface for libpcap without privileges: compile a BPF filter against a dead handle.
enum PcapProbe {
    /// Compiles `filter` for Ethernet frames and returns the number of BPF instructions it became.
    static func compiledInstructionCount(_ filter: String, snaplen: Int32 = 262_144) throws(SystemError) -> Int {
        guard let handle = pcap_open_dead(DLT_EN10MB, snaplen) else {
            throw .pcap("pcap_open_dead", on: "dead handle", "no handle")
        }
        defer { pcap_close(handle) }
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw .pcap("pcap_compile", on: "dead handle", String(cString: pcap_geterr(handle)))
        }
        defer { pcap_freecode(&program) }
        return Int(program.bf_len)
    }
}
