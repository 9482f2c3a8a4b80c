// A small toolkit for typed decoding of HCL bodies: collecting diagnostics, schema checks with
// "did you mean" suggestions, and conversions (strings, numbers, durations, addresses, URLs, ports)
// that report `file:line:col: error: message` instead of failing on the first problem.

/// Collects every problem found while decoding, so one run reports all of them.
final class DiagnosticSink {
    private(set) var diagnostics: [Diagnostic] = []

    init() {}

    var isEmpty: Bool { diagnostics.isEmpty }

    func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(Diagnostic(location, message))
    }

    func append(contentsOf list: DiagnosticList) {
        diagnostics.append(contentsOf: list.diagnostics)
    }

    /// Throws everything collected, if anything was.
    func throwIfAny() throws(DiagnosticList) {
        if !diagnostics.isEmpty { throw DiagnosticList(diagnostics) }
    }
}

// MARK: - Names and suggestions

enum Suggest {
    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// The candidate closest to `word`, if it is close enough to be a plausible typo.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let lower = word.lowercased()
        var best: (name: String, distance: Int)?
        for candidate in candidates where candidate != word {
            let d = editDistance(lower, candidate.lowercased())
            if best == nil || d < best!.distance { best = (candidate, d) }
        }
        guard let best else { return nil }
        let limit = max(2, min(word.count, best.name.count) / 3)
        if best.distance <= limit { return best.name }
        // A prefix ("threshold" for "threshold_down") is a plausible slip too.
        if lower.count >= 3, let prefixed = candidates.first(where: { $0.lowercased().hasPrefix(lower) }) {
            return prefixed
        }
        return nil
    }

    /// `; did you mean 'x'?` or the empty string.
    static func hint(_ word: String, _ candidates: [String], quote: String = "'") -> String {
        guard let c = closest(to: word, in: candidates) else { return "" }
        return "; did you mean \(quote)\(c)\(quote)?"
    }
}

/// " in health_check", or nothing for the top level.
func whereText(_ context: String) -> String { context.isEmpty ? "" : " in \(context)" }

/// `line:col`, or `file:line:col` when the other location is in another file.
func shortLocation(_ location: SourceLocation, relativeTo other: SourceLocation) -> String {
    location.file == other.file ? "\(location.line):\(location.column)" : location.description
}

// MARK: - Describing values

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

// MARK: - Reading a body against a schema

/// Wraps one block body: checks it against the attribute and block names the block allows
/// (unknown ones are reported with a suggestion, duplicates with the first position), then hands out
/// attributes and nested blocks by name.
struct BodyReader {
    let body: HCLBody
    let sink: DiagnosticSink
    /// "health_check", "interface \"eth0\"", "the top level": used in messages.
    let context: String
    let attributeNames: [String]
    let blockNames: [String]
    private var attributesByName: [String: HCLAttribute] = [:]

    init(_ body: HCLBody, context: String, attributes: [String], blocks: [String] = [], sink: DiagnosticSink,
         ignoringBlocks ignored: Set<String> = []) {
        self.body = body
        self.sink = sink
        self.context = context
        self.attributeNames = attributes
        self.blockNames = blocks
        let candidates = attributes + blocks + Array(ignored).sorted()
        for attribute in body.attributes {
            if attributes.contains(attribute.name) {
                if let first = attributesByName[attribute.name] {
                    sink.error(attribute.location,
                               "duplicate attribute '\(attribute.name)'; first set at \(shortLocation(first.location, relativeTo: attribute.location))")
                } else {
                    attributesByName[attribute.name] = attribute
                }
            } else if blocks.contains(attribute.name) || ignored.contains(attribute.name) {
                sink.error(attribute.location,
                           "'\(attribute.name)' is a block, not an attribute: write \(attribute.name) { ... }")
            } else {
                sink.error(attribute.location,
                           "unknown attribute '\(attribute.name)'\(whereText(context))\(Suggest.hint(attribute.name, candidates))")
            }
        }
        for block in body.blocks where !blocks.contains(block.type) && !ignored.contains(block.type) {
            if attributes.contains(block.type) {
                sink.error(block.location, "'\(block.type)' is an attribute, not a block: write \(block.type) = ...")
            } else {
                sink.error(block.location,
                           "unknown block '\(block.type)'\(whereText(context))\(Suggest.hint(block.type, candidates))")
            }
        }
    }

    /// The attribute, unless absent or `null` (HCL's "unset").
    func attribute(_ name: String) -> HCLAttribute? {
        precondition(attributeNames.contains(name), "schema of \(context) lacks \(name)")
        guard let a = attributesByName[name], !a.value.isNull else { return nil }
        return a
    }

    func has(_ name: String) -> Bool { attribute(name) != nil }

    func blocks(_ type: String) -> [HCLBlock] {
        body.blocks.filter { $0.type == type }
    }

    /// At most one block of this type; later ones are errors.
    func singleBlock(_ type: String) -> HCLBlock? {
        let all = blocks(type)
        for extra in all.dropFirst() {
            sink.error(extra.location,
                       "only one \(type) block is allowed\(whereText(context)); first defined at \(shortLocation(all[0].location, relativeTo: extra.location))")
        }
        return all.first
    }

    /// Reports a missing required attribute at `location` (usually the block's label or keyword).
    @discardableResult
    func require(_ name: String, at location: SourceLocation, example: String) -> HCLAttribute? {
        if let a = attribute(name) { return a }
        sink.error(location, "\(context) is missing required attribute '\(name)' (e.g. \(name) = \(example))")
        return nil
    }

    // Typed accessors: nil when absent or invalid (invalid values are reported).

    func string(_ name: String) -> String? {
        attribute(name).flatMap { Values.string($0.value, name, sink) }
    }

    func bool(_ name: String) -> Bool? {
        attribute(name).flatMap { Values.bool($0.value, name, sink) }
    }

    func integer(_ name: String, in range: IntRange = .any) -> Int? {
        attribute(name).flatMap { Values.integer($0.value, name, sink, range: range) }
    }

    func number(_ name: String, in range: ClosedRange<Double>? = nil, mustBePositive: Bool = false) -> Double? {
        attribute(name).flatMap { Values.number($0.value, name, sink, range: range, mustBePositive: mustBePositive) }
    }

    func duration(_ name: String, allowZero: Bool = false) -> Duration? {
        attribute(name).flatMap { Values.duration($0.value, name, sink, allowZero: allowZero) }
    }

    func enumeration<E: RawRepresentable>(_ name: String, _ cases: [E]) -> E? where E.RawValue == String {
        attribute(name).flatMap { Values.enumeration($0.value, name, cases, sink) }
    }

    /// A list attribute's elements; a single value is accepted as a one-element list if `allowSingle`.
    func list(_ name: String, allowSingle: Bool = false) -> [HCLExpression]? {
        attribute(name).flatMap { Values.list($0.value, name, sink, allowSingle: allowSingle) }
    }

    /// A list of strings (each element checked).
    func stringList(_ name: String, allowSingle: Bool = false) -> [(String, SourceLocation)]? {
        guard let items = list(name, allowSingle: allowSingle) else { return nil }
        return items.compactMap { item in Values.string(item, name, sink).map { ($0, item.location) } }
    }
}

/// A range for integer attributes, with the message wording that fits it.
struct IntRange {
    var lower: Int?
    var upper: Int?

    static let any = IntRange()
    static let nonNegative = IntRange(lower: 0)
    static let positive = IntRange(lower: 1)
    static func atLeast(_ n: Int) -> IntRange { IntRange(lower: n) }
    static func between(_ a: Int, _ b: Int) -> IntRange { IntRange(lower: a, upper: b) }

    func contains(_ n: Int) -> Bool { (lower.map { n >= $0 } ?? true) && (upper.map { n <= $0 } ?? true) }

    var requirement: String {
        switch (lower, upper) {
        case (0?, nil): "must not be negative"
        case (let l?, nil): "must be at least \(l)"
        case (nil, let u?): "must be at most \(u)"
        case (let l?, let u?): "must be between \(l) and \(u)"
        case (nil, nil): ""
        }
    }
}

// MARK: - Value conversions

enum Values {
    static func string(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink, allowIdentifier: Bool = false) -> String? {
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

    static func bool(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink) -> Bool? {
        if case .bool(let b) = e.kind { return b }
        sink.error(e.location, "\(name): expected true or false, got \(e.kindDescription)")
        return nil
    }

    static func number(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink,
                       range: ClosedRange<Double>? = nil, mustBePositive: Bool = false) -> Double? {
        guard case .number(let value, let text) = e.kind else {
            sink.error(e.location, "\(name): expected a number, got \(e.kindDescription)")
            return nil
        }
        if let range, !range.contains(value) {
            sink.error(e.location, "\(name): must be between \(formatNumber(range.lowerBound)) and \(formatNumber(range.upperBound)), got \(text)")
            return nil
        }
        if mustBePositive && !(value > 0) {
            sink.error(e.location, "\(name): must be greater than 0, got \(text)")
            return nil
        }
        return value
    }

    static func integer(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink, range: IntRange = .any) -> Int? {
        guard case .number(let value, let text) = e.kind else {
            sink.error(e.location, "\(name): expected a number, got \(e.kindDescription)")
            return nil
        }
        guard value.rounded() == value, abs(value) < 9.0e15 else {
            sink.error(e.location, "\(name): expected a whole number, got \(text)")
            return nil
        }
        let n = Int(value)
        if !range.contains(n) {
            sink.error(e.location, "\(name): \(range.requirement), got \(text)")
            return nil
        }
        return n
    }

    static func duration(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink, allowZero: Bool = false) -> Duration? {
        guard case .string(let text) = e.kind else {
            if case .number(_, let t) = e.kind {
                sink.error(e.location, "\(name): expected a duration string such as \"\(t)s\", got the number \(t)")
            } else {
                sink.error(e.location, "\(name): expected a duration string such as \"5s\", got \(e.kindDescription)")
            }
            return nil
        }
        return durationText(text, name, at: e.location, sink, allowZero: allowZero)
    }

    /// A duration written as text (attribute values and `at "30s"` labels).
    static func durationText(_ text: String, _ name: String, at location: SourceLocation, _ sink: DiagnosticSink,
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

    static func enumeration<E: RawRepresentable>(_ e: HCLExpression, _ name: String, _ cases: [E],
                                                _ sink: DiagnosticSink) -> E? where E.RawValue == String {
        guard let raw = string(e, name, sink, allowIdentifier: true) else { return nil }
        if let value = E(rawValue: raw) { return value }
        let names = cases.map(\.rawValue)
        sink.error(e.location, "\(name): unknown value \"\(raw)\" (expected \(quotedList(names)))\(Suggest.hint(raw, names, quote: "\""))")
        return nil
    }

    static func list(_ e: HCLExpression, _ name: String, _ sink: DiagnosticSink, allowSingle: Bool) -> [HCLExpression]? {
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

    static func formatNumber(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}

// MARK: - Durations

/// Durations as written in configs: a sequence of number+unit pairs such as "500ms", "5s", "2m", "1h",
/// "1h30m", "1.5s". Units: ns, us (or µs), ms, s, m, h.
public enum DurationText {
    public struct Problem: Error, Equatable, Sendable {
        public var message: String
    }

    static let units: [(String, Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    public static func parse(_ text: String) -> Result<Duration, Problem> {
        if text.isEmpty { return .failure(Problem(message: "empty (write e.g. \"5s\")")) }
        let chars = Array(text)
        var i = 0
        var total: Int64 = 0
        while i < chars.count {
            // Number: digits with an optional fraction.
            var whole: Int64 = 0
            var fraction: [Int64] = []
            var digits = 0
            while i < chars.count, let d = chars[i].wholeNumberValue, chars[i].isASCII {
                if whole > 1_000_000_000_000 { return .failure(Problem(message: "too large")) }
                whole = whole * 10 + Int64(d)
                digits += 1
                i += 1
            }
            if i < chars.count, chars[i] == "." {
                i += 1
                while i < chars.count, let d = chars[i].wholeNumberValue, chars[i].isASCII {
                    if fraction.count < 12 { fraction.append(Int64(d)) }
                    digits += 1
                    i += 1
                }
            }
            if digits == 0 {
                let rest = String(chars[i...])
                if chars[i] == "-" { return .failure(Problem(message: "must not be negative")) }
                return .failure(Problem(message: "expected a number before \"\(rest)\""))
            }
            // Unit: letters up to the next digit.
            var unit = ""
            while i < chars.count, !(chars[i].isASCII && (chars[i].isNumber || chars[i] == ".")) {
                unit.append(chars[i])
                i += 1
            }
            if unit.isEmpty {
                return .failure(Problem(message: "missing unit (e.g. \"\(text)s\"; units: ms, s, m, h)"))
            }
            guard let scale = units.first(where: { $0.0 == unit })?.1 else {
                return .failure(Problem(message: "unknown unit \"\(unit)\" (use ms, s, m or h)"))
            }
            let (w, o1) = whole.multipliedReportingOverflow(by: scale)
            var fractionalNanos: Int64 = 0
            var place: Int64 = scale
            for d in fraction {
                place /= 10
                if place == 0 { break }
                fractionalNanos += d * place
            }
            let (sum, o2) = total.addingReportingOverflow(w)
            let (sum2, o3) = sum.addingReportingOverflow(fractionalNanos)
            if o1 || o2 || o3 { return .failure(Problem(message: "too large")) }
            total = sum2
        }
        return .success(.nanoseconds(total))
    }

    /// The shortest text `parse` reads back as the same duration: "5s", "1h30m", "1s500ms", "0s".
    public static func format(_ d: Duration) -> String {
        var n = d.nanoseconds
        if n == 0 { return "0s" }
        var out = n < 0 ? "-" : ""
        n = abs(n)
        for (unit, scale) in [("h", Int64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000),
                              ("ms", 1_000_000), ("us", 1_000), ("ns", 1)] where n >= scale {
            out += "\(n / scale)\(unit)"
            n %= scale
        }
        return out
    }
}

// MARK: - Network values

enum NetValues {
    /// A port such as 443; nil with a message when outside 1...65535.
    static func port(_ n: Int) -> UInt16? { (1...65535).contains(n) ? UInt16(n) : nil }

    /// "443" or "1000-2000".
    static func portRange(_ text: String) -> Result<PortRange, DurationText.Problem> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else {
            return .failure(.init(message: "\"\(text)\" is not a port or port range (e.g. \"443\" or \"1000-2000\")"))
        }
        var ports: [UInt16] = []
        for p in parts {
            guard p.count <= 6, let n = Int(p), let port = port(n) else {
                return .failure(.init(message: "port \(p) is out of range (1-65535)"))
            }
            ports.append(port)
        }
        if ports.count == 2 && ports[0] > ports[1] {
            return .failure(.init(message: "port range \"\(text)\" runs backwards"))
        }
        return .success(PortRange(ports[0], ports.count == 2 ? ports[1] : nil))
    }

    /// A host name or IP literal (IPv6 in brackets when `bracketedV6`).
    static func isValidHost(_ host: String) -> Bool {
        if host.isEmpty || host.count > 253 { return false }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            let inner = String(host.dropFirst().dropLast())
            if case .v6? = IPAddress(inner) { return true }
            return false
        }
        if host.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) { return IPAddress(host) != nil }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }

    /// `host:port` with the port in 1...65535. Returns a problem description or nil.
    static func hostPortProblem(_ text: String) -> String? {
        guard let colon = text.lastIndex(of: ":") else {
            return "\"\(text)\" needs a port: write host:port, e.g. \"smtp.example.com:587\""
        }
        let host = String(text[..<colon]), portText = String(text[text.index(after: colon)...])
        if host.contains(":") && !host.hasPrefix("[") {
            return "\"\(text)\": write an IPv6 address in brackets, e.g. \"[2001:db8::1]:587\""
        }
        if !isValidHost(host) { return "\"\(text)\" has an invalid host \"\(host)\"" }
        guard !portText.isEmpty, portText.count <= 6, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Int(portText), port(n) != nil else {
            return "\"\(text)\" has an invalid port \"\(portText)\" (1-65535)"
        }
        return nil
    }

    /// http(s)://host[:port][/path...]. Returns a problem description or nil.
    static func urlProblem(_ text: String) -> String? {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") { rest = text.dropFirst(7) }
        else if lower.hasPrefix("https://") { rest = text.dropFirst(8) }
        else { return "\"\(text)\" is not an http:// or https:// URL" }
        if text.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            return "\"\(text)\" contains white space"
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.isEmpty { return "\"\(text)\" has no host" }
        var host = String(authority)
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            host = String(authority[..<colon])
            let portText = authority[authority.index(after: colon)...]
            guard !portText.isEmpty, portText.count <= 6, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(portText), port(n) != nil else {
                return "\"\(text)\" has an invalid port \"\(portText)\" (1-65535)"
            }
        }
        if host.isEmpty { return "\"\(text)\" has no host" }
        if !isValidHost(host) { return "\"\(text)\" has an invalid host \"\(host)\"" }
        return nil
    }

    static func isPlausibleEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !text.contains(where: { $0 == " " || $0 == "<" || $0 == ">" }) else { return false }
        return isValidHost(String(parts[1]))
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
