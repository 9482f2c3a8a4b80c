// Probing cost: 1,000 ICMP targets probed 10 times a second each through one uplink, inside network
// namespaces this program makes (and removes at exit). Prints CPU time per second and per probe,
// as a share of one core, and the process RSS.
//
//   swift run -c release --package-path Benchmarks/ProbeCost ProbeCost [--targets N] [--rate HZ] [--seconds S]
//       [--read-interval-ms MS] [--steer]
//
// Two runs, same packets, same pacing (a slice of probes every 10 ms, as a core spreads its rounds):
//  1. kernel floor: a bare raw socket that only sends (its filter blocks all replies), to measure
//     what the packets themselves cost this process. With veth, the ISP namespace's echo reply and
//     the reply's way back into the router run in softirq on the sending thread and are charged to
//     it; any prober pays this here, and on a real uplink it happens elsewhere (NIC interrupts).
//  2. ICMPProber: attach, send every probe with its ProbeRequest, receive, match, report results.
//
// --steer pins this process to CPU 0 and steers the veths' receive processing (RPS) to CPU 1, as
// a NIC's interrupts would take it off the sending thread: then the process pays only for its own
// work, and the floor shows what is left of the kernel's (the send path).
//
// CPU totals are exact (the kernel's run time of each thread); the user/system split is sampled at
// clock ticks, so it is only indicative over a 10 s run. The prober's receive thread is found by its
// name (`flywall-probe`) and measured on its own (/proc/self/task/TID/schedstat, nanoseconds);
// whatever else runs in the process (other runtime threads) is reported apart from it.
//
// The probe's route is the product's: the uplink's pin mark on the socket (`ProbeUplink.mark`,
// `DataplaneMarks.pin`) and the pin rule and table of docs/dataplane.md (`DataplaneTables`), for
// the floor's bare socket and the prober alike.
//
// Needs root. Like the tests, it builds the topology with `ip`; the prober itself uses none of it.
import Adapters
import Domain
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var targets = 1_000
    var rate = 10
    var seconds = 10
    var warmup = 2
    var readInterval = 2
    var steer = false

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            if flag == "--steer" {
                steer = true
                continue
            }
            guard let value = iterator.next().flatMap({ Int($0) }), value >= 0 else {
                fatal("usage: ProbeCost [--targets N] [--rate HZ] [--seconds S] [--warmup S] [--read-interval-ms MS] [--steer]")
            }
            switch flag {
            case "--targets": targets = max(1, value)
            case "--rate": rate = max(1, value)
            case "--seconds": seconds = max(1, value)
            case "--warmup": warmup = value
            case "--read-interval-ms": readInterval = value
            default: fatal("unknown option \(flag)")
            }
        }
    }
}

func fatal(_ message: String) -> Never {
    let line = Array("ProbeCost: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

func sh(_ command: String) {
    let status = Glibc.system(command)
    if status != 0 { fatal("`\(command)` failed with status \(status)") }
}

/// Removed at exit, however the program ends (`fatal` exits too).
nonisolated(unsafe) var namespacesToRemove: [String] = []

struct CPUTime {
    var user: Double
    var system: Double
    var total: Double { user + system }

    /// `getrusage`: RUSAGE_SELF (0) for the process, RUSAGE_THREAD (1) for the calling thread.
    static func now(_ who: Int32) -> CPUTime {
        var usage = rusage()
        getrusage(__rusage_who_t(who), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return CPUTime(user: seconds(usage.ru_utime), system: seconds(usage.ru_stime))
    }

    static func - (a: CPUTime, b: CPUTime) -> CPUTime { CPUTime(user: a.user - b.user, system: a.system - b.system) }
}

/// A field of /proc/self/status in kB (VmRSS, VmHWM).
func procStatus(_ field: String) -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix(field + ":") { return Int(text.dropFirst(field.count + 1).filter(\.isNumber)) ?? -1 }
    }
    return -1
}

func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func fmt(_ value: Double, _ digits: Int = 1) -> String {
    var text = String(Int((abs(value) * pow(10, Double(digits))).rounded()))
    while text.count <= digits { text = "0" + text }
    if digits > 0 { text.insert(".", at: text.index(text.endIndex, offsetBy: -digits)) }
    return value < 0 ? "-" + text : text
}

/// Calls `send(target index, round)` for every target `rate` times a second, in 100 slices a
/// second, for `seconds`; returns the wall time taken and the CPU time the process used.
func paced(_ options: Options, seconds: Int, _ send: (Int, UInt32) -> Void) -> (wall: Double, process: CPUTime, thread: CPUTime, sent: Int) {
    let slicesPerSecond = 100
    let perSlice = max(1, options.targets * options.rate / slicesPerSecond)
    var next = 0
    var round: UInt32 = 0
    let processBefore = CPUTime.now(0)
    let threadBefore = CPUTime.now(1)
    let start = monotonic()
    var sent = 0
    for slice in 0..<(seconds * slicesPerSecond) {
        for _ in 0..<perSlice {
            send(next, round)
            sent += 1
            next += 1
            if next == options.targets { next = 0; round &+= 1 }
        }
        let wait = start + Double(slice + 1) / Double(slicesPerSecond) - monotonic()
        if wait > 0 { usleep(useconds_t(wait * 1e6)) }
    }
    let wall = monotonic() - start
    return (wall, CPUTime.now(0) - processBefore, CPUTime.now(1) - threadBefore, sent)
}

/// The thread id of this process's thread named `name` (/proc/self/task/TID/comm).
func task(named name: String) -> Int? {
    guard let dir = opendir("/proc/self/task") else { return nil }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let id = Int(tid) else { continue }
        if firstLine("/proc/self/task/\(id)/comm") == name { return id }
    }
    return nil
}

/// Nanoseconds thread `task` has run on a CPU (first field of its schedstat: exact, not ticks).
func runTime(task: Int) -> Int {
    Int(firstLine("/proc/self/task/\(task)/schedstat")?.split(separator: " ").first ?? "") ?? 0
}

func firstLine(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    guard fgets(&line, Int32(line.count), file) != nil else { return nil }
    return String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func checksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    for i in stride(from: 0, to: bytes.count, by: 2) { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]) }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

func measure() {
    let options = Options(CommandLine.arguments)
    guard geteuid() == 0 else { fatal("needs root (network namespaces and raw sockets)") }

    // Topology: router ── wan0/up0 veth ── ISP, which holds the targets on its loopback.
    let tag = String(UInt32.random(in: 0 ... .max), radix: 36)
    let router = "fw-\(tag)-bench-r"
    let isp = "fw-\(tag)-bench-i"
    namespacesToRemove = [router, isp]
    atexit {
        for name in namespacesToRemove { Glibc.system("ip netns del \(name) 2>/dev/null") }
    }
    sh("ip netns add \(router) && ip netns add \(isp)")
    sh("ip -n \(router) link set lo up && ip -n \(isp) link set lo up")
    sh("ip -n \(router) link add wan0 type veth peer name up0 netns \(isp)")
    sh("ip -n \(router) addr add 100.64.1.2/24 dev wan0 && ip -n \(router) link set wan0 up")
    sh("ip -n \(isp) addr add 100.64.1.1/24 dev up0 && ip -n \(isp) link set up0 up")
    let targets: [IPAddress] = (0..<options.targets).map { .v4(0xC612_0000 + UInt32($0 / 250) << 8 + UInt32($0 % 250) + 1) }
    let batchPath = "/tmp/\(router).batch"
    guard let file = fopen(batchPath, "w") else { fatal("cannot write \(batchPath)") }
    for target in targets { fputs("addr add \(target)/32 dev lo\n", file) }
    fclose(file)
    sh("ip -n \(isp) -batch \(batchPath) && rm -f \(batchPath)")
    // Uplink 0's pin rule and table as the daemon installs them (docs/dataplane.md); the main table
    // has no default route, so a probe without the pin mark would find no route.
    let uplink = ProbeUplink(interface: "wan0", index: 0)
    let pinMark = DataplaneMarks.pin(uplink: uplink.index), pinTable = DataplaneTables.pin(uplink: uplink.index)
    guard uplink.mark == pinMark else { fatal("probe mark \(uplink.mark) is not the pin mark \(pinMark)") }
    sh("ip -n \(router) rule add fwmark 0x\(String(pinMark, radix: 16))/0x\(String(DataplaneMarks.classMask, radix: 16)) lookup \(pinTable) priority \(DataplaneTables.classRulePriority)")
    sh("ip -n \(router) route add default via 100.64.1.1 dev wan0 table \(pinTable)")
    // The ISP answers every echo request (no ICMP rate limit).
    sh("ip netns exec \(isp) sysctl -qw net.ipv4.icmp_ratelimit=0")

    if options.steer {
        // Receive processing of both veth ends on CPU 1 (RPS), this process on CPU 0.
        sh("ip netns exec \(isp) sh -c 'echo 2 > /sys/class/net/up0/queues/rx-0/rps_cpus'")
        sh("ip netns exec \(router) sh -c 'echo 2 > /sys/class/net/wan0/queues/rx-0/rps_cpus'")
        typealias SetAffinity = @convention(c) (Int32, Int, UnsafeRawPointer) -> Int32
        let setAffinity = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity"), to: SetAffinity.self)
        var cpuSet = [UInt64](repeating: 0, count: 16)  // cpu_set_t
        cpuSet[0] = 1
        guard cpuSet.withUnsafeBytes({ setAffinity(0, $0.count, $0.baseAddress!) }) == 0 else { fatal("sched_setaffinity: errno \(errno)") }
    }

    // From here on this thread, and every thread it starts, lives in the router namespace.
    let setns = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns"), to: (@convention(c) (Int32, Int32) -> Int32).self)
    let nsFD = open("/run/netns/\(router)", O_RDONLY)
    guard nsFD >= 0, setns(nsFD, 0x4000_0000 /* CLONE_NEWNET */) == 0 else { fatal("cannot enter \(router)") }
    let perSlice = max(1, options.targets * options.rate / 100)
    print("ProbeCost: \(options.targets) targets x \(options.rate)/s through one uplink (\(perSlice) probes every 10 ms), \(options.seconds) s per run after \(options.warmup) s warm-up, read interval \(options.readInterval) ms\(options.steer ? ", process on CPU 0, veth receive steered to CPU 1" : "")")

    // 1. Kernel floor: the same echo requests from a bare raw socket that never receives.
    let raw = socket(AF_INET, 3 /* SOCK_RAW */, Int32(IPPROTO_ICMP))
    guard raw >= 0 else { fatal("raw socket: errno \(errno)") }
    var blockAll = UInt32.max
    setsockopt(raw, 255 /* SOL_RAW */, 1 /* ICMP_FILTER */, &blockAll, 4)
    var mark = uplink.mark
    setsockopt(raw, SOL_SOCKET, SO_MARK, &mark, 4)
    _ = "wan0".withCString { setsockopt(raw, SOL_SOCKET, SO_BINDTODEVICE, $0, 5) }
    let floorSend: (Int, UInt32) -> Void = { target, round in
        var packet: [UInt8] = [8, 0, 0, 0, 0x12, 0x34, UInt8(truncatingIfNeeded: round >> 8), UInt8(truncatingIfNeeded: round)]
            + [UInt8](repeating: 0, count: 8)
        let sum = checksum(packet)
        packet[2] = UInt8(sum >> 8)
        packet[3] = UInt8(sum & 0xff)
        guard case .v4(let address) = targets[target] else { return }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = address.bigEndian
        _ = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(raw, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
    _ = paced(options, seconds: options.warmup, floorSend)
    let floor = paced(options, seconds: options.seconds, floorSend)
    close(raw)

    // 2. The prober.
    let replies = Atomic<Int>(0)
    let timeouts = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let rttNanoseconds = Atomic<Int>(0)
    let rssBefore = procStatus("VmRSS")
    let prober: ICMPProber
    do {
        prober = try ICMPProber(readInterval: .milliseconds(options.readInterval)) { result in
            switch result.outcome {
            case .reply(let rtt):
                replies.add(1, ordering: .relaxed)
                rttNanoseconds.add(Int(rtt.nanoseconds), ordering: .relaxed)
            case .timeout: timeouts.add(1, ordering: .relaxed)
            default: failures.add(1, ordering: .relaxed)
            }
        }
        try prober.attach(uplink, ipv6: false)
    } catch {
        fatal("\(error)")
    }
    let probeSend: (Int, UInt32) -> Void = { target, round in
        prober.send(ProbeRequest(id: ProbeID(interface: "wan0", target: target, sequence: round),
                                 target: .icmp(targets[target]), timeout: .seconds(1)), via: uplink)
    }
    _ = paced(options, seconds: options.warmup, probeSend)
    usleep(1_100_000)  // the warm-up's probes finish
    guard let receiveTask = task(named: "flywall-probe") else { fatal("no thread named flywall-probe in this process") }
    let before = (replies.load(ordering: .relaxed), timeouts.load(ordering: .relaxed),
                  failures.load(ordering: .relaxed), rttNanoseconds.load(ordering: .relaxed))
    let receiveBefore = runTime(task: receiveTask)
    let run = paced(options, seconds: options.seconds, probeSend)
    let receive = Double(runTime(task: receiveTask) - receiveBefore) / 1e9
    usleep(1_100_000)
    let got = replies.load(ordering: .relaxed) - before.0
    let lost = timeouts.load(ordering: .relaxed) - before.1
    let failed = failures.load(ordering: .relaxed) - before.2
    let meanRTT = Double(rttNanoseconds.load(ordering: .relaxed) - before.3) / Double(max(got, 1)) / 1000
    let rss = procStatus("VmRSS")
    let peak = procStatus("VmHWM")
    prober.shutdown()

    func share(_ cpu: Double, _ wall: Double) -> String { fmt(cpu / wall * 100) + " %" }
    func perProbe(_ cpu: Double, _ sent: Int) -> String { fmt(cpu / Double(sent) * 1e6, 2) + " µs" }
    // The three are read a few microseconds apart: clamp the skew, not a real negative.
    let others = max(0, run.process.total - run.thread.total - receive)
    print("""
        kernel floor (bare raw socket, send only): \(share(floor.process.total, floor.wall)) of one core \
        (user \(share(floor.process.user, floor.wall)), system \(share(floor.process.system, floor.wall))), \
        \(perProbe(floor.process.total, floor.sent)) per probe
        ICMPProber: \(run.sent) probes in \(fmt(run.wall, 2)) s: \(got) replies, \(lost) timeouts, \(failed) failures; mean RTT \(fmt(meanRTT)) µs
          process CPU \(share(run.process.total, run.wall)) of one core = \(fmt(run.process.total / run.wall * 1000)) ms per second, \
        \(perProbe(run.process.total, run.sent)) per probe (user \(share(run.process.user, run.wall)), system \(share(run.process.system, run.wall)))
          sending thread \(share(run.thread.total, run.wall)), receive thread (flywall-probe) \(share(receive, run.wall)), \
        all other threads \(share(others, run.wall))
          above the kernel floor: \(share(run.process.total - floor.process.total, run.wall)) of one core, \
        \(perProbe(run.process.total - floor.process.total, run.sent)) per probe
        RSS \(rss / 1024) MB (peak \(peak / 1024) MB; \(rssBefore / 1024) MB before the prober started)
        """)
}

measure()
