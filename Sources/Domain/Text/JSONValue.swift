/// A JSON document built in code and written byte-stably: objects keep their members in the order
/// given, numbers are written as the text given, and the layout is fixed (two-space indentation,
/// one member or element per line, empty arrays and objects as `[]` and `{}`).
///
/// Used by every `--json` output (`flywall config check`, `flywall simulate`), so they escape and
/// indent alike.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written exactly as this text: the caller picks the digits (`"0.250"`, `"3"`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// A whole number.
    public static func int(_ n: Int) -> JSONValue { .number("\(n)") }

    /// A number in its shortest form (`HCLFormatter.number`: `3`, `0.5`); `null` when not finite,
    /// which JSON cannot write.
    public static func double(_ d: Double) -> JSONValue { d.isFinite ? .number(HCLFormatter.number(d)) : .null }

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.serialized() == b.serialized() }

    /// The document as text, without a final newline. With `scalarArraysOnOneLine`, arrays of only
    /// strings and numbers are written on one line (`["eth0", "eth1"]`), as the resolved config does.
    public func serialized(scalarArraysOnOneLine: Bool = false) -> String {
        var out = ""
        write(&out, depth: 0, scalarArraysOnOneLine)
        return out
    }

    private func write(_ out: inout String, depth: Int, _ scalarArraysOnOneLine: Bool) {
        let pad = String(repeating: "  ", count: depth + 1), closePad = String(repeating: "  ", count: depth)
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s): out += Self.quote(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            if scalarArraysOnOneLine, items.allSatisfy(\.isStringOrNumber) {
                out += "[" + items.map { $0.serialized() }.joined(separator: ", ") + "]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(&out, depth: depth + 1, scalarArraysOnOneLine)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, (key, value)) in members.enumerated() {
                out += pad + Self.quote(key) + ": "
                value.write(&out, depth: depth + 1, scalarArraysOnOneLine)
                out += i == members.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "}"
        }
    }

    private var isStringOrNumber: Bool {
        switch self {
        case .string, .number: true
        default: false
        }
    }

    /// `s` as a JSON string literal: `"` and `\` escaped, control characters as `\n`, `\r`, `\t` or
    /// `\u001b`; everything else (including non-ASCII) as it is.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
