#if canImport(Glibc)
import Glibc
#endif
import CMnl
import CNftnl

/// Smoke surface for libmnl and libnftnl: the sockets and objects the nftables adapter is built on.
public enum NetfilterProbe {
    /// Opens a NETLINK_NETFILTER socket with libmnl, binds it (kernel-assigned port id), closes it,
    /// and returns the port id. Opening and binding need no privileges; talking to nf_tables does.
    public static func openNetfilterSocket() throws(AdapterError) -> UInt32 {
        guard let nl = mnl_socket_open(NETLINK_NETFILTER) else { throw .errno("mnl_socket_open") }
        defer { mnl_socket_close(nl) }
        guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else { throw .errno("mnl_socket_bind") }
        return mnl_socket_get_portid(nl)
    }

    /// Builds an nftnl table object, sets its name and family, reads them back and frees it.
    public static func tableRoundTrip(name: String, family: UInt32 = UInt32(NFPROTO_INET)) -> (name: String?, family: UInt32) {
        guard let table = nftnl_table_alloc() else { return (nil, 0) }
        defer { nftnl_table_free(table) }
        _ = nftnl_table_set_str(table, UInt16(NFTNL_TABLE_NAME.rawValue), name)
        nftnl_table_set_u32(table, UInt16(NFTNL_TABLE_FAMILY.rawValue), family)
        let readName = nftnl_table_get_str(table, UInt16(NFTNL_TABLE_NAME.rawValue)).map { String(cString: $0) }
        let readFamily = nftnl_table_get_u32(table, UInt16(NFTNL_TABLE_FAMILY.rawValue))
        return (readName, readFamily)
    }

    /// Asks nf_tables for its ruleset generation id (NFT_MSG_GETGEN): a full request/response round
    /// trip, built and parsed by libnftnl, sent and received by libmnl. Needs CAP_NET_ADMIN.
    public static func rulesetGeneration() throws(AdapterError) -> UInt32 {
        guard let nl = mnl_socket_open(NETLINK_NETFILTER) else { throw .errno("mnl_socket_open") }
        defer { mnl_socket_close(nl) }
        guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else { throw .errno("mnl_socket_bind") }
        let portID = mnl_socket_get_portid(nl)

        let bufferSize = 8192
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { buffer.deallocate() }
        let seq = UInt32(truncatingIfNeeded: time(nil))
        guard let nlh = nftnl_nlmsg_build_hdr(
            buffer.assumingMemoryBound(to: CChar.self), UInt16(NFT_MSG_GETGEN.rawValue),
            UInt16(AF_UNSPEC), UInt16(NLM_F_ACK), seq
        ) else { throw AdapterError(operation: "nftnl_nlmsg_build_hdr", code: 0, message: "no header") }
        guard mnl_socket_sendto(nl, nlh, Int(nlh.pointee.nlmsg_len)) >= 0 else { throw .errno("mnl_socket_sendto") }

        guard let gen = nftnl_gen_alloc() else { throw AdapterError(operation: "nftnl_gen_alloc", code: ENOMEM, message: "out of memory") }
        defer { nftnl_gen_free(gen) }
        let callback: mnl_cb_t = { header, data in
            guard let header, let data else { return MNL_CB_ERROR }
            return nftnl_gen_nlmsg_parse(header, OpaquePointer(data)) < 0 ? MNL_CB_ERROR : MNL_CB_OK
        }
        while true {
            let n = mnl_socket_recvfrom(nl, buffer, bufferSize)
            guard n >= 0 else { throw .errno("mnl_socket_recvfrom") }
            let rc = mnl_cb_run(buffer, n, seq, portID, callback, UnsafeMutableRawPointer(gen))
            if rc == MNL_CB_ERROR { throw .errno("mnl_cb_run") }
            if rc == MNL_CB_STOP { break }
        }
        guard nftnl_gen_is_set(gen, UInt16(NFTNL_GEN_ID)) else {
            throw AdapterError(operation: "NFT_MSG_GETGEN", code: 0, message: "no generation id in the answer")
        }
        return nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID))
    }
}
