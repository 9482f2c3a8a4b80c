import Domain
import Simulator

/// libFuzzer target: decode a scenario and run it, so the engine's arithmetic is fuzzed with every
/// value the decoder accepts, not only the parser. Runs are kept short (virtual time and work cut
/// to `FuzzFiles.simulationLimits`) so the fuzzer tries many; reports are rendered too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard case .success(let text) = SourceText.decode(Array(UnsafeBufferPointer(start: data, count: size)), file: "fuzz.hcl"),
          var scenario = try? ScenarioDecoder.load(source: text, file: "Scenarios/fuzz.hcl", loadFile: FuzzFiles.read)
    else { return 0 }
    guard FuzzFiles.shorten(&scenario) else { return 0 }
    let report = Simulation(scenario: scenario).evaluate()
    _ = TextReporter.render(report, verbose: true)
    _ = JSONReporter.render(report, verbose: true)
    _ = SVGRenderer.render(report)
    return 0
}
