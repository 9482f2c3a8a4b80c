import Adapters
import Domain
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the ISP side of every WAN saw, captured with the libpcap adapter on each ISP's end of its
/// veth (`cust`), before the ISP's fault rules: new LAN connections (TCP SYN, UDP datagrams) and
/// ICMP echo requests and replies. This is the lab's only evidence of which uplink a connection
/// used and when a probe was swallowed; the daemon's own word is never taken for it.
final class LabCapture: Sendable {
    /// A new connection as it arrived at an ISP (after the router's masquerade: source port kept).
    struct Arrival: Sendable {
        var isp: Int
        var time: Duration
        var proto: TransportProtocol
        var sourcePort: UInt16
        var destination: IPAddress
        var destinationPort: UInt16
    }

    /// An echo request or reply on an ISP's link.
    struct Echo: Sendable {
        var isp: Int
        var time: Duration
        var request: Bool
        var identifier: UInt16
        var sequence: UInt16
        var target: IPAddress
    }

    /// One capture per ISP; replaced when it stops with an error (its link went down and up).
    private let captures: LabLocked<[PacketCapture?]>
    private let stopped = LabLocked(false)
    private let state: LabLocked<(arrivals: [Arrival], echoes: [Echo])>

    static let filter = "icmp or udp or (tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn)"
    /// Bounds memory on long runs: beyond this many records of a kind, later ones are dropped (and counted).
    static let limit = 2_000_000

    init(_ topology: LabTopology) throws {
        state = LabLocked(([], []))
        captures = LabLocked(Array(repeating: nil, count: topology.isps.count))
        for isp in topology.isps { try open(isp) }
    }

    /// Opens ISP `isp`'s capture; when it fails later (a pulled cable takes `cust` down, and
    /// libpcap gives up), it is opened again, retrying until the link is back.
    private func open(_ isp: LabTopology.ISP) throws {
        let index = isp.index, state = self.state
        let capture = try LabNamespace.run(in: isp.namespace) {
            try PacketCapture(CaptureConfiguration(interface: "cust", filter: Self.filter), onPacket: { packet in
                Self.record(packet, isp: index, into: state)
            }, onError: { [weak self] _ in self?.reopen(isp) })
        }
        captures.withLock { $0[index] = capture }
    }

    private func reopen(_ isp: LabTopology.ISP) {
        let thread = Thread { [weak self] in
            while let self, !self.stopped.withLock({ $0 }) {
                usleep(5_000)
                if (try? self.open(isp)) != nil { return }
            }
        }
        thread.start()
    }

    private static func record(_ packet: CapturedPacket, isp: Int, into state: LabLocked<(arrivals: [Arrival], echoes: [Echo])>) {
        if let icmp = packet.icmp, let id = icmp.identifier, let seq = icmp.sequence, icmp.type == 8 || icmp.type == 0 {
            let request = icmp.type == 8
            let echo = Echo(isp: isp, time: packet.timestamp, request: request, identifier: id, sequence: seq,
                            target: request ? packet.destination : packet.source)
            state.withLock { if $0.echoes.count < limit { $0.echoes.append(echo) } }
            return
        }
        let proto: TransportProtocol
        if packet.ipProtocol == .tcp { proto = .tcp } else if packet.ipProtocol.rawValue == 17 { proto = .udp } else { return }
        guard let sport = packet.sourcePort, let dport = packet.destinationPort else { return }
        let arrival = Arrival(isp: isp, time: packet.timestamp, proto: proto, sourcePort: sport,
                              destination: packet.destination, destinationPort: dport)
        state.withLock { if $0.arrivals.count < limit { $0.arrivals.append(arrival) } }
    }

    /// The first echo request seen at or after `time`, if any yet.
    func firstRequest(after time: Duration) -> Duration? {
        state.withLock { $0.echoes.first { $0.request && $0.time >= time }?.time }
    }

    /// Stops every capture and returns what was seen, each kind in arrival order per ISP.
    func finish() -> (arrivals: [Arrival], echoes: [Echo]) {
        stopped.withLock { $0 = true }
        for capture in captures.withLock({ $0 }) { capture?.stop() }
        return state.withLock { $0 }
    }
}

/// Running code inside a named network namespace (`ip netns add NAME`).
enum LabNamespace {
    /// Runs `body` on a new thread that first joins the namespace, and returns its result. Sockets
    /// and threads that `body` creates stay in that namespace; the calling thread is unaffected.
    /// `CLONE_NEWNET` from <sched.h>.
    static let cloneNewNet: Int32 = 0x4000_0000

    /// glibc's `setns`, which the Glibc module does not export (it needs _GNU_SOURCE).
    private static let setNamespace: (@convention(c) (Int32, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()

    static func run<T: Sendable>(in namespace: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let result = LabLocked<Result<T, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let fd = open("/var/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                result.withLock { $0 = .failure(LabCommandError(command: ["setns", namespace], status: errno, output: "cannot open the namespace")) }
                return
            }
            defer { close(fd) }
            guard let setns = setNamespace, setns(fd, cloneNewNet) == 0 else {
                let failure = SystemError.lastErrno("setns", on: namespace)
                result.withLock { $0 = .failure(LabCommandError(command: ["setns", namespace], status: failure.errno?.rawValue ?? -1, output: failure.description)) }
                return
            }
            let outcome = Result { try body() }
            result.withLock { $0 = outcome }
        }
        thread.start()
        done.wait()
        return try result.withLock { $0 }!.get()
    }
}
