import Domain
import Synchronization

/// The real probes: ICMP echo and HTTP checks, each bound and marked to its own uplink.
/// Results go straight to the daemon's inbox.
public final class KernelProbes: ProbeSending {
    private let icmp: ICMPProber
    private let http: HTTPProber
    private let uplinks = Mutex<[String: ProbeUplink]>([:])

    public init(inbox: DaemonInbox) throws {
        icmp = try ICMPProber { result in inbox.push(.core(result.event)) }
        http = try HTTPProber { result in inbox.push(.core(result.event)) }
    }

    public func configure(uplinks newUplinks: [ForwardingPlan.Uplink], config: FlywallConfig) throws {
        let wanted = Dictionary(uniqueKeysWithValues: newUplinks.map { ($0.name, ProbeUplink(interface: $0.name, index: $0.index)) })
        let current = uplinks.withLock { $0 }
        for (name, uplink) in current where wanted[name] != uplink {
            icmp.detach(interface: uplink.interface)
        }
        for (name, uplink) in wanted.sorted(by: { $0.key < $1.key }) where current[name] != uplink {
            let needsIPv6 = config.healthCheck(for: name)?.targets.contains { !$0.isV4 } ?? false
            try icmp.attach(uplink, ipv6: needsIPv6)
        }
        uplinks.withLock { $0 = wanted }
    }

    public func send(_ request: ProbeRequest) {
        guard let uplink = uplinks.withLock({ $0[request.id.interface] }) else { return }
        switch request.target {
        case .icmp: icmp.send(request, via: uplink)
        case .http: http.send(request, via: uplink)
        }
    }

    public func shutdown() {
        icmp.shutdown()
        http.shutdown()
    }
}
