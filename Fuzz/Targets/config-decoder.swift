import Domain

/// libFuzzer target: parse and decode a config, then print the resolved config (text and JSON)
/// and its warnings. The resolved text is itself a valid config: it must decode again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard case .success(let text) = SourceText.decode(Array(UnsafeBufferPointer(start: data, count: size)), file: "fuzz.hcl")
    else { return 0 }
    do {
        let config = try ConfigDecoder.load(source: text, file: "fuzz.hcl")
        _ = config.warnings
        _ = ResolvedConfigPrinter.json(config)
        let resolved = ResolvedConfigPrinter.text(config, redactSecrets: false)
        do {
            _ = try ConfigDecoder.load(source: resolved, file: "resolved.hcl")
        } catch {
            fatalError("the resolved config does not decode:\n\(error)\n\(resolved)")
        }
    } catch {
        precondition(!error.diagnostics.isEmpty, "a rejected config without a diagnostic")
        _ = ResolvedConfigPrinter.json(error)
    }
    return 0
}
