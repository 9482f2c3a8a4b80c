import Adapters
import Domain
import Simulator

/// What a scenario needs built and sent, worked out before anything runs: the topology (one ISP
/// per WAN, in config order), host names for HTTP checks, and every new connection of the
/// `traffic` blocks with its time, addresses and the source port that will identify it.
struct LabPlan: Sendable {
    struct Connection: Sendable {
        var offset: Duration
        var traffic: String
        var source: IPAddress
        var sourcePort: UInt16
        var proto: TransportProtocol
        var destination: IPAddress
        var destinationPort: UInt16
        /// Port the scenario gave (nil: none, so the flow record carries none either).
        var declaredPort: UInt16?
    }

    var layout: LabTopology.Layout
    var connections: [Connection]
    var hostNames: [(name: String, address: String)]
    /// The config's policy routes and groups, for which policy or group a flow belongs to.
    var routing: ForwardingPlan

    /// Where a host name of an HTTP check URL points: a server address every ISP holds.
    static let httpHostAddress = "203.0.113.80"
    static let defaultTCPPort: UInt16 = 443
    static let defaultUDPPort: UInt16 = 5000

    init(_ scenario: Scenario) {
        let config = scenario.config
        var servers = [LabTopology.server, LabTopology.otherServer]
        var httpPorts: Set<Int> = [LabTopology.httpPort]
        var hostNames: [(name: String, address: String)] = []
        var wans: [LabTopology.Layout.WAN] = []
        for (index, wan) in config.wans.enumerated() {
            let check = config.healthCheck(for: wan.name)
            let targets = (check?.targets ?? []).filter(\.isV4).map(\.description)
            if let check, check.kind == .http, let text = check.url, let url = try? HTTPProbeURL(text) {
                httpPorts.insert(Int(url.port))
                if IPAddress(url.host) != nil {
                    servers.append(url.host)
                } else if !hostNames.contains(where: { $0.name == url.host }) {
                    hostNames.append((url.host, Self.httpHostAddress))
                    servers.append(Self.httpHostAddress)
                }
            }
            wans.append(Self.addressing(wan, index: index, targets: targets))
        }
        var tcpPorts: Set<Int> = Set(LabTopology.tcpPorts), udpPorts: Set<Int> = Set(LabTopology.udpPorts)
        var clients = LabTopology.clients
        var connections: [Connection] = []
        var port = 0
        for traffic in scenario.traffic where traffic.rate > 0 && traffic.rate.isFinite && !traffic.sources.isEmpty {
            let destinations = traffic.destinations.isEmpty ? [IPAddress("198.51.100.1")!] : traffic.destinations
            servers += destinations.map(\.description)
            let dport = traffic.destPort ?? (traffic.proto == .udp ? Self.defaultUDPPort : Self.defaultTCPPort)
            if traffic.proto == .udp { udpPorts.insert(Int(dport)) } else { tcpPorts.insert(Int(dport)) }
            clients += traffic.sources.map(\.description)
            let start = traffic.start ?? .zero
            let stop = min(scenario.duration, traffic.stop ?? scenario.duration)
            var ordinal = 0
            while connections.count <= LabRun.maximumConnections {
                let offset = start + .nanoseconds(Int64((Double(ordinal) * 1e9 / traffic.rate).rounded()))
                guard offset < stop else { break }
                connections.append(Connection(
                    offset: offset, traffic: traffic.name, source: traffic.sources[ordinal % traffic.sources.count],
                    sourcePort: UInt16(LabRun.firstSourcePort + port % LabRun.sourcePorts), proto: traffic.proto,
                    destination: destinations[ordinal % destinations.count], destinationPort: dport,
                    declaredPort: traffic.destPort))
                ordinal += 1
                port += 1
            }
        }
        connections.sort { $0.offset < $1.offset }
        var layout = LabTopology.Layout(wans: wans)
        layout.servers = LabTopology.unique(servers)
        layout.clients = LabTopology.unique(clients)
        layout.tcpPorts = tcpPorts.sorted()
        layout.udpPorts = udpPorts.sorted()
        layout.httpPorts = httpPorts.sorted()
        layout.mainDefault = wans.firstIndex(where: \.staticAddress)
        self.layout = layout
        self.connections = connections
        self.hostNames = hostNames
        self.routing = Self.referencePlan(config)
    }

    /// The config's own address and gateway for a static WAN; DHCP and PPPoE WANs get
    /// 100.64.N.2/24 behind 100.64.N.1 (N = 1, 2, ... in config order), leased by the ISP's dnsmasq
    /// for DHCP and set by the lab for PPPoE (this kernel has no PPP: the lab names the router's veth
    /// after the session's device, `ppp-eth1`, and hands the daemon a stand-in pppd that holds it).
    static func addressing(_ wan: Interface, index: Int, targets: [String]) -> LabTopology.Layout.WAN {
        if let address = wan.address, case .v4(let a) = address.address {
            let mask: UInt32 = address.prefixLength == 0 ? 0 : ~(UInt32.max >> UInt32(address.prefixLength))
            let first = (a & mask) | 1
            let gateway = wan.gateway?.description ?? IPAddress.v4(first == a ? first + 1 : first).description
            return .init(name: wan.name, address: IPAddress.v4(a).description, gateway: gateway,
                         prefixLength: address.prefixLength, targets: targets)
        }
        let n = index + 1
        return .init(name: wan.name, address: "100.64.\(n).2", gateway: "100.64.\(n).1", prefixLength: 24,
                     targets: targets, staticAddress: !wan.dhcp, device: wan.device)
    }

    /// The plan the core applies with every WAN up: only its policy routes and groups are used,
    /// to say which policy matched a flow and which group's sticky memory it belongs to.
    static func referencePlan(_ config: FlywallConfig) -> ForwardingPlan {
        var core = MultiWANStateMachine(config: config)
        for (index, wan) in config.wans.enumerated() {
            let a = addressing(wan, index: index, targets: [])
            _ = core.handle(.addressLearned(interface: wan.device, address: CIDR(address: IPAddress(a.address)!, prefixLength: a.prefixLength),
                                            gateway: IPAddress(a.gateway)), at: .zero)
            _ = core.handle(.carrier(interface: wan.device, up: true), at: .zero)
        }
        _ = core.handle(.tick, at: .zero)
        return core.plan
    }

    /// The policy route that matches a connection, and the group whose choice it is otherwise.
    func classify(_ c: Connection) -> (policy: String?, group: String?) {
        let flow = Flow(source: c.source, destination: c.destination, proto: c.proto, destPort: c.declaredPort)
        if let policy = routing.policies.first(where: { $0.matches(flow) }) { return (policy.name, nil) }
        return (nil, routing.route(flow).group)
    }
}
