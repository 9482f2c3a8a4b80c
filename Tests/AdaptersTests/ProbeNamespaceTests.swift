@testable import Adapters
import Domain
import Foundation
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

private var isRoot: Bool { geteuid() == 0 }

/// The probers against a real kernel: a router namespace with two veth uplinks to two "ISP"
/// namespaces. Both ISPs hold the same target addresses, so a reply can only tell which uplink a
/// probe took by whether it came at all; the ISPs' nftables counters tell it independently.
///
/// The router's main table deliberately routes everything, the targets included, via uplink B, as
/// a forwarding plan might; uplink A's probes must still leave (and be answered) through A, which
/// only `SO_MARK` with the probe class tables of docs/dataplane.md plus `SO_BINDTODEVICE` achieve.
@Suite("Probing in network namespaces (root)", .enabled(if: isRoot, "needs root for namespaces and raw sockets"))
struct ProbeNamespaceTests {
    static let uplinkA = ProbeUplink(interface: "wan0", index: 0)
    static let uplinkB = ProbeUplink(interface: "wan1", index: 1)
    static let target4 = IPAddress("198.18.0.1")!
    static let rejected4 = IPAddress("198.18.0.2")!
    static let target6 = IPAddress("fd00:198::1")!

    // MARK: ICMP

    @Test("probes leave on their own uplink although the main table routes the target elsewhere")
    func ownUplink() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        let log = ProbeResultLog()
        let prober = try ICMPProber(onResult: log.append)
        defer { prober.shutdown() }

        var ids: [ProbeID] = []
        try lab.router {
            try prober.attach(Self.uplinkA)
            try prober.attach(Self.uplinkB)
            for sequence in 0..<5 {
                for uplink in [Self.uplinkA, Self.uplinkB] {
                    let id = ProbeID(interface: uplink.interface, target: 0, sequence: UInt32(sequence))
                    ids.append(id)
                    prober.send(ProbeRequest(id: id, target: .icmp(Self.target4), timeout: .seconds(2)), via: uplink)
                }
            }
        }
        let results = try await log.wait(for: ids.count)
        #expect(Set(results.map(\.id)) == Set(ids))
        for result in results {
            guard case .reply(let rtt) = result.outcome else {
                Issue.record("\(result.id): \(result.outcome)")
                continue
            }
            #expect(rtt > .zero && rtt < .seconds(2), "RTT \(rtt)")
        }
        // Each ISP saw exactly its own uplink's five requests.
        #expect(try lab.counter("echo4", in: lab.ispA) == 5)
        #expect(try lab.counter("echo4", in: lab.ispB) == 5)
        #expect(prober.inFlight == 0)
    }

    @Test("with its probe table empty, an uplink's probe fails instead of leaving through another uplink")
    func noEscapeWithoutProbeTable() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        // A missing or stale probe table (gateway not learned yet, a reconcile in progress): the
        // main table would happily send the probe out through B, and B's ISP would answer, making
        // a dead uplink A look healthy. The device binding must prevent that.
        try lab.router.run("ip route flush table 10000")
        let log = ProbeResultLog()
        let prober = try ICMPProber(onResult: log.append)
        defer { prober.shutdown() }
        let id = ProbeID(interface: "wan0", target: 0, sequence: 1)
        try lab.router {
            prober.send(ProbeRequest(id: id, target: .icmp(Self.target4), timeout: .milliseconds(500)), via: Self.uplinkA)
        }
        let results = try await log.wait(for: 1)
        #expect(results == [ProbeResult(id: id, outcome: .timeout)])
        #expect(try lab.counter("echo4", in: lab.ispB) == 0)
        #expect(try lab.counter("echo4", in: lab.ispA) == 0)
    }

    @Test("two uplinks probing the same target at once: each socket gets only its own replies")
    func sameTargetTwoUplinks() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        let log = ProbeResultLog()
        let prober = try ICMPProber(onResult: log.append)
        defer { prober.shutdown() }

        func round(_ first: UInt32, count: Int, timeout: Duration) throws -> [ProbeID] {
            var ids: [ProbeID] = []
            try lab.router {
                for sequence in first..<first + UInt32(count) {
                    for uplink in [Self.uplinkA, Self.uplinkB] {
                        let id = ProbeID(interface: uplink.interface, target: 0, sequence: sequence)
                        ids.append(id)
                        prober.send(ProbeRequest(id: id, target: .icmp(Self.target4), timeout: timeout), via: uplink)
                    }
                }
            }
            return ids
        }

        // Both ISPs answer: 40 replies, 20 per ISP.
        let first = try round(0, count: 20, timeout: .seconds(2))
        let answered = try await log.wait(for: first.count)
        #expect(Set(answered.map(\.id)) == Set(first))
        #expect(answered.filter { if case .reply = $0.outcome { true } else { false } }.count == 40)
        #expect(try lab.counter("echo4", in: lab.ispA) == 20)
        #expect(try lab.counter("echo4", in: lab.ispB) == 20)

        // ISP B stops answering. If replies were matched by target alone, B's probes would take
        // A's replies; they must all time out while A's all succeed.
        try lab.ispB.run("nft add rule inet lab input icmp type echo-request drop")
        log.clear()
        let second = try round(100, count: 10, timeout: .milliseconds(500))
        let mixed = try await log.wait(for: second.count)
        #expect(Set(mixed.map(\.id)) == Set(second))
        for result in mixed {
            if result.id.interface == Self.uplinkA.interface {
                #expect(result.outcome.isReply, "\(result.id): \(result.outcome)")
            } else {
                #expect(result.outcome == .timeout, "\(result.id): \(result.outcome)")
            }
        }
        #expect(try lab.counter("echo4", in: lab.ispA) == 30)
        #expect(try lab.counter("echo4", in: lab.ispB) == 30)
    }

    /// Each probe times out on its own deadline: never before it, and a short timeout is reported
    /// while a longer one to the same dead target still waits (their reports, stamped on the
    /// prober's thread as it delivers them, are in deadline order and 2.7 s apart by design; this
    /// asserts at least 1 s, so neither the test's own scheduling nor a busy machine matters). How
    /// late after the deadline a timeout is reported is timing, for a benchmark.
    @Test("a dropped target times out at its deadline, not before")
    func timeoutAtDeadline() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        try lab.ispA.run("nft add rule inet lab input icmp type echo-request drop")
        let log = ProbeResultLog()
        let prober = try ICMPProber(onResult: log.append)
        defer { prober.shutdown() }

        let short = ProbeID(interface: "wan0", target: 0, sequence: 1)
        let long = ProbeID(interface: "wan0", target: 0, sequence: 2)
        let start = try lab.router {
            let start = ContinuousClock.now
            prober.send(ProbeRequest(id: long, target: .icmp(Self.target4), timeout: .seconds(3)), via: Self.uplinkA)
            prober.send(ProbeRequest(id: short, target: .icmp(Self.target4), timeout: .milliseconds(300)), via: Self.uplinkA)
            return start
        }
        let results = try await log.wait(for: 2)
        #expect(results == [ProbeResult(id: short, outcome: .timeout), ProbeResult(id: long, outcome: .timeout)],
                "the 300 ms probe should time out first: \(results)")
        // Measured where the prober delivers, so a busy test runner does not blur it.
        let shortAfter = try #require(log.arrival(of: short)) - start
        let longAfter = try #require(log.arrival(of: long)) - start
        #expect(shortAfter >= .milliseconds(300), "reported after \(shortAfter)")
        #expect(longAfter >= .seconds(3), "reported after \(longAfter)")
        #expect(longAfter - shortAfter >= .seconds(1), "the 3 s probe was reported with the 300 ms one: \(shortAfter), \(longAfter)")
        #expect(try lab.counter("echo4", in: lab.ispA) == 2)
    }

    @Test("an ICMP host-unreachable answer is a failure with that reason")
    func hostUnreachable() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        try lab.ispA.run("nft insert rule inet lab input ip daddr \(Self.rejected4) reject with icmp type host-unreachable")
        let log = ProbeResultLog()
        let prober = try ICMPProber(onResult: log.append)
        defer { prober.shutdown() }

        let id = ProbeID(interface: "wan0", target: 1, sequence: 1)
        let other = ProbeID(interface: "wan0", target: 0, sequence: 1)
        try lab.router {
            prober.send(ProbeRequest(id: id, target: .icmp(Self.rejected4), timeout: .seconds(2)), via: Self.uplinkA)
            prober.send(ProbeRequest(id: other, target: .icmp(Self.target4), timeout: .seconds(2)), via: Self.uplinkA)
        }
        let results = try await log.wait(for: 2)
        #expect(results.first { $0.id == id }?.outcome == .failure("host unreachable"))
        #expect(results.first { $0.id == other }?.outcome.isReply == true)
    }

    @Test("ICMPv6 echo through each uplink, with a dropped target timing out")
    func icmpv6() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        let log = ProbeResultLog()
        let prober = try ICMPProber(onResult: log.append)
        defer { prober.shutdown() }

        var ids: [ProbeID] = []
        try lab.router {
            for sequence in 0..<3 {
                for uplink in [Self.uplinkA, Self.uplinkB] {
                    let id = ProbeID(interface: uplink.interface, target: 0, sequence: UInt32(sequence))
                    ids.append(id)
                    prober.send(ProbeRequest(id: id, target: .icmp(Self.target6), timeout: .seconds(2)), via: uplink)
                }
            }
        }
        let results = try await log.wait(for: ids.count)
        #expect(Set(results.map(\.id)) == Set(ids))
        for result in results {
            #expect(result.outcome.isReply, "\(result.id): \(result.outcome)")
        }
        #expect(try lab.counter("echo6", in: lab.ispA) == 3)
        #expect(try lab.counter("echo6", in: lab.ispB) == 3)

        try lab.ispB.run("nft add rule inet lab input icmpv6 type echo-request drop")
        log.clear()
        let a = ProbeID(interface: "wan0", target: 0, sequence: 10)
        let b = ProbeID(interface: "wan1", target: 0, sequence: 10)
        try lab.router {
            prober.send(ProbeRequest(id: a, target: .icmp(Self.target6), timeout: .milliseconds(400)), via: Self.uplinkA)
            prober.send(ProbeRequest(id: b, target: .icmp(Self.target6), timeout: .milliseconds(400)), via: Self.uplinkB)
        }
        let second = try await log.wait(for: 2)
        #expect(second.first { $0.id == a }?.outcome.isReply == true)
        #expect(second.first { $0.id == b }?.outcome == .timeout)
    }

    @Test("an uplink that does not exist is a clear error at attach and a failure at send")
    func missingInterface() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        let log = ProbeResultLog()
        let prober = try ICMPProber(onResult: log.append)
        defer { prober.shutdown() }
        let ghost = ProbeUplink(interface: "wan9", index: 2)
        let id = ProbeID(interface: "wan9", target: 0, sequence: 0)
        let error = try lab.router { () -> SystemError? in
            prober.send(ProbeRequest(id: id, target: .icmp(Self.target4), timeout: .seconds(1)), via: ghost)
            do throws(SystemError) { try prober.attach(ghost) } catch { return error }
            return nil
        }
        #expect(error == SystemError(operation: "setsockopt(SO_BINDTODEVICE)", subject: "wan9", errno: .noSuchDevice, capability: "CAP_NET_RAW"))
        #expect(log.values == [ProbeResult(id: id, outcome: .failure("setsockopt(SO_BINDTODEVICE) on wan9: No such device (errno 19)"))])
    }

    @Test("detaching drops an uplink's probes in flight without results; the next send reopens it")
    func detachAndReopen() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        try lab.ispA.run("nft add rule inet lab input ip daddr \(Self.rejected4) drop")
        let log = ProbeResultLog()
        let prober = try ICMPProber(onResult: log.append)
        defer { prober.shutdown() }

        let dropped = (0..<3).map { ProbeID(interface: "wan0", target: 1, sequence: UInt32($0)) }
        let inFlight = try lab.router { () -> Int in
            for id in dropped {
                prober.send(ProbeRequest(id: id, target: .icmp(Self.rejected4), timeout: .milliseconds(300)), via: Self.uplinkA)
            }
            let count = prober.inFlight
            prober.detach(interface: "wan0")
            return count
        }
        #expect(inFlight == 3)
        #expect(prober.inFlight == 0)

        let fresh = (10..<12).map { ProbeID(interface: "wan0", target: 0, sequence: UInt32($0)) }
        try lab.router {
            for id in fresh {
                prober.send(ProbeRequest(id: id, target: .icmp(Self.target4), timeout: .milliseconds(300)), via: Self.uplinkA)
            }
        }
        _ = try await log.wait(for: 2)
        try await Task.sleep(for: .milliseconds(450))  // past the dropped probes' deadlines
        #expect(log.values.map(\.id) == fresh)
        #expect(log.values.allSatisfy { $0.outcome.isReply })
        #expect(try lab.counter("echo4", in: lab.ispA) == 5)
    }

    // MARK: HTTP

    @Test("HTTP: expected status, wrong status, refused port, black-holed server, IPv6, name lookup")
    func http() async throws {
        let lab = try ProbeLab()
        defer { lab.remove() }
        // The server lives in ISP A only, on the shared target address, which the router's main
        // table routes via ISP B: an answer proves the check went out through uplink A.
        let server = try lab.ispA.enter { try ProbeLabHTTPServer(address: Self.target4, port: 8080, status: 200) }
        defer { server.stop() }
        let black = try lab.ispA.enter { try ProbeLabHTTPServer(address: Self.target4, port: 8082, status: 200) }
        defer { black.stop() }
        let server6 = try lab.ispA.enter { try ProbeLabHTTPServer(address: Self.target6, port: 8080, status: 204) }
        defer { server6.stop() }
        try lab.ispA.run("nft insert rule inet lab input tcp dport 8082 drop")

        let log = ProbeResultLog()
        // libcurl opens its sockets on the prober's thread, which is in the namespace it started in.
        let prober = try lab.router { try HTTPProber(onResult: log.append) }
        defer { prober.shutdown() }

        func check(_ url: String, expect status: Int, timeout: Duration = .seconds(2), via uplink: ProbeUplink = Self.uplinkA,
                   _ sequence: UInt32) -> ProbeID {
            let id = ProbeID(interface: uplink.interface, target: 0, sequence: sequence)
            prober.send(ProbeRequest(id: id, target: .http(url: url, expectedStatus: status), timeout: timeout), via: uplink)
            return id
        }
        let ok = try lab.router { check("http://198.18.0.1:8080/health", expect: 200, 1) }
        let wrong = try lab.router { check("http://198.18.0.1:8080/", expect: 204, 2) }
        let refused = try lab.router { check("http://198.18.0.1:8081/", expect: 200, 3) }
        let blackholed = try lab.router { check("http://198.18.0.1:8082/", expect: 200, timeout: .milliseconds(500), 4) }
        // Through uplink B the same address has no server: ISP B's kernel refuses the connection.
        let otherISP = try lab.router { check("http://198.18.0.1:8080/", expect: 200, via: Self.uplinkB, 5) }

        let overIPv6 = try lab.router { check("http://[fd00:198::1]:8080/v6", expect: 204, 6) }

        let results = try await log.wait(for: 6)
        func outcome(_ id: ProbeID) -> ProbeOutcome? { results.first { $0.id == id }?.outcome }
        guard case .reply(let rtt) = outcome(ok) else {
            Issue.record("expected a reply, got \(String(describing: outcome(ok)))")
            return
        }
        #expect(rtt > .zero && rtt < .seconds(2))
        guard case .wrongStatus(200, let wrongRTT) = outcome(wrong) else {
            Issue.record("expected wrongStatus(200), got \(String(describing: outcome(wrong)))")
            return
        }
        #expect(wrongRTT > .zero && wrongRTT < .seconds(2))
        #expect(outcome(refused) == .failure("connection refused"))
        #expect(outcome(blackholed) == .timeout)
        #expect(outcome(otherISP) == .failure("connection refused"))
        #expect(outcome(overIPv6)?.isReply == true, "\(String(describing: outcome(overIPv6)))")
        #expect(server6.requests.first?.hasPrefix("GET /v6 HTTP/1.1\r\nHost: [fd00:198::1]:8080\r\n") == true)
        #expect(server.requests.count == 2)
        #expect(server.requests.first?.hasPrefix("GET /health HTTP/1.1\r\nHost: 198.18.0.1:8080\r\n") == true)
        #expect(server.requests.first?.contains("User-Agent: flywall\r\n") == true)
        #expect(server.requests.first?.contains("Connection: close\r\n") == true)
        #expect(black.requests.isEmpty)
        #expect(prober.inFlight == 0)

        // A host name goes through getaddrinfo: "localhost" on the router's loopback "uplink".
        log.clear()
        let local = try lab.router { try ProbeLabHTTPServer(address: IPAddress("127.0.0.1")!, port: 8090, status: 503) }
        defer { local.stop() }
        let named = try lab.router { check("http://localhost:8090/status", expect: 200, via: ProbeUplink(interface: "lo", index: 3), 7) }
        let namedResult = try await log.wait(for: 1)
        #expect(namedResult.first?.id == named)
        guard case .wrongStatus(503, _) = namedResult.first?.outcome else {
            Issue.record("expected wrongStatus(503), got \(String(describing: namedResult.first?.outcome))")
            return
        }
        #expect(local.requests.first?.hasPrefix("GET /status HTTP/1.1\r\nHost: localhost:8090\r\n") == true)
    }
}

extension ProbeOutcome {
    fileprivate var isReply: Bool { if case .reply = self { true } else { false } }
}

// MARK: - Lab

/// A router namespace with uplinks wan0 (index 0) and wan1 (index 1) to ISP namespaces A and B.
///
/// ```
///  ISP A  up0 100.64.1.1/24 fd00:64:1::1/64 ── wan0 100.64.1.2  ┐
///                                                               ├ router
///  ISP B  up0 100.64.2.1/24 fd00:64:2::1/64 ── wan1 100.64.2.2  ┘
/// ```
/// Both ISPs hold 198.18.0.1, 198.18.0.2 and fd00:198::1 on lo and count incoming echo requests
/// in named nftables counters `echo4` and `echo6`. The router has the probe class rules and tables
/// of docs/dataplane.md, and its main table routes everything (targets included) via B.
final class ProbeLab: Sendable {
    let router: ProbeLabNamespace
    let ispA: ProbeLabNamespace
    let ispB: ProbeLabNamespace

    init() throws {
        Self.sweepOrphans()
        // The test process's pid is in the name, so a later run can tell the lab of a crashed
        // process (whose `defer` never ran) from one a concurrent run is still using.
        let tag = String(UInt32.random(in: 0 ... .max), radix: 36)
        let prefix = "fw-\(tag)-probe\(getpid())"
        router = ProbeLabNamespace(name: "\(prefix)-r")
        ispA = ProbeLabNamespace(name: "\(prefix)-a")
        ispB = ProbeLabNamespace(name: "\(prefix)-b")
        do {
            try build()
        } catch {
            remove()
            throw error
        }
    }

    private func build() throws {
        for ns in [router, ispA, ispB] {
            try ProbeLabNamespace.shell("ip netns add \(ns.name)")
            try ns.run("ip link set lo up")
        }
        try router.run("sysctl -qw net.ipv4.conf.all.rp_filter=2")
        for (isp, wan, n) in [(ispA, "wan0", 1), (ispB, "wan1", 2)] {
            try router.run("ip link add \(wan) type veth peer name up0 netns \(isp.name)")
            try router.run("ip addr add 100.64.\(n).2/24 dev \(wan)")
            try router.run("ip addr add fd00:64:\(n)::2/64 dev \(wan) nodad")
            try router.run("ip link set \(wan) up")
            try isp.run("ip addr add 100.64.\(n).1/24 dev up0")
            try isp.run("ip addr add fd00:64:\(n)::1/64 dev up0 nodad")
            try isp.run("ip link set up0 up")
            try isp.run("sysctl -qw net.ipv4.conf.all.arp_ignore=1")
            for address in ["198.18.0.1/32", "198.18.0.2/32", "fd00:198::1/128"] {
                try isp.run("ip addr add \(address) dev lo")
            }
            let table = 10000 + n - 1
            let mark = String(UInt32(n) << 24, radix: 16)
            try router.run("ip rule add fwmark 0x\(mark)/0xff000000 lookup \(table) priority 10000")
            try router.run("ip -6 rule add fwmark 0x\(mark)/0xff000000 lookup \(table) priority 10000")
            try router.run("ip route add default via 100.64.\(n).1 dev \(wan) table \(table)")
            try router.run("ip -6 route add default via fd00:64:\(n)::1 dev \(wan) table \(table)")
            try isp.run("""
                nft -f - <<'EOF'
                table inet lab {
                  counter echo4 {}
                  counter echo6 {}
                  chain input {
                    type filter hook input priority 0;
                    icmp type echo-request counter name echo4
                    icmpv6 type echo-request counter name echo6
                  }
                }
                EOF
                """)
        }
        // The main table sends everything, and the targets explicitly, through uplink B, as a
        // plan might. Uplink A's probes have no route there: only their mark's table gets them
        // out. (With arp_ignore = 1 the ISPs do not answer ARP for their loopback targets, so
        // the kernel's "assume on-link" fallback for a device-bound socket cannot reach them.)
        try router.run("ip route add default via 100.64.2.1 dev wan1")
        try router.run("ip route add 198.18.0.0/24 via 100.64.2.1 dev wan1")
        try router.run("ip -6 route add default via fd00:64:2::1 dev wan1")
        try router.run("ip -6 route add fd00:198::/64 via fd00:64:2::1 dev wan1")
    }

    /// Runs `body` on a thread inside the router namespace (sockets opened there stay there).
    func router<R>(_ body: () throws -> R) throws -> R {
        try router.enter(body)
    }

    /// Packets counted by the named counter in `namespace`.
    func counter(_ name: String, in namespace: ProbeLabNamespace) throws -> Int {
        let text = try namespace.run("nft list counter inet lab \(name)")
        guard let range = text.firstRange(of: "packets "),
              let value = Int(text[range.upperBound...].prefix { $0.isNumber }) else {
            throw ProbeLabError(message: "no packet count in: \(text)")
        }
        return value
    }

    /// Deletes probe labs left behind by test processes that no longer exist.
    static func sweepOrphans() {
        guard let names = try? ProbeLabNamespace.shell("ls /run/netns 2>/dev/null") else { return }
        for name in names.split(separator: "\n") {
            // fw-<tag>-probe<pid>-<role>
            let parts = name.split(separator: "-")
            guard parts.count == 4, parts[0] == "fw", parts[2].hasPrefix("probe"),
                  let pid = Int32(parts[2].dropFirst("probe".count)) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                _ = try? ProbeLabNamespace.shell("ip netns del \(name) 2>/dev/null")
            }
        }
    }

    /// Deletes the namespaces (and with them the veths, addresses, rules and counters).
    func remove() {
        for ns in [router, ispA, ispB] { _ = try? ProbeLabNamespace.shell("ip netns del \(ns.name) 2>/dev/null") }
    }
}

struct ProbeLabError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A named network namespace the test made: run commands in it, or run code on a thread in it.
struct ProbeLabNamespace: Sendable {
    let name: String

    /// Runs a shell command inside the namespace; returns its standard output.
    @discardableResult
    func run(_ command: String) throws -> String {
        try Self.shell("ip netns exec \(name) sh -c '\(command.replacingOccurrences(of: "'", with: "'\\''"))'")
    }

    @discardableResult
    static func shell(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ProbeLabError(message: "`\(command)` exited \(process.terminationStatus): \(String(decoding: errorData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `body` on a new thread that first joins this namespace (`setns`), and waits for it.
    /// Threads and sockets created by `body` belong to the namespace.
    func enter<R>(_ body: () throws -> R) throws -> R {
        let fd = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProbeLabError(message: "open /run/netns/\(name): errno \(errno)") }
        defer { close(fd) }
        var result: Result<R, any Error> = .failure(ProbeLabError(message: "the namespace thread did not run"))
        let work: () -> Void = {
            guard Self.setns(fd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
                result = .failure(ProbeLabError(message: "setns \(name): errno \(errno)"))
                return
            }
            result = Result { try body() }
        }
        withoutActuallyEscaping(work) { work in
            // The caller waits in pthread_join while `work` runs, so nothing touches it concurrently.
            let context = Unmanaged.passRetained(ThreadTask(work)).toOpaque()
            var thread = pthread_t()
            guard pthread_create(&thread, nil, { context in
                Unmanaged<ThreadTask>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context) == 0 else {
                Unmanaged<ThreadTask>.fromOpaque(context).release()
                return
            }
            pthread_join(thread, nil)
        }
        return try result.get()
    }

    private final class ThreadTask: @unchecked Sendable {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// glibc's `setns`, which the Glibc module does not export (it is a GNU extension).
    private static let setns: @convention(c) (Int32, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { fatalError("no setns in libc") }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()
}

/// A minimal HTTP server on one address and port of a namespace: answers every request with
/// `status` and an empty body, and keeps the requests it got.
final class ProbeLabHTTPServer: Sendable {
    private let listener: Int32
    private let received = Mutex<[String]>([])
    private let done = Mutex(false)

    /// Call inside the namespace (`ProbeLabNamespace.enter`): the socket is opened there.
    init(address: IPAddress, port: UInt16, status: Int) throws {
        let fd = socket(address.isV4 ? AF_INET : AF_INET6, ProbeSocket.stream | ProbeSocket.closeOnExec, 0)
        guard fd >= 0 else { throw ProbeLabError(message: "socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = ProbeSocket.withSockaddr(address, port: port) { bind(fd, $0, $1) }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw ProbeLabError(message: "bind/listen \(address):\(port): errno \(errno)")
        }
        listener = fd
        let response = Array("HTTP/1.1 \(status) Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        let thread = Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if done.withLock({ $0 }) { return }
                    continue
                }
                var request: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 2048)
                while !request.ends(with: Array("\r\n\r\n".utf8)) {
                    let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    request += chunk[0..<n]
                }
                received.withLock { $0.append(String(decoding: request, as: UTF8.self)) }
                _ = response.withUnsafeBytes { send(client, $0.baseAddress, $0.count, ProbeSocket.noSignal) }
                close(client)
            }
        }
        thread.start()
    }

    var requests: [String] { received.withLock { $0 } }

    func stop() {
        done.withLock { $0 = true }
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

/// Results collected from a prober's callback, awaited by count.
extension ProbeResultLog {
    /// Waits until at least `count` results arrived (the probers report every probe by its
    /// deadline, so this only guards against a prober that loses results), and returns them.
    func wait(for count: Int, limit: Duration = .seconds(10)) async throws -> [ProbeResult] {
        let start = ContinuousClock.now
        while values.count < count {
            guard ContinuousClock.now - start < limit else {
                throw ProbeLabError(message: "only \(values.count) of \(count) results after \(limit): \(values)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return values
    }
}
