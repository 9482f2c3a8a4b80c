/// Typed values out of HCL expressions (list elements, labels, attribute values), each problem
/// reported to the sink at the value's position as `name: problem`, e.g.
/// `latency: expected a duration string such as "5s", got the number 5`. All return nil when the
/// value is invalid; `BodyReader`'s typed accessors are these applied to an attribute.
public enum HCLValue {
    /// A quoted string; a bare word too when `allowIdentifier`.
    public static func string(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink, allowIdentifier: Bool = false) -> String? {
        switch e.kind {
        case .string(let s): return s
        case .identifier(let word) where allowIdentifier: return word
        case .identifier(let word):
            sink.error(e.location, "\(name): expected a string, got the bare word \(word) (write \"\(word)\")")
            return nil
        default:
            sink.error(e.location, "\(name): expected a string, got \(e.kindDescription)")
            return nil
        }
    }

    /// `true` or `false`.
    public static func bool(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink) -> Bool? {
        if case .bool(let b) = e.kind { return b }
        sink.error(e.location, "\(name): expected true or false, got \(e.kindDescription)")
        return nil
    }

    /// Any number, within `range` if given, above 0 if `mustBePositive`.
    public static func number(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink,
                       range: ClosedRange<Double>? = nil, mustBePositive: Bool = false) -> Double? {
        guard case .number(let value, let text) = e.kind else {
            sink.error(e.location, "\(name): expected a number, got \(e.kindDescription)")
            return nil
        }
        if let range, !range.contains(value) {
            sink.error(e.location, "\(name): must be between \(HCLFormatter.number(range.lowerBound)) and \(HCLFormatter.number(range.upperBound)), got \(text)")
            return nil
        }
        if mustBePositive && !(value > 0) {
            sink.error(e.location, "\(name): must be greater than 0, got \(text)")
            return nil
        }
        return value
    }

    /// The largest whole number a config can write exactly (HCL numbers are doubles: 2^53 - 1).
    public static let largestExactInteger = 9_007_199_254_740_991

    /// A whole number within `range`. A value above the range's limit, or too large for any field,
    /// is reported as "too large, at most N".
    public static func integer(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink, range: IntRange = .any) -> Int? {
        guard case .number(let value, let text) = e.kind else {
            sink.error(e.location, "\(name): expected a number, got \(e.kindDescription)")
            return nil
        }
        let ceiling = range.upper ?? largestExactInteger
        if value.isFinite, value.rounded() != value {
            sink.error(e.location, "\(name): expected a whole number, got \(text)")
            return nil
        }
        if !(value <= Double(largestExactInteger)) || (range.upperIsLimit && value > Double(ceiling)) {
            sink.error(e.location, "\(name): too large, at most \(ceiling), got \(text)")
            return nil
        }
        if !(value >= -Double(largestExactInteger)) {
            sink.error(e.location, "\(name): \(range.lower.map { "must be at least \($0)" } ?? "too small"), got \(text)")
            return nil
        }
        let n = Int(value)
        if range.upperIsLimit, let lower = range.lower, n < lower {
            sink.error(e.location, "\(name): \(IntRange.atLeast(lower).requirement), got \(text)")
            return nil
        }
        if !range.contains(n) {
            sink.error(e.location, "\(name): \(range.requirement), got \(text)")
            return nil
        }
        return n
    }

    /// A duration string such as "5s" (see `DurationText`); 0 only if `allowZero`; within `range` if given.
    public static func duration(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink, allowZero: Bool = false,
                                range: ClosedRange<Duration>? = nil) -> Duration? {
        guard case .string(let text) = e.kind else {
            if case .number(_, let t) = e.kind {
                sink.error(e.location, "\(name): expected a duration string such as \"\(t)s\", got the number \(t)")
            } else {
                sink.error(e.location, "\(name): expected a duration string such as \"5s\", got \(e.kindDescription)")
            }
            return nil
        }
        guard let d = durationText(text, name, at: e.location, sink, allowZero: allowZero) else { return nil }
        if let range, !range.contains(d) {
            let bound = d < range.lowerBound ? "too short, at least \(DurationText.format(range.lowerBound))"
                                             : "too long, at most \(DurationText.format(range.upperBound))"
            sink.error(e.location, "\(name): \(bound), got \"\(text)\"")
            return nil
        }
        return d
    }

    /// A duration written as text (attribute values, and labels such as `at "30s"`), reported at `location`.
    public static func durationText(_ text: String, _ name: String, at location: SourceLocation, _ sink: DiagnosticSink,
                             allowZero: Bool = false) -> Duration? {
        switch DurationText.parse(text) {
        case .success(let d):
            if d == .zero && !allowZero {
                sink.error(location, "\(name): must be greater than 0, got \"\(text)\"")
                return nil
            }
            return d
        case .failure(let problem):
            sink.error(location, "\(name): invalid duration \"\(text)\": \(problem.message)")
            return nil
        }
    }

    /// One of `cases` by raw value, quoted or as a bare word; unknown values get a suggestion.
    public static func enumeration<E: RawRepresentable>(_ e: HCLExpression, _ name: String, _ cases: [E],
                                                _ sink: DiagnosticSink) -> E? where E.RawValue == String {
        guard let raw = string(e, name, sink, allowIdentifier: true) else { return nil }
        if let value = E(rawValue: raw) { return value }
        let names = cases.map(\.rawValue)
        sink.error(e.location, "\(name): unknown value \"\(raw)\" (expected \(quotedList(names)))\(Suggest.hint(raw, names, quote: "\""))")
        return nil
    }

    /// A list's elements; a single value is accepted as a one-element list if `allowSingle`.
    public static func list(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink, allowSingle: Bool) -> [HCLExpression]? {
        if case .list(let items) = e.kind { return items }
        if allowSingle, !e.isNull {
            if case .object = e.kind {} else { return [e] }
        }
        sink.error(e.location, "\(name): expected a list, got \(e.kindDescription)")
        return nil
    }

    static func quotedList(_ names: [String]) -> String {
        let quoted = names.map { "\"\($0)\"" }
        if quoted.count <= 1 { return quoted.joined() }
        return quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
    }
}

extension HCLExpression {
    /// How a value is named in "expected X, got Y" messages.
    var kindDescription: String {
        switch kind {
        case .string: "a string"
        case .number(_, let text): "the number \(text)"
        case .bool(let b): "the bool \(b)"
        case .null: "null"
        case .list: "a list"
        case .object: "an object"
        case .identifier(let word): "the bare word \(word)"
        }
    }

    var isNull: Bool { if case .null = kind { true } else { false } }
}
