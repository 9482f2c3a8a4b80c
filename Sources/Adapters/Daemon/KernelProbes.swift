import Domain
import Synchronization

/// The real probes: ICMP echo and HTTP(S) checks, each bound and marked to its own uplink.
/// Results go straight to the core loop's input queue.
public final class KernelProbes: ProbeSending {
    private let icmp: ICMPProber
    private let http: HTTPProber
    private let uplinks = Mutex<[String: ProbeBinding]>([:])

    public init(inputs: DaemonInputQueue) throws {
        icmp = try ICMPProber { result in inputs.push(.core(result.event)) }
        http = try HTTPProber { result in inputs.push(.core(result.event)) }
    }

    public func configure(_ bindings: [ProbeBinding]) throws {
        let wanted = Dictionary(bindings.map { ($0.interface, $0) }, uniquingKeysWith: { first, _ in first })
        let current = uplinks.withLock { $0 }
        for (name, binding) in current where wanted[name].map(ProbeUplink.init) != ProbeUplink(binding) {
            icmp.detach(interface: binding.device)
        }
        for (name, binding) in wanted.sorted(by: { $0.key < $1.key })
        where current[name].map(ProbeUplink.init) != ProbeUplink(binding) {
            try icmp.attach(ProbeUplink(binding), ipv6: binding.ipv6)
        }
        uplinks.withLock { $0 = wanted }
    }

    public func send(_ request: ProbeRequest) {
        guard let binding = uplinks.withLock({ $0[request.id.interface] }) else { return }
        switch request.target {
        case .icmp: icmp.send(request, via: ProbeUplink(binding))
        case .http: http.send(request, via: ProbeUplink(binding), caFile: binding.caFile)
        }
    }

    /// Stops the probers' threads; later sends are dropped.
    public func shutdown() {
        icmp.shutdown()
        http.shutdown()
    }
}

extension ProbeUplink {
    /// Bound to the binding's device: a PPPoE WAN's probes leave by its session's interface.
    init(_ binding: ProbeBinding) { self.init(interface: binding.device, index: binding.index) }
}
