/// The syntax tree of an HCL file: bodies of attributes and blocks, each with the position it came from.
///
/// Produced by `HCLParser`, consumed by typed decoders built on `BodyReader` (`ConfigDecoder`, and
/// the simulator's `ScenarioDecoder`).
public struct HCLBody: Sendable, Equatable {
    public var items: [HCLBodyItem]
    public init(items: [HCLBodyItem] = []) { self.items = items }

    public var attributes: [HCLAttribute] {
        items.compactMap { if case .attribute(let a) = $0 { a } else { nil } }
    }

    public var blocks: [HCLBlock] {
        items.compactMap { if case .block(let b) = $0 { b } else { nil } }
    }
}

public enum HCLBodyItem: Sendable, Equatable {
    case attribute(HCLAttribute)
    case block(HCLBlock)
}

/// `name = expression`
public struct HCLAttribute: Sendable, Equatable {
    public var name: String
    public var location: SourceLocation
    public var value: HCLExpression

    public init(name: String, location: SourceLocation, value: HCLExpression) {
        self.name = name
        self.location = location
        self.value = value
    }
}

/// `type "label" label2 { body }`
public struct HCLBlock: Sendable, Equatable {
    public var type: String
    public var labels: [HCLLabel]
    public var body: HCLBody
    /// Position of the block type keyword.
    public var location: SourceLocation

    public init(type: String, labels: [HCLLabel], body: HCLBody, location: SourceLocation) {
        self.type = type
        self.labels = labels
        self.body = body
        self.location = location
    }
}

/// A block label, quoted (`"eth0"`) or bare (`eth0`).
public struct HCLLabel: Sendable, Equatable {
    public var value: String
    public var location: SourceLocation
    public init(value: String, location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

public struct HCLExpression: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        case string(String)
        /// The number's value and its literal text (`-1`, `0.5`, `1e3`), so decoders can insist on integers.
        case number(Double, text: String)
        case bool(Bool)
        case null
        case list([HCLExpression])
        case object([HCLObjectItem])
        /// A bare word used as a value (`mode = failover`). Decoders decide whether they accept it.
        case identifier(String)
    }

    public var kind: Kind
    public var location: SourceLocation

    public init(_ kind: Kind, at location: SourceLocation) {
        self.kind = kind
        self.location = location
    }
}

public struct HCLObjectItem: Sendable, Equatable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: HCLExpression
    public init(key: String, keyLocation: SourceLocation, value: HCLExpression) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}
