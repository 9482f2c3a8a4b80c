import Domain
import Simulator

/// libFuzzer target: parse and decode a scenario file. `config = "..."` names resolve to one fixed
/// config file, or fail to read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard case .success(let text) = SourceText.decode(Array(UnsafeBufferPointer(start: data, count: size)), file: "fuzz.hcl")
    else { return 0 }
    do {
        _ = try ScenarioDecoder.load(source: text, file: "Scenarios/fuzz.hcl", loadFile: FuzzFiles.read)
    } catch {
        precondition(!error.diagnostics.isEmpty, "a rejected scenario without a diagnostic")
    }
    return 0
}
