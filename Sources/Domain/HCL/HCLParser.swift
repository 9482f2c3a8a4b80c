/// A hand-written recursive-descent parser for HCL native syntax (the subset configs use).
///
/// Grammar (newlines are significant: they end attributes and blocks):
///
///     body       = { attribute | block | newline }
///     attribute  = identifier "=" expression newline
///     block      = identifier { string | identifier } "{" ( newline body | oneline ) "}" newline
///     oneline    = [ identifier "=" expression ]          (HCL: at most one attribute)
///     expression = string | heredoc | ["-"] number | "true" | "false" | "null" | identifier
///                | "[" [ expression { "," expression } [","] ] "]"      (newlines allowed inside)
///     | "{" { key ("=" | ":") expression ("," | newline) } "}"         (key: identifier or string)
///
/// Not supported (by design; configs do not need them): function calls, operators and arithmetic,
/// conditionals, `for` expressions, splats and traversals (`a.b[0]`), and string interpolation
/// (`${...}` stays literal text, see `HCLLexer`).
///
/// Errors are collected, not thrown one at a time: after a mistake the parser skips to the end of the
/// line (or to the next `,`/`]` inside a list) and goes on, so one run reports every problem.
/// Duplicate attribute names are kept in the tree; the typed decoders report them.
public enum HCLParser {
    /// Parses a whole file. Throws DiagnosticList with ALL syntax errors found, positions exact.
    public static func parse(_ source: String, file: String) throws(DiagnosticList) -> HCLBody {
        var lexer = HCLLexer(source, file: file)
        let tokens = lexer.tokenize()
        var parser = HCLParserState(tokens: tokens, file: file, diagnostics: lexer.diagnostics)
        let body = parser.parseFile()
        if !parser.diagnostics.isEmpty { throw DiagnosticList(parser.diagnostics) }
        return body
    }
}

struct HCLParserState {
    let tokens: [HCLToken]
    let file: String
    var diagnostics: [Diagnostic]
    var i = 0
    /// How many blocks enclose the current position (a stray `}` at depth 0 is skipped in recovery).
    var blockDepth = 0
    /// Blocks, lists and objects currently open, bounded so hostile input cannot exhaust the stack.
    var nesting = 0
    static let maxNesting = 100

    init(tokens: [HCLToken], file: String, diagnostics: [Diagnostic]) {
        self.tokens = tokens
        self.file = file
        self.diagnostics = diagnostics
    }

    // MARK: - Token access

    @inline(__always) var kind: HCLToken.Kind { tokens[i].kind }

    @inline(__always) func kind(at j: Int) -> HCLToken.Kind {
        j < tokens.count ? tokens[j].kind : .eof
    }

    @inline(__always) mutating func advance() {
        if i < tokens.count - 1 { i += 1 }
    }

    func location(of j: Int) -> SourceLocation {
        SourceLocation(file: file, line: tokens[j].line, column: tokens[j].column)
    }

    var here: SourceLocation { location(of: i) }

    /// Where to report something missing before the current token: a newline or the end of the file
    /// is reported just after the previous token, so the caret points at the gap.
    var gapLocation: SourceLocation {
        if (kind == .newline || kind == .eof), i > 0, tokens[i - 1].kind != .newline {
            let t = tokens[i - 1]
            return SourceLocation(file: file, line: t.endLine, column: t.endColumn)
        }
        return here
    }

    /// True when the current token is the first on its line.
    var atLineStart: Bool { i == 0 || tokens[i - 1].kind == .newline }

    mutating func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(Diagnostic(location, message))
    }

    func describe(_ j: Int) -> String {
        let t = tokens[j]
        switch t.kind {
        case .identifier: return "'\(t.text)'"
        case .string:
            let long = t.text.unicodeScalars.count > 24
            let shown = long ? String(String.UnicodeScalarView(t.text.unicodeScalars.prefix(24))) : t.text
            return "string " + HCLFormatter.quote(shown) + (long ? "..." : "")
        case .heredoc: return "a heredoc"
        case .number: return "number \(t.text)"
        case .lbrace: return "'{'"
        case .rbrace: return "'}'"
        case .lbracket: return "'['"
        case .rbracket: return "']'"
        case .equals: return "'='"
        case .colon: return "':'"
        case .comma: return "','"
        case .minus: return "'-'"
        case .newline: return "end of line"
        case .invalid: return "invalid text"
        case .eof: return "end of file"
        }
    }

    // MARK: - Recovery

    /// Skips to just after the end of the current line (brackets opened on it are skipped whole),
    /// stopping before a `}` that would close the enclosing block.
    mutating func skipRestOfLine() {
        var depth = 0
        while true {
            switch kind {
            case .eof: return
            case .newline:
                advance()
                if depth == 0 { return }
            case .lbrace, .lbracket:
                depth += 1
                advance()
            case .rbrace:
                if depth == 0 && blockDepth > 0 { return }
                depth = max(0, depth - 1)
                advance()
            case .rbracket:
                depth = max(0, depth - 1)
                advance()
            default:
                advance()
            }
        }
    }

    /// After a failed value: go on from the next line.
    mutating func recoverStatement() {
        if !atLineStart { skipRestOfLine() }
    }

    /// Does the current token, at the start of a line, look like the next attribute or block
    /// rather than more of a list?
    func looksLikeStatementStart() -> Bool {
        switch kind {
        case .rbrace: return true
        case .identifier:
            switch kind(at: i + 1) {
            case .equals, .lbrace, .string: return true
            case .identifier: return [.lbrace, .string, .identifier].contains(kind(at: i + 2))
            default: return false
            }
        default: return false
        }
    }

    /// Reports excessive nesting at the current `{` or `[` and skips the whole bracketed part.
    mutating func tooDeep() {
        error(here, "nested too deeply (more than \(Self.maxNesting) levels of blocks, lists and objects)")
        var depth = 0
        repeat {
            switch kind {
            case .lbrace, .lbracket: depth += 1
            case .rbrace, .rbracket: depth -= 1
            case .eof: return
            default: break
            }
            advance()
        } while depth > 0
    }

    // MARK: - Bodies

    mutating func parseFile() -> HCLBody {
        var items: [HCLBodyItem] = []
        _ = parseBodyItems(into: &items, closing: nil)
        return HCLBody(items: items)
    }

    /// Parses items up to the closing `}` of the block `closing` (consumed), or to the end of the
    /// file at top level. Returns false when the block was never closed.
    mutating func parseBodyItems(into items: inout [HCLBodyItem], closing: (type: String, location: SourceLocation)?) -> Bool {
        if closing != nil { blockDepth += 1 }
        defer { if closing != nil { blockDepth -= 1 } }
        while true {
            switch kind {
            case .newline:
                advance()
            case .eof:
                if let open = closing {
                    error(here, "missing closing '}' for block '\(open.type)' opened at \(open.location.line):\(open.location.column)")
                    return false
                }
                return true
            case .rbrace:
                if closing != nil {
                    advance()
                    return true
                }
                error(here, "unexpected '}'")
                advance()
            case .identifier:
                if let item = parseItem() { items.append(item) }
            case .invalid:
                skipRestOfLine()
            case .rbracket:
                error(here, "unexpected ']'")
                skipRestOfLine()
            default:
                error(here, "expected an attribute or a block, found \(describe(i))")
                skipRestOfLine()
            }
        }
    }

    /// After a complete attribute or block: the line must end here.
    mutating func expectEndOfLine(after what: String) {
        switch kind {
        case .newline: advance()
        case .eof: return
        case .invalid: skipRestOfLine()
        default:
            if atLineStart { return }
            error(here, "expected a newline after \(what), found \(describe(i))")
            skipRestOfLine()
        }
    }

    /// An attribute or a block; the current token is its name.
    mutating func parseItem() -> HCLBodyItem? {
        let name = tokens[i].text
        let nameLocation = here
        advance()
        switch kind {
        case .equals:
            advance()
            guard let value = parseExpression(for: name) else {
                recoverStatement()
                return nil
            }
            expectEndOfLine(after: "the value of '\(name)'")
            return .attribute(HCLAttribute(name: name, location: nameLocation, value: value))
        case .lbrace, .string, .identifier:
            return parseBlock(type: name, location: nameLocation).map { .block($0) }
        case .invalid:
            skipRestOfLine()
            return nil
        case .colon:
            error(here, "expected '=' or '{' after '\(name)' (use '=' to set an attribute)")
            skipRestOfLine()
            return nil
        default:
            error(gapLocation, "expected '=' or '{' after '\(name)'")
            recoverStatement()
            return nil
        }
    }

    mutating func parseBlock(type: String, location: SourceLocation) -> HCLBlock? {
        var labels: [HCLLabel] = []
        while kind == .string || kind == .identifier {
            labels.append(HCLLabel(value: tokens[i].text, location: here))
            advance()
        }
        guard kind == .lbrace else {
            if kind == .invalid {
                skipRestOfLine()
            } else {
                error(gapLocation, "expected '{' to open block '\(type)', found \(describe(i))")
                recoverStatement()
            }
            return nil
        }
        if nesting >= Self.maxNesting {
            tooDeep()
            return nil
        }
        nesting += 1
        defer { nesting -= 1 }
        advance()
        var items: [HCLBodyItem] = []
        let open = (type: type, location: location)
        if kind == .newline {
            if parseBodyItems(into: &items, closing: open) {
                expectEndOfLine(after: "the closing '}' of block '\(type)'")
            }
        } else {
            parseOneLineBody(into: &items, block: open)
        }
        return HCLBlock(type: type, labels: labels, body: HCLBody(items: items), location: location)
    }

    /// `type "label" { name = value }` on one line: HCL allows at most one attribute, no blocks.
    mutating func parseOneLineBody(into items: inout [HCLBodyItem], block: (type: String, location: SourceLocation)) {
        switch kind {
        case .rbrace:
            advance()
            expectEndOfLine(after: "the closing '}' of block '\(block.type)'")
            return
        case .eof:
            error(here, "missing closing '}' for block '\(block.type)' opened at \(block.location.line):\(block.location.column)")
            return
        case .identifier where kind(at: i + 1) == .equals:
            let name = tokens[i].text
            let nameLocation = here
            advance()
            advance()
            guard let value = parseExpression(for: name) else {
                skipOneLineBody(into: &items, block: block)
                return
            }
            items.append(.attribute(HCLAttribute(name: name, location: nameLocation, value: value)))
            switch kind {
            case .rbrace:
                advance()
                expectEndOfLine(after: "the closing '}' of block '\(block.type)'")
            case .newline:
                // Most likely a multi-line block whose first attribute sits on the '{' line.
                error(gapLocation, "a one-line block must close with '}' on the same line (put '\(name) = ...' on its own line for a multi-line block)")
                advance()
                if parseBodyItems(into: &items, closing: block) {
                    expectEndOfLine(after: "the closing '}' of block '\(block.type)'")
                }
            case .eof:
                error(here, "missing closing '}' for block '\(block.type)' opened at \(block.location.line):\(block.location.column)")
            case .comma:
                let at = kind(at: i + 1) == .identifier ? location(of: i + 1) : here
                error(at, "a one-line block may hold only one attribute")
                skipOneLineBody(into: &items, block: block)
            case .identifier:
                error(here, "a one-line block may hold only one attribute")
                skipOneLineBody(into: &items, block: block)
            case .invalid:
                skipOneLineBody(into: &items, block: block)
            default:
                error(here, "expected '}' to close one-line block '\(block.type)', found \(describe(i))")
                skipOneLineBody(into: &items, block: block)
            }
        case .identifier:
            error(here, "a one-line block cannot contain a nested block")
            skipOneLineBody(into: &items, block: block)
        case .invalid:
            skipOneLineBody(into: &items, block: block)
        default:
            error(here, "expected an attribute or '}' in one-line block '\(block.type)', found \(describe(i))")
            skipOneLineBody(into: &items, block: block)
        }
    }

    /// Recovery inside a one-line block: skip to its `}` on this line; if the line ends first, the
    /// block goes on as a multi-line block.
    mutating func skipOneLineBody(into items: inout [HCLBodyItem], block: (type: String, location: SourceLocation)) {
        var depth = 0
        while true {
            switch kind {
            case .eof:
                error(here, "missing closing '}' for block '\(block.type)' opened at \(block.location.line):\(block.location.column)")
                return
            case .newline where depth == 0:
                advance()
                if parseBodyItems(into: &items, closing: block) {
                    expectEndOfLine(after: "the closing '}' of block '\(block.type)'")
                }
                return
            case .rbrace where depth == 0:
                advance()
                expectEndOfLine(after: "the closing '}' of block '\(block.type)'")
                return
            case .lbrace, .lbracket:
                depth += 1
            case .rbrace, .rbracket:
                depth = max(0, depth - 1)
            default:
                break
            }
            advance()
        }
    }

    // MARK: - Expressions

    /// Parses a value. On failure reports (unless the lexer already did) and returns nil with the
    /// current token at the offending one.
    mutating func parseExpression(for owner: String?) -> HCLExpression? {
        let t = tokens[i]
        let loc = here
        switch t.kind {
        case .string, .heredoc:
            advance()
            return HCLExpression(.string(t.text), at: loc)
        case .number:
            advance()
            guard let value = number(t.text, at: loc) else { return nil }
            return HCLExpression(.number(value, text: t.text), at: loc)
        case .minus:
            advance()
            guard kind == .number else {
                if kind != .invalid { error(here, "expected a number after '-', found \(describe(i))") }
                return nil
            }
            let text = "-" + tokens[i].text
            advance()
            guard let value = number(text, at: loc) else { return nil }
            return HCLExpression(.number(value, text: text), at: loc)
        case .identifier:
            advance()
            switch t.text {
            case "true": return HCLExpression(.bool(true), at: loc)
            case "false": return HCLExpression(.bool(false), at: loc)
            case "null": return HCLExpression(.null, at: loc)
            default: return HCLExpression(.identifier(t.text), at: loc)
            }
        case .lbracket, .lbrace:
            if nesting >= Self.maxNesting {
                tooDeep()
                return nil
            }
            nesting += 1
            defer { nesting -= 1 }
            return t.kind == .lbracket ? parseList() : parseObject()
        case .invalid:
            return nil
        default:
            let what = owner.map { "a value for '\($0)'" } ?? "a value"
            error(t.kind == .newline || t.kind == .eof ? gapLocation : loc, "expected \(what), found \(describe(i))")
            return nil
        }
    }

    mutating func number(_ text: String, at loc: SourceLocation) -> Double? {
        guard let value = Double(text), value.isFinite else {
            error(loc, "number '\(text)' is out of range")
            return nil
        }
        return value
    }

    /// Skips a broken list element or object item up to the next separator. Returns false when the
    /// container cannot go on (its closer is missing): then the current token is where to resume.
    mutating func skipToSeparator(closer: HCLToken.Kind, newlineSeparates: Bool) -> Bool {
        var depth = 0
        while true {
            switch kind {
            case .eof:
                return false
            case .comma where depth == 0:
                return true
            case .newline where depth == 0:
                if newlineSeparates { return true }
                advance()
                while kind == .newline { advance() }
                if looksLikeStatementStart() { return false }
                continue
            case .lbrace, .lbracket:
                depth += 1
            case .rbrace, .rbracket:
                if depth == 0 { return kind == closer }
                depth -= 1
            default:
                break
            }
            advance()
        }
    }

    mutating func skipNewlines() {
        while kind == .newline { advance() }
    }

    mutating func parseList() -> HCLExpression? {
        let open = here
        advance()
        var elements: [HCLExpression] = []
        func missing(_ p: inout HCLParserState) {
            p.error(p.here, "missing closing ']' for list opened at \(open.line):\(open.column)")
        }
        while true {
            skipNewlines()
            if kind == .rbracket {
                advance()
                return HCLExpression(.list(elements), at: open)
            }
            if kind == .eof || (!elements.isEmpty && atLineStart && looksLikeStatementStart()) {
                missing(&self)
                return nil
            }
            if let element = parseExpression(for: nil) {
                elements.append(element)
            } else if !skipToSeparator(closer: .rbracket, newlineSeparates: false) {
                if kind != .rbrace && kind != .rbracket { missing(&self) }
                return nil
            }
            // After an element: ',' or ']'.
            var crossedLine = false
            while kind == .newline {
                crossedLine = true
                advance()
            }
            switch kind {
            case .comma:
                advance()
            case .rbracket:
                continue // closes on the next turn
            case .eof:
                missing(&self)
                return nil
            default:
                if crossedLine && looksLikeStatementStart() {
                    missing(&self)
                    return nil
                }
                if kind != .invalid {
                    error(here, "expected ',' or ']' after a list element, found \(describe(i))")
                }
                if !skipToSeparator(closer: .rbracket, newlineSeparates: false) { return nil }
                if kind == .comma { advance() }
            }
        }
    }

    mutating func parseObject() -> HCLExpression? {
        let open = here
        advance()
        var items: [HCLObjectItem] = []
        func missing(_ p: inout HCLParserState) {
            p.error(p.here, "missing closing '}' for object opened at \(open.line):\(open.column)")
        }
        while true {
            skipNewlines()
            switch kind {
            case .rbrace:
                advance()
                return HCLExpression(.object(items), at: open)
            case .eof:
                missing(&self)
                return nil
            case .identifier, .string:
                break
            case .comma:
                error(here, "expected an object key, found ','")
                advance()
                continue
            default:
                if kind != .invalid { error(here, "expected an object key, found \(describe(i))") }
                if !skipToSeparator(closer: .rbrace, newlineSeparates: true) {
                    if kind == .eof { missing(&self) }
                    return nil
                }
                if kind == .comma { advance() }
                continue
            }
            let key = tokens[i].text
            let keyLocation = here
            advance()
            guard kind == .equals || kind == .colon else {
                if kind != .invalid {
                    error(gapLocation, "expected '=' or ':' after object key '\(key)', found \(describe(i))")
                }
                if !skipToSeparator(closer: .rbrace, newlineSeparates: true) {
                    if kind == .eof { missing(&self) }
                    return nil
                }
                if kind == .comma { advance() }
                continue
            }
            advance()
            if let value = parseExpression(for: key) {
                items.append(HCLObjectItem(key: key, keyLocation: keyLocation, value: value))
            } else if !skipToSeparator(closer: .rbrace, newlineSeparates: true) {
                if kind == .eof { missing(&self) }
                return nil
            }
            switch kind {
            case .comma:
                advance()
            case .newline, .rbrace:
                continue
            case .eof:
                missing(&self)
                return nil
            default:
                if kind != .invalid {
                    error(here, "expected ',', a newline or '}' after the value of '\(key)', found \(describe(i))")
                }
                if !skipToSeparator(closer: .rbrace, newlineSeparates: true) {
                    if kind == .eof { missing(&self) }
                    return nil
                }
                if kind == .comma { advance() }
            }
        }
    }
}
