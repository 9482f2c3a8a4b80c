#if canImport(Glibc)
import Glibc
#endif
import CMnl
import Domain
import Synchronization
import SystemPackage

/// What the kernel says about one watched interface now.
public struct InterfaceState: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    /// The interface index, nil while no interface has this name.
    public var index: Int32?
    /// Administratively up and operationally running (`IFF_UP` and `IFF_RUNNING`: carrier present
    /// and, for 802.1X or similar, not dormant). A missing interface has no carrier.
    public var carrier: Bool
    /// The interface's primary address: its first global primary IPv4 address, else its first
    /// global, settled IPv6 address.
    public var address: CIDR?
    /// The next hop of the interface's IPv4 default route in the main table (the one a DHCP
    /// client or the operator installs), lowest metric first. Nil for a default route without a
    /// gateway (point-to-point) and when there is no default route on the interface.
    public var gateway: IPAddress?
    /// The same for IPv6: the router a router advertisement named (the kernel installs its
    /// default route with `proto ra`), a DHCPv6 client's or the operator's.
    public var ipv6Gateway: IPAddress?

    public init(name: String, index: Int32?, carrier: Bool, address: CIDR?, gateway: IPAddress?, ipv6Gateway: IPAddress? = nil) {
        self.name = name
        self.index = index
        self.carrier = carrier
        self.address = address
        self.gateway = gateway
        self.ipv6Gateway = ipv6Gateway
    }

    public var description: String {
        "\(name)[\(index.map(String.init) ?? "-")] carrier \(carrier ? "up" : "down"), address \(address?.description ?? "-"), gateway \(gateway?.description ?? "-"), IPv6 gateway \(ipv6Gateway?.description ?? "-")"
    }
}

/// Watches carrier, addresses and main-table default routes of the given interfaces over rtnetlink
/// and reports changes as core events.
///
/// On creation it subscribes to the kernel's link, address and route notifications (IPv4 and
/// IPv6), then reads the current state, and `events` starts with one `.carrier` event per watched
/// interface, an `.addressLearned` event for each that has an address or IPv4 gateway and an
/// `.ipv6GatewayLearned` event for each with an IPv6 default route, so the daemon knows the
/// state at start. After that, an event comes only when something it reports
/// changed. A receive thread reads the notifications; when the kernel dropped some (the socket's
/// queue overflowed) or when it removes routes silently (interface down, address removed), the
/// monitor reads the state again and reports the differences.
public final class LinkMonitor: Sendable {
    private let loop: LinkMonitorLoop
    private let thread: Mutex<pthread_t?>

    /// Starts watching `interfaces` (names; they need not exist yet). Needs no privileges.
    ///
    /// `onEvent` gets the events in the order they happened (the daemon pushes them to its input
    /// queue); `onError` hears of failures of the receive thread (it goes on after them, re-reading
    /// the kernel's state where that helps). Both are called on the receive thread or in `watch`,
    /// never concurrently, and must be quick.
    public init(interfaces: some Sequence<String>, onEvent: @escaping @Sendable (CoreEvent) -> Void,
                onError: @escaping @Sendable (SystemError) -> Void = { _ in }) throws(SystemError) {
        let loop = try LinkMonitorLoop(interfaces: Set(interfaces), onEvent: onEvent, onError: onError)
        self.loop = loop
        try loop.resynchronise(links: true, addresses: true, routes: true)
        thread = Mutex(try DedicatedThread.start(name: "flywall-link") { loop.run() })
    }

    deinit { stop() }

    /// Replaces the set of watched interfaces (on a config reload). Newly watched interfaces are
    /// reported as at start; interfaces no longer watched are forgotten silently.
    public func watch(_ interfaces: some Sequence<String>) {
        loop.watch(Set(interfaces))
    }

    /// The current state of every watched interface, sorted by name.
    public var states: [InterfaceState] { loop.states }

    /// Stops the receive thread; no event is reported after it returns. The sockets close when the
    /// monitor goes.
    /// Idempotent.
    public func stop() {
        guard let running = thread.withLock({ handle -> pthread_t? in
            defer { handle = nil }
            return handle
        }) else { return }
        loop.requestStop()
        DedicatedThread.join(running)
    }
}

// MARK: - The receive loop

/// The sockets and the receive loop. The sockets are used by the monitor's init, then only by the
/// receive thread; the tracked state is behind a mutex because `watch` and `states` read it too.
final class LinkMonitorLoop: @unchecked Sendable {
    private let notifications: NetlinkSession
    private let queries: NetlinkSession
    private let tracker: Mutex<LinkTracker>
    private let onEvent: @Sendable (CoreEvent) -> Void
    private let onError: @Sendable (SystemError) -> Void
    /// Wakes the receive thread for `stop()`.
    private let wakeup: Wakeup

    init(interfaces: Set<String>, onEvent: @escaping @Sendable (CoreEvent) -> Void,
         onError: @escaping @Sendable (SystemError) -> Void) throws(SystemError) {
        notifications = try NetlinkSession(bus: NETLINK_ROUTE, receiveBufferBytes: 4 << 20)
        // Subscribe before the first dump so that nothing between the dump and the loop is missed.
        for group in [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE] {
            try notifications.subscribe(group: group.rawValue)
        }
        queries = try NetlinkSession(bus: NETLINK_ROUTE)
        wakeup = try Wakeup()
        tracker = Mutex(LinkTracker(watched: interfaces))
        self.onEvent = onEvent
        self.onError = onError
    }

    deinit { wakeup.close() }

    var states: [InterfaceState] {
        tracker.withLock { tracker in tracker.watched.sorted().map { tracker.view(of: $0) } }
    }

    func watch(_ interfaces: Set<String>) {
        tracker.withLock { tracker in
            tracker.watched = interfaces
            publish(tracker.takeEvents())
        }
    }

    /// Called with the tracker locked, so that events from `watch` and from the receive thread
    /// reach `onEvent` in the order the tracker produced them.
    private func publish(_ events: [CoreEvent]) {
        for event in events { onEvent(event) }
    }

    func requestStop() {
        wakeup.wake()
    }


    /// Reads the named parts of the kernel's state again and reports what changed.
    func resynchronise(links: Bool, addresses: Bool, routes: Bool) throws(SystemError) {
        var fresh = LinkTracker.Snapshot()
        if links {
            fresh.links = [:]
            try dump(RTM_GETLINK, ifinfomsg(), reset: { fresh.links = [:] }) { update in
                if case .link(let index, let link) = update { fresh.links?[index] = link }
            }
        }
        if addresses {
            fresh.addresses = [:]
            try dump(RTM_GETADDR, ifaddrmsg(), reset: { fresh.addresses = [:] }) { update in
                if case .address(let index, let address, true) = update { fresh.addresses?[index, default: []].append(address) }
            }
        }
        if routes {
            fresh.routes = []
            for family in [AF_INET, AF_INET6] {
                let request = rtmsg(rtm_family: UInt8(family), rtm_dst_len: 0, rtm_src_len: 0, rtm_tos: 0, rtm_table: 0,
                                    rtm_protocol: 0, rtm_scope: 0, rtm_type: 0, rtm_flags: 0)
                var part: [LinkTracker.DefaultRoute] = []
                do {
                    try dump(RTM_GETROUTE, request, reset: { part = [] }) { update in
                        if case .defaultRoutes(let found, true, _) = update { part += found }
                    }
                } catch where family == AF_INET6 && error.errno == .addressFamilyNotSupported {
                    continue  // IPv6 disabled at boot
                }
                fresh.routes! += part
            }
        }
        tracker.withLock { tracker in
            tracker.replace(with: fresh)
            publish(tracker.takeEvents())
        }
    }

    private func dump<Header>(_ type: Int, _ header: Header, reset: () -> Void, _ body: (LinkUpdate) -> Void) throws(SystemError) {
        try queries.dump(operation: "rtnetlink dump \(type)", reset: reset, build: { message in
            message.type = UInt16(type)
            message.putFamilyHeader(header)
        }) { (message: NetlinkMessage) throws(SystemError) in
            if let update = LinkUpdate(message) { body(update) }
        }
    }

    /// The receive thread's body: returns after `requestStop()`.
    func run() {
        var fds = [pollfd(fd: notifications.fileDescriptor, events: Int16(POLLIN), revents: 0),
                   wakeup.pollDescriptor]
        while true {
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                report(.lastErrno("poll(rtnetlink)"))
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            do {
                var updates: [LinkUpdate] = []
                try notifications.receive { (message: NetlinkMessage) throws(SystemError) in
                    if let update = LinkUpdate(message) { updates.append(update) }
                }
                let routesMayHaveVanished = tracker.withLock { tracker in
                    var vanished = false
                    for update in updates { vanished = tracker.apply(update) || vanished }
                    publish(tracker.takeEvents())
                    return vanished
                }
                if routesMayHaveVanished { try resynchronise(links: false, addresses: false, routes: true) }
            } catch where error.errno == .noBufferSpace {
                do { try resynchronise(links: true, addresses: true, routes: true) } catch { report(error) }
            } catch {
                report(error)
                // A failing socket must not spin the loop at full speed.
                usleep(100_000)
            }
        }
    }

    private func report(_ error: SystemError) {
        onError(error)
    }
}

// MARK: - Parsing notifications

/// One fact from an rtnetlink message, as far as the monitor cares.
enum LinkUpdate {
    case link(index: Int32, LinkTracker.Link)
    case linkRemoved(index: Int32)
    case address(index: Int32, LinkTracker.Address, added: Bool)
    /// Default routes of the main table (one per next hop of a multipath route). `replacing`: the
    /// kernel replaced the route of this family and metric in place (`NLM_F_REPLACE`) and sends no
    /// delete for the old one.
    case defaultRoutes([LinkTracker.DefaultRoute], added: Bool, replacing: Bool = false)

    init?(_ message: NetlinkMessage) {
        switch Int(message.type) {
        case RTM_NEWLINK, RTM_DELLINK:
            // Bridge port messages (AF_BRIDGE) come on the same group and must not look like the
            // interface itself coming or going.
            guard let info = message.familyHeader(ifinfomsg.self), info.ifi_family == UInt8(AF_UNSPEC) else { return nil }
            if Int(message.type) == RTM_DELLINK {
                self = .linkRemoved(index: info.ifi_index)
                return
            }
            guard let name = message.attributes(after: MemoryLayout<ifinfomsg>.size)[IFLA_IFNAME]?.string else { return nil }
            self = .link(index: info.ifi_index, LinkTracker.Link(name: name, flags: info.ifi_flags))

        case RTM_NEWADDR, RTM_DELADDR:
            guard let info = message.familyHeader(ifaddrmsg.self) else { return nil }
            let attributes = message.attributes(after: MemoryLayout<ifaddrmsg>.size)
            // For IPv4, IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on
            // point-to-point links); IPv6 has only IFA_ADDRESS.
            guard let local = (attributes[IFA_LOCAL] ?? attributes[IFA_ADDRESS])?.address else { return nil }
            let flags = attributes[IFA_FLAGS]?.u32 ?? UInt32(info.ifa_flags)
            let address = LinkTracker.Address(cidr: CIDR(address: local, prefixLength: Int(info.ifa_prefixlen)),
                                              flags: flags, scope: info.ifa_scope)
            self = .address(index: Int32(bitPattern: info.ifa_index), address, added: Int(message.type) == RTM_NEWADDR)

        case RTM_NEWROUTE, RTM_DELROUTE:
            guard let header = message.familyHeader(rtmsg.self), header.rtm_dst_len == 0,
                  header.rtm_type == UInt8(RTN_UNICAST), header.rtm_flags & UInt32(RTM_F_CLONED) == 0 else { return nil }
            let attributes = message.attributes(after: MemoryLayout<rtmsg>.size)
            let table = attributes[Int(RTA_TABLE.rawValue)]?.u32 ?? UInt32(header.rtm_table)
            guard table == RT_TABLE_MAIN.rawValue else { return nil }
            let metric = attributes[Int(RTA_PRIORITY.rawValue)]?.u32 ?? 0
            var routes: [LinkTracker.DefaultRoute] = []
            if let oif = attributes[Int(RTA_OIF.rawValue)]?.u32 {
                routes.append(.init(family: header.rtm_family, index: Int32(bitPattern: oif),
                                    gateway: attributes[Int(RTA_GATEWAY.rawValue)]?.address, metric: metric))
            }
            if let multipath = attributes[Int(RTA_MULTIPATH.rawValue)] {
                routes += LinkUpdate.nextHops(multipath.payload).map {
                    .init(family: header.rtm_family, index: $0.index, gateway: $0.gateway, metric: metric)
                }
            }
            guard !routes.isEmpty else { return nil }
            let added = Int(message.type) == RTM_NEWROUTE
            self = .defaultRoutes(routes, added: added, replacing: added && message.flags & UInt16(NLM_F_REPLACE) != 0)

        default:
            return nil
        }
    }

    /// Walks the `struct rtnexthop` array of an RTA_MULTIPATH attribute.
    private static func nextHops(_ bytes: UnsafeRawBufferPointer) -> [(index: Int32, gateway: IPAddress?)] {
        var hops: [(Int32, IPAddress?)] = []
        var offset = 0
        let fixed = MemoryLayout<rtnexthop>.size
        while offset + fixed <= bytes.count {
            let hop = bytes.loadUnaligned(fromByteOffset: offset, as: rtnexthop.self)
            let length = Int(hop.rtnh_len)
            guard length >= fixed, offset + length <= bytes.count else { break }
            let nested = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: bytes[(offset + fixed)..<(offset + length)]))
            hops.append((hop.rtnh_ifindex, nested[Int(RTA_GATEWAY.rawValue)]?.address))
            offset += (length + 3) & ~3
        }
        return hops
    }
}

// MARK: - State

/// Everything the monitor knows about links, addresses and default routes, and what it last
/// reported per watched interface. Pure: fed with updates, asked for events.
struct LinkTracker {
    struct Link: Equatable {
        var name: String
        var flags: UInt32
        var carrier: Bool { flags & UInt32(IFF_UP) != 0 && flags & UInt32(IFF_RUNNING) != 0 }
    }

    struct Address: Equatable {
        var cidr: CIDR
        var flags: UInt32
        var scope: UInt8

        var isSecondary: Bool { flags & UInt32(IFA_F_SECONDARY) != 0 }
        var isSettled: Bool { flags & UInt32(IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED) == 0 }
        var isGlobal: Bool { scope == UInt8(RT_SCOPE_UNIVERSE.rawValue) }
    }

    struct DefaultRoute: Equatable {
        var family: UInt8
        var index: Int32
        var gateway: IPAddress?
        var metric: UInt32
    }

    /// Parts of a fresh dump; nil parts are kept as they are.
    struct Snapshot {
        var links: [Int32: Link]?
        var addresses: [Int32: [Address]]?
        var routes: [DefaultRoute]?
    }

    private struct Reported: Equatable {
        var carrier: Bool
        var address: CIDR?
        var gateway: IPAddress?
        var ipv6Gateway: IPAddress?
    }

    var watched: Set<String>
    private var links: [Int32: Link] = [:]
    private var addresses: [Int32: [Address]] = [:]
    private var routes: [DefaultRoute] = []
    private var reported: [String: Reported] = [:]

    init(watched: Set<String>) {
        self.watched = watched
    }

    /// Applies one notification. Returns true when the kernel may have removed routes without
    /// saying so (an interface went down or away, an address was removed): the caller then reads
    /// the routes again.
    mutating func apply(_ update: LinkUpdate) -> Bool {
        switch update {
        case .link(let index, let link):
            let wasUp = links[index].map { $0.flags & UInt32(IFF_UP) != 0 } ?? false
            links[index] = link
            return wasUp && link.flags & UInt32(IFF_UP) == 0
        case .linkRemoved(let index):
            links[index] = nil
            addresses[index] = nil
            routes.removeAll { $0.index == index }
            return true
        case .address(let index, let address, let added):
            var list = addresses[index] ?? []
            let existing = list.firstIndex { $0.cidr == address.cidr }
            if added {
                if let existing { list[existing] = address } else { list.append(address) }
            } else if let existing {
                list.remove(at: existing)
            }
            addresses[index] = list.isEmpty ? nil : list
            return !added
        case .defaultRoutes(let changed, let added, let replacing):
            if replacing, let first = changed.first {
                routes.removeAll { $0.family == first.family && $0.metric == first.metric }
            }
            for route in changed {
                routes.removeAll { $0 == route }
                if added { routes.append(route) }
            }
            return false
        }
    }

    mutating func replace(with snapshot: Snapshot) {
        if let links = snapshot.links { self.links = links }
        if let addresses = snapshot.addresses { self.addresses = addresses }
        if let routes = snapshot.routes { self.routes = routes }
    }

    func view(of name: String) -> InterfaceState {
        guard let (index, link) = links.first(where: { $0.value.name == name }) else {
            return InterfaceState(name: name, index: nil, carrier: false, address: nil, gateway: nil)
        }
        let list = addresses[index] ?? []
        let v4 = list.filter { $0.cidr.address.isV4 }
        let v6 = list.filter { !$0.cidr.address.isV4 && $0.isGlobal && $0.isSettled }
        let address = (v4.first { $0.isGlobal && !$0.isSecondary } ?? v4.first ?? v6.first)?.cidr

        func gateway(_ family: Int32) -> IPAddress? {
            routes.filter { $0.index == index && $0.family == UInt8(family) }.min { $0.metric < $1.metric }?.gateway
        }
        return InterfaceState(name: name, index: index, carrier: link.carrier, address: address,
                              gateway: gateway(AF_INET), ipv6Gateway: gateway(AF_INET6))
    }

    /// Events for every watched interface whose reported facts changed since the last call; the
    /// first call reports every watched interface's carrier, and its address and gateways if it has
    /// them.
    mutating func takeEvents() -> [CoreEvent] {
        var events: [CoreEvent] = []
        for name in watched.sorted() {
            let state = view(of: name)
            let now = Reported(carrier: state.carrier, address: state.address, gateway: state.gateway,
                               ipv6Gateway: state.ipv6Gateway)
            let before = reported[name]
            if before?.carrier != now.carrier {
                events.append(.carrier(interface: name, up: now.carrier))
            }
            let learnedChanged = before.map { $0.address != now.address || $0.gateway != now.gateway }
                ?? (now.address != nil || now.gateway != nil)
            if learnedChanged {
                events.append(.addressLearned(interface: name, address: now.address, gateway: now.gateway))
            }
            if before.map({ $0.ipv6Gateway != now.ipv6Gateway }) ?? (now.ipv6Gateway != nil) {
                events.append(.ipv6GatewayLearned(interface: name, gateway: now.ipv6Gateway))
            }
            reported[name] = now
        }
        reported = reported.filter { watched.contains($0.key) }
        return events
    }
}

extension LinkMonitor: InterfaceWatching {
    public func watch(interfaces: [String]) { watch(interfaces) }
}
