#if canImport(Glibc)
import Glibc
#endif

/// A probe socket could not be set up: which uplink, which call, and the `errno` it failed with.
///
/// Permission errors say which capability is missing, because that is the one thing an operator
/// can do something about.
public struct ProbeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The uplink interface the socket was for (empty when none).
    public var interface: String
    /// The failing call, e.g. `socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)` or `setsockopt(SO_MARK)`.
    public var operation: String
    /// `errno` of the failing call.
    public var code: Int32

    public init(interface: String, operation: String, code: Int32) {
        self.interface = interface
        self.operation = operation
        self.code = code
    }

    /// The capability the call needs, when the kernel refused it for lack of privileges.
    /// CAP_NET_RAW covers all of it: raw sockets, `SO_BINDTODEVICE`, and `SO_MARK` (which also
    /// accepts CAP_NET_ADMIN since Linux 5.17).
    public var missingCapability: String? {
        code == EPERM || code == EACCES ? "CAP_NET_RAW" : nil
    }

    public var description: String {
        var text = "\(operation)"
        if !interface.isEmpty { text += " on \(interface)" }
        text += ": \(ProbeError.text(code)) (errno \(code))"
        if let capability = missingCapability {
            text += "; probing needs \(capability) (run flywall as root or grant it the capability)"
        }
        return text
    }
}

extension ProbeError {
    /// `strerror` text, which is what operators search for.
    static func text(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
