#if canImport(Glibc)
import Glibc
#endif
import CMnl
import CNftnl
import Synchronization

/// Sends Flywall's ruleset to nf_tables through libnftnl and libmnl. Touches only `table inet flywall`.
///
/// Every change is one atomic batch (`NFNL_MSG_BATCH_BEGIN` ... `END`): the kernel applies all of it or
/// none of it, so a rejected rule leaves the previous ruleset in place. The netlink socket belongs to
/// the network namespace it was opened in. Calls are serialised.
public final class NftablesTransport: Sendable {
    private let session: Mutex<NetlinkSession>

    /// Opens and binds the NETLINK_NETFILTER socket. Changing the ruleset needs CAP_NET_ADMIN.
    public init() throws(SystemError) {
        session = Mutex(try NetlinkSession(bus: NETLINK_NETFILTER))
    }

    /// Replaces `table inet flywall` with `ruleset` in one batch: (create the table if missing,) delete
    /// it, create it again with every set, chain and rule. The deletion costs the kernel an RCU grace
    /// period, so this is the config-reload path, never the failover path.
    public func replaceRuleset(_ ruleset: NftRuleset) throws(SystemError) {
        var batch = NftBatch()
        batch.deleteTableIfPresent()
        batch.add(ruleset)
        try commit(batch, operation: "replace table inet flywall")
    }

    /// Deletes `table inet flywall` if it exists (SIGTERM, or cleaning up after a crashed run).
    public func removeTable() throws(SystemError) {
        var batch = NftBatch()
        batch.deleteTableIfPresent()
        try commit(batch, operation: "remove table inet flywall")
    }

    /// Whether `table inet flywall` exists: NFT_MSG_GETTABLE answers with the table, or ENOENT.
    public func tableExists() throws(SystemError) -> Bool {
        do throws(SystemError) {
            return try session.withLock { session throws(SystemError) -> Bool in
                let table = NftBatch.table()
                defer { nftnl_table_free(table) }
                var found = false
                try session.request(operation: "get table inet flywall") { message in
                    message.type = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(NFT_MSG_GETTABLE.rawValue)
                    message.putNetfilterHeader(family: Int32(NftBatch.family))
                    nftnl_table_nlmsg_build_payload(message.header, table)
                } _: { _ in found = true }
                return found
            }
        } catch where error.errno == .noSuchFileOrDirectory {
            return false
        }
    }

    /// Sends the batch as one transaction and throws the first error the kernel reported, naming
    /// the object it rejected ("commit" when the transaction as a whole failed).
    private func commit(_ batch: NftBatch, operation: String) throws(SystemError) {
        var (bytes, objects, lastSeq) = batch.finished()
        // The last object message (before END) asks for an ack: its arrival proves the batch was
        // processed; errors come unasked.
        let acknowledged = lastSeq - 1
        if let offset = NftBatch.offsetOfMessage(in: bytes, seq: acknowledged) {
            bytes.withUnsafeMutableBytes { raw in
                let header = raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: nlmsghdr.self)
                header.pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
            }
        }
        let errors = try session.withLock { session throws(SystemError) in
            try bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) in try session.commit(raw, acknowledged: acknowledged, operation: operation) }
            }.get()
        }
        guard let (sequence, ack) = errors.first else { return }
        var error = SystemError.netlink(operation, on: sequence == batch.firstSeq ? "commit" : objects[sequence], ack)
        if errors.count > 1 {
            error.detail = (error.detail.map { "\($0) " } ?? "") + "(and \(errors.count - 1) more error(s))"
        }
        throw error
    }
}

// MARK: - Batch building

/// Netlink messages of one batch in one contiguous buffer, with a description of each message's
/// object for error reports (keyed by sequence number).
struct NftBatch {
    static let family = UInt16(NFPROTO_INET)
    private(set) var bytes: [UInt8] = []
    private(set) var objects: [UInt32: String] = [:]
    private(set) var firstSeq: UInt32 = 0
    private var seq: UInt32 = 0
    /// Batch-local set ids (NFTA_SET_ID), which rules use to find anonymous sets of the same batch.
    private var anonymousSetID: UInt32 = 0
    private var scratch = [UInt8](repeating: 0, count: 1 << 16)

    init(startingAt seq: UInt32 = 1) {
        self.seq = seq
        firstSeq = seq
        append("batch begin") { buf, seq in nftnl_batch_begin(buf, seq) }
    }

    /// The batch with its END message.
    func finished() -> (bytes: [UInt8], objects: [UInt32: String], lastSeq: UInt32) {
        var copy = self
        copy.append("batch end") { buf, seq in nftnl_batch_end(buf, seq) }
        return (copy.bytes, copy.objects, copy.seq - 1)
    }

    /// Builds one message into the scratch buffer and appends it (netlink-aligned).
    private mutating func append(_ object: String, _ build: (UnsafeMutablePointer<CChar>, UInt32) -> UnsafeMutablePointer<nlmsghdr>?) {
        let s = seq
        seq += 1
        objects[s] = object
        scratch.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            guard let nlh = build(base, s) else { return }
            let length = Int(nlh.pointee.nlmsg_len)
            let aligned = (length + 3) & ~3
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: raw.baseAddress, count: aligned))
        }
    }

    private mutating func message(_ type: UInt32, flags: Int32, object: String,
                                  payload: (UnsafeMutablePointer<nlmsghdr>) -> Void) {
        append(object) { buf, seq in
            guard let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type), NftBatch.family, UInt16(flags), seq) else { return nil }
            payload(nlh)
            return nlh
        }
    }

    static func table() -> OpaquePointer {
        let t = nftnl_table_alloc()!
        nftnl_table_set_u32(t, UInt16(NFTNL_TABLE_FAMILY.rawValue), UInt32(NFPROTO_INET))
        _ = nftnl_table_set_str(t, UInt16(NFTNL_TABLE_NAME.rawValue), NftRuleset.tableName)
        return t
    }

    /// Where the message numbered `seq` starts in a finished batch's bytes.
    static func offsetOfMessage(in buffer: [UInt8], seq: UInt32) -> Int? {
        buffer.withUnsafeBytes { raw -> Int? in
            var offset = 0
            while offset + MemoryLayout<nlmsghdr>.size <= raw.count {
                let nlh = raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: nlmsghdr.self)
                if nlh.pointee.nlmsg_seq == seq { return offset }
                offset += (Int(nlh.pointee.nlmsg_len) + 3) & ~3
            }
            return nil
        }
    }

    /// NEWTABLE then DELTABLE: deleting a table that does not exist would fail the whole batch.
    mutating func deleteTableIfPresent() {
        let t = NftBatch.table()
        defer { nftnl_table_free(t) }
        message(NFT_MSG_NEWTABLE.rawValue, flags: NLM_F_CREATE, object: "table inet flywall") { nftnl_table_nlmsg_build_payload($0, t) }
        message(NFT_MSG_DELTABLE.rawValue, flags: 0, object: "table inet flywall") { nftnl_table_nlmsg_build_payload($0, t) }
    }

    mutating func add(_ ruleset: NftRuleset) {
        let t = NftBatch.table()
        message(NFT_MSG_NEWTABLE.rawValue, flags: NLM_F_CREATE, object: "table inet flywall") { nftnl_table_nlmsg_build_payload($0, t) }
        nftnl_table_free(t)
        for set in ruleset.sets { addNamedSet(set) }
        // Chains before rules: verdict maps and jumps need their target chains.
        for chain in ruleset.chains { addChain(chain) }
        for chain in ruleset.chains {
            for (i, rule) in chain.rules.enumerated() {
                addRule(rule, chain: chain.name, object: "rule \(i + 1) of chain \(chain.name): \(rule.text)")
            }
        }
    }

    private mutating func addChain(_ chain: NftChain) {
        let c = nftnl_chain_alloc()!
        defer { nftnl_chain_free(c) }
        nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_FAMILY.rawValue), UInt32(NFPROTO_INET))
        _ = nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue), NftRuleset.tableName)
        _ = nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue), chain.name)
        if let hook = chain.hook {
            let hooknum: UInt32 = switch hook.point {
            case .prerouting: NF_INET_PRE_ROUTING.rawValue
            case .output: NF_INET_LOCAL_OUT.rawValue
            case .postrouting: NF_INET_POST_ROUTING.rawValue
            }
            nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), hooknum)
            nftnl_chain_set_s32(c, UInt16(NFTNL_CHAIN_PRIO.rawValue), hook.priority)
            _ = nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TYPE.rawValue), hook.type.rawValue)
            nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_POLICY.rawValue), UInt32(NF_ACCEPT))
        }
        message(NFT_MSG_NEWCHAIN.rawValue, flags: NLM_F_CREATE, object: "chain \(chain.name)") { nftnl_chain_nlmsg_build_payload($0, c) }
    }

    // MARK: Sets

    /// nft's datatype ids and byte orders, so that `nft list` shows Flywall's sets as nft would.
    enum KeyType {
        case ipv4, ipv6, port, l4proto, ifname, integer, mark

        var id: UInt32 {
            switch self {
            case .ipv4: 7
            case .ipv6: 8
            case .port: 13
            case .l4proto: 12
            case .ifname: 41
            case .integer: 4
            case .mark: 19
            }
        }
        var length: UInt32 {
            switch self {
            case .ipv4: 4
            case .ipv6: 16
            case .port: 2
            case .l4proto: 1
            case .ifname: 16
            case .integer, .mark: 4
            }
        }
        /// nft's BYTEORDER_HOST_ENDIAN (1) or BYTEORDER_BIG_ENDIAN (2).
        var byteorder: UInt32 {
            switch self {
            case .ipv4, .ipv6, .port, .l4proto: 2
            case .ifname, .integer, .mark: 1
            }
        }
    }

    /// A set object with the attributes every Flywall set has.
    private static func newSet(name: String, key: KeyType, flags: UInt32) -> OpaquePointer {
        let s = nftnl_set_alloc()!
        _ = nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), NftRuleset.tableName)
        _ = nftnl_set_set_str(s, UInt16(NFTNL_SET_NAME.rawValue), name)
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_FAMILY.rawValue), UInt32(NFPROTO_INET))
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_FLAGS.rawValue), flags)
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_TYPE.rawValue), key.id)
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_LEN.rawValue), key.length)
        return s
    }

    private static func setUserData(_ s: OpaquePointer, key: KeyType, isMap: Bool) {
        let ud = nftnl_udata_buf_alloc(64)!
        defer { nftnl_udata_buf_free(ud) }
        _ = nftnl_udata_put_u32(ud, UInt8(NFTNL_UDATA_SET_KEYBYTEORDER.rawValue), key.byteorder)
        // Verdicts have no byte order (nft writes BYTEORDER_INVALID).
        if isMap { _ = nftnl_udata_put_u32(ud, UInt8(NFTNL_UDATA_SET_DATABYTEORDER.rawValue), 0) }
        _ = nftnl_set_set_data(s, UInt16(NFTNL_SET_USERDATA.rawValue), nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud))
    }

    /// Interval elements as the kernel's interval sets want them: a start element per range and an
    /// end element (flagged) one past it; a leading end element at zero, as nft writes it.
    private static func intervalElements(_ ranges: [NftInterval]) -> [(key: [UInt8], end: Bool)] {
        guard let first = ranges.first else { return [] }
        var out: [([UInt8], Bool)] = []
        if first.lower.contains(where: { $0 != 0 }) { out.append(([UInt8](repeating: 0, count: first.lower.count), true)) }
        for r in ranges {
            out.append((r.lower, false))
            if let next = NftInterval.successor(r.upper) { out.append((next, true)) }
        }
        return out
    }

    private mutating func addElements(_ set: OpaquePointer, _ elements: [(key: [UInt8], end: Bool, chain: String?)], object: String) {
        // Element lists are nested netlink attributes (16-bit lengths): send them in slices, each
        // through a fresh set object that names the same set.
        var start = 0
        repeat {
            let slice = elements[start..<min(start + 512, elements.count)]
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            for attr in [NFTNL_SET_TABLE, NFTNL_SET_NAME] {
                _ = nftnl_set_set_str(s, UInt16(attr.rawValue), nftnl_set_get_str(set, UInt16(attr.rawValue)))
            }
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_FAMILY.rawValue), UInt32(NFPROTO_INET))
            if nftnl_set_is_set(set, UInt16(NFTNL_SET_ID.rawValue)) {
                nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), nftnl_set_get_u32(set, UInt16(NFTNL_SET_ID.rawValue)))
            }
            for e in slice {
                let elem = nftnl_set_elem_alloc()!
                e.key.withUnsafeBytes { _ = nftnl_set_elem_set(elem, UInt16(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count)) }
                if e.end { nftnl_set_elem_set_u32(elem, UInt16(NFTNL_SET_ELEM_FLAGS), NFT_SET_ELEM_INTERVAL_END.rawValue) }
                if let chain = e.chain {
                    nftnl_set_elem_set_u32(elem, UInt16(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: NFT_JUMP.rawValue))
                    _ = nftnl_set_elem_set_str(elem, UInt16(NFTNL_SET_ELEM_CHAIN), chain)
                }
                nftnl_set_elem_add(s, elem)
            }
            message(NFT_MSG_NEWSETELEM.rawValue, flags: NLM_F_CREATE, object: "elements of \(object)") { nftnl_set_elems_nlmsg_build_payload($0, s) }
            start += slice.count
        } while start < elements.count
    }

    private mutating func addNamedSet(_ set: NftSet) {
        let object = "set \(set.name)"
        // The kernel wants a batch-local id on every new set, named or not.
        anonymousSetID += 1
        let id = anonymousSetID
        switch set.kind {
        case .prefixes(let family, let prefixes):
            let key: KeyType = family == .ipv4 ? .ipv4 : .ipv6
            let s = NftBatch.newSet(name: set.name, key: key, flags: NFT_SET_INTERVAL.rawValue)
            defer { nftnl_set_free(s) }
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), id)
            NftBatch.setUserData(s, key: key, isMap: false)
            message(NFT_MSG_NEWSET.rawValue, flags: NLM_F_CREATE, object: object) { nftnl_set_nlmsg_build_payload($0, s) }
            let elements = NftBatch.intervalElements(NftInterval.addresses(prefixes, family: family))
            if !elements.isEmpty { addElements(s, elements.map { ($0.key, $0.end, nil) }, object: object) }
        case .dynamic(let family, let timeout, let size):
            let key: KeyType = family == .ipv4 ? .ipv4 : .ipv6
            let s = NftBatch.newSet(name: set.name, key: key, flags: NFT_SET_TIMEOUT.rawValue | NFT_SET_EVAL.rawValue)
            defer { nftnl_set_free(s) }
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), id)
            nftnl_set_set_u64(s, UInt16(NFTNL_SET_TIMEOUT.rawValue), timeout.nftMilliseconds)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_DESC_SIZE.rawValue), UInt32(size))
            NftBatch.setUserData(s, key: key, isMap: false)
            message(NFT_MSG_NEWSET.rawValue, flags: NLM_F_CREATE, object: object) { nftnl_set_nlmsg_build_payload($0, s) }
        }
    }

    /// Adds an anonymous constant set (or verdict map) for a rule and returns its batch id.
    private mutating func addAnonymousSet(key: KeyType, interval: Bool, elements: [(key: [UInt8], end: Bool, chain: String?)],
                                          isMap: Bool, object: String) -> UInt32 {
        anonymousSetID += 1
        let id = anonymousSetID
        var flags = NFT_SET_ANONYMOUS.rawValue | NFT_SET_CONSTANT.rawValue
        if interval { flags |= NFT_SET_INTERVAL.rawValue }
        if isMap { flags |= NFT_SET_MAP.rawValue }
        let s = NftBatch.newSet(name: isMap ? "__map%d" : "__set%d", key: key, flags: flags)
        defer { nftnl_set_free(s) }
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), id)
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_DESC_SIZE.rawValue), UInt32(elements.count))
        if isMap {
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_DATA_TYPE.rawValue), NFT_DATA_VERDICT.rawValue)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_DATA_LEN.rawValue), 0)
        }
        NftBatch.setUserData(s, key: key, isMap: isMap)
        message(NFT_MSG_NEWSET.rawValue, flags: NLM_F_CREATE, object: "anonymous set of \(object)") { nftnl_set_nlmsg_build_payload($0, s) }
        addElements(s, elements, object: "anonymous set of \(object)")
        return id
    }

    // MARK: Rules

    private mutating func addRule(_ rule: NftRule, chain: String, object: String) {
        let r = nftnl_rule_alloc()!
        defer { nftnl_rule_free(r) }
        nftnl_rule_set_u32(r, UInt16(NFTNL_RULE_FAMILY.rawValue), UInt32(NFPROTO_INET))
        _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), NftRuleset.tableName)
        _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), chain)
        var exprs = RuleExpressions(rule: r)
        for m in rule.matches { compile(m, into: &exprs, object: object) }
        for s in rule.statements { compile(s, into: &exprs, object: object) }
        message(NFT_MSG_NEWRULE.rawValue, flags: NLM_F_CREATE | NLM_F_APPEND, object: object) { nftnl_rule_nlmsg_build_payload($0, r) }
    }

    private mutating func compile(_ m: NftMatch, into e: inout RuleExpressions, object: String) {
        switch m {
        case .inputInterface(let names):
            e.meta(load: NFT_META_IIFNAME)
            let keys = names.map(NftBatch.ifname)
            if keys.count == 1 {
                e.cmp(.eq, keys[0])
            } else {
                e.lookup(set: addAnonymousSet(key: .ifname, interval: false, elements: keys.map { ($0, false, nil) }, isMap: false, object: object))
            }
        case .ctState(let states):
            e.ct(load: NFT_CT_STATE)
            e.bitwise(and: states.rawValue, xor: 0)
            e.cmp(.neq, le32(0))
        case .mark(let mask, let value, let equal):
            e.meta(load: NFT_META_MARK)
            e.bitwise(and: mask, xor: 0)
            e.cmp(equal ? .eq : .neq, le32(value))
        case .l4proto(let numbers):
            e.meta(load: NFT_META_L4PROTO)
            if numbers.count == 1 {
                e.cmp(.eq, [numbers[0]])
            } else {
                e.lookup(set: addAnonymousSet(key: .l4proto, interval: false, elements: numbers.map { ([$0], false, nil) }, isMap: false, object: object))
            }
        case .destinationPort(let ranges):
            e.payload(base: NFT_PAYLOAD_TRANSPORT_HEADER, offset: 2, length: 2)
            let intervals = NftInterval.ports(ranges)
            if intervals.count == 1 {
                if intervals[0].lower == intervals[0].upper {
                    e.cmp(.eq, intervals[0].lower)
                } else {
                    e.cmp(.gte, intervals[0].lower)
                    e.cmp(.lte, intervals[0].upper)
                }
            } else {
                let elements = NftBatch.intervalElements(intervals).map { ($0.key, $0.end, String?.none) }
                e.lookup(set: addAnonymousSet(key: .port, interval: true, elements: elements, isMap: false, object: object))
            }
        case .address(let field, let family, let set):
            e.require(family)
            let offset: UInt32 = switch (family, field) {
            case (.ipv4, .source): 12
            case (.ipv4, .destination): 16
            case (.ipv6, .source): 8
            case (.ipv6, .destination): 24
            }
            e.payload(base: NFT_PAYLOAD_NETWORK_HEADER, offset: offset, length: family == .ipv4 ? 4 : 16)
            e.lookup(named: set)
        case .prefix(let field, let cidr):
            // As nft encodes a prefix: a whole-byte prefix loads just those bytes; any other loads the
            // address and masks it.
            let family: NftFamily = cidr.address.isV4 ? .ipv4 : .ipv6
            e.require(family)
            let offset: UInt32 = switch (family, field) {
            case (.ipv4, .source): 12
            case (.ipv4, .destination): 16
            case (.ipv6, .source): 8
            case (.ipv6, .destination): 24
            }
            let full = NftInterval.addressBytes(cidr.canonical.address)
            if cidr.prefixLength % 8 == 0 {
                e.payload(base: NFT_PAYLOAD_NETWORK_HEADER, offset: offset, length: UInt32(cidr.prefixLength / 8))
                e.cmp(.eq, Array(full.prefix(cidr.prefixLength / 8)))
            } else {
                var mask = [UInt8](repeating: 0, count: full.count)
                for bit in 0..<cidr.prefixLength { mask[bit / 8] |= 0x80 >> UInt8(bit % 8) }
                e.payload(base: NFT_PAYLOAD_NETWORK_HEADER, offset: offset, length: UInt32(full.count))
                e.bitwise(mask: mask, xor: [UInt8](repeating: 0, count: full.count))
                e.cmp(.eq, full)
            }
        }
    }

    private mutating func compile(_ s: NftStatement, into e: inout RuleExpressions, object: String) {
        switch s {
        case .setMark(let and, let or):
            e.meta(load: NFT_META_MARK)
            e.bitwise(and: and & ~or, xor: or)
            e.metaSet(NFT_META_MARK)
        case .setCtMark(let and, let or):
            e.ct(load: NFT_CT_MARK)
            e.bitwise(and: and & ~or, xor: or)
            e.ctSet(NFT_CT_MARK)
        case .dispatch(let key, let entries):
            let keyType: NftBatch.KeyType
            switch key {
            case .random(let n):
                e.numgen(modulus: n)
                keyType = .integer
            case .sourceHash(let family, let n, let seed):
                e.require(family)
                e.payload(base: NFT_PAYLOAD_NETWORK_HEADER, offset: family == .ipv4 ? 12 : 8, length: family == .ipv4 ? 4 : 16, register: 2)
                e.jhash(length: family == .ipv4 ? 4 : 16, modulus: n, seed: seed)
                keyType = .integer
            case .ctMark(let mask):
                e.ct(load: NFT_CT_MARK)
                e.bitwise(and: mask, xor: 0)
                keyType = .mark
            case .mark(let mask):
                e.meta(load: NFT_META_MARK)
                e.bitwise(and: mask, xor: 0)
                keyType = .mark
            case .outputInterface:
                e.meta(load: NFT_META_OIFNAME)
                keyType = .ifname
            }
            let elements = entries.map { entry -> ([UInt8], Bool, String?) in
                switch entry.key {
                case .number(let n): (le32(n), false, entry.chain)
                case .interface(let name): (NftBatch.ifname(name), false, entry.chain)
                }
            }
            e.lookup(set: addAnonymousSet(key: keyType, interval: false, elements: elements, isMap: true, object: object), verdict: true)
        case .updateSet(let set, let family), .deleteFromSet(let set, let family):
            e.require(family)
            e.payload(base: NFT_PAYLOAD_NETWORK_HEADER, offset: family == .ipv4 ? 12 : 8, length: family == .ipv4 ? 4 : 16)
            if case .updateSet = s { e.dynset(set, op: NFT_DYNSET_OP_UPDATE) } else { e.dynset(set, op: NFT_DYNSET_OP_DELETE) }
        case .masquerade:
            e.add(nftnl_expr_alloc("masq")!)
        case .snat(let address):
            guard case .v4(let v4) = address else { break }
            e.require(.ipv4)
            e.immediate(data: withUnsafeBytes(of: v4.bigEndian) { Array($0) }, register: 1)
            let x = nftnl_expr_alloc("nat")!
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_NAT_TYPE), UInt32(NFT_NAT_SNAT.rawValue))
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_NAT_FAMILY), UInt32(NFPROTO_IPV4))
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_NAT_REG_ADDR_MIN), 1)
            e.add(x)
        case .jump(let chain): e.verdict(NFT_JUMP.rawValue, chain: chain)
        case .accept: e.verdict(Int32(NF_ACCEPT))
        case .return: e.verdict(NFT_RETURN.rawValue)
        }
    }

    /// An interface name as nft keys it: IFNAMSIZ bytes, zero-padded.
    static func ifname(_ name: String) -> [UInt8] {
        var bytes = Array(name.utf8.prefix(15))
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        return bytes
    }
}

/// A u32 in host (little-endian) order, as registers hold marks and hash results.
func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

/// Appends expressions to one rule.
struct RuleExpressions {
    let rule: OpaquePointer
    private var family: NftFamily?

    init(rule: OpaquePointer) { self.rule = rule }

    enum CmpOp { case eq, neq, gte, lte }

    func add(_ expr: OpaquePointer) { nftnl_rule_add_expr(rule, expr) }

    /// The `meta nfproto` check nft puts before the first ip/ip6 expression of a rule.
    mutating func require(_ f: NftFamily) {
        guard family == nil else { return }
        family = f
        meta(load: NFT_META_NFPROTO)
        cmp(.eq, [UInt8(f == .ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6)])
    }

    func meta(load key: nft_meta_keys, register: UInt32 = 1) {
        let x = nftnl_expr_alloc("meta")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_META_KEY), key.rawValue)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_META_DREG), register)
        add(x)
    }

    func metaSet(_ key: nft_meta_keys) {
        let x = nftnl_expr_alloc("meta")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_META_KEY), key.rawValue)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_META_SREG), 1)
        add(x)
    }

    func ct(load key: nft_ct_keys) {
        let x = nftnl_expr_alloc("ct")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_CT_KEY), key.rawValue)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_CT_DREG), 1)
        add(x)
    }

    func ctSet(_ key: nft_ct_keys) {
        let x = nftnl_expr_alloc("ct")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_CT_KEY), key.rawValue)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_CT_SREG), 1)
        add(x)
    }

    func bitwise(and mask: UInt32, xor: UInt32) {
        let x = nftnl_expr_alloc("bitwise")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_SREG), 1)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_DREG), 1)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_LEN), 4)
        set(x, UInt16(NFTNL_EXPR_BITWISE_MASK), le32(mask))
        set(x, UInt16(NFTNL_EXPR_BITWISE_XOR), le32(xor))
        add(x)
    }

    func bitwise(mask: [UInt8], xor: [UInt8]) {
        let x = nftnl_expr_alloc("bitwise")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_SREG), 1)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_DREG), 1)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_LEN), UInt32(mask.count))
        set(x, UInt16(NFTNL_EXPR_BITWISE_MASK), mask)
        set(x, UInt16(NFTNL_EXPR_BITWISE_XOR), xor)
        add(x)
    }

    func cmp(_ op: CmpOp, _ data: [UInt8]) {
        let x = nftnl_expr_alloc("cmp")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_CMP_SREG), 1)
        let code: nft_cmp_ops = switch op {
        case .eq: NFT_CMP_EQ
        case .neq: NFT_CMP_NEQ
        case .gte: NFT_CMP_GTE
        case .lte: NFT_CMP_LTE
        }
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_CMP_OP), code.rawValue)
        set(x, UInt16(NFTNL_EXPR_CMP_DATA), data)
        add(x)
    }

    func payload(base: nft_payload_bases, offset: UInt32, length: UInt32, register: UInt32 = 1) {
        let x = nftnl_expr_alloc("payload")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_PAYLOAD_DREG), register)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_PAYLOAD_BASE), base.rawValue)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_PAYLOAD_LEN), length)
        add(x)
    }

    /// A lookup in an anonymous set of this batch; `verdict`: a verdict map (jump on match).
    func lookup(set id: UInt32, verdict: Bool = false) {
        let x = nftnl_expr_alloc("lookup")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_LOOKUP_SREG), 1)
        _ = nftnl_expr_set_str(x, UInt16(NFTNL_EXPR_LOOKUP_SET), verdict ? "__map%d" : "__set%d")
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_LOOKUP_SET_ID), id)
        if verdict { nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_LOOKUP_DREG), 0) }
        add(x)
    }

    func lookup(named set: String) {
        let x = nftnl_expr_alloc("lookup")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_LOOKUP_SREG), 1)
        _ = nftnl_expr_set_str(x, UInt16(NFTNL_EXPR_LOOKUP_SET), set)
        add(x)
    }

    func numgen(modulus: UInt32) {
        let x = nftnl_expr_alloc("numgen")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_NG_DREG), 1)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_NG_MODULUS), modulus)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_NG_TYPE), NFT_NG_RANDOM.rawValue)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_NG_OFFSET), 0)
        add(x)
    }

    func jhash(length: UInt32, modulus: UInt32, seed: UInt32) {
        let x = nftnl_expr_alloc("hash")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_HASH_SREG), 2)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_HASH_DREG), 1)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_HASH_LEN), length)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_HASH_MODULUS), modulus)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_HASH_SEED), seed)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_HASH_OFFSET), 0)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_HASH_TYPE), NFT_HASH_JENKINS.rawValue)
        add(x)
    }

    func dynset(_ set: String, op: nft_dynset_ops) {
        let x = nftnl_expr_alloc("dynset")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_DYNSET_SREG_KEY), 1)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_DYNSET_OP), op.rawValue)
        _ = nftnl_expr_set_str(x, UInt16(NFTNL_EXPR_DYNSET_SET_NAME), set)
        add(x)
    }

    /// `immediate reg = data` (a constant loaded for the next expression, e.g. a NAT address).
    func immediate(data: [UInt8], register: UInt32) {
        let x = nftnl_expr_alloc("immediate")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_DREG), register)
        set(x, UInt16(NFTNL_EXPR_IMM_DATA), data)
        add(x)
    }

    func verdict(_ code: Int32, chain: String? = nil) {
        let x = nftnl_expr_alloc("immediate")!
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_DREG), 0)
        nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: code))
        if let chain { _ = nftnl_expr_set_str(x, UInt16(NFTNL_EXPR_IMM_CHAIN), chain) }
        add(x)
    }

    private func set(_ x: OpaquePointer, _ attr: UInt16, _ data: [UInt8]) {
        data.withUnsafeBytes { _ = nftnl_expr_set(x, attr, $0.baseAddress, UInt32($0.count)) }
    }
}
