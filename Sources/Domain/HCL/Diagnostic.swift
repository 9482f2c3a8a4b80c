/// Where something is in a source file. Lines and columns count from 1; columns count characters.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a config or scenario file, printed as `file:line:col: error: message`.
public struct Diagnostic: Hashable, Sendable, Error, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    /// `message` with every value it echoes cut to a readable length (see `readable`).
    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = Diagnostic.readable(message)
    }

    public var description: String { "\(location): error: \(message)" }

    /// Longest run of non-space characters kept whole in a message; a longer one (a pasted
    /// certificate, a 100 kB label) is cut there and ends in "…" (keeping a closing quote).
    static let longestWord = 64
    /// Longest message kept whole.
    static let longestMessage = 480

    /// Messages quote the values they complain about; a value of any length must not make the
    /// message unreadable, so long words and long messages are cut.
    public static func readable(_ message: String) -> String {
        guard message.utf8.count > longestWord else { return message }
        var out = ""
        var length = 0
        var rest = Substring(message)
        while !rest.isEmpty {
            let space = rest.firstIndex(of: " ") ?? rest.endIndex
            let word = rest[..<space]
            let count = word.count
            if count > longestWord {
                let closing = word.last.map { $0 == "\"" || $0 == "'" ? String($0) : "" } ?? ""
                out += word.prefix(longestWord - 4) + "…" + closing
                length += longestWord - 3 + closing.count
            } else {
                out += word
                length += count
            }
            rest = rest[space...]
            if rest.first == " " {
                out.append(" ")
                length += 1
                rest = rest.dropFirst()
            }
            if length > longestMessage {
                return String(out.prefix(longestMessage - 1)) + "…"
            }
        }
        return out
    }
}

/// All problems of one file, in source order. Thrown when anything at all is wrong:
/// nothing is applied from a file with any error.
public struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics.sorted { $0.location < $1.location }
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
