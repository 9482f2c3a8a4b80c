#if canImport(Glibc)
import Glibc
#endif
import CPcap

/// What to capture: the device, a BPF filter, and how much of each packet.
public struct CaptureConfiguration: Sendable, Equatable {
    /// A network interface, or `"any"` for all of them (then each packet names its interface).
    public var interface: String
    /// A pcap-filter(7) expression, compiled into the kernel; empty captures every packet.
    ///
    /// Use `direction`, not `inbound`/`outbound` in the filter: libpcap on Linux runs a newly set
    /// filter in user space on the first packet after it, and there those keywords never match, so
    /// that packet would be lost.
    public var filter: String
    /// Only packets sent, only packets received, or both.
    public var direction: Direction
    /// Bytes kept of each packet. The default covers a link header, an IPv4 header with options
    /// (or IPv6 with some extension headers) and the start of the transport header, which is
    /// everything `CapturedPacket` reads; more only costs copies.
    public var snapshotLength: Int32
    /// Kernel ring buffer size in bytes: packets that arrive while it is full are dropped (and
    /// counted in `CaptureStatistics.droppedByKernel`).
    public var bufferSize: Int32
    /// Also see frames addressed to other hosts on the segment. Off: Flywall only looks at what the
    /// router itself sends and receives.
    public var promiscuous: Bool

    public enum Direction: Sendable, Equatable {
        case both, incoming, outgoing
    }

    public init(interface: String, filter: String = "", direction: Direction = .both, snapshotLength: Int32 = 128,
                bufferSize: Int32 = 1 << 20, promiscuous: Bool = false) {
        self.interface = interface
        self.filter = filter
        self.direction = direction
        self.snapshotLength = snapshotLength
        self.bufferSize = bufferSize
        self.promiscuous = promiscuous
    }
}

/// Counters libpcap keeps for a capture (see pcap_stats(3PCAP)).
public struct CaptureStatistics: Sendable, Equatable {
    /// Packets that passed the filter (on Linux: whether or not they were read yet).
    public var received: UInt64
    /// Packets the kernel dropped because the ring buffer was full.
    public var droppedByKernel: UInt64
    /// Packets the interface dropped (not every driver reports this).
    public var droppedByInterface: UInt64

    public init(received: UInt64 = 0, droppedByKernel: UInt64 = 0, droppedByInterface: UInt64 = 0) {
        self.received = received
        self.droppedByKernel = droppedByKernel
        self.droppedByInterface = droppedByInterface
    }
}

/// One live, activated, non-blocking pcap handle and the decoding of what it reads.
///
/// Not thread-safe: its owner (one capture thread) is the only user after `open`. The handle's
/// socket is made in the network namespace of the thread that calls `open`, and stays there.
final class CaptureHandle {
    let configuration: CaptureConfiguration
    private var pcap: OpaquePointer?
    let linkType: PacketDecoder.LinkType
    /// The descriptor to `poll(2)` for readability.
    let selectableFD: Int32
    private var interfaceNames: [Int32: String] = [:]
    /// The last counters read, kept for after the handle is closed.
    private var lastStatistics = CaptureStatistics()

    var interface: String { configuration.interface }

    private init(configuration: CaptureConfiguration, pcap: OpaquePointer, linkType: PacketDecoder.LinkType, fd: Int32) {
        self.configuration = configuration
        self.pcap = pcap
        self.linkType = linkType
        self.selectableFD = fd
    }

    deinit { close() }

    /// Creates, configures and activates the capture, installs the filter and makes it non-blocking.
    static func open(_ configuration: CaptureConfiguration) throws(SystemError) -> CaptureHandle {
        let device = configuration.interface
        func failure(_ operation: String, _ status: Int32 = PCAP_ERROR, _ message: String) -> SystemError {
            .pcap(operation, on: device, status: status, message)
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let pcap = pcap_create(device, &errorBuffer) else {
            throw failure("pcap_create", PCAP_ERROR, CaptureHandle.text(errorBuffer))
        }
        var handleOwned = true
        defer { if handleOwned { pcap_close(pcap) } }

        func check(_ operation: String, _ status: Int32) throws(SystemError) {
            guard status == 0 else {
                throw failure(operation, status, String(cString: pcap_geterr(pcap)))
            }
        }
        try check("pcap_set_snaplen", pcap_set_snaplen(pcap, configuration.snapshotLength))
        try check("pcap_set_promisc", pcap_set_promisc(pcap, configuration.promiscuous ? 1 : 0))
        // Immediate mode: each packet is handed over when it arrives, not when a ring block fills,
        // so matching an answer against its timeout sees it at once.
        try check("pcap_set_immediate_mode", pcap_set_immediate_mode(pcap, 1))
        try check("pcap_set_buffer_size", pcap_set_buffer_size(pcap, configuration.bufferSize))
        try check("pcap_set_timeout", pcap_set_timeout(pcap, 100))
        // Nanosecond stamps where the kernel gives them; microseconds are fine where it does not.
        _ = pcap_set_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO)

        let activated = pcap_activate(pcap)
        if activated < 0 {
            // PCAP_ERROR and PCAP_ERROR_PERM_DENIED come with a specific text; the others' status
            // text says it all (pcap_geterr may be empty, and `failure` then uses the status's words).
            throw failure("pcap_activate", activated, String(cString: pcap_geterr(pcap)))
        }
        let nanosecondStamps = pcap_get_tstamp_precision(pcap) == PCAP_TSTAMP_PRECISION_NANO

        switch configuration.direction {
        case .both: break
        case .incoming: try check("pcap_setdirection(in)", pcap_setdirection(pcap, PCAP_D_IN))
        case .outgoing: try check("pcap_setdirection(out)", pcap_setdirection(pcap, PCAP_D_OUT))
        }

        // The `any` device offers the cooked header version 2, which carries the interface index.
        var datalink = pcap_datalink(pcap)
        if datalink == PacketDecoder.LinkType.linuxCooked.rawValue, offersLinkType(pcap, .linuxCooked2),
           pcap_set_datalink(pcap, PacketDecoder.LinkType.linuxCooked2.rawValue) == 0 {
            datalink = pcap_datalink(pcap)
        }
        guard let linkType = PacketDecoder.LinkType(rawValue: datalink) else {
            let name = pcap_datalink_val_to_name(datalink).map { String(cString: $0) } ?? "\(datalink)"
            throw failure("pcap_datalink", PCAP_ERROR, "unsupported link type \(name)")
        }

        if !configuration.filter.isEmpty {
            var program = bpf_program()
            guard pcap_compile(pcap, &program, configuration.filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
                throw failure("pcap_compile", PCAP_ERROR,
                              "\(String(cString: pcap_geterr(pcap))) in filter \"\(configuration.filter)\"")
            }
            defer { pcap_freecode(&program) }
            try check("pcap_setfilter", pcap_setfilter(pcap, &program))
        }

        guard pcap_setnonblock(pcap, 1, &errorBuffer) == 0 else {
            throw failure("pcap_setnonblock", PCAP_ERROR, CaptureHandle.text(errorBuffer))
        }
        let fd = pcap_get_selectable_fd(pcap)
        guard fd >= 0 else { throw failure("pcap_get_selectable_fd", PCAP_ERROR, "no selectable descriptor") }

        handleOwned = false
        let handle = CaptureHandle(configuration: configuration, pcap: pcap, linkType: linkType, fd: fd)
        handle.nanosecondStamps = nanosecondStamps
        return handle
    }

    private var nanosecondStamps = true

    private static func offersLinkType(_ pcap: OpaquePointer, _ type: PacketDecoder.LinkType) -> Bool {
        var list: UnsafeMutablePointer<Int32>?
        let count = pcap_list_datalinks(pcap, &list)
        guard count > 0, let list else { return false }
        defer { pcap_free_datalinks(list) }
        return UnsafeBufferPointer(start: list, count: Int(count)).contains(type.rawValue)
    }

    /// The context handed through `pcap_dispatch`'s user pointer to the C callback.
    private struct DispatchContext {
        var handle: CaptureHandle
        var deliver: (CapturedPacket) -> Void
    }

    /// Reads every packet queued now (at most `limit`), decoding each IP packet and passing it to
    /// `deliver`; returns how many frames were read (decodable or not). Never blocks.
    func readAvailable(limit: Int32 = 1_000, _ deliver: (CapturedPacket) -> Void) throws(SystemError) -> Int {
        guard let pcap else { return 0 }
        let result: Int32 = withoutActuallyEscaping(deliver) { deliver in
            var context = DispatchContext(handle: self, deliver: deliver)
            return withUnsafeMutablePointer(to: &context) { pointer in
                pointer.withMemoryRebound(to: UInt8.self, capacity: 1) { user in
                    pcap_dispatch(pcap, limit, { user, header, bytes in
                        guard let user, let header, let bytes else { return }
                        user.withMemoryRebound(to: DispatchContext.self, capacity: 1) { context in
                            context.pointee.handle.frame(header.pointee, bytes, context.pointee.deliver)
                        }
                    }, user)
                }
            }
        }
        guard result >= 0 else {
            throw .pcap("pcap_dispatch", on: interface, status: result, String(cString: pcap_geterr(pcap)))
        }
        return Int(result)
    }

    private func frame(_ header: pcap_pkthdr, _ bytes: UnsafePointer<UInt8>, _ deliver: (CapturedPacket) -> Void) {
        let fraction = Int64(header.ts.tv_usec)
        let timestamp = Duration.seconds(Int64(header.ts.tv_sec))
            + (nanosecondStamps ? .nanoseconds(fraction) : .microseconds(fraction))
        let buffer = UnsafeRawBufferPointer(start: bytes, count: Int(header.caplen))
        let direction: CaptureDirection? = switch configuration.direction {
        case .both: nil
        case .incoming: .incoming
        case .outgoing: .outgoing
        }
        if let packet = PacketDecoder.decode(linkType, buffer, wireLength: Int(header.len), timestamp: timestamp,
                                             interface: interface, direction: direction,
                                             interfaceName: { self.interfaceName($0) }) {
            deliver(packet)
        }
    }

    /// The name of an interface index, looked up once (in the namespace of the reading thread,
    /// which is the capture's own) and then remembered.
    private func interfaceName(_ index: Int32) -> String {
        if let name = interfaceNames[index] { return name }
        var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        let name = if_indextoname(UInt32(bitPattern: index), &buffer) != nil ? CaptureHandle.text(buffer) : "if\(index)"
        if interfaceNames.count < 4_096 { interfaceNames[index] = name }
        return name
    }

    /// The counters so far (libpcap on Linux accumulates the kernel's, which reset on each read).
    func statistics() -> CaptureStatistics {
        guard let pcap else { return lastStatistics }
        var stat = pcap_stat()
        if pcap_stats(pcap, &stat) == 0 {
            lastStatistics = CaptureStatistics(received: UInt64(stat.ps_recv), droppedByKernel: UInt64(stat.ps_drop),
                                               droppedByInterface: UInt64(stat.ps_ifdrop))
        }
        return lastStatistics
    }

    /// A NUL-terminated C buffer as text.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func close() {
        if let pcap {
            _ = statistics()
            pcap_close(pcap)
        }
        pcap = nil
    }
}
