@testable import Adapters
import CMnl
import CNftnl

/// Smoke surface for libmnl and libnftnl: the session and objects the nftables adapter is built on.
enum NetfilterProbe {
    /// Opens a NETLINK_NETFILTER session (libmnl opens and binds it, kernel-assigned port id),
    /// closes it, and returns the port id. Opening and binding need no privileges; talking to
    /// nf_tables does.
    static func openNetfilterSocket() throws(SystemError) -> UInt32 {
        try NetlinkSession(bus: NETLINK_NETFILTER).portID
    }

    /// Builds an nftnl table object, sets its name and family, reads them back and frees it.
    static func tableRoundTrip(name: String, family: UInt32 = UInt32(NFPROTO_INET)) -> (name: String?, family: UInt32) {
        guard let table = nftnl_table_alloc() else { return (nil, 0) }
        defer { nftnl_table_free(table) }
        _ = nftnl_table_set_str(table, UInt16(NFTNL_TABLE_NAME.rawValue), name)
        nftnl_table_set_u32(table, UInt16(NFTNL_TABLE_FAMILY.rawValue), family)
        let readName = nftnl_table_get_str(table, UInt16(NFTNL_TABLE_NAME.rawValue)).map { String(cString: $0) }
        let readFamily = nftnl_table_get_u32(table, UInt16(NFTNL_TABLE_FAMILY.rawValue))
        return (readName, readFamily)
    }

    /// Asks nf_tables for its ruleset generation id (NFT_MSG_GETGEN): a full request/response round
    /// trip, parsed by libnftnl, sent and received by a libmnl session. Needs CAP_NET_ADMIN.
    static func rulesetGeneration() throws(SystemError) -> UInt32 {
        let session = try NetlinkSession(bus: NETLINK_NETFILTER)
        guard let gen = nftnl_gen_alloc() else { throw SystemError(operation: "nftnl_gen_alloc", errno: .noMemory) }
        defer { nftnl_gen_free(gen) }
        try session.request(operation: "NFT_MSG_GETGEN") { message in
            message.type = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(NFT_MSG_GETGEN.rawValue)
            message.putNetfilterHeader(family: AF_UNSPEC)
        } _: { (message: NetlinkMessage) throws(SystemError) in
            guard nftnl_gen_nlmsg_parse(message.header, gen) >= 0 else {
                throw SystemError(operation: "nftnl_gen_nlmsg_parse", errno: nil, detail: "cannot parse the answer")
            }
        }
        guard nftnl_gen_is_set(gen, UInt16(NFTNL_GEN_ID)) else {
            throw SystemError(operation: "NFT_MSG_GETGEN", errno: nil, detail: "no generation id in the answer")
        }
        return nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID))
    }
}
