/// Collects every problem found while decoding, so one run reports all of them.
///
/// Decoders built on `BodyReader` and `HCLValue` (the config decoder, the simulator's scenario
/// decoder) share one sink per file, then throw everything at once with `throwIfAny()`.
public final class DiagnosticSink {
    /// The problems so far, in the order they were found (`DiagnosticList` sorts them by position).
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var isEmpty: Bool { diagnostics.isEmpty }

    /// Records `file:line:col: error: message` at `location`.
    public func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(Diagnostic(location, message))
    }

    /// Records the problems of another file (a parse failure of a referenced config, for example).
    public func append(contentsOf list: DiagnosticList) {
        diagnostics.append(contentsOf: list.diagnostics)
    }

    /// Throws everything collected, if anything was.
    public func throwIfAny() throws(DiagnosticList) {
        if !diagnostics.isEmpty { throw DiagnosticList(diagnostics) }
    }
}

extension SourceLocation {
    /// `line:col`, or `file:line:col` when `other` is in another file: how a message points back to
    /// an earlier definition ("first defined at 3:1").
    public func description(relativeTo other: SourceLocation) -> String {
        file == other.file ? "\(line):\(column)" : description
    }
}
