import Benchmark
import Domain
import Simulator

/// A config of `uplinks` WANs in one balance group, each probing `targets` addresses every `interval`.
func benchmarkConfig(uplinks: Int, targets: Int, interval: Duration = .seconds(1)) -> FlywallConfig {
    let wans = (0..<uplinks).map { i in
        Interface(name: "wan\(i)", zone: "WAN", dhcp: true, wan: WANSettings(priority: 1, weight: 1))
    }
    let members = (0..<uplinks).map { i in
        Member(interface: "wan\(i)", priority: 1, weight: 1, healthCheck: HealthCheck(
            targets: (0..<targets).map { IPAddress.v4(0x6440_0001 + UInt32(i) << 8 + UInt32($0)) },
            interval: interval, timeout: .milliseconds(900)))
    }
    return FlywallConfig(interfaces: wans, uplinkGroups: [UplinkGroup(name: "default", mode: .balance, members: members)])
}

/// Drives the core the way a shell does: ticks at its deadlines, every probe answered 12 ms later.
/// Returns the number of events handled.
func driveCore(_ core: inout MultiWANStateMachine, seconds: Int) -> Int {
    var events = 0
    var pending: [ProbeID] = []
    var now = Instant.zero
    let end = Instant.zero + .seconds(seconds)
    var effects = core.handle(.tick, at: now)
    events += 1
    while true {
        for e in effects { if case .sendProbe(let r) = e { pending.append(r.id) } }
        effects = []
        if !pending.isEmpty {
            let replyAt = now + .milliseconds(12)
            now = replyAt
            for id in pending {
                effects += core.handle(.probeResult(id, .reply(rtt: .milliseconds(12))), at: now)
                events += 1
            }
            pending.removeAll(keepingCapacity: true)
            continue
        }
        guard let deadline = core.nextDeadline, deadline <= end else { break }
        now = max(now, deadline)
        effects = core.handle(.tick, at: now)
        events += 1
    }
    return events
}

/// The 1,000-policy-route config text, as an operator would write it.
func thousandRouteConfig() -> String {
    var text = """
    interface "eth0" {
      zone = "WAN"
      dhcp = true
      wan {
        priority = 1
        weight   = 2
      }
    }
    interface "eth1" {
      zone = "WAN"
      dhcp = true
      wan {
        priority = 2
      }
    }
    ipset "streaming_services" {
      entries = ["203.0.113.0/24", "198.51.100.0/24"]
    }
    uplink_group "default" {
      mode = "balance"
      member "eth0" {
        health_check {
          targets        = ["1.1.1.1", "8.8.8.8"]
          interval       = "5s"
          threshold_down = 3
          threshold_up   = 2
        }
      }
      member "eth1" { weight = 1 }
    }

    """
    for i in 0..<1_000 {
        text += """
        # route \(i)
        policy_route "route-\(i)" {
          match {
            protocol    = "\(i % 2 == 0 ? "tcp" : "udp")"
            dest_port   = ["\(1000 + i)", "\(20000 + i)-\(20010 + i)"]
            source      = ["192.168.\(i / 250).\(i % 250 + 1)"]
            destination = [\(i % 10 == 0 ? "\"@streaming_services\"" : "\"10.\(i / 256).\(i % 256).0/24\"")]
          }
          uplink = "\(i % 3 == 0 ? "eth1" : "eth0")"
        }

        """
    }
    return text
}

let coreBenchmarks: @Sendable () -> Void = {
    // One iteration: one virtual minute of 16 uplinks x 3 targets probed every second
    // (2,880 probe results + 60 ticks). Throughput x events = core events per second.
    Benchmark("Core: 16 uplinks x 3 targets, 1 virtual minute",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions])) { benchmark in
        let config = benchmarkConfig(uplinks: 16, targets: 3)
        for _ in benchmark.scaledIterations {
            var core = MultiWANStateMachine(config: config)
            blackHole(driveCore(&core, seconds: 60))
        }
    }

    let source = thousandRouteConfig()
    let lines = source.utf8.count { $0 == UInt8(ascii: "\n") }  // as `wc -l` counts them
    // The config must decode, or the benchmark would time the error path: check once, loudly, and
    // let every iteration throw too.
    do {
        let config = try ConfigDecoder.load(source: source, file: "bench.hcl")
        precondition(config.policyRoutes.count == 1_000, "the benchmark config has \(config.policyRoutes.count) policy routes")
    } catch {
        fatalError("the benchmark config does not decode: \(error)")
    }
    Benchmark("Config: parse + validate 1,000 policy routes (\(lines) lines)",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal])) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try ConfigDecoder.load(source: source, file: "bench.hcl"))
        }
    }
}

let simulatorBenchmarks: @Sendable () -> Void = {
    // One iteration: a whole simulated day of 16 uplinks x 3 targets probed every second
    // (4.1 million probes), through the full simulator: link model, seeded loss, event queue.
    var link = LinkState()
    link.loss = 1
    link.jitter = .milliseconds(4)
    let day = Scenario(name: "day", duration: .seconds(86_400), seed: 1, config: benchmarkConfig(uplinks: 16, targets: 3),
                       links: Dictionary(uniqueKeysWithValues: (0..<16).map { ("wan\($0)", link) }))
    Benchmark("Simulator: one day, 16 uplinks x 3 targets every second",
              configuration: .init(metrics: [.wallClock, .peakMemoryResident], maxDuration: .seconds(30),
                                   maxIterations: 3)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Simulation(scenario: day).run())
        }
    }
}
