import Domain

/// Builds `table inet flywall` for a `KernelPlan` (docs/dataplane.md, "nftables").
///
/// Every mark write is a constant bitwise update in a small chain chosen by a verdict map: nft 1.0.6
/// cannot OR a looked-up value into the mark, and Flywall must leave bits 0–7 alone.
struct RulesetCompiler {
    let plan: KernelPlan
    private var sets: [NftSet] = []
    private var setNames = Set<String>()

    init(plan: KernelPlan) {
        self.plan = plan
    }

    static let mangle: Int32 = -150
    static let srcnat: Int32 = 100
    static let stickySetSize = 65_535

    mutating func compile() -> NftRuleset {
        let wans = plan.uplinks.sorted { $0.index < $1.index }
        var chains: [NftChain] = []

        // Ipsets of the config, one named set per family.
        var ipsetNames: [String: [NftFamily: String]] = [:]
        for ipset in plan.ipsets {
            for family in NftFamily.allCases {
                ipsetNames[ipset.name, default: [:]][family] =
                    addSet("ipset_" + sanitized(ipset.name) + suffix(family), .prefixes(family, ipset.entries))
            }
        }

        let restore = NftRule([.ctState([.established, .related])], [
            .dispatch(.ctMark(mask: DataplaneMarks.classMask), wans.map {
                NftDispatchEntry(.number(DataplaneMarks.pin(uplink: $0.index)), "restore_\($0.index)")
            }),
        ])
        let classifyNew = NftRule([.ctState(.new)], [.jump("classify")])
        chains.append(NftChain(name: "prerouting", hook: .init(type: .filter, point: .prerouting, priority: Self.mangle), rules: [
            // Replies arriving on a WAN must not be marked, or they would be routed back out of it.
            NftRule([.inputInterface(["lo"] + wans.map(\.device))], [.return]),
            restore, classifyNew,
        ]))
        chains.append(NftChain(name: "output", hook: .init(type: .route, point: .output, priority: Self.mangle), rules: [
            // Probe sockets carry their uplink's pin (SO_MARK): they leave on that uplink, whatever the plan.
            NftRule([.mark(mask: DataplaneMarks.classMask, value: 0, equal: false)], [.return]),
            restore, classifyNew,
        ]))
        chains.append(NftChain(name: "postrouting", hook: .init(type: .nat, point: .postrouting, priority: Self.srcnat), rules: [
            NftRule([], [.dispatch(.outputInterface, wans.map { NftDispatchEntry(.interface($0.device), "wan_\($0.index)") })]),
        ]))

        // classify: policy routes in config order, first match wins; then the default group.
        var classify: [NftRule] = []
        var targetChains: [String] = []
        for (k, policy) in plan.policies.enumerated() {
            let chain = targetChainName(plan.policyTargets[k])
            if !targetChains.contains(chain) { targetChains.append(chain) }
            for matches in policyMatches(policy, index: k, ipsets: ipsetNames) {
                classify.append(NftRule(matches, [.jump(chain)]))
            }
        }
        if let d = plan.defaultGroup { classify.append(NftRule([], [.jump("group_\(d)")])) }
        chains.append(NftChain(name: "classify", rules: classify))

        for name in targetChains {
            guard let target = plan.policyTargets.first(where: { targetChainName($0) == name }) else { continue }
            var rules: [NftRule] = []
            switch target {
            case .uplink(let i, let fallback):
                rules.append(NftRule([], [.setMark(and: ~DataplaneMarks.classMask, or: DataplaneMarks.policy(uplink: i, fallback: fallback))]))
                // The default group's slot rides along: the policy table throws to it while the uplink is down.
                if fallback, let d = plan.defaultGroup { rules.append(NftRule([], [.jump("group_\(d)")])) }
            case .group(let g):
                rules.append(NftRule([], [.jump("group_\(g)")]))
            }
            rules.append(NftRule([], [.accept]))
            chains.append(NftChain(name: name, rules: rules))
        }

        for g in plan.groups {
            var rules: [NftRule] = []
            let entries = (0..<g.slots).map { NftDispatchEntry(.number(UInt32($0)), "slot_\(g.firstSlot + $0)") }
            if g.sticky {
                for family in NftFamily.allCases {
                    rules.append(NftRule([], [.dispatch(.sourceHash(family, modulus: UInt32(g.slots), seed: 0), entries)]))
                }
                for (_, k) in g.stickySlots {
                    for family in NftFamily.allCases {
                        rules.append(NftRule([.address(.source, family, set: stickySetName(k, family))], [
                            .setMark(and: ~DataplaneMarks.stickyMask, or: DataplaneMarks.sticky(slot: k)), .return,
                        ]))
                    }
                }
            } else {
                rules.append(NftRule([], [.dispatch(.random(modulus: UInt32(g.slots)), entries)]))
            }
            chains.append(NftChain(name: "group_\(g.index)", rules: rules))
        }
        for g in plan.groups {
            for s in 0..<g.slots {
                let code = g.firstSlot + s
                chains.append(NftChain(name: "slot_\(code)", rules: [
                    NftRule([], [.setMark(and: ~DataplaneMarks.slotMask, or: DataplaneMarks.hashSlot(code))]),
                ]))
            }
        }
        for u in wans {
            chains.append(NftChain(name: "restore_\(u.index)", rules: [
                NftRule([], [.setMark(and: ~DataplaneMarks.flywallMask, or: DataplaneMarks.pin(uplink: u.index))]),
            ]))
        }

        // Sticky sets: one per (sticky group, member) and family.
        for g in plan.groups where g.sticky {
            let timeout = g.stickyTimeout
            for (_, k) in g.stickySlots {
                for family in NftFamily.allCases {
                    _ = addSet(stickySetName(k, family), .dynamic(family, timeout: timeout, size: Self.stickySetSize))
                }
            }
        }

        for u in wans {
            var rules: [NftRule] = [
                NftRule([], [.setCtMark(and: ~DataplaneMarks.classMask, or: DataplaneMarks.pin(uplink: u.index))]),
            ]
            // Sticky memory of the group that chose this uplink (its slot is in the mark), unless a policy
            // routed the connection here directly.
            var entries: [NftDispatchEntry] = []
            for g in plan.groups {
                guard let (_, k) = g.stickySlots.first(where: { $0.member == u.name }) else { continue }
                entries += (0..<g.slots).map { NftDispatchEntry(.number(DataplaneMarks.hashSlot(g.firstSlot + $0)), "sticky_\(k)") }
            }
            if !entries.isEmpty {
                rules.append(NftRule(
                    [.mark(mask: 0xfe00_0000, value: DataplaneMarks.policy(uplink: u.index, fallback: false), equal: false)],
                    [.dispatch(.mark(mask: DataplaneMarks.slotMask), entries)]))
            }
            // The router's own connections (probes, keepalived's adverts) keep its own address: in
            // an HA pair only the master holds the virtual one (docs/ha.md). Forwarded ones get it.
            if let address = u.natAddress {
                if let own = u.ownNetwork { rules.append(NftRule([.prefix(.source, own)], [.masquerade])) }
                rules.append(NftRule([], [.snat(address)]))
            }
            rules.append(NftRule([], [.masquerade]))
            chains.append(NftChain(name: "wan_\(u.index)", rules: rules))
        }
        for g in plan.groups {
            for (_, k) in g.stickySlots {
                // A source is remembered on one uplink of the group at a time.
                chains.append(NftChain(name: "sticky_\(k)", rules: NftFamily.allCases.map { family in
                    NftRule([], [.updateSet(stickySetName(k, family), family)]
                        + g.stickySlots.filter { $0.slot != k }.map { .deleteFromSet(stickySetName($0.slot, family), family) })
                }))
            }
        }
        return NftRuleset(sets: sets, chains: chains)
    }

    private func targetChainName(_ target: KernelPlan.PolicyTarget) -> String {
        switch target {
        case .uplink(let i, let fallback): "policy_uplink_\(i)" + (fallback ? "_fallback" : "")
        case .group(let g): "policy_group_\(g)"
        }
    }

    private func stickySetName(_ k: Int, _ family: NftFamily) -> String { "sticky_\(k)" + suffix(family) }
    private func suffix(_ family: NftFamily) -> String { family == .ipv4 ? "_v4" : "_v6" }

    /// Set names keep letters, digits and `_`; anything else becomes `_`, and a clash gets a number.
    private func sanitized(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
    }

    @discardableResult
    private mutating func addSet(_ wanted: String, _ kind: NftSet.Kind) -> String {
        var name = wanted, n = 2
        while setNames.contains(name) {
            name = wanted + "_\(n)"
            n += 1
        }
        setNames.insert(name)
        sets.append(NftSet(name: name, kind: kind))
        return name
    }

    /// The rules (their matches) that together match what `ForwardingPlan.Policy.matches` matches: one
    /// rule without addresses, or one per address family that can match. Empty when nothing can.
    private mutating func policyMatches(_ policy: ForwardingPlan.Policy, index k: Int,
                                        ipsets: [String: [NftFamily: String]]) -> [[NftMatch]] {
        var common: [NftMatch] = []
        var protocols = policy.protocols.isEmpty ? nil : Set(policy.protocols)
        if !policy.destPorts.isEmpty {
            // Only TCP and UDP connections have a destination port.
            protocols = (protocols ?? [.tcp, .udp]).intersection([.tcp, .udp])
            if protocols!.isEmpty { return [] }
        }
        if let protocols {
            var numbers: [UInt8] = []
            for p in TransportProtocol.allCases where protocols.contains(p) {
                switch p {
                case .tcp: numbers.append(6)
                case .udp: numbers.append(17)
                case .icmp: numbers += [1, 58]
                }
            }
            common.append(.l4proto(numbers.sorted()))
        }
        if !policy.destPorts.isEmpty { common.append(.destinationPort(policy.destPorts)) }

        // nil: any address; the plan has ipsets already expanded, and names the one ipset a list
        // consists of, which stays a named set.
        let lists: [(NftAddressField, [CIDR], String?, String)] = [
            (.source, policy.sources, policy.sourceSet, "src"),
            (.destination, policy.destinations, policy.destinationSet, "dst"),
        ].compactMap { field, prefixes, set, tag in prefixes.map { (field, $0, set, tag) } }
        if lists.isEmpty { return [common] }

        var out: [[NftMatch]] = []
        for family in NftFamily.allCases {
            var matches = common
            var possible = true
            for (field, list, ipset, tag) in lists {
                let prefixes = list.filter { family.includes($0.address) }
                if prefixes.isEmpty { possible = false; break }
                if let name = ipset, let set = ipsets[name]?[family] {
                    matches.append(.address(field, family, set: set))
                } else if prefixes.count == 1 {
                    // A /0 matches every address of the family: the family check alone says it.
                    if prefixes[0].prefixLength > 0 { matches.append(.prefix(field, prefixes[0])) }
                    else { matches.append(.address(field, family, set: addSet("policy_\(k)_\(tag)" + suffix(family), .prefixes(family, prefixes)))) }
                } else {
                    let set = addSet("policy_\(k)_\(tag)" + suffix(family), .prefixes(family, prefixes))
                    matches.append(.address(field, family, set: set))
                }
            }
            if possible { out.append(matches) }
        }
        return out
    }
}
