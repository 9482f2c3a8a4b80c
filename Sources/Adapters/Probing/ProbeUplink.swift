import Domain

/// The WAN a probe must leave through: the device its socket is bound to (`SO_BINDTODEVICE`) and
/// the uplink index that selects its pin mark (`SO_MARK`, docs/dataplane.md).
///
/// Both are needed: the mark makes the routing lookup use the uplink's pin table, which always
/// routes via that uplink (so the probe has a gateway whatever the forwarding plan says), and the
/// device binding makes sure it cannot leave anywhere else even if that table is missing or stale.
public struct ProbeUplink: Hashable, Sendable, CustomStringConvertible {
    /// Interface name, as in the config (`eth0`, `ppp0`).
    public var interface: String
    /// `ForwardingPlan.Uplink.index`: config order, stable while the daemon runs (0...63).
    public var index: Int

    public init(interface: String, index: Int) {
        self.interface = interface
        self.index = index
    }

    /// Pin mark of this uplink: class A value `index + 1` in bits 24–31 (`DataplaneMarks.pin`).
    public var mark: UInt32 { DataplaneMarks.pin(uplink: index) }

    /// Indexes that have a pin class (docs/dataplane.md: at most 64 uplinks).
    public static let validIndexes = 0..<DataplaneMarks.maxUplinks

    public var description: String { "\(interface)[\(index)]" }
}

/// One finished probe, as the core wants it back: `CoreEvent.probeResult(id, outcome)`.
public struct ProbeResult: Sendable, Equatable, CustomStringConvertible {
    public var id: ProbeID
    public var outcome: ProbeOutcome

    public init(id: ProbeID, outcome: ProbeOutcome) {
        self.id = id
        self.outcome = outcome
    }

    /// The event to hand to the core.
    public var event: CoreEvent { .probeResult(id, outcome) }

    public var description: String { "\(id) \(outcome)" }
}
