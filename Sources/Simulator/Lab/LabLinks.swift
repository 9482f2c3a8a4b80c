import Domain
import Foundation
import Simulator

/// The scenario's link models made real, in each ISP's namespace:
///
/// - `carrier = false`: the ISP's end of the veth goes down, so the router's WAN loses carrier.
/// - `blackhole`, `loss`, `unreachable`: one nftables table `inet fwlab_link` in the ISP, at the
///   first hook a packet from the router meets (prerouting, priority -300): drop everything, drop
///   `numgen random mod 10000 < loss x 100` (this kernel has no netem), drop what is addressed to
///   the unreachable targets. Replaced as a whole on every change (one `nft -f` transaction).
/// - `latency`, `jitter`: the ISP's kernel answers no echo requests itself
///   (`icmp_echo_ignore_all`); a userspace responder (echo.py `respond`) answers the targets'
///   echo requests after latency + uniform(0...jitter). Only probe replies are delayed, not
///   connections or HTTP checks.
/// - `http_status`: the ISP's HTTP server answers with that status (a file it reads per request).
final class LabLinks: @unchecked Sendable {
    let topology: LabTopology
    private(set) var states: [LinkState]
    private var responders: [LabProcess?]

    init(_ topology: LabTopology, initial: [LinkState]) throws {
        self.topology = topology
        self.states = initial
        self.responders = Array(repeating: nil, count: topology.isps.count)
        for isp in topology.isps {
            try topology.exec(isp.namespace, ["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1"])
            let state = initial[isp.index]
            if !isp.targets.isEmpty {
                let responder = try topology.spawn("respond \(isp.name)", in: isp.namespace, [
                    "python3", LabTopology.echoScript, "respond", "--targets", isp.targets.joined(separator: ","),
                    "--latency", String(max(0, state.latency.nanoseconds)), "--jitter", String(max(0, state.jitter.nanoseconds)),
                ])
                responders[isp.index] = responder
                guard waitFor(responder, "ready") else {
                    throw LabCommandError(command: responder.arguments, status: responder.exitStatus ?? -1, output: responder.text)
                }
            }
            try program(isp.index, from: LinkState(), to: state)
        }
    }

    private func waitFor(_ process: LabProcess, _ line: String) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while !process.lines.contains(line) {
            if process.exitStatus != nil || Date() > deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// Applies a scripted change to ISP `index`; returns when the kernel has it.
    func apply(_ change: LinkChange, to index: Int) throws {
        let before = states[index]
        let after = change.applied(to: before)
        states[index] = after
        try program(index, from: before, to: after)
    }

    private func program(_ index: Int, from before: LinkState, to after: LinkState) throws {
        let isp = topology.isps[index]
        if after.blackhole != before.blackhole || after.loss != before.loss || after.unreachable != before.unreachable {
            try topology.exec(isp.namespace, ["nft", "-f", "-"], input: Self.ruleset(after))
        }
        if after.latency != before.latency || after.jitter != before.jitter {
            responders[index]?.send("latency \(max(0, after.latency.nanoseconds)) \(max(0, after.jitter.nanoseconds))")
        }
        if after.httpStatus != before.httpStatus { try topology.setHTTPStatus(index, after.httpStatus) }
        if after.carrier != before.carrier { try topology.ip(isp.namespace, "link set cust \(after.carrier ? "up" : "down")") }
    }

    /// The ISP's fault table for a link state (declared, then emptied and refilled: one transaction).
    static func ruleset(_ s: LinkState) -> String {
        var rules: [String] = []
        if s.blackhole { rules.append("iifname \"cust\" drop") }
        if !s.unreachable.isEmpty {
            let v4 = s.unreachable.filter(\.isV4).sorted().map(\.description)
            if !v4.isEmpty { rules.append("iifname \"cust\" ip daddr { \(v4.joined(separator: ", ")) } drop") }
        }
        if s.loss > 0 {
            let basisPoints = min(10_000, Int((s.loss * 100).rounded()))
            rules.append("iifname \"cust\" numgen random mod 10000 < \(basisPoints) drop")
        }
        return """
            table inet fwlab_link
            delete table inet fwlab_link
            table inet fwlab_link {
              chain in {
                type filter hook prerouting priority -300; policy accept;
            \(rules.map { "    " + $0 }.joined(separator: "\n"))
              }
            }

            """
    }
}
