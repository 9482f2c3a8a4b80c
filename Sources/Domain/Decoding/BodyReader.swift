/// Reads one HCL block body against a schema, reporting every problem to a `DiagnosticSink`.
///
/// Creating a reader checks the body against the attribute and block names the block allows:
/// unknown ones are reported with a "did you mean" suggestion, duplicates with the first position,
/// an attribute written as a block (or the reverse) with the fix. Then it hands out attributes and
/// nested blocks by name, and typed values (`string`, `duration`, `integer`, ...) that are nil when
/// absent or invalid; invalid ones are reported at the value's position, as `name: problem`.
public struct BodyReader {
    public let body: HCLBody
    public let sink: DiagnosticSink
    /// How messages name the block: "health_check", "interface \"eth0\"", "" for the top level.
    public let context: String
    let attributeNames: [String]
    let blockNames: [String]
    private var attributesByName: [String: HCLAttribute] = [:]

    /// `attributes` and `blocks` are every name the body may hold; `ignoringBlocks` are blocks some
    /// other decoder reads (not reported as unknown, but offered as suggestions).
    public init(_ body: HCLBody, context: String, attributes: [String], blocks: [String] = [], sink: DiagnosticSink,
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
                               "duplicate attribute '\(attribute.name)'; first set at \(first.location.description(relativeTo: attribute.location))")
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

    /// Where `name` is set in `body` (its value), without a schema: for messages about a block as a
    /// whole that are best shown at one of its attributes.
    public static func attributeLocation(_ body: HCLBody, _ name: String) -> SourceLocation? {
        body.attributes.first { $0.name == name }?.value.location
    }

    /// The attribute, unless absent or `null` (HCL's "unset").
    public func attribute(_ name: String) -> HCLAttribute? {
        precondition(attributeNames.contains(name), "schema of \(context) lacks \(name)")
        guard let a = attributesByName[name], !a.value.isNull else { return nil }
        return a
    }

    /// True when the attribute is set (not absent, not `null`).
    public func has(_ name: String) -> Bool { attribute(name) != nil }

    /// Every nested block of this type, in source order.
    public func blocks(_ type: String) -> [HCLBlock] {
        body.blocks.filter { $0.type == type }
    }

    /// At most one block of this type; later ones are errors.
    public func singleBlock(_ type: String) -> HCLBlock? {
        let all = blocks(type)
        for extra in all.dropFirst() {
            sink.error(extra.location,
                       "only one \(type) block is allowed\(whereText(context)); first defined at \(all[0].location.description(relativeTo: extra.location))")
        }
        return all.first
    }

    /// Reports a missing required attribute at `location` (usually the block's label or keyword).
    @discardableResult
    public func require(_ name: String, at location: SourceLocation, example: String) -> HCLAttribute? {
        if let a = attribute(name) { return a }
        sink.error(location, "\(context) is missing required attribute '\(name)' (e.g. \(name) = \(example))")
        return nil
    }

    // Typed accessors: nil when absent or invalid (invalid values are reported). See `HCLValue`.

    /// A quoted string.
    public func string(_ name: String) -> String? {
        attribute(name).flatMap { HCLValue.string($0.value, name, sink) }
    }

    /// `true` or `false`.
    public func bool(_ name: String) -> Bool? {
        attribute(name).flatMap { HCLValue.bool($0.value, name, sink) }
    }

    /// A whole number within `range`.
    public func integer(_ name: String, in range: IntRange = .any) -> Int? {
        attribute(name).flatMap { HCLValue.integer($0.value, name, sink, range: range) }
    }

    /// Any number, within `range` if given, above 0 if `mustBePositive`.
    public func number(_ name: String, in range: ClosedRange<Double>? = nil, mustBePositive: Bool = false) -> Double? {
        attribute(name).flatMap { HCLValue.number($0.value, name, sink, range: range, mustBePositive: mustBePositive) }
    }

    /// A duration string such as "5s" or "1h30m" (see `DurationText`); 0 only if `allowZero`;
    /// within `range` if given.
    public func duration(_ name: String, allowZero: Bool = false, in range: ClosedRange<Duration>? = nil) -> Duration? {
        attribute(name).flatMap { HCLValue.duration($0.value, name, sink, allowZero: allowZero, range: range) }
    }

    /// One of `cases` by raw value, quoted or as a bare word (`mode = failover`).
    public func enumeration<E: RawRepresentable>(_ name: String, _ cases: [E]) -> E? where E.RawValue == String {
        attribute(name).flatMap { HCLValue.enumeration($0.value, name, cases, sink) }
    }

    /// A list attribute's elements; a single value is accepted as a one-element list if `allowSingle`.
    public func list(_ name: String, allowSingle: Bool = false) -> [HCLExpression]? {
        attribute(name).flatMap { HCLValue.list($0.value, name, sink, allowSingle: allowSingle) }
    }

    /// A list of strings (each element checked), with each element's position.
    public func stringList(_ name: String, allowSingle: Bool = false) -> [(String, SourceLocation)]? {
        guard let items = list(name, allowSingle: allowSingle) else { return nil }
        return items.compactMap { item in HCLValue.string(item, name, sink).map { ($0, item.location) } }
    }
}

/// A range for integer attributes, with the message wording that fits it ("must not be negative").
public struct IntRange: Sendable {
    public var lower: Int?
    public var upper: Int?
    /// Whether a value above `upper` is reported as "too large, at most N" (a count or a weight,
    /// whose upper bound is a limit) rather than with the whole range (a code such as 100-599).
    public var upperIsLimit: Bool

    public init(lower: Int? = nil, upper: Int? = nil, upperIsLimit: Bool = false) {
        self.lower = lower
        self.upper = upper
        self.upperIsLimit = upperIsLimit
    }

    public static let any = IntRange()
    public static let nonNegative = IntRange(lower: 0)
    public static let positive = IntRange(lower: 1)
    public static func atLeast(_ n: Int) -> IntRange { IntRange(lower: n) }
    public static func between(_ a: Int, _ b: Int) -> IntRange { IntRange(lower: a, upper: b) }
    /// At least `lower`, at most `limit`; above it: "too large, at most N".
    public static func limited(_ lower: Int, _ limit: Int) -> IntRange { IntRange(lower: lower, upper: limit, upperIsLimit: true) }

    public func contains(_ n: Int) -> Bool { (lower.map { n >= $0 } ?? true) && (upper.map { n <= $0 } ?? true) }

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

/// " in health_check", or nothing for the top level.
func whereText(_ context: String) -> String { context.isEmpty ? "" : " in \(context)" }
