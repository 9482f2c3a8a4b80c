import Testing
@testable import Domain

@Suite("HCL lexer")
struct HCLLexerTests {
    private func lex(_ source: String) -> (tokens: [HCLToken], errors: [String]) {
        var lexer = HCLLexer(source, file: "l.hcl")
        let tokens = lexer.tokenize()
        return (tokens, lexer.diagnostics.map(\.description))
    }

    @Test func tokenKindsTextAndPositions() {
        let (tokens, errors) = lex("a-b = [\"x\", -1.5e3]\n{}: ,")
        #expect(errors.isEmpty)
        #expect(tokens.map(\.kind) == [.identifier, .equals, .lbracket, .string, .comma, .minus, .number, .rbracket,
                                       .newline, .lbrace, .rbrace, .colon, .comma, .eof])
        #expect(tokens.map(\.text) == ["a-b", "", "", "x", "", "", "1.5e3", "", "", "", "", "", "", ""])
        #expect(tokens.map(\.column) == [1, 5, 7, 8, 11, 13, 14, 19, 20, 1, 2, 3, 5, 6])
        #expect(tokens.map(\.line) == [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
        #expect(tokens[3].endColumn == 11)
        #expect(tokens[6].endColumn == 19)
    }

    @Test func commentsVanishButNewlinesStay() {
        let (tokens, errors) = lex("# a\nx // b\n/* c\n d */ y /* e */ z\n")
        #expect(errors.isEmpty)
        #expect(tokens.map(\.kind) == [.newline, .identifier, .newline, .identifier, .identifier, .newline, .eof])
        #expect(tokens[3].line == 4 && tokens[3].column == 7)
        #expect(tokens[4].line == 4 && tokens[4].column == 17)
        #expect(tokens[6].line == 5 && tokens[6].column == 1)
    }

    @Test func heredocTokenSpansLines() {
        let (tokens, errors) = lex("v = <<-EOT\n\t\ta\n\t\t  b\n\t\tEOT\nw")
        #expect(errors.isEmpty)
        #expect(tokens.map(\.kind) == [.identifier, .equals, .heredoc, .newline, .identifier, .eof])
        #expect(tokens[2].text == "a\n  b\n")
        #expect(tokens[2].line == 1 && tokens[2].column == 5)
        #expect(tokens[2].endLine == 4 && tokens[2].endColumn == 6)
        #expect(tokens[4].line == 5 && tokens[4].column == 1)
    }

    @Test func errorsBecomeInvalidTokens() {
        let (tokens, errors) = lex("a = \"open\nb = 5x\nc = ~~\n")
        #expect(errors == ["l.hcl:1:5: error: unterminated string",
                           "l.hcl:2:5: error: invalid number '5x' (quote it if it is text: \"5x\")",
                           "l.hcl:3:5: error: unexpected character '~'"])
        #expect(tokens.filter { $0.kind == .invalid }.map(\.line) == [1, 2, 3])
        #expect(tokens.filter { $0.kind == .newline }.count == 3)
    }

    @Test func numberForms() {
        let (tokens, errors) = lex("0 42 3.25 1e3 1E-2 6e+1 7. 8e")
        #expect(tokens.filter { $0.kind == .number }.map(\.text) == ["0", "42", "3.25", "1e3", "1E-2", "6e+1"])
        #expect(errors == ["l.hcl:1:25: error: invalid number '7.' (quote it if it is text: \"7.\")",
                           "l.hcl:1:28: error: invalid number '8e' (quote it if it is text: \"8e\")"])
    }
}
