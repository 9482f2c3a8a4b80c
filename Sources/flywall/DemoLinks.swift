import Adapters
import Dispatch
import Domain
import Foundation
import Simulator

/// The demo daemon's edges (`flywall daemon --scenario FILE`): the scenario's simulated links
/// instead of the kernel, so the real core loop, API, history and metrics run without root.
///
/// A probe is answered by the WAN's `LinkModel` (the simulator's), its reply pushed into the loop
/// after the model's round trip; the scenario's faults happen at their times. Both run in real
/// time divided by `speed`, on a queue of their own. The dataplane only keeps the last plan.
final class DemoLinks: ProbeSending, InterfaceWatching, PassiveCapturing, DataplaneApplying, @unchecked Sendable {
    private let scenario: Scenario
    private let inputs: DaemonInputQueue
    private let speed: Int64
    private let queue = DispatchQueue(label: "flywall-demo-links")
    private let lock = NSLock()
    private var links: [String: LinkModel]
    private var watched: Set<String> = []
    private(set) var lastPlan: ForwardingPlan?

    init(scenario: Scenario, inputs: DaemonInputQueue, speed: Int) {
        self.scenario = scenario
        self.inputs = inputs
        self.speed = Int64(speed)
        var links: [String: LinkModel] = [:]
        for wan in scenario.config.wans {
            links[wan.name] = LinkModel(interface: wan.name, state: scenario.link(wan.name), seed: scenario.seed)
        }
        self.links = links
    }

    /// Schedules the scenario's faults from now; manual ones go through the board, like the API's.
    func startFaults(board: StatusBoard, log: @escaping @Sendable (String) -> Void) {
        let start = DispatchTime.now()
        for fault in scenario.faults {
            let at = start + .nanoseconds(Int(fault.time.nanoseconds / speed))
            queue.asyncAfter(deadline: at) { [self] in
                switch fault.action {
                case .link(let name, let change):
                    log("demo: at \(DurationText.brief(fault.time)) \(Simulation.describe(name, change))")
                    let carrierChanged = lock.withLock { links[name]?.apply(change) ?? false }
                    if carrierChanged, let up = lock.withLock({ links[name]?.state.carrier }) {
                        let device = scenario.config.interface(named: name)?.device ?? name
                        inputs.push(.core(.carrier(interface: device, up: up)))
                    }
                case .manual(let command):
                    log("demo: at \(DurationText.brief(fault.time)) \(command.text)")
                    _ = board.submit(command, origin: CommandOrigin(source: "scenario"), into: inputs)
                }
            }
        }
    }

    // MARK: ProbeSending

    func configure(_ bindings: [ProbeBinding]) throws {}

    func send(_ request: ProbeRequest) {
        let name = request.id.interface
        guard let answer = lock.withLock({ links[name]?.answer(request.target) }) ?? nil else { return }
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(answer.delay.nanoseconds / speed))) { [self] in
            // A reply still in flight when the link went dark is lost, as in the simulator.
            guard lock.withLock({ links[name]?.passes ?? false }) else { return }
            inputs.push(.core(.probeResult(request.id, answer.outcome)))
        }
    }

    // MARK: InterfaceWatching

    /// Newly watched WANs are reported as the scenario starts them: address, gateway and carrier
    /// (a PPPoE WAN's under its session device, which is up whenever its simulated link is).
    func watch(interfaces: [String]) {
        let new = lock.withLock { () -> [String] in
            let new = interfaces.filter { !watched.contains($0) }
            watched = Set(interfaces)
            return new
        }
        for name in new {
            guard let index = scenario.config.wans.firstIndex(where: { $0.device == name }) else { continue }
            let wan = scenario.config.wans[index]
            let invented = Simulation.inventedAddress(wanIndex: index)
            inputs.push(.core(.addressLearned(interface: name, address: wan.address ?? invented.address,
                                              gateway: wan.gateway ?? invented.gateway)))
            let up = lock.withLock { links[wan.name]?.state.carrier ?? true }
            inputs.push(.core(.carrier(interface: name, up: up)))
        }
    }

    // MARK: PassiveCapturing

    /// The demo has no traffic of its own: a passive check sees no attempts (and stays as it is).
    func capture(interfaces: [String]) -> [SystemError] { [] }

    // MARK: DataplaneApplying

    func apply(_ plan: ForwardingPlan) throws { lock.withLock { lastPlan = plan } }
    func repair(_ plan: ForwardingPlan) throws { try apply(plan) }
    func flushConnections(uplink: ForwardingPlan.Uplink) throws -> Int { 0 }
    func removeAll() throws {}
}
