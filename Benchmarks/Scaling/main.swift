import Domain
import Glibc
import Simulator

// Two bounds of issue #10, measured (run with Benchmarks/Scaling/run.sh):
// 1. Decoding is linear in the size of the file: for each shape of config, time
//    `ConfigDecoder.load` and the resolved printout (`flywall config check`) at n and 2n and print
//    the ratio (about 2 when linear, about 4 when quadratic). A file beyond the dataplane's limits
//    (more than 64 WANs, more hash slots than 1,023) is still decoded whole and rejected with one
//    error per limit: then "check" is decode plus printing the errors, and the outcome says so.
// 2. A scenario at each work limit (`ScenarioDecoder.Limits.probes`, `.connections`) runs in
//    seconds: its time and peak RSS.

func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func interfaces(_ n: Int) -> String {
    (0..<n).map { "interface \"w\($0)\" {\n  zone = \"WAN\"\n  wan { priority = \($0 % 1000) }\n  health_check { targets = [\"192.0.2.\($0 % 250 + 1)\"] }\n}\n" }.joined()
}

/// n WANs, all members of one group (beyond 64 WANs: rejected, "too many WANs").
func wans(_ n: Int) -> String {
    interfaces(n) + "uplink_group \"default\" {\n" + (0..<n).map { "  member \"w\($0)\" {}\n" }.joined() + "}\n"
}

/// n groups of one member each, over n WANs (beyond 15 groups: rejected, each takes 64 hash slots).
func groups(_ n: Int) -> String {
    interfaces(n) + (0..<n).map { "uplink_group \"g\($0)\" {\n  member \"w\($0)\" { priority = 1 }\n}\n" }.joined()
}

/// n policy routes over 64 WANs (the most), each with an ipset of its own: valid at any n.
func policies(_ n: Int) -> String {
    interfaces(min(n, 64)) + (0..<n).map {
        "ipset \"s\($0)\" { entries = [\"10.\($0 / 256 % 256).\($0 % 256).0/24\"] }\n" +
        "policy_route \"p\($0)\" {\n  match {\n    protocol    = \"tcp\"\n    destination = [\"@s\($0)\"]\n  }\n  uplink = \"w\($0 % 64)\"\n}\n"
    }.joined()
}

/// Best of 3 of decode and of the printout `config check` makes (the resolved config, or the errors),
/// and what came out: "valid" or the number of errors, and the first error.
func measure(_ source: String) -> (decode: Double, print: Double, outcome: String, error: String?) {
    var best = (Double.infinity, Double.infinity)
    var outcome = ""
    var firstError: String?
    for _ in 0..<3 {
        let t0 = nowNanoseconds()
        let decoded = Result { () throws(DiagnosticList) in try ConfigDecoder.load(source: source, file: "bench.hcl") }
        let t1 = nowNanoseconds()
        let text: String
        switch decoded {
        case .success(let config):
            text = ResolvedConfigPrinter.text(config)
            outcome = "valid"
        case .failure(let problems):
            text = problems.description
            outcome = "\(problems.diagnostics.count) error\(problems.diagnostics.count == 1 ? "" : "s")"
            firstError = problems.diagnostics.first?.message
        }
        let t2 = nowNanoseconds()
        precondition(!text.isEmpty)
        best = (min(best.0, Double(t1 - t0) / 1e9), min(best.1, Double(t2 - t1) / 1e9))
    }
    return (best.0, best.1, outcome, firstError)
}

func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
func time(_ s: Double) -> String { s < 1 ? "\(Int((s * 1000).rounded())) ms" : "\(Double(Int(s * 100)) / 100) s" }
func ratio(_ x: Double, _ y: Double) -> String { "\(Double(Int(y / x * 100)) / 100)" }

/// Scenarios at the work limits the decoder accepts (`ScenarioDecoder.Limits`): one with 1,000,000
/// connections (1,000 s at 1,000/s, no expectation, since each one reading flows counts them
/// again), one with 10 million probes (16 WANs of 3 targets every second for 208,332 s: 208,333
/// rounds × 48 = 9,999,984).
func connectionsAtTheLimit() -> String {
    """
    scenario "connections" { duration = "1000s" }
    interface "eth0" {
      wan { priority = 1 }
      health_check { targets = ["192.0.2.1"] }
    }
    interface "eth1" {
      wan { priority = 2 }
      health_check { targets = ["192.0.2.2"] }
    }
    traffic "lan" {
      source_count = 100
      rate         = 1000
    }
    at "500s" {
      link "eth0" { blackhole = true }
    }
    """
}

func probesAtTheLimit() -> String {
    let wans = (0..<16).map { i in
        "interface \"e\(i)\" {\n  wan { priority = \(i) }\n  health_check {\n    targets  = [\"192.0.2.\(3 * i + 1)\", \"192.0.2.\(3 * i + 2)\", \"192.0.2.\(3 * i + 3)\"]\n    interval = \"1s\"\n    timeout  = \"500ms\"\n  }\n}\n"
    }.joined()
    return "scenario \"probes\" { duration = \"208332s\" }\n" + wans + "link \"e0\" {\n  loss   = 1\n  jitter = \"5ms\"\n}\n"
}

func peakRSSMegabytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss / 1024
}

let n = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 10_000 : 10_000
let only = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : nil
print(pad("shape", 10), pad("n", 7), pad("lines", 8), pad("outcome", 9), pad("decode", 9), pad("check", 9), "|",
      pad("2n decode", 10), pad("ratio", 6), "|", pad("2n check", 9), "ratio")
for (name, make) in [("WANs", wans), ("groups", groups), ("policies", policies)] as [(String, (Int) -> String)]
where only == nil || only == name {
    let small = make(n), large = make(2 * n)
    let a = measure(small), b = measure(large)
    let lines = small.split(separator: "\n").count
    print(pad(name, 10), pad("\(n)", 7), pad("\(lines)", 8), pad(a.outcome, 9), pad(time(a.decode), 9), pad(time(a.decode + a.print), 9), "|",
          pad(time(b.decode), 10), pad(ratio(a.decode, b.decode), 6), "|", pad(time(b.decode + b.print), 9),
          ratio(a.decode + a.print, b.decode + b.print))
    if let error = a.error { print("  \(name) at n: \(error)") }
}

if only == nil || only == "work" {
    for (name, source) in [("connections", connectionsAtTheLimit()), ("probes", probesAtTheLimit())] {
        let t0 = nowNanoseconds()
        let scenario = try! ScenarioDecoder.load(source: source, file: "limit.hcl") { _ in "" }
        let report = Simulation(scenario: scenario).evaluate()
        let t1 = nowNanoseconds()
        print("work limit (\(name)): \(report.result.observations.flows.count) connections + \(report.result.probesSent) probes in \(time(Double(t1 - t0) / 1e9)), peak RSS so far \(peakRSSMegabytes()) MB")
    }
}
