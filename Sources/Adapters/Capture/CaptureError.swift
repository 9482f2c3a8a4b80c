import CPcap

/// A packet capture could not be opened, configured or read: on which interface, which libpcap
/// call, libpcap's status code and its own text (`pcap_geterr` or the error buffer).
///
/// A refused open says which capability is missing, because that is what an operator can fix.
public struct CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The device the capture was for (`"any"` for all interfaces).
    public var interface: String
    /// The failing call, e.g. `pcap_activate` or `pcap_compile`.
    public var operation: String
    /// libpcap's status (`PCAP_ERROR_NO_SUCH_DEVICE`, `PCAP_ERROR_PERM_DENIED`, ...), or
    /// `PCAP_ERROR` (-1) for a failure that has only a message.
    public var status: Int32
    /// libpcap's explanation, as its tools print it.
    public var message: String

    public init(interface: String, operation: String, status: Int32 = -1, message: String) {
        self.interface = interface
        self.operation = operation
        self.status = status
        self.message = message
    }

    /// The interface does not exist (yet): a PPP or DHCP uplink that is not up, or a typo.
    public var isNoSuchDevice: Bool { status == PCAP_ERROR_NO_SUCH_DEVICE }

    /// The capability the kernel wanted, when it refused the capture socket.
    public var missingCapability: String? {
        status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED ? "CAP_NET_RAW" : nil
    }

    public var description: String {
        var text = "\(operation) on \(interface): \(message.isEmpty ? CaptureError.statusText(status) : message)"
        if status != PCAP_ERROR { text += " (status \(status))" }
        if let capability = missingCapability {
            text += "; capturing needs \(capability) (run flywall as root or grant it the capability)"
        }
        return text
    }

    /// libpcap's words for a status code.
    static func statusText(_ status: Int32) -> String {
        String(cString: pcap_statustostr(status))
    }
}
