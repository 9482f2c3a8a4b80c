/// Writes an `HCLBody` as canonical HCL text. `HCLParser.parse(format(x))` gives back `x`, apart
/// from source locations.
///
/// Canonical form: two-space indentation; `=` aligned in runs of consecutive one-line attributes;
/// a blank line around multi-line blocks; a block whose body is a single short attribute is written
/// on one line (`member "eth0" { weight = 1 }`), an empty one as `wan {}`; labels always quoted;
/// strings always quoted (never heredocs) with `\n \r \t \" \\ \uXXXX` escapes and `$${`/`%%{`
/// for a literal `${`/`%{`; numbers written as their literal text; lists and objects on one line
/// when short and flat, else one element per line. Comments are not in the tree, so they are lost.
///
/// Attribute names, block types and `.identifier` values are written as they are: they must be
/// valid identifiers (and an identifier value must not be `true`, `false` or `null`) to read back
/// the same. Object keys that are not identifiers are quoted.
public enum HCLFormatter {
    public static func format(_ body: HCLBody) -> String {
        var out = ""
        formatBody(body, indent: 0, into: &out)
        return out
    }

    /// One HCL value as text (lists and objects may span lines, indented for `indent` levels).
    public static func format(_ expression: HCLExpression, indent: Int = 0) -> String {
        render(expression, indent: indent)
    }

    static let maxInlineWidth = 80

    private static func padding(_ indent: Int) -> String {
        String(repeating: "  ", count: indent)
    }

    private enum Rendered {
        case attribute(name: String, value: String)
        case block(String)

        var isMultiLineBlock: Bool {
            if case .block(let text) = self { text.contains("\n") } else { false }
        }
    }

    private static func formatBody(_ body: HCLBody, indent: Int, into out: inout String) {
        let pad = padding(indent)
        let rendered: [Rendered] = body.items.map { item in
            switch item {
            case .attribute(let a): .attribute(name: a.name, value: render(a.value, indent: indent))
            case .block(let b): .block(renderBlock(b, indent: indent))
            }
        }
        // Alignment width for each run of consecutive one-line attributes.
        var widths = [Int](repeating: 0, count: rendered.count)
        var runStart = 0
        while runStart < rendered.count {
            guard case .attribute(let name, let value) = rendered[runStart], !value.contains("\n") else {
                widths[runStart] = nameWidth(rendered[runStart])
                runStart += 1
                continue
            }
            var runEnd = runStart
            var width = name.unicodeScalars.count
            while runEnd + 1 < rendered.count, case .attribute(let n, let v) = rendered[runEnd + 1], !v.contains("\n") {
                runEnd += 1
                width = max(width, n.unicodeScalars.count)
            }
            for k in runStart...runEnd { widths[k] = width }
            runStart = runEnd + 1
        }
        for (k, item) in rendered.enumerated() {
            if k > 0 {
                if rendered[k - 1].isMultiLineBlock || item.isMultiLineBlock { out += "\n" }
            }
            switch item {
            case .attribute(let name, let value):
                out += pad
                out += name
                let extra = widths[k] - name.unicodeScalars.count
                if extra > 0 { out += String(repeating: " ", count: extra) }
                out += " = "
                out += value
                out += "\n"
            case .block(let text):
                out += text
                out += "\n"
            }
        }
    }

    private static func nameWidth(_ r: Rendered) -> Int {
        if case .attribute(let name, _) = r { return name.unicodeScalars.count }
        return 0
    }

    private static func renderBlock(_ block: HCLBlock, indent: Int) -> String {
        let pad = padding(indent)
        var header = pad + block.type
        for label in block.labels {
            header += " "
            header += quote(label.value)
        }
        if block.body.items.isEmpty { return header + " {}" }
        if block.body.items.count == 1, case .attribute(let a) = block.body.items[0] {
            let value = render(a.value, indent: indent + 1)
            let line = header + " { " + a.name + " = " + value + " }"
            if !value.contains("\n"), line.unicodeScalars.count <= maxInlineWidth { return line }
        }
        var out = header + " {\n"
        formatBody(block.body, indent: indent + 1, into: &out)
        out += pad + "}"
        return out
    }

    private static func render(_ e: HCLExpression, indent: Int) -> String {
        switch e.kind {
        case .string(let s): return quote(s)
        case .number(let value, let text): return text.isEmpty ? number(value) : text
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .identifier(let name): return name
        case .list(let elements):
            if elements.isEmpty { return "[]" }
            let parts = elements.map { render($0, indent: indent + 1) }
            let inlineWidth = parts.reduce(2 + 2 * (parts.count - 1)) { $0 + $1.unicodeScalars.count }
            let flat = elements.allSatisfy { if case .list = $0.kind { false } else if case .object = $0.kind { false } else { true } }
            if flat, inlineWidth <= maxInlineWidth, !parts.contains(where: { $0.contains("\n") }) {
                return "[" + parts.joined(separator: ", ") + "]"
            }
            let inner = padding(indent + 1)
            var out = "[\n"
            for part in parts {
                out += inner + part + ",\n"
            }
            return out + padding(indent) + "]"
        case .object(let items):
            if items.isEmpty { return "{}" }
            let parts = items.map { item in
                (isIdentifier(item.key) ? item.key : quote(item.key)) + " = " + render(item.value, indent: indent + 1)
            }
            let inlineWidth = parts.reduce(4 + 2 * (parts.count - 1)) { $0 + $1.unicodeScalars.count }
            let flat = items.allSatisfy { if case .list = $0.value.kind { false } else if case .object = $0.value.kind { false } else { true } }
            if flat, inlineWidth <= maxInlineWidth, !parts.contains(where: { $0.contains("\n") }) {
                return "{ " + parts.joined(separator: ", ") + " }"
            }
            let inner = padding(indent + 1)
            var out = "{\n"
            for part in parts {
                out += inner + part + "\n"
            }
            return out + padding(indent) + "}"
        }
    }

    /// A number as HCL text when its literal text is unknown: whole numbers without a fraction
    /// (`3`, not `3.0`), others as Swift writes them (`0.5`). Used by the config printer and in
    /// messages ("must be between 0 and 100").
    public static func number(_ value: Double) -> String {
        if abs(value) < 1e15, let integer = Int64(exactly: value) { return String(integer) }
        return value.description
    }

    /// True when `s` can be written bare as an identifier.
    public static func isIdentifier(_ s: String) -> Bool {
        var first = true
        for b in s.utf8 {
            if first {
                guard HCLLexer.isIdentifierStart(b) else { return false }
                first = false
            } else if !HCLLexer.isIdentifierContinue(b) {
                return false
            }
        }
        return !first
    }

    /// `s` as a quoted HCL string literal.
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        let scalars = s.unicodeScalars
        var index = scalars.startIndex
        while index != scalars.endIndex {
            let c = scalars[index]
            let next = scalars.index(after: index)
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "$", "%":
                out.unicodeScalars.append(c)
                if next != scalars.endIndex, scalars[next] == "{" { out.unicodeScalars.append(c) }
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    let hex = String(c.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
            index = next
        }
        out += "\""
        return out
    }
}
