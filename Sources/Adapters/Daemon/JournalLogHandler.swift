#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Writes one line per message to stderr with a syslog priority prefix (`<4>`), which journald
/// turns into the entry's priority. Under journald (`JOURNAL_STREAM` set) there is no timestamp,
/// since journald adds its own; elsewhere each line starts with the UTC time to the millisecond
/// (`2026-12-01T10:15:00.123Z`), after the prefix.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let timestamps: Bool

    public init(label: String, timestamps: Bool = getenv("JOURNAL_STREAM") == nil) {
        self.label = label
        self.timestamps = timestamps
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        let merged = metadata.merging(extra ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let time = timestamps ? JournalLogHandler.timestamp() + " " : ""
        var text = "<\(JournalLogHandler.priority(level))>\(time)\(message)\(fields)\n"
        // One write(2) per line, so lines from several threads never interleave.
        text.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }

    /// ISO 8601, UTC, milliseconds: `2026-12-01T10:15:00.123Z`.
    static func timestamp() -> String { WallClockText.rfc3339(KernelClock.realtime()) }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
