import CPcap
import SystemPackage

extension SystemError {
    /// A libpcap call that failed on `device`: libpcap's status becomes the errno it stands for,
    /// where there is one, and libpcap's own text (`pcap_geterr`, the error buffer) is kept as the
    /// detail, or the status's words when libpcap gave no text.
    ///
    /// Capturing needs CAP_NET_RAW; a refusal says so.
    static func pcap(_ operation: String, on device: String, status: Int32 = PCAP_ERROR, _ text: String) -> SystemError {
        SystemError(operation: operation, subject: device, errno: pcapErrno(status),
                    detail: text.isEmpty ? String(cString: pcap_statustostr(status)) : text, capability: "CAP_NET_RAW")
    }

    /// The errno a libpcap status means; nil for `PCAP_ERROR`, whose text is all there is.
    static func pcapErrno(_ status: Int32) -> Errno? {
        switch status {
        case PCAP_ERROR_NO_SUCH_DEVICE: .noSuchDevice
        case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED: .notPermitted
        case PCAP_ERROR_IFACE_NOT_UP: .networkDown
        case PCAP_ERROR_RFMON_NOTSUP, PCAP_ERROR_NOT_RFMON, PCAP_ERROR_TSTAMP_PRECISION_NOTSUP:
            .notSupported
        default: nil
        }
    }
}
