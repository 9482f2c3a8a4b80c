#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A failure at one of the real edges: which operation failed, on what, and the `Errno` it failed
/// with, plus whatever the library or the kernel said beyond that errno.
///
/// One type for every system call, netlink request, nftables batch and libpcap call, so that logs
/// read the same whichever part failed:
/// `setsockopt(SO_BINDTODEVICE) on eth9: No such device (errno 19)`.
/// A refusal for lack of privileges names the capability the operation needs, because that is the
/// one thing an operator can do something about.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The failing call or request: `setsockopt(SO_MARK)`, `pcap_activate`,
    /// `replace table inet flywall`, `add rule 10300: from all fwmark 0x1000000/0xff000000 lookup 10000`.
    public var operation: String
    /// What it was done on, where that is not in `operation` already: an interface, a file, the
    /// nftables object the kernel rejected ("rule 3 of chain classify: ip saddr @x accept").
    public var subject: String?
    /// The system's error code; nil for failures that have only a library's text (a filter that
    /// does not compile) or none at all.
    public var errno: Errno?
    /// What the library or the kernel said beyond the errno: libpcap's error text, the kernel's
    /// extended-ack message.
    public var detail: String?
    /// The capability the operation needs, named in the description when it was refused.
    public var capability: String?

    public init(operation: String, subject: String? = nil, errno: Errno?, detail: String? = nil, capability: String? = nil) {
        self.operation = operation
        self.subject = subject
        self.errno = errno
        self.detail = detail
        self.capability = capability
    }

    /// After a call that reported its failure through `errno`, read here at once.
    public static func lastErrno(_ operation: String, on subject: String? = nil, needs capability: String? = nil) -> SystemError {
        SystemError(operation: operation, subject: subject, errno: Errno(rawValue: Glibc.errno), capability: capability)
    }

    /// The capability the kernel wanted, when it refused the operation for lack of privileges.
    /// A call that returns its error code instead of setting `errno` (`posix_spawn`, pthreads).
    public static func returned(_ code: Int32, by operation: String, on subject: String? = nil) -> SystemError {
        SystemError(operation: operation, subject: subject, errno: Errno(rawValue: code))
    }

    public var missingCapability: String? {
        errno == .notPermitted || errno == .permissionDenied ? capability : nil
    }

    /// `strerror`'s words and the number (what operators search for), then the library's text.
    public var reason: String {
        switch (errno, detail) {
        case let (errno?, detail?): "\(errno) (errno \(errno.rawValue)): \(detail)"
        case let (errno?, nil): "\(errno) (errno \(errno.rawValue))"
        case let (nil, detail?): detail
        case (nil, nil): "failed"
        }
    }

    public var description: String {
        var text = operation
        if let subject { text += " on \(subject)" }
        text += ": \(reason)"
        if let missingCapability {
            text += "; needs \(missingCapability) (run flywall as root or grant it the capability)"
        }
        return text
    }
}

extension Errno {
    /// `ENODEV`, which Linux means as "No such device" (an interface that does not exist);
    /// swift-system names it for its BSD meaning, `operationNotSupportedByDevice`.
    static var noSuchDevice: Errno { .operationNotSupportedByDevice }
}
