/// `ha_pair { role_file = "..." }`: this router is one of an HA pair (docs/ha.md). The role comes from
/// keepalived, through the file its notify script writes; without the block the daemon is
/// standalone and behaves, shows and flushes exactly as before.
public struct HASettings: Sendable, Equatable {
    /// Longest accepted path (Linux's PATH_MAX).
    public static let maxPathLength = 4_096
    /// The file keepalived's notify script writes `MASTER`, `BACKUP`, `FAULT` or `STOP` to.
    public var roleFile: String
    public init(roleFile: String) { self.roleFile = roleFile }
}

/// This router's part in an HA pair, as keepalived last reported it.
public enum HARole: String, Sendable, Equatable, Codable {
    /// Holds the virtual addresses: forwards the LAN's traffic.
    case master
    /// Does not hold them (also keepalived's FAULT and STOP, and before keepalived said anything):
    /// its kernel carries no LAN connections of its own, so it flushes none.
    case backup

    /// The role in a keepalived state file: its first word, `MASTER` is master, `BACKUP`,
    /// `FAULT` and `STOP` are backup (case does not matter). Nil for anything else.
    public static func fromKeepalivedState(_ text: Substring) -> HARole? {
        let word = text.prefix(64).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).first
        switch word.map({ $0.uppercased() }) {
        case "MASTER": return .master
        case "BACKUP", "FAULT", "STOP": return .backup
        default: return nil
        }
    }
}

extension ConfigDecoding {
    static let haAttributes = ["role_file"]

    func decodeHA(_ block: HCLBlock) -> HASettings? {
        noLabels(block)
        let r = BodyReader(block.body, context: "ha_pair", attributes: Self.haAttributes, sink: sink)
        guard let a = r.attribute("role_file") else {
            sink.error(block.location, "ha_pair: role_file is required (the file keepalived's notify script writes, e.g. \"/run/flywall/ha-role\")")
            return nil
        }
        guard let path = HCLValue.string(a.value, "role_file", sink) else { return nil }
        if !path.hasPrefix("/") {
            sink.error(a.value.location, "role_file: must be an absolute path, got \"\(path.prefix(200))\"")
        } else if path.utf8.count > HASettings.maxPathLength || path.contains("\0") || path.hasSuffix("/") {
            sink.error(a.value.location, "role_file: not a file path (at most \(HASettings.maxPathLength) bytes, no NUL, not a directory)")
        } else {
            return HASettings(roleFile: path)
        }
        return nil
    }
}
