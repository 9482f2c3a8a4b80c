extension HCLBlock {
    /// The block's one name (`interface "eth0"`), or nil when it is missing, empty or followed by
    /// more labels; each of those is reported. `example` shows the fix: `interface "eth0" { ... }`.
    public func name(example: String, sink: DiagnosticSink) -> HCLLabel? {
        guard let first = labels.first else {
            sink.error(location, "\(type) needs a name: \(type) \"\(example)\" { ... }")
            return nil
        }
        if labels.count > 1 {
            sink.error(labels[1].location, "\(type) takes one name, got \(labels.count)")
        }
        if first.value.isEmpty {
            sink.error(first.location, "\(type) name must not be empty")
            return nil
        }
        return first
    }
}

/// The names declared so far by one kind of block, to report a second block of the same name.
public struct NameTable {
    private var first: [String: SourceLocation] = [:]

    public init() {}

    /// Records a declaration; false (and an error at the second one) if the name is taken.
    /// `kind` names the block in the message: `duplicate interface "eth0"; first defined at 3:1`.
    public mutating func declare(_ label: HCLLabel, kind: String, sink: DiagnosticSink) -> Bool {
        if let earlier = first[label.value] {
            sink.error(label.location,
                       "duplicate \(kind) \"\(label.value)\"; first defined at \(earlier.description(relativeTo: label.location))")
            return false
        }
        first[label.value] = label.location
        return true
    }
}
