import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// PPPoE WANs with the real daemon. This kernel has no PPP, so a real session cannot come up here:
/// the first test runs the real `pppd` and checks what the daemon makes of its failure; the second
/// runs a stand-in pppd (`fakePPPD`) that makes its `ifname` a TUN device, a real point-to-point
/// interface without a gateway, and answers the probes routed into it. Not run anywhere: pppd
/// talking to a real PPPoE server (discovery, PAP/CHAP, IPCP).
@Suite(.serialized) struct PPPoETests {
    static func config(_ lab: LabTopology) -> String {
        let isp1 = lab.isps[1]
        return LabConfig.interfaces(lab, count: 1) + """
            interface "eth1" {
              zone = "WAN"
              pppoe {
                username = "dsl@isp.example"
                password = "pa55\\"w0rd-not-in-logs"
              }
              health_check {
                targets        = ["\(isp1.targets[0])"]
            \(LabConfig.timing.map { "    " + $0 }.joined(separator: "\n"))
              }
            }

            """ + LabConfig.failoverGroup(lab, order: [1, 0])
    }

    @Test func realPPPDFailsHereAndTheWANIsDownWithItsReasonAndBackoff() async throws {
        guard LabDaemon.check() else { return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/pppd") else {
            Issue.record("/usr/sbin/pppd is missing: scripts/install-deps.sh installs Debian's ppp")
            return
        }
        try await withLab(wans: 2) { lab in
            let daemon = try LabDaemon(lab: lab, config: Self.config(lab))
            guard await daemon.waitReady() else { return }
            guard let first = await daemon.expectLog("eth1: PPPoE session down: kernel has no PPP support") else { return }
            #expect(first.contains("restarting in 1s"), "\(first)")
            let second = await daemon.expectLog("restarting in 2s", seconds: 10)
            #expect(second?.contains("kernel has no PPP support") == true, "\(second ?? "")")
            await daemon.expectLog("restarting in 4s", seconds: 10)
            // The WAN never carried traffic: eth0 stays the active uplink, eth1 is down with the reason.
            #expect(!daemon.lines.contains { $0.contains("failover: group default") && $0.contains("-> eth1") }, "\(daemon.tail)")
            let status = try lab.exec(lab.router, [LabDaemon.binary.path, "wan", "status", "--json"])
            #expect(status.contains("kernel has no PPP support"), "\(status)")
            // The password is in no log line and in no status output.
            #expect(!daemon.lines.contains { $0.contains("w0rd-not-in-logs") }, "\(daemon.tail)")
            #expect(!status.contains("w0rd-not-in-logs"))
            #expect(daemon.terminate() == 0, "\(daemon.tail)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: daemon.stateDirectory + "/pppoe")) ?? []
            #expect(left.isEmpty, "files left in the PPPoE directory after SIGTERM: \(left)")
        }
    }

    @Test func pointToPointSessionCarriesTheWANAndFailsOverToAndFromIt() async throws {
        guard LabDaemon.check() else { return }
        try await withLab(wans: 2) { lab in
            let fake = lab.directory.appendingPathComponent("fake-pppd.py").path
            try Self.fakePPPD.write(toFile: fake, atomically: true, encoding: .utf8)
            chmod(fake, 0o755)
            let daemon = try LabDaemon(lab: lab, config: Self.config(lab), arguments: ["--pppd", fake])
            guard await daemon.waitReady() else { return }
            // The session's interface comes up; eth1 (priority 1) takes over from eth0.
            await daemon.expectLog("eth1: carrier up on ppp-eth1")
            guard await daemon.expectLog("-> eth1", seconds: 10) != nil else { return }
            let kernel = LabKernel(lab: lab)
            // eth1 is uplink index 1: its pin table routes by device only, no gateway.
            let pin = try lab.exec(lab.router, ["ip", "route", "show", "table", "10001"])
            #expect(pin.contains("default dev ppp-eth1 ") && pin.contains("scope link"), "\(pin)")
            #expect(!pin.contains("via"), "\(pin)")
            #expect(kernel.flywallTable()?.contains("\"ppp-eth1\"") == true, "the ruleset names the session's interface")
            // Probes bound to the session's interface reached the stand-in peer and were answered.
            let countFile = lab.directory.appendingPathComponent("fake-pppd.count").path
            let answered = await eventually(seconds: 5) { (try? String(contentsOfFile: countFile, encoding: .utf8)).flatMap { Int($0) }.map { $0 >= 2 } ?? false }
            #expect(answered, "the stand-in peer answered fewer than 2 echo requests; \(daemon.tail)")

            // The line hangs up: the WAN goes down with pppd's reason, eth0 takes over, and the
            // session is started again after 1 s and brings eth1 back.
            let pid = try #require(pid_t(try String(contentsOfFile: daemon.stateDirectory + "/pppoe/eth1.pid", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)))
            let mark = daemon.lines.count
            kill(pid, SIGUSR1)
            let down = await daemon.expectLog("eth1: PPPoE session down: pppd exit 16, line hung up", from: mark)
            #expect(down?.contains("restarting in 1s") == true, "\(down ?? "")")
            await daemon.expectLog("failover: group default: eth1 -> eth0", from: mark)
            await daemon.expectLog("eth1: starting its PPPoE session", from: mark, seconds: 5)
            await daemon.expectLog("failback: group default: eth0 -> eth1", from: mark, seconds: 15)
            #expect(!daemon.lines.contains { $0.contains("w0rd-not-in-logs") }, "\(daemon.tail)")
            #expect(daemon.terminate() == 0, "\(daemon.tail)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: daemon.stateDirectory + "/pppoe")) ?? []
            #expect(left.isEmpty, "files left in the PPPoE directory after SIGTERM: \(left)")
            #expect(kill(pid, 0) != 0, "the first stand-in pppd still runs")
        }
    }

    /// A stand-in for pppd (this kernel has no PPP), started by the daemon as it starts pppd.
    static let fakePPPD = #"""
#!/usr/bin/env python3
# A stand-in for pppd in tests (this kernel has no PPP): called as `pppd file OPTIONS` like the real
# one, it reads `ifname`, makes that interface a TUN device with a point-to-point address, and
# answers every ICMP echo request routed into it, as a PPPoE peer's network would. SIGUSR1: the
# line "hangs up" (exit 16); SIGTERM: exit 5, as pppd does. Each answered echo is counted in
# <this file's directory>/fake-pppd.count.
import fcntl, os, select, signal, struct, subprocess, sys

options = open(sys.argv[sys.argv.index("file") + 1]).read().split("\n")
ifname = next(l.split()[1] for l in options if l.startswith("ifname "))
count_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-pppd.count")

tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, 0x400454CA, struct.pack("16sH", ifname.encode(), 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN|IFF_NO_PI
subprocess.run(["ip", "addr", "add", "100.64.99.2", "peer", "100.64.99.1", "dev", ifname], check=True)
subprocess.run(["ip", "link", "set", ifname, "up"], check=True)
print(f"fake pppd: session up on {ifname}", flush=True)

def stop(code, words):
    def handler(*_):
        print(f"fake pppd: {words}", flush=True)
        os._exit(code)
    return handler
signal.signal(signal.SIGUSR1, stop(16, "Modem hangup"))
signal.signal(signal.SIGTERM, stop(5, "Terminating on signal 15"))

def checksum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack(f"!{len(data)//2}H", data))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF

answered = 0
while True:
    select.select([tun], [], [])
    packet = bytearray(os.read(tun, 65535))
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 1: continue
    ihl = (packet[0] & 15) * 4
    if packet[ihl] != 8: continue
    packet[12:16], packet[16:20] = packet[16:20], packet[12:16]
    packet[ihl] = 0
    packet[ihl + 2:ihl + 4] = b"\0\0"
    packet[ihl + 2:ihl + 4] = struct.pack("!H", checksum(bytes(packet[ihl:])))
    packet[10:12] = b"\0\0"
    packet[10:12] = struct.pack("!H", checksum(bytes(packet[:ihl])))
    os.write(tun, bytes(packet))
    answered += 1
    with open(count_path, "w") as f: f.write(str(answered))
"""#
}
