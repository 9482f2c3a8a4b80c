import Foundation
import Lab

/// Polls `condition` every `every` seconds until it holds or `seconds` pass; returns whether it held.
func eventually(seconds: Double, every: Double = 0.25, _ condition: () throws -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if (try? condition()) == true { return true }
        if Date() > deadline { return false }
        try? await Task.sleep(for: .milliseconds(Int(every * 1000)))
    }
}

/// Builds a lab, runs `body`, and always removes the lab, whether `body` returns, throws, or
/// records failures.
func withLab<T>(wans: Int = 2, staticWANs: Set<Int>? = nil, mainDefault: Int? = 0,
                _ body: (LabTopology) async throws -> T) async throws -> T {
    let lab = try LabTopology(wans: wans, staticWANs: staticWANs, mainDefault: mainDefault)
    defer { lab.remove() }
    return try await body(lab)
}

