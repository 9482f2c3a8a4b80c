import Domain

/// libFuzzer target: the HCL lexer and parser, then the formatter on what parsed (every input
/// must end in a body or a list of located diagnostics, never a crash or a stall).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard case .success(let text) = SourceText.decode(Array(UnsafeBufferPointer(start: data, count: size)), file: "fuzz.hcl")
    else { return 0 }
    do {
        let body = try HCLParser.parse(text, file: "fuzz.hcl")
        // The formatter writes valid HCL for any body the parser gives.
        let formatted = HCLFormatter.format(body)
        if (try? HCLParser.parse(formatted, file: "formatted.hcl")) == nil {
            fatalError("formatted text does not parse:\n\(formatted)")
        }
    } catch {
        precondition(!error.diagnostics.isEmpty, "a parse failure without a diagnostic")
    }
    return 0
}
