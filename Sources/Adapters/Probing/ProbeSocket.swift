#if canImport(Glibc)
import Glibc
#endif
import Domain
import SystemPackage

/// Socket plumbing shared by the probers: opening a socket that can only leave through one uplink,
/// and converting between `IPAddress` and `sockaddr`.
enum ProbeSocket {
    // Linux ABI values of glibc's socket enums, spelled out. Which module of this target "owns"
    // `SOCK_STREAM` and friends depends on which C module (CMnl, ...) pulled <sys/socket.h> in
    // first, and files that do not import that module then cannot see them (design.md, "different
    // definitions in different modules"). These numbers are fixed by the kernel ABI.
    static let stream: Int32 = 1  // SOCK_STREAM
    static let raw: Int32 = 3  // SOCK_RAW
    static let nonBlocking: Int32 = 0o4000  // SOCK_NONBLOCK (= O_NONBLOCK)
    static let closeOnExec: Int32 = 0o2000000  // SOCK_CLOEXEC (= O_CLOEXEC)
    static let dontWait: Int32 = 0x40  // MSG_DONTWAIT
    static let noSignal: Int32 = 0x4000  // MSG_NOSIGNAL

    /// Opens a close-on-exec socket in the calling thread's network namespace, bound to the
    /// uplink's device and carrying its probe class mark.
    static func open(
        family: Int32, type: Int32, protocol proto: Int32, uplink: ProbeUplink, describe: String
    ) throws(SystemError) -> Int32 {
        guard ProbeUplink.validIndexes.contains(uplink.index) else {
            throw .probe("uplink index \(uplink.index) has no probe class", on: uplink, .invalidArgument)
        }
        let fd = socket(family, type | closeOnExec, proto)
        guard fd >= 0 else { throw .probe(describe, on: uplink) }
        do {
            try bindToDevice(fd, uplink: uplink)
            try setMark(fd, uplink: uplink)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    static func bindToDevice(_ fd: Int32, uplink: ProbeUplink) throws(SystemError) {
        let rc = uplink.interface.withCString { name in
            setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1))
        }
        guard rc == 0 else {
            throw .probe("setsockopt(SO_BINDTODEVICE)", on: uplink)
        }
    }

    static func setMark(_ fd: Int32, uplink: ProbeUplink) throws(SystemError) {
        guard setOption(fd, SOL_SOCKET, SO_MARK, uplink.mark) else {
            throw .probe("setsockopt(SO_MARK)", on: uplink)
        }
    }

    /// `setsockopt` with a plain value; true on success.
    @discardableResult
    static func setOption<Value: BitwiseCopyable>(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Value) -> Bool {
        withUnsafeBytes(of: value) { setsockopt(fd, level, name, $0.baseAddress, socklen_t($0.count)) == 0 }
    }

    /// Calls `body` with a `sockaddr_in`/`sockaddr_in6` for `address` and `port`.
    static func withSockaddr<R>(
        _ address: IPAddress, port: UInt16 = 0, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) -> R {
        switch address {
        case .v4(let value):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = value.bigEndian
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let high, let low):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { bytes in
                bytes.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// The address in a `sockaddr_in`/`sockaddr_in6`, or nil for other families.
    static func address(of storage: UnsafeRawPointer) -> IPAddress? {
        switch Int32(storage.loadUnaligned(as: sa_family_t.self)) {
        case AF_INET:
            let sin = storage.loadUnaligned(as: sockaddr_in.self)
            return .v4(UInt32(bigEndian: sin.sin_addr.s_addr))
        case AF_INET6:
            let offset = MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!
            return .v6(high: UInt64(bigEndian: storage.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                       low: UInt64(bigEndian: storage.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
        default:
            return nil
        }
    }

    /// Reads an IPv4 address stored in network order at `offset`.
    static func v4(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> IPAddress {
        .v4(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
    }

    /// Reads an IPv6 address stored in network order at `offset`.
    static func v6(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> IPAddress {
        .v6(high: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
            low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
    }

    /// The `SCM_TIMESTAMPNS` control message's time (CLOCK_REALTIME, ns), if present.
    static func receiveTimestamp(control: UnsafeRawBufferPointer) -> Int64? {
        // struct cmsghdr { size_t len; int level; int type; } followed by 8-byte-aligned data.
        let headerSize = MemoryLayout<cmsghdr>.size
        var offset = 0
        while offset + headerSize <= control.count {
            let header = control.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
            let length = Int(header.cmsg_len)
            guard length >= headerSize, offset + length <= control.count else { return nil }
            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == SCM_TIMESTAMPNS,
               length >= headerSize + MemoryLayout<timespec>.size {
                let ts = control.loadUnaligned(fromByteOffset: offset + headerSize, as: timespec.self)
                return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
            }
            offset += (length + 7) & ~7
        }
        return nil
    }
}

extension SystemError {
    /// A probe socket call that failed for `uplink`, by default with the `errno` it set just now.
    /// CAP_NET_RAW covers all of probing: raw sockets, `SO_BINDTODEVICE`, and `SO_MARK` (which also
    /// accepts CAP_NET_ADMIN since Linux 5.17).
    static func probe(_ operation: String, on uplink: ProbeUplink, _ errno: Errno = Errno(rawValue: Glibc.errno)) -> SystemError {
        SystemError(operation: operation, subject: uplink.interface, errno: errno, capability: "CAP_NET_RAW")
    }
}
