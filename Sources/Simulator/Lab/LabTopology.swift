import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A router between ISPs and a LAN, built from network namespaces and veth pairs for one test.
///
/// ```
///   LAN ns "lan" 192.168.1.10-59 ── lan0 192.168.1.1 ─ ROUTER ns ─ ethN 100.64.N.2/24 ── "cust" 100.64.N.1  ISP N ns
///                                                                                        lo: 198.18.N.1, 198.18.N.2 (probe targets)
///                                                                                            203.0.113.10, 198.51.100.7 (servers)
/// ```
/// Every ISP holds the same server addresses with an echo server that answers with the ISP's name
/// (`isp0`, `isp1`, ...), so a LAN client learns which uplink carried its connection. All addresses
/// are test addresses that exist only inside these namespaces.
///
/// Namespaces are named `fwlab-<pid>-<6 hex>-<role>`. `remove()` (call it in a `defer`; `withLab`
/// does) stops the processes the lab started and deletes the namespaces; `sweepStale()` deletes those
/// of earlier runs whose test process is gone.
public final class LabTopology: @unchecked Sendable {
    public static let prefix = "fwlab-"
    public static let server = "203.0.113.10"
    /// A second server address, for destination-matching policy routes (`@ipset` of 198.51.100.0/24).
    public static let otherServer = "198.51.100.7"
    public static let lanGateway = "192.168.1.1"
    /// The router's LAN interface.
    public static let lanDevice = "lan0"
    public static let clients = (10...59).map { "192.168.1.\($0)" }
    public static let tcpPorts = [7, 443, 7001, 7002]
    public static let udpPorts = [7, 1194, 5000, 5001]

    /// One ISP: its namespace and what it holds, and the router's WAN towards it.
    public struct ISP: Sendable {
        public let index: Int
        public let namespace: String
        public var name: String { "isp\(index)" }
        /// The router's interface towards this ISP (the config's WAN name).
        public let wan: String
        public let gateway: String
        /// The router's address on this WAN (set by the lab when static, leased by DHCP otherwise).
        public let address: String
        public let prefixLength: Int
        /// Health-check targets, as addresses on the ISP's loopback.
        public let targets: [String]
        /// Server addresses on the ISP's loopback (every ISP holds the same ones).
        public let servers: [String]
        /// A third target address on the ISP's loopback, for checks with three targets.
        public var thirdTarget: String { "198.18.\(index).3" }
    }

    /// What to build: the WANs in order, each ISP's targets, the servers behind every ISP, the
    /// LAN's client addresses, and which ports the echo servers listen on.
    public struct Layout: Sendable {
        public struct WAN: Sendable {
            public var name: String
            public var address: String
            public var gateway: String
            public var prefixLength: Int
            public var targets: [String]
            /// false: the router's side is left without an address (a DHCP client sets it).
            public var staticAddress: Bool
            /// The router's end of the veth: the WAN's name, or a PPPoE WAN's session device
            /// (`ppp-eth1`), which the lab makes itself since this kernel has no PPP.
            public var device: String
            public init(name: String, address: String, gateway: String, prefixLength: Int, targets: [String],
                        staticAddress: Bool = true, device: String? = nil) {
                self.name = name
                self.device = device ?? name
                self.address = address
                self.gateway = gateway
                self.prefixLength = prefixLength
                self.targets = targets
                self.staticAddress = staticAddress
            }
        }
        public var wans: [WAN]
        public var servers: [String] = [LabTopology.server, LabTopology.otherServer]
        public var clients: [String] = LabTopology.clients
        public var tcpPorts: [Int] = LabTopology.tcpPorts
        public var udpPorts: [Int] = LabTopology.udpPorts
        public var httpPorts: [Int] = [LabTopology.httpPort]
        /// The WAN (index) the router's main table's default route points at; nil: none.
        public var mainDefault: Int? = 0
        public init(wans: [WAN]) { self.wans = wans }

        /// `count` WANs named eth0, eth1, ... towards 100.64.N.1/24, with targets 198.18.N.1 and .2.
        public static func numbered(_ count: Int, staticWANs: Set<Int>? = nil) -> Layout {
            Layout(wans: (0..<count).map { i in
                WAN(name: "eth\(i)", address: "100.64.\(i).2", gateway: "100.64.\(i).1", prefixLength: 24,
                    targets: ["198.18.\(i).1", "198.18.\(i).2"], staticAddress: staticWANs?.contains(i) ?? true)
            })
        }
    }

    public let id: String
    public let router: String
    public let lan: String
    public let isps: [ISP]
    public let layout: Layout
    public let directory: URL
    /// When set, `remove()` keeps every process's output there (FWLAB_LOG_DIR does the same).
    public var logDirectory: String? = ProcessInfo.processInfo.environment["FWLAB_LOG_DIR"]
    private var processes: [LabProcess] = []
    private let lock = NSLock()

    /// Builds the lab. `staticWANs` get their address on the router side (as the system's network
    /// config would); the others are left without one (for a DHCP client). `mainDefault`: the WAN
    /// the router's main table's default route points at (nil: none).
    public convenience init(wans: Int = 2, staticWANs: Set<Int>? = nil, mainDefault: Int? = 0, echo: Bool = true) throws {
        var layout = Layout.numbered(wans, staticWANs: staticWANs)
        layout.mainDefault = mainDefault
        try self.init(layout, echo: echo)
    }

    /// Builds the namespaces of `layout`, named `fwlab-<pid>-<6 hex>-<role>`, after sweeping those
    /// of earlier runs whose process is gone. On any failure, what was built is removed again.
    public init(_ layout: Layout, echo: Bool = true) throws {
        Self.sweepStale()
        let id = "\(getpid())-" + String(format: "%06x", UInt32.random(in: 0..<0x100_0000))
        self.id = id
        self.layout = layout
        router = Self.prefix + id + "-router"
        lan = Self.prefix + id + "-lan"
        isps = layout.wans.enumerated().map { i, wan in
            ISP(index: i, namespace: Self.prefix + id + "-isp\(i)", wan: wan.device, gateway: wan.gateway,
                address: wan.address, prefixLength: wan.prefixLength, targets: wan.targets, servers: layout.servers)
        }
        directory = LabShell.scratch.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            try build()
            if echo { try startEchoServers() }
        } catch {
            remove()
            throw error
        }
    }

    private func build() throws {
        for ns in [router, lan] + isps.map(\.namespace) {
            try LabShell.run("ip", "netns", "add", ns)
            try ip(ns, "link set lo up")
        }
        try exec(router, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        // LAN side.
        try LabShell.run("ip", "link", "add", "lan0", "netns", router, "type", "veth", "peer", "name", "lan", "netns", lan)
        try ip(router, "addr add \(Self.lanGateway)/24 dev lan0")
        try ip(router, "link set lan0 up")
        for client in layout.clients { try ip(lan, "addr add \(client)/24 dev lan") }
        try ip(lan, "link set lan up")
        try ip(lan, "route add default via \(Self.lanGateway)")
        // ISPs.
        for isp in isps {
            try LabShell.run("ip", "link", "add", isp.wan, "netns", router, "type", "veth", "peer", "name", "cust",
                             "netns", isp.namespace)
            try ip(isp.namespace, "addr add \(isp.gateway)/\(isp.prefixLength) dev cust")
            try ip(isp.namespace, "link set cust up")
            for address in Self.unique(isp.targets + [isp.thirdTarget] + isp.servers) {
                try ip(isp.namespace, "addr add \(address)/32 dev lo")
            }
            if layout.wans[isp.index].staticAddress {
                try ip(router, "addr add \(isp.address)/\(isp.prefixLength) dev \(isp.wan)")
            }
            try ip(router, "link set \(isp.wan) up")
        }
        if let mainDefault = layout.mainDefault { try setMainDefault(via: mainDefault) }
    }

    static func unique(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }

    // MARK: Running things in the namespaces

    /// `ip -n NS <arguments>`; arguments are split on spaces.
    @discardableResult
    public func ip(_ namespace: String, _ arguments: String) throws -> String {
        try LabShell.run(["ip", "-n", namespace] + arguments.split(separator: " ").map(String.init))
    }

    /// Runs a command inside a namespace.
    @discardableResult
    public func exec(_ namespace: String, _ arguments: [String], input: String? = nil, timeout: Double = 20) throws -> String {
        try LabShell.run(["ip", "netns", "exec", namespace] + arguments, input: input, timeout: timeout)
    }

    /// Starts a long-running process inside a namespace; `remove()` stops it.
    public func spawn(_ label: String, in namespace: String, _ arguments: [String]) throws -> LabProcess {
        let process = try LabProcess(label, ["ip", "netns", "exec", namespace] + arguments)
        lock.withLock { processes.append(process) }
        return process
    }

    public func setMainDefault(via index: Int) throws {
        try ip(router, "route replace default via \(isps[index].gateway) dev \(isps[index].wan)")
    }

    // MARK: DHCP

    /// dnsmasq as ISP `index`'s DHCP server on its `cust` side, leasing from `range`, and udhcpc
    /// on the router's WAN with a hook that does what a distribution's does, minus DNS: the address
    /// and a default route (with `metric`, so several DHCP WANs each keep theirs).
    public func startDHCP(_ index: Int, range: (first: String, last: String), metric: Int = 0) throws
        -> (server: LabProcess, client: LabProcess) {
        let isp = isps[index]
        let leases = directory.appendingPathComponent("dnsmasq-\(index).leases").path
        let server = try spawn("dnsmasq \(isp.name)", in: isp.namespace, [
            "dnsmasq", "--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null", "--port=0",
            "--interface=cust", "--bind-interfaces", "--no-resolv", "--no-hosts", "--user=root", "--group=root",
            "--dhcp-range=\(range.first),\(range.last),255.255.255.0,10m", "--dhcp-option=option:router,\(isp.gateway)",
            "--dhcp-leasefile=\(leases)", "--pid-file=", "--log-dhcp", "--log-facility=-",
        ])
        let script = directory.appendingPathComponent("udhcpc.script").path
        try """
            #!/bin/sh
            PATH=/usr/sbin:/usr/bin:/sbin:/bin
            case "$1" in
              deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
              bound|renew)
                ip addr replace "$ip/$subnet" dev "$interface"
                for r in $router; do ip route replace default via "$r" dev "$interface" metric "${METRIC:-0}"; break; done ;;
            esac
            exit 0
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let client = try spawn("udhcpc \(isp.wan)", in: router,
                               ["env", "METRIC=\(metric)", "udhcpc", "-f", "-i", isp.wan, "-s", script, "-t", "20", "-T", "1"])
        return (server, client)
    }

    // MARK: Faults

    /// The ISP stops forwarding and answering: everything arriving from the router is dropped,
    /// while the link (carrier) stays up.
    public func blackhole(_ index: Int) throws {
        try exec(isps[index].namespace, ["nft", "-f", "-"], input: """
            table inet fwlab_fault {
              chain in {
                type filter hook prerouting priority -300; policy accept;
                iifname "cust" drop
              }
            }
            """)
    }

    /// The cable is pulled: the ISP's end of the veth goes down, so the router's WAN loses carrier.
    public func pullCable(_ index: Int) throws {
        try ip(isps[index].namespace, "link set cust down")
    }

    /// The uplink's device disappears from the router (a USB modem unplugged): both ends of the
    /// veth are deleted.
    public func unplug(_ index: Int) throws {
        try ip(router, "link del \(isps[index].wan)")
    }

    /// A new device with the same name appears (the modem plugged back in): a fresh veth pair, with
    /// a new interface index, addressed as before.
    public func plugIn(_ index: Int, address: Bool = true) throws {
        let isp = isps[index]
        try LabShell.run("ip", "link", "add", isp.wan, "netns", router, "type", "veth", "peer", "name", "cust",
                         "netns", isp.namespace)
        try ip(isp.namespace, "addr add \(isp.gateway)/\(isp.prefixLength) dev cust")
        try ip(isp.namespace, "link set cust up")
        if address { try ip(router, "addr add \(isp.address)/\(isp.prefixLength) dev \(isp.wan)") }
        try ip(router, "link set \(isp.wan) up")
    }

    /// The router's own end of the WAN is taken down and up again (ifdown/ifup, a network service
    /// restart): the kernel deletes every route through the device, in every table, on the way down.
    public func bounceRouterSide(_ index: Int) throws {
        try ip(router, "link set \(isps[index].wan) down")
        try ip(router, "link set \(isps[index].wan) up")
    }

    /// Only these targets of ISP `index` stop answering (echo requests to them are dropped); the
    /// rest of the ISP works. An empty list makes every target answer again.
    public func silence(_ index: Int, targets: [String]) throws {
        let ns = isps[index].namespace
        _ = try? exec(ns, ["nft", "delete", "table", "inet", "fwlab_silence"])
        guard !targets.isEmpty else { return }
        try exec(ns, ["nft", "-f", "-"], input: """
            table inet fwlab_silence {
              chain in {
                type filter hook prerouting priority -300; policy accept;
                iifname "cust" ip daddr { \(targets.joined(separator: ", ")) } icmp type echo-request drop
              }
            }
            """)
    }

    /// Undoes `blackhole` and `pullCable`.
    public func repair(_ index: Int) throws {
        let ns = isps[index].namespace
        _ = try? exec(ns, ["nft", "delete", "table", "inet", "fwlab_fault"])
        try ip(ns, "link set cust up")
    }

    // MARK: Observing the ISPs

    /// Starts counting ICMP echo requests arriving at each ISP, per (source, destination).
    public func watchEchoRequests() throws {
        for isp in isps {
            try exec(isp.namespace, ["nft", "-f", "-"], input: """
                table inet fwlab_watch {
                  set echo {
                    type ipv4_addr . ipv4_addr; flags dynamic; counter;
                  }
                  chain in {
                    type filter hook prerouting priority -400; policy accept;
                    iifname "cust" icmp type echo-request add @echo { ip saddr . ip daddr }
                  }
                }
                """)
        }
    }

    /// Starts counting packets from the router that arrive at ISP `index` and match `match` (nft
    /// syntax, e.g. `tcp dport 7002`), before any fault drops them; `packets(at:counter:)` reads it.
    public func countPackets(at index: Int, _ name: String, matching match: String) throws {
        try exec(isps[index].namespace, ["nft", "-f", "-"], input: """
            table inet fwlab_count_\(name) {
              counter seen { }
              chain in {
                type filter hook prerouting priority -400; policy accept;
                iifname "cust" \(match) counter name seen
              }
            }
            """)
    }

    public func packets(at index: Int, counter name: String) throws -> Int {
        let text = try exec(isps[index].namespace, ["nft", "list", "counter", "inet", "fwlab_count_\(name)", "seen"])
        return text.firstMatch(of: /packets (\d+)/).flatMap { Int($0.1) } ?? -1
    }

    public struct EchoRequests: Equatable, CustomStringConvertible {
        public var source: String
        public var destination: String
        public var packets: Int
        public var description: String { "\(source) > \(destination): \(packets)" }
        public init(source: String, destination: String, packets: Int) {
            self.source = source
            self.destination = destination
            self.packets = packets
        }
    }

    /// Echo requests that arrived at ISP `index` since `watchEchoRequests()`.
    public func echoRequests(at index: Int) throws -> [EchoRequests] {
        let text = try exec(isps[index].namespace, ["nft", "list", "set", "inet", "fwlab_watch", "echo"])
        let pattern = /(\d+\.\d+\.\d+\.\d+) \. (\d+\.\d+\.\d+\.\d+) counter packets (\d+)/
        return text.matches(of: pattern).map {
            EchoRequests(source: String($0.1), destination: String($0.2), packets: Int($0.3) ?? 0)
        }
    }

    // MARK: Echo servers and LAN clients

    /// The lab's traffic ends (servers, clients, the ICMP responder), embedded in the binary and
    /// written to this process's scratch directory once, so the lab needs nothing on disk.
    public static let echoScript: String = {
        let path = LabShell.scratch.appendingPathComponent("echo.py").path
        // A failure to write shows where it matters: python3 names this path when it cannot open it.
        _ = FileManager.default.createFile(atPath: path, contents: Data(PackageResources.echo_py))
        return path
    }()

    /// The HTTP port of every ISP's echo server (for `type = "http"` health checks).
    public static let httpPort = 80

    /// File holding the HTTP status ISP `index` answers with (204 while it does not exist).
    public func httpStatusFile(_ index: Int) -> String {
        directory.appendingPathComponent("http-status-\(index)").path
    }

    /// Makes ISP `index`'s HTTP server answer with `status` (nil: 204 again).
    public func setHTTPStatus(_ index: Int, _ status: Int?) throws {
        if let status {
            try String(status).write(toFile: httpStatusFile(index), atomically: true, encoding: .utf8)
        } else {
            unlink(httpStatusFile(index))
        }
    }

    /// The echo servers' output, per ISP (HTTP requests appear as `http <peer> <path> <status>`).
    public private(set) var echoServers: [LabProcess] = []

    private func startEchoServers() throws {
        var servers: [LabProcess] = []
        for isp in isps {
            servers.append(try spawn("echo \(isp.name)", in: isp.namespace, [
                "python3", Self.echoScript, "serve", "--name", isp.name,
                "--tcp", layout.tcpPorts.map(String.init).joined(separator: ","),
                "--udp", layout.udpPorts.map(String.init).joined(separator: ","),
                "--udp-address", Self.unique(layout.servers).joined(separator: ","),
                "--http", layout.httpPorts.map(String.init).joined(separator: ","),
                "--http-status-file", httpStatusFile(isp.index),
            ]))
        }
        echoServers = servers
        for server in servers {
            let deadline = Date().addingTimeInterval(15)
            while !server.lines.contains("ready") {
                if server.exitStatus != nil || Date() > deadline {
                    throw LabCommandError(command: server.arguments, status: server.exitStatus ?? -1,
                                          output: server.text, timedOut: server.exitStatus == nil)
                }
                usleep(20_000)
            }
        }
    }

    /// One connection a LAN client makes.
    public struct Flow: Encodable, Hashable, CustomStringConvertible {
        public var src: String
        public var proto: String
        public var dst: String
        public var port: Int
        public var description: String { "\(proto) \(src) -> \(dst):\(port)" }

        public static func tcp(_ src: String, _ dst: String = LabTopology.server, _ port: Int = 7) -> Flow {
            Flow(src: src, proto: "tcp", dst: dst, port: port)
        }

        public static func udp(_ src: String, _ dst: String = LabTopology.server, _ port: Int = 5000) -> Flow {
            Flow(src: src, proto: "udp", dst: dst, port: port)
        }
    }

    /// What a flow got: the ISP that answered and the source address it saw, or an error.
    public struct Outcome: Decodable, CustomStringConvertible {
        public var reply: String?
        public var error: String?
        /// `isp0`, `isp1`, ... or nil when there was no answer.
        public var isp: String? { reply.flatMap { $0.split(separator: " ").first.map(String.init) } }
        /// The source address:port the server saw.
        public var seenFrom: String? {
            reply.flatMap { r in r.split(separator: " ").dropFirst().first.map(String.init) }
        }
        public var description: String { reply ?? "error: \(error ?? "?")" }
    }

    /// Makes `flows` from the LAN namespace (or `namespace`, e.g. the router's own traffic with
    /// source "0.0.0.0"), concurrently, and returns their outcomes, in order.
    public func connect(_ flows: [Flow], timeout: Double = 2, concurrency: Int = 50, from namespace: String? = nil) throws -> [Outcome] {
        let input = String(decoding: try JSONEncoder().encode(flows), as: UTF8.self)
        let output = try exec(namespace ?? lan, ["python3", Self.echoScript, "client", "--timeout", String(timeout),
                                    "--concurrency", String(concurrency)],
                              input: input, timeout: 30 + timeout * Double(flows.count) / Double(concurrency))
        return try JSONDecoder().decode([Outcome].self, from: Data(output.utf8))
    }

    /// The ISP that answered one flow, or nil.
    public func isp(for flow: Flow, timeout: Double = 2) throws -> String? {
        try connect([flow], timeout: timeout).first?.isp
    }

    /// Opens a TCP connection from the LAN and keeps it open; `send(_:)` on the process writes a
    /// line through it and its answer appears in `lines`. The first line is the greeting.
    public func hold(_ flow: Flow) throws -> LabProcess {
        try spawn("hold \(flow)", in: lan, ["python3", Self.echoScript, "hold", "--src", flow.src, "--dst", flow.dst,
                                            "--port", String(flow.port)])
    }

    /// Opens a new TCP connection from the LAN every `every` seconds until stopped; each attempt
    /// prints a line (the reply, or `error: ...`).
    public func churn(_ flow: Flow, every: Double = 0.2, timeout: Double = 1) throws -> LabProcess {
        try spawn("churn \(flow)", in: lan, ["python3", Self.echoScript, "churn", "--src", flow.src, "--dst", flow.dst,
                                             "--port", String(flow.port), "--every", String(every),
                                             "--timeout", String(timeout)])
    }

    // MARK: Teardown

    /// Stops every process the lab started (daemon included) and deletes its namespaces.
    public func remove() {
        let started = lock.withLock { processes }
        for process in started.reversed() { process.stop(grace: 2) }
        // FWLAB_LOG_DIR=dir keeps every process's output (daemon logs included) for a look later.
        if let dir = logDirectory {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (n, process) in started.enumerated() {
                let name = "\(id)-\(n)-" + process.label.map { $0.isLetter || $0.isNumber ? $0 : "_" } + ".log"
                try? (process.arguments.joined(separator: " ") + "\n" + process.text + "\n")
                    .write(toFile: dir + "/" + name, atomically: false, encoding: .utf8)
            }
        }
        for ns in Self.namespaces(ofRun: id) { Self.deleteNamespace(ns) }
        try? FileManager.default.removeItem(atPath: Self.netnsEtc + router)
        try? FileManager.default.removeItem(at: directory)
    }

    private static func namespaces(ofRun id: String? = nil) -> [String] {
        let list = (try? LabShell.run("ip", "netns", "list")) ?? ""
        return list.split(separator: "\n").compactMap { line in
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix(prefix) else { return nil }
            if let id, !name.hasPrefix(prefix + id + "-") { return nil }
            return name
        }
    }

    /// Kills what still runs inside (only processes the lab put there) and deletes the namespace.
    private static func deleteNamespace(_ ns: String) {
        let pids = ((try? LabShell.run("ip", "netns", "pids", ns)) ?? "").split(separator: "\n").compactMap { Int32($0) }
        for pid in pids { kill(pid, SIGKILL) }
        _ = try? LabShell.run("ip", "netns", "delete", ns)
        try? FileManager.default.removeItem(atPath: netnsEtc + ns)
    }

    /// `ip netns exec` bind-mounts the files of /etc/netns/NAME/ over /etc inside the namespace.
    static let netnsEtc = "/etc/netns/"

    /// Makes host names resolve to addresses inside the router namespace (an /etc/hosts of its
    /// own, for HTTP checks that name a host): only processes started afterwards see it.
    public func resolve(_ names: [(name: String, address: String)]) throws {
        let dir = Self.netnsEtc + router
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let text = "127.0.0.1 localhost\n" + names.map { "\($0.address) \($0.name)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: dir + "/hosts", atomically: true, encoding: .utf8)
    }

    private static let sweep: Void = sweepStaleNow()

    /// Deletes namespaces that earlier runs of this harness left behind: `fwlab-<pid>-...` whose
    /// test process is gone.
    public static func sweepStaleNow() {
        for ns in namespaces() {
            let parts = ns.dropFirst(prefix.count).split(separator: "-")
            guard let pid = parts.first.flatMap({ Int32($0) }) else { continue }
            if pid == getpid() { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            deleteNamespace(ns)
        }
        // Scratch directories (`LabShell.scratch`) of test processes that are gone.
        let tmp = FileManager.default.temporaryDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] where name.hasPrefix("fwlab-") {
            guard let pid = Int32(name.dropFirst("fwlab-".count)), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            try? FileManager.default.removeItem(at: tmp.appendingPathComponent(name))
        }
    }

    /// `sweepStaleNow()`, once per test process.
    public static func sweepStale() { _ = sweep }
}
