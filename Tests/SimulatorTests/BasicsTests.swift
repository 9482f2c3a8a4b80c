import Domain
import Testing
@testable import Simulator

@Suite struct SeededRandomTests {
    @Test func splitMix64MatchesTheReferenceSequence() {
        // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        var g = SplitMix64(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(g.next() == 0x06C4_5D18_8009_454F)
    }

    @Test func sameSeedAndStreamGiveTheSameDraws() {
        var a = SplitMix64(seed: 42, stream: "probe:eth0")
        var b = SplitMix64(seed: 42, stream: "probe:eth0")
        for _ in 0..<1000 { #expect(a.next() == b.next()) }
    }

    @Test func streamsAndSeedsAreIndependent() {
        var a = SplitMix64(seed: 42, stream: "probe:eth0")
        var b = SplitMix64(seed: 42, stream: "probe:eth1")
        var c = SplitMix64(seed: 43, stream: "probe:eth0")
        let xs = (0..<8).map { _ in a.next() }
        #expect(xs != (0..<8).map { _ in b.next() })
        #expect(xs != (0..<8).map { _ in c.next() })
    }

    @Test func unitDrawsAreInRangeAndRoughlyUniform() {
        var g = SplitMix64(seed: 1)
        var sum = 0.0
        let n = 100_000
        for _ in 0..<n {
            let u = g.nextUnit()
            #expect(u >= 0 && u < 1)
            sum += u
        }
        #expect(abs(sum / Double(n) - 0.5) < 0.01)
    }

    @Test func fnv1aIsStable() {
        #expect(SplitMix64.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(SplitMix64.fnv1a("a") == 0xaf63_dc4c_8601_ec8c)
    }
}

@Suite struct EventQueueTests {
    @Test func popsByTimeThenRankThenInsertionOrder() {
        var q = EventQueue<String>()
        q.push("late", at: Instant(nanoseconds: 30))
        q.push("tick@10", at: Instant(nanoseconds: 10), rank: 2)
        q.push("fault@10", at: Instant(nanoseconds: 10), rank: 0)
        q.push("early", at: Instant(nanoseconds: 5))
        q.push("tick@10 second", at: Instant(nanoseconds: 10), rank: 2)
        q.push("sample@10", at: Instant(nanoseconds: 10), rank: 4)
        var order: [String] = []
        while let e = q.pop() { order.append(e.element) }
        #expect(order == ["early", "fault@10", "tick@10", "tick@10 second", "sample@10", "late"])
        #expect(q.isEmpty)
    }

    @Test func manyEqualKeysStayFirstInFirstOut() {
        var q = EventQueue<Int>()
        var g = SplitMix64(seed: 9)
        var expected: [(Int64, Int)] = []
        for i in 0..<2000 {
            let t = Int64(g.next() % 50)
            q.push(i, at: Instant(nanoseconds: t))
            expected.append((t, i))
        }
        expected.sort { $0 < $1 }
        var got: [Int] = []
        while let e = q.pop() { got.append(e.element) }
        #expect(got == expected.map(\.1))
    }
}

@Suite struct LinkModelTests {
    let one = ProbeTarget.icmp(IPAddress("1.1.1.1")!)
    let eight = ProbeTarget.icmp(IPAddress("8.8.8.8")!)

    @Test func aHealthyLinkAnswersAfterItsLatency() {
        var state = LinkState()
        state.latency = .milliseconds(12)
        var link = LinkModel(interface: "eth0", state: state, seed: 1)
        let answer = link.answer(one)
        #expect(answer?.outcome == .reply(rtt: .milliseconds(12)))
        #expect(answer?.delay == .milliseconds(12))
    }

    @Test func blackholePulledCableAndUnreachableTargetsGiveNoAnswer() {
        var link = LinkModel(interface: "eth0", state: LinkState(), seed: 1)
        #expect(link.apply(LinkChange(blackhole: true)) == false)
        #expect(link.answer(one) == nil)
        #expect(!link.passes)
        link.apply(LinkChange(blackhole: false))
        #expect(link.apply(LinkChange(carrier: false)) == true)
        #expect(link.answer(one) == nil)
        #expect(link.apply(LinkChange(carrier: true)) == true)
        link.apply(LinkChange(unreachable: [IPAddress("1.1.1.1")!]))
        #expect(link.answer(one) == nil)
        #expect(link.answer(eight) != nil)
    }

    @Test func lossDropsAboutThatShare() {
        var state = LinkState()
        state.loss = 20
        var link = LinkModel(interface: "eth0", state: state, seed: 5)
        let n = 20_000
        let lost = (0..<n).filter { _ in link.answer(one) == nil }.count
        #expect(abs(Double(lost) / Double(n) - 0.20) < 0.015)
        var all = LinkModel(interface: "eth0", state: LinkState(), seed: 5)
        all.apply(LinkChange(loss: 100))
        #expect((0..<100).allSatisfy { _ in all.answer(one) == nil })
    }

    @Test func jitterStaysWithinItsRange() {
        var state = LinkState()
        state.latency = .milliseconds(20)
        state.jitter = .milliseconds(5)
        var link = LinkModel(interface: "eth0", state: state, seed: 3)
        var distinct = Set<Int64>()
        for _ in 0..<500 {
            let d = link.answer(one)!.delay.nanoseconds
            #expect(d >= 20_000_000 && d <= 25_000_000)
            distinct.insert(d)
        }
        #expect(distinct.count > 100)
    }

    @Test func httpChecksSeeTheLinksStatus() {
        let check = ProbeTarget.http(url: "http://connectivitycheck.gstatic.com/generate_204", expectedStatus: 204)
        var link = LinkModel(interface: "eth0", state: LinkState(), seed: 1)
        #expect(link.answer(check)?.outcome == .reply(rtt: .milliseconds(10)))
        link.apply(LinkChange(httpStatus: 503))
        #expect(link.answer(check)?.outcome == .wrongStatus(503, rtt: .milliseconds(10)))
        link.apply(LinkChange(httpStatus: 204))
        #expect(link.answer(check)?.outcome == .reply(rtt: .milliseconds(10)))
    }

    @Test func drawsDoNotDependOnTheLinkState() {
        // Two links with the same seed, one black-holed for a while: afterwards they answer alike.
        var state = LinkState()
        state.jitter = .milliseconds(10)
        var a = LinkModel(interface: "eth0", state: state, seed: 11)
        var b = LinkModel(interface: "eth0", state: state, seed: 11)
        b.apply(LinkChange(blackhole: true))
        for _ in 0..<10 { _ = a.answer(one); _ = b.answer(one) }
        b.apply(LinkChange(blackhole: false))
        for _ in 0..<10 { #expect(a.answer(one)?.delay == b.answer(one)?.delay) }
    }
}

@Suite struct FormatTests {
    @Test func fixedDecimals() {
        #expect(Format.fixed(0.6666666, 3) == "0.667")
        #expect(Format.fixed(2, 2) == "2.00")
        #expect(Format.fixed(-1.5, 1) == "-1.5")
        #expect(Format.fixed(-0.0001, 2) == "0.00")
        #expect(Format.fixed(12.0, 0) == "12")
        #expect(Format.fixed(0.05, 1) == "0.1")
    }

    @Test func durationsAndNumbers() {
        #expect(DurationText.brief(.milliseconds(400)) == "400ms")
        #expect(DurationText.brief(.seconds(5)) == "5s")
        #expect(DurationText.brief(.milliseconds(1500)) == "1.5s")
        #expect(Format.number(20) == "20")
        #expect(Format.number(0.5) == "0.5")
    }

    @Test func inventedAddressesAreOneSlash30PerWAN() {
        let first = Simulation.inventedAddress(wanIndex: 0)
        #expect(first.address.description == "100.64.1.2/30")
        #expect(first.gateway.description == "100.64.1.1")
        let second = Simulation.inventedAddress(wanIndex: 1)
        #expect(second.address.description == "100.64.2.2/30")
        #expect(Simulation.inventedAddress(wanIndex: 255).gateway.description == "100.65.0.1")
    }
}
