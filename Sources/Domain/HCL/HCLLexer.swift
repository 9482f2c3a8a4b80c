/// One token of HCL native syntax, with its exact source position.
///
/// `text` holds the token's meaning: the name of an identifier, the decoded value of a string or
/// heredoc (escapes resolved), the literal text of a number. Punctuation carries no text.
struct HCLToken: Sendable {
    enum Kind: UInt8, Sendable {
        case identifier, string, heredoc, number
        case lbrace, rbrace, lbracket, rbracket, equals, colon, comma, minus
        case newline
        /// Something the lexer already reported as an error (unterminated string, bad character, ...).
        /// The parser skips it silently, so one mistake gives one diagnostic.
        case invalid
        case eof
    }

    var kind: Kind
    var text: String
    var line: Int
    var column: Int
    /// Position just after the token (for heredocs: after the closing marker).
    var endLine: Int
    var endColumn: Int
}

/// Turns HCL source into tokens. Works on the UTF-8 bytes; Strings are built only for token text.
///
/// Positions: lines and columns count from 1; a column counts Unicode scalars, a tab counts as one.
/// Comments (`#`, `//` to end of line, `/* */`) are skipped; a block comment is whitespace, it never
/// ends a line. Newlines are tokens: they end attributes.
///
/// Strings: escapes `\n \t \r \" \\ \uXXXX \UXXXXXXXX`; any other escape is an error. Interpolation
/// (`${...}`) and template directives (`%{...}`) are NOT evaluated: they stay literal text. As in
/// HCL, `$${` and `%%{` are escapes for a literal `${` and `%{` (so the formatter can write any text).
/// Heredocs (`<<EOF`, `<<-EOF`) take their lines literally (no backslash escapes, as in HCL), with the
/// same `$${` / `%%{` rule.
///
/// Identifiers are ASCII: a letter or `_`, then letters, digits, `_` and `-`.
struct HCLLexer {
    private let bytes: [UInt8]
    let file: String
    private var pos = 0
    private var line = 1
    private var lineStart = 0
    private var columnCacheOffset = 0
    private var columnCacheValue = 1
    private(set) var diagnostics: [Diagnostic] = []

    init(_ source: String, file: String) {
        self.bytes = Array(source.utf8)
        self.file = file
        // A UTF-8 byte order mark is not part of the text.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            pos = 3
            lineStart = 3
            columnCacheOffset = 3
        }
    }

    /// All tokens of the source, always ending with one `.eof` token.
    mutating func tokenize() -> [HCLToken] {
        var tokens: [HCLToken] = []
        tokens.reserveCapacity(bytes.count / 5 + 16)
        let count = bytes.count
        while true {
            // Horizontal whitespace.
            while pos < count {
                let b = bytes[pos]
                if b == 0x20 || b == 0x09 || b == 0x0D { pos += 1 } else { break }
            }
            guard pos < count else {
                let col = column(at: pos)
                tokens.append(HCLToken(kind: .eof, text: "", line: line, column: col, endLine: line, endColumn: col))
                return tokens
            }
            let start = pos
            let b = bytes[pos]
            switch b {
            case 0x0A: // \n
                let col = column(at: start)
                tokens.append(HCLToken(kind: .newline, text: "", line: line, column: col, endLine: line, endColumn: col + 1))
                pos += 1
                newLine()
            case 0x23: // #
                skipLineComment()
            case 0x2F: // /
                if pos + 1 < count, bytes[pos + 1] == 0x2F {
                    skipLineComment()
                } else if pos + 1 < count, bytes[pos + 1] == 0x2A {
                    skipBlockComment()
                } else {
                    tokens.append(unexpectedCharacters())
                }
            case 0x7B: tokens.append(punctuation(.lbrace))
            case 0x7D: tokens.append(punctuation(.rbrace))
            case 0x5B: tokens.append(punctuation(.lbracket))
            case 0x5D: tokens.append(punctuation(.rbracket))
            case 0x3D: tokens.append(punctuation(.equals))
            case 0x3A: tokens.append(punctuation(.colon))
            case 0x2C: tokens.append(punctuation(.comma))
            case 0x2D: tokens.append(punctuation(.minus))
            case 0x22: tokens.append(lexString())
            case 0x3C: // <
                if pos + 1 < count, bytes[pos + 1] == 0x3C {
                    tokens.append(lexHeredoc())
                } else {
                    tokens.append(unexpectedCharacters())
                }
            case 0x30...0x39:
                tokens.append(lexNumber())
            default:
                if Self.isIdentifierStart(b) {
                    while pos < count, Self.isIdentifierContinue(bytes[pos]) { pos += 1 }
                    let col = column(at: start)
                    let text = String(decoding: bytes[start..<pos], as: UTF8.self)
                    tokens.append(HCLToken(kind: .identifier, text: text, line: line, column: col,
                                           endLine: line, endColumn: col + (pos - start)))
                } else {
                    tokens.append(unexpectedCharacters())
                }
            }
        }
    }

    // MARK: - Character classes

    @inline(__always)
    static func isIdentifierStart(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == 0x5F
    }

    @inline(__always)
    static func isIdentifierContinue(_ b: UInt8) -> Bool {
        isIdentifierStart(b) || (b >= 0x30 && b <= 0x39) || b == 0x2D
    }

    @inline(__always)
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    // MARK: - Positions

    private mutating func newLine() {
        line += 1
        lineStart = pos
    }

    /// The column (in Unicode scalars, from 1) of a byte offset on the current line. Amortised
    /// linear: it counts forward from the last offset asked for.
    private mutating func column(at offset: Int) -> Int {
        if columnCacheOffset < lineStart || offset < columnCacheOffset {
            columnCacheOffset = lineStart
            columnCacheValue = 1
        }
        var c = columnCacheValue
        var i = columnCacheOffset
        while i < offset {
            if bytes[i] & 0xC0 != 0x80 { c += 1 }
            i += 1
        }
        columnCacheOffset = offset
        columnCacheValue = c
        return c
    }

    private mutating func location(at offset: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column(at: offset))
    }

    private mutating func error(at offset: Int, _ message: String) {
        diagnostics.append(Diagnostic(location(at: offset), message))
    }

    // MARK: - Simple tokens

    private mutating func punctuation(_ kind: HCLToken.Kind) -> HCLToken {
        let col = column(at: pos)
        pos += 1
        return HCLToken(kind: kind, text: "", line: line, column: col, endLine: line, endColumn: col + 1)
    }

    private mutating func skipLineComment() {
        while pos < bytes.count, bytes[pos] != 0x0A { pos += 1 }
    }

    private mutating func skipBlockComment() {
        let start = pos
        let startLine = line
        let startColumn = column(at: start)
        pos += 2
        while pos < bytes.count {
            let b = bytes[pos]
            if b == 0x2A, pos + 1 < bytes.count, bytes[pos + 1] == 0x2F {
                pos += 2
                return
            }
            pos += 1
            if b == 0x0A { newLine() }
        }
        diagnostics.append(Diagnostic(SourceLocation(file: file, line: startLine, column: startColumn),
                                      "unterminated comment: no closing '*/'"))
    }

    /// The byte length of the UTF-8 sequence that starts with `b` (1 for stray continuation bytes).
    private static func scalarLength(_ b: UInt8) -> Int {
        if b < 0xC0 { return 1 }
        if b < 0xE0 { return 2 }
        if b < 0xF0 { return 3 }
        return 4
    }

    /// The scalar at `offset`, for messages.
    private func scalarText(at offset: Int) -> String {
        let end = min(bytes.count, offset + Self.scalarLength(bytes[offset]))
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    static func describeCharacter(_ text: String) -> String {
        guard let scalar = text.unicodeScalars.first else { return "''" }
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0xA0 || scalar.value == 0xFEFF
            || (scalar.value >= 0x2000 && scalar.value <= 0x200F) || scalar.value == 0xFFFD
        {
            return code
        }
        if scalar.value < 0x80 { return "'\(text)'" }
        return "'\(text)' (\(code))"
    }

    /// Reports a character that cannot start a token, skipping the whole run of such characters
    /// (one error for `@@@`).
    private mutating func unexpectedCharacters() -> HCLToken {
        let start = pos
        let col = column(at: start)
        let what = scalarText(at: start)
        error(at: start, "unexpected character \(Self.describeCharacter(what))")
        pos += Self.scalarLength(bytes[pos])
        while pos < bytes.count {
            let b = bytes[pos]
            let startsToken = b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A || b == 0x23 || b == 0x22
                || b == 0x7B || b == 0x7D || b == 0x5B || b == 0x5D || b == 0x3D || b == 0x3A || b == 0x2C
                || b == 0x2D || Self.isDigit(b) || Self.isIdentifierStart(b)
            if startsToken { break }
            pos += 1
        }
        let endCol = column(at: pos)
        return HCLToken(kind: .invalid, text: "", line: line, column: col, endLine: line, endColumn: endCol)
    }

    // MARK: - Numbers

    private mutating func lexNumber() -> HCLToken {
        let start = pos
        let count = bytes.count
        while pos < count, Self.isDigit(bytes[pos]) { pos += 1 }
        if pos + 1 < count, bytes[pos] == 0x2E, Self.isDigit(bytes[pos + 1]) {
            pos += 1
            while pos < count, Self.isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < count, bytes[pos] == 0x65 || bytes[pos] == 0x45 {
            var p = pos + 1
            if p < count, bytes[p] == 0x2B || bytes[p] == 0x2D { p += 1 }
            if p < count, Self.isDigit(bytes[p]) {
                pos = p
                while pos < count, Self.isDigit(bytes[pos]) { pos += 1 }
            }
        }
        // A number glued to letters or dots ("5s", "10.0.0.1") is one malformed word, not two tokens.
        var malformed = false
        while pos < count {
            let b = bytes[pos]
            if Self.isIdentifierContinue(b) && b != 0x2D || b == 0x2E {
                malformed = true
                pos += 1
            } else {
                break
            }
        }
        let col = column(at: start)
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if malformed {
            error(at: start, "invalid number '\(text)' (quote it if it is text: \"\(text)\")")
            return HCLToken(kind: .invalid, text: text, line: line, column: col, endLine: line, endColumn: col + text.utf8.count)
        }
        return HCLToken(kind: .number, text: text, line: line, column: col, endLine: line, endColumn: col + (pos - start))
    }

    // MARK: - Strings

    private static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: UInt32(b - 0x30)
        case 0x61...0x66: UInt32(b - 0x61 + 10)
        case 0x41...0x46: UInt32(b - 0x41 + 10)
        default: nil
        }
    }

    private static func appendUTF8(_ scalar: Unicode.Scalar, to buffer: inout [UInt8]) {
        let v = scalar.value
        if v < 0x80 {
            buffer.append(UInt8(v))
        } else if v < 0x800 {
            buffer.append(UInt8(0xC0 | (v >> 6)))
            buffer.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            buffer.append(UInt8(0xE0 | (v >> 12)))
            buffer.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            buffer.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            buffer.append(UInt8(0xF0 | (v >> 18)))
            buffer.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            buffer.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            buffer.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// `"..."` on one line. The token's text is the decoded value.
    private mutating func lexString() -> HCLToken {
        let start = pos
        let col = column(at: start)
        let count = bytes.count
        pos += 1
        var segmentStart = pos
        // Only strings with escapes pay for a buffer.
        var buffer: [UInt8]? = nil

        while true {
            guard pos < count, bytes[pos] != 0x0A else {
                error(at: start, "unterminated string")
                let text = buffer.map { String(decoding: $0, as: UTF8.self) }
                    ?? String(decoding: bytes[segmentStart..<pos], as: UTF8.self)
                return HCLToken(kind: .invalid, text: text, line: line, column: col, endLine: line, endColumn: column(at: pos))
            }
            let b = bytes[pos]
            if b == 0x22 { // closing quote
                let text: String
                if var buf = buffer {
                    buf.append(contentsOf: bytes[segmentStart..<pos])
                    text = String(decoding: buf, as: UTF8.self)
                } else {
                    text = String(decoding: bytes[segmentStart..<pos], as: UTF8.self)
                }
                pos += 1
                return HCLToken(kind: .string, text: text, line: line, column: col, endLine: line, endColumn: column(at: pos))
            }
            if b == 0x5C { // backslash
                if buffer == nil { buffer = [] }
                buffer!.append(contentsOf: bytes[segmentStart..<pos])
                let escapeStart = pos
                guard pos + 1 < count, bytes[pos + 1] != 0x0A else {
                    // "\" at the end of the line: the string is unterminated; report that.
                    pos += 1
                    segmentStart = pos
                    continue
                }
                let e = bytes[pos + 1]
                switch e {
                case 0x6E: buffer!.append(0x0A); pos += 2
                case 0x74: buffer!.append(0x09); pos += 2
                case 0x72: buffer!.append(0x0D); pos += 2
                case 0x22: buffer!.append(0x22); pos += 2
                case 0x5C: buffer!.append(0x5C); pos += 2
                case 0x75, 0x55: // \u, \U
                    let digits = e == 0x75 ? 4 : 8
                    var value: UInt32 = 0
                    var n = 0
                    var p = pos + 2
                    while n < digits, p < count, let h = Self.hexValue(bytes[p]) {
                        value = value << 4 | h
                        n += 1
                        p += 1
                    }
                    let literal = String(decoding: bytes[escapeStart..<p], as: UTF8.self)
                    if n < digits {
                        error(at: escapeStart, "invalid escape sequence '\(literal)': expected \(digits) hex digits")
                    } else if let scalar = Unicode.Scalar(value) {
                        Self.appendUTF8(scalar, to: &buffer!)
                    } else {
                        error(at: escapeStart, "invalid escape sequence '\(literal)': not a Unicode scalar value")
                    }
                    pos = p
                default:
                    let what = scalarText(at: pos + 1)
                    error(at: escapeStart, "invalid escape sequence '\\\(what)'")
                    pos += 1 // keep the character itself as text
                }
                segmentStart = pos
                continue
            }
            if (b == 0x24 || b == 0x25), pos + 2 < count, bytes[pos + 1] == b, bytes[pos + 2] == 0x7B {
                // "$${" is a literal "${", "%%{" a literal "%{".
                if buffer == nil { buffer = [] }
                buffer!.append(contentsOf: bytes[segmentStart...pos])
                pos += 2
                segmentStart = pos
                continue
            }
            pos += 1
        }
    }

    // MARK: - Heredocs

    /// `<<EOF` / `<<-EOF`, a newline, lines, and a line holding only the marker (blanks around it
    /// allowed). The value is the lines in between, each with its newline. `<<-` removes the
    /// indentation common to all non-blank lines (a space or a tab each count as one).
    private mutating func lexHeredoc() -> HCLToken {
        let start = pos
        let startLine = line
        let col = column(at: start)
        let count = bytes.count
        pos += 2
        var indented = false
        if pos < count, bytes[pos] == 0x2D {
            indented = true
            pos += 1
        }
        let markerStart = pos
        if pos < count, Self.isIdentifierStart(bytes[pos]) {
            while pos < count, Self.isIdentifierContinue(bytes[pos]) { pos += 1 }
        }
        let marker = bytes[markerStart..<pos]
        let markerText = String(decoding: marker, as: UTF8.self)
        func invalid(_ lexer: inout HCLLexer) -> HCLToken {
            HCLToken(kind: .invalid, text: "", line: startLine, column: col, endLine: lexer.line,
                     endColumn: lexer.column(at: lexer.pos))
        }
        if marker.isEmpty {
            error(at: start, "expected a heredoc marker after '\(indented ? "<<-" : "<<")', e.g. <<EOF")
            return invalid(&self)
        }
        while pos < count, bytes[pos] == 0x20 || bytes[pos] == 0x09 || bytes[pos] == 0x0D { pos += 1 }
        if pos < count, bytes[pos] != 0x0A {
            if bytes[pos] == 0x23 || (bytes[pos] == 0x2F && pos + 1 < count && bytes[pos + 1] == 0x2F) {
                skipLineComment()
            } else {
                error(at: pos, "expected a newline after heredoc marker '\(markerText)'")
                skipLineComment() // skip the rest of the line
                return invalid(&self)
            }
        }
        if pos >= count {
            error(at: start, "unterminated heredoc: no line '\(markerText)'")
            return invalid(&self)
        }
        pos += 1
        newLine()

        var lines: [Range<Int>] = []
        while true {
            let lineBegin = pos
            var lineEnd = lineBegin
            while lineEnd < count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var contentEnd = lineEnd
            if contentEnd > lineBegin, bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            // Is this the closing marker line?
            var a = lineBegin
            while a < contentEnd, bytes[a] == 0x20 || bytes[a] == 0x09 { a += 1 }
            var z = contentEnd
            while z > a, bytes[z - 1] == 0x20 || bytes[z - 1] == 0x09 { z -= 1 }
            if z - a == marker.count, bytes[a..<z].elementsEqual(marker) {
                pos = contentEnd
                let text = Self.heredocValue(bytes, lines: lines, indented: indented)
                return HCLToken(kind: .heredoc, text: text, line: startLine, column: col, endLine: line,
                                endColumn: column(at: z))
            }
            if lineEnd >= count {
                pos = count
                diagnostics.append(Diagnostic(SourceLocation(file: file, line: startLine, column: col),
                                              "unterminated heredoc: no line '\(markerText)'"))
                return HCLToken(kind: .invalid, text: "", line: startLine, column: col, endLine: line,
                                endColumn: column(at: pos))
            }
            lines.append(lineBegin..<contentEnd)
            pos = lineEnd + 1
            newLine()
        }
    }

    private static func heredocValue(_ bytes: [UInt8], lines: [Range<Int>], indented: Bool) -> String {
        var strip = 0
        if indented {
            strip = Int.max
            for r in lines {
                var i = r.lowerBound
                while i < r.upperBound, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
                if i < r.upperBound { strip = min(strip, i - r.lowerBound) }
            }
            if strip == Int.max { strip = 0 }
        }
        var out: [UInt8] = []
        out.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
        for r in lines {
            var i = r.lowerBound
            var n = 0
            while n < strip, i < r.upperBound, bytes[i] == 0x20 || bytes[i] == 0x09 {
                i += 1
                n += 1
            }
            while i < r.upperBound {
                let b = bytes[i]
                if (b == 0x24 || b == 0x25), i + 2 < r.upperBound, bytes[i + 1] == b, bytes[i + 2] == 0x7B {
                    out.append(b)
                    out.append(0x7B)
                    i += 3
                } else {
                    out.append(b)
                    i += 1
                }
            }
            out.append(0x0A)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
