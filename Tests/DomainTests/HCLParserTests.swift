import Testing
@testable import Domain

// MARK: - Helpers

/// Swift Testing has its own `SourceLocation`; this file means Domain's.
private typealias SourceLocation = Domain.SourceLocation

private let file = "t.hcl"

private func loc(_ line: Int, _ column: Int) -> SourceLocation {
    SourceLocation(file: file, line: line, column: column)
}

private func parse(_ source: String) throws -> HCLBody {
    try HCLParser.parse(source, file: file)
}

/// The rendered diagnostics of a source that must fail to parse ([] if it parses).
private func errors(_ source: String) -> [String] {
    do {
        _ = try HCLParser.parse(source, file: file)
        return []
    } catch {
        return error.diagnostics.map(\.description)
    }
}

private let nowhere = SourceLocation(file: "", line: 0, column: 0)

/// The tree with every location replaced by one dummy: for comparing modulo positions.
private func stripped(_ body: HCLBody) -> HCLBody {
    HCLBody(items: body.items.map { item in
        switch item {
        case .attribute(let a):
            .attribute(HCLAttribute(name: a.name, location: nowhere, value: stripped(a.value)))
        case .block(let b):
            .block(HCLBlock(type: b.type, labels: b.labels.map { HCLLabel(value: $0.value, location: nowhere) },
                            body: stripped(b.body), location: nowhere))
        }
    })
}

private func stripped(_ e: HCLExpression) -> HCLExpression {
    switch e.kind {
    case .list(let elements):
        HCLExpression(.list(elements.map(stripped)), at: nowhere)
    case .object(let items):
        HCLExpression(.object(items.map { HCLObjectItem(key: $0.key, keyLocation: nowhere, value: stripped($0.value)) }),
                      at: nowhere)
    default:
        HCLExpression(e.kind, at: nowhere)
    }
}

private extension HCLBody {
    func attr(_ name: String) -> HCLAttribute? { attributes.first { $0.name == name } }
    func value(_ name: String) -> HCLExpression.Kind? { attr(name)?.value.kind }
    func blocks(_ type: String) -> [HCLBlock] { blocks.filter { $0.type == type } }
    func block(_ type: String, _ label: String? = nil) -> HCLBlock? {
        blocks.first { $0.type == type && (label == nil || $0.labels.first?.value == label) }
    }
}

/// Compares a list value ignoring element locations.
private func listOfStrings(_ kind: HCLExpression.Kind?) -> [String]? {
    guard case .list(let elements)? = kind else { return nil }
    return elements.map { if case .string(let s) = $0.kind { s } else { "<not a string>" } }
}

private func number(_ text: String) -> HCLExpression.Kind {
    .number(Double(text)!, text: text)
}

private func roundTrip(_ body: HCLBody) throws -> HCLBody {
    try HCLParser.parse(HCLFormatter.format(body), file: "formatted.hcl")
}

// MARK: - The spec page's snippets

@Suite("HCL parser: spec page snippets")
struct HCLSpecSnippetTests {
    @Test("every snippet on the spec page parses and survives a format round trip",
          arguments: SpecSnippets.all)
    func snippetParses(_ snippet: (name: String, source: String)) throws {
        let body = try HCLParser.parse(snippet.source, file: snippet.name + ".hcl")
        #expect(!body.items.isEmpty)
        #expect(stripped(try roundTrip(body)) == stripped(body))
    }

    @Test func basicDualWAN() throws {
        let body = try parse(SpecSnippets.basicDualWAN)
        let interfaces = body.blocks("interface")
        #expect(body.items.count == 2)
        #expect(interfaces.map { $0.labels.map(\.value) } == [["eth0"], ["eth1"]])

        let eth0 = interfaces[0]
        #expect(eth0.location == loc(2, 1))
        #expect(eth0.labels[0].location == loc(2, 11))
        #expect(eth0.body.value("zone") == .string("WAN"))
        #expect(eth0.body.attr("zone")?.location == loc(3, 3))
        #expect(eth0.body.attr("zone")?.value.location == loc(3, 10))
        #expect(eth0.body.value("dhcp") == .bool(true))
        #expect(eth0.body.attr("dhcp")?.value.location == loc(4, 10))
        let wan = try #require(eth0.body.block("wan"))
        #expect(wan.location == loc(7, 3))
        #expect(wan.labels.isEmpty)
        #expect(wan.body.value("priority") == number("1"))
        #expect(wan.body.attr("priority")?.location == loc(8, 5))
        #expect(wan.body.attr("priority")?.value.location == loc(8, 16))
        #expect(wan.body.value("weight") == number("1"))
        #expect(wan.body.attr("weight")?.value.location == loc(9, 16))

        let eth1 = interfaces[1]
        #expect(eth1.location == loc(14, 1))
        #expect(eth1.labels[0].location == loc(14, 11))
        #expect(eth1.body.block("wan")?.location == loc(18, 3))
        #expect(eth1.body.block("wan")?.body.value("priority") == number("2"))
        #expect(eth1.body.block("wan")?.body.attr("priority")?.value.location == loc(19, 16))
    }

    @Test func uplinkGroups() throws {
        let body = try parse(SpecSnippets.uplinkGroups)
        let group = try #require(body.block("uplink_group", "default"))
        #expect(group.body.value("mode") == .string("failover"))
        #expect(group.body.blocks("member").map { $0.labels.map(\.value) } == [["eth0"], ["eth1"]])
        #expect(group.body.blocks("member").map { $0.body.value("priority") } == [number("1"), number("2")])
        #expect(group.body.blocks("member")[1].location == loc(9, 3))
    }

    @Test func healthChecks() throws {
        let body = try parse(SpecSnippets.healthChecks)
        let group = try #require(body.block("uplink_group", "default"))
        let members = group.body.blocks("member")
        #expect(members.count == 2)
        let hc0 = try #require(members[0].body.block("health_check"))
        #expect(hc0.location == loc(7, 5))
        #expect(listOfStrings(hc0.body.value("targets")) == ["1.1.1.1", "8.8.8.8"])
        let targets = try #require(hc0.body.attr("targets"))
        #expect(targets.location == loc(9, 7))
        #expect(targets.value.location == loc(9, 17))
        guard case .list(let elements) = targets.value.kind else {
            Issue.record("targets is not a list")
            return
        }
        #expect(elements.map(\.location) == [loc(9, 18), loc(9, 29)])
        #expect(hc0.body.value("interval") == .string("5s"))
        #expect(hc0.body.value("threshold_down") == number("3"))
        #expect(hc0.body.value("threshold_up") == number("2"))
        #expect(hc0.body.value("timeout") == .string("2s"))
        #expect(hc0.body.attr("timeout")?.location == loc(21, 7))
        #expect(hc0.body.items.count == 5)

        let hc1 = try #require(members[1].body.block("health_check"))
        #expect(listOfStrings(hc1.body.value("targets")) == ["1.0.0.1", "8.8.4.4"])
        #expect(hc1.body.attr("targets")?.value.location == loc(29, 24))
        #expect(hc1.body.attr("timeout") == nil)
        #expect(hc1.body.items.map { if case .attribute(let a) = $0 { a.name } else { "?" } }
            == ["targets", "interval", "threshold_down", "threshold_up"])
    }

    @Test func httpHealthCheck() throws {
        let body = try parse(SpecSnippets.httpHealthCheck)
        let hc = try #require(body.block("health_check"))
        #expect(hc.body.value("type") == .string("http"))
        #expect(hc.body.value("url") == .string("http://connectivitycheck.gstatic.com/generate_204"))
        #expect(hc.body.value("expected_status") == number("204"))
        #expect(hc.body.value("interval") == .string("10s"))
        #expect(hc.body.value("threshold_down") == number("2"))
    }

    @Test func loadBalancing() throws {
        let body = try parse(SpecSnippets.loadBalancing)
        let group = try #require(body.block("uplink_group", "balanced"))
        #expect(group.body.value("mode") == .string("balance"))
        #expect(group.body.blocks("member").map { $0.body.value("weight") } == [number("2"), number("1")])
    }

    @Test func stickySessionsWithOneLineMembers() throws {
        let body = try parse(SpecSnippets.stickySessions)
        let group = try #require(body.block("uplink_group", "balanced"))
        #expect(group.body.value("sticky") == .bool(true))
        #expect(group.body.value("sticky_timeout") == .string("1h"))
        let members = group.body.blocks("member")
        #expect(members.count == 2)
        #expect(members[0].location == loc(8, 3))
        #expect(members[0].labels[0].location == loc(8, 10))
        #expect(members[0].body.attr("weight")?.location == loc(8, 19))
        #expect(members[0].body.attr("weight")?.value.location == loc(8, 28))
        #expect(members[0].body.items.count == 1)
        #expect(members[1].labels[0].value == "eth1")
        #expect(members[1].location == loc(9, 3))
    }

    @Test func policyRoutes() throws {
        let body = try parse(SpecSnippets.policyRouting)
        let routes = body.blocks("policy_route")
        #expect(routes.map { $0.labels.map(\.value) } == [["work-vpn"], ["streaming"], ["gaming"]])
        #expect(routes.map { $0.body.value("uplink") } == [.string("eth0"), .string("eth1"), .string("eth0")])

        let vpn = try #require(routes[0].body.block("match"))
        #expect(vpn.body.value("protocol") == .string("udp"))
        #expect(listOfStrings(vpn.body.value("dest_port")) == ["1194"])

        let streaming = try #require(routes[1].body.block("match"))
        #expect(listOfStrings(streaming.body.value("destination")) == ["@streaming_services"])
        #expect(routes[1].labels[0].location == loc(12, 14))
        #expect(streaming.body.attr("destination")?.location == loc(14, 5))
        #expect(streaming.body.attr("destination")?.value.location == loc(14, 19))

        let gaming = try #require(routes[2].body.block("match"))
        #expect(listOfStrings(gaming.body.value("source")) == ["192.168.1.50"])
        #expect(gaming.body.value("protocol") == .string("udp"))
        #expect(routes[2].body.attr("uplink")?.location == loc(27, 3))
    }

    @Test func cableAndDSL() throws {
        let body = try parse(SpecSnippets.cableDSL)
        let eth0 = try #require(body.block("interface", "eth0"))
        #expect(eth0.body.block("wan")?.body.value("bandwidth") == .string("100Mbps"))
        let eth1 = try #require(body.block("interface", "eth1"))
        #expect(eth1.body.attr("dhcp") == nil)
        let pppoe = try #require(eth1.body.block("pppoe"))
        #expect(pppoe.body.value("username") == .string("user@isp.com"))
        #expect(pppoe.body.value("password") == .string("secret"))
        #expect(eth1.body.block("wan")?.body.value("priority") == number("2"))
    }

    @Test func lteBackupWithInterfaceLevelHealthCheck() throws {
        let body = try parse(SpecSnippets.lteBackup)
        let eth0 = try #require(body.block("interface", "eth0"))
        let wan = try #require(eth0.body.block("wan"))
        #expect(wan.location == loc(5, 3))
        #expect(wan.body.attr("priority")?.location == loc(5, 9))
        #expect(wan.body.attr("priority")?.value.location == loc(5, 20))
        let usb0 = try #require(body.block("interface", "usb0"))
        #expect(usb0.body.block("wan")?.body.value("priority") == number("10"))
        let hc = try #require(usb0.body.block("health_check"))
        #expect(hc.location == loc(17, 3))
        #expect(hc.body.value("interval") == .string("10s"))
        #expect(hc.body.value("threshold_down") == number("2"))
        #expect(hc.body.value("threshold_up") == number("3"))
    }

    @Test func notifications() throws {
        let body = try parse(SpecSnippets.notifications)
        let n = try #require(body.block("notifications"))
        let email = try #require(n.body.block("email"))
        #expect(email.body.value("enabled") == .bool(true))
        #expect(email.body.value("smtp") == .string("smtp.gmail.com:587"))
        #expect(listOfStrings(email.body.value("to")) == ["admin@example.com"])
        #expect(listOfStrings(email.body.value("events")) == ["wan_down", "wan_up", "failover"])
        let webhook = try #require(n.body.block("webhook"))
        #expect(webhook.body.value("url") == .string("https://hooks.slack.com/services/xxx"))
        #expect(listOfStrings(webhook.body.value("events")) == ["wan_down", "failover"])
    }

    @Test func troubleshootingFragments() throws {
        #expect(try parse(SpecSnippets.troubleshootMode).value("mode") == .string("balance"))
        let slow = try parse(SpecSnippets.troubleshootInterval)
        #expect(slow.value("interval") == .string("2s"))
        #expect(slow.value("threshold_down") == number("2"))
        #expect(slow.attr("threshold_down")?.location == loc(2, 1))
        #expect(slow.attr("threshold_down")?.value.location == loc(2, 18))
        let targets = try parse(SpecSnippets.troubleshootTargets)
        #expect(listOfStrings(targets.value("targets")) == ["1.1.1.1", "8.8.8.8", "9.9.9.9"])
    }

    @Test func stickySnippetFormatsCanonically() throws {
        let text = HCLFormatter.format(try parse(SpecSnippets.stickySessions))
        #expect(text == """
            uplink_group "balanced" {
              mode           = "balance"
              sticky         = true
              sticky_timeout = "1h"
              member "eth0" { weight = 1 }
              member "eth1" { weight = 1 }
            }

            """)
    }

    @Test func healthCheckSnippetFormatsCanonically() throws {
        let text = HCLFormatter.format(try parse(SpecSnippets.lteBackup))
        #expect(text == """
            interface "eth0" {
              zone = "WAN"
              dhcp = true
              wan { priority = 1 }
            }

            interface "usb0" {
              zone = "WAN"
              dhcp = true
              wan { priority = 10 }

              health_check {
                interval       = "10s"
                threshold_down = 2
                threshold_up   = 3
              }
            }

            """)
    }
}

// MARK: - Syntax

@Suite("HCL parser: syntax")
struct HCLSyntaxTests {
    @Test func labelsQuotedBareAndMany() throws {
        let body = try parse("""
            policy_route work-vpn {
              uplink = eth0
            }
            a "x" y "z w" {}
            """)
        let route = try #require(body.block("policy_route"))
        #expect(route.labels.map(\.value) == ["work-vpn"])
        #expect(route.labels[0].location == loc(1, 14))
        #expect(route.body.value("uplink") == .identifier("eth0"))
        #expect(route.body.attr("uplink")?.value.location == loc(2, 12))
        let a = try #require(body.block("a"))
        #expect(a.labels.map(\.value) == ["x", "y", "z w"])
        #expect(a.labels.map(\.location) == [loc(4, 3), loc(4, 7), loc(4, 9)])
        #expect(a.body.items.isEmpty)
    }

    @Test func nestedBlocksThreeDeep() throws {
        let body = try parse("a {\n  b \"1\" {\n    c {\n      d = 1\n    }\n  }\n}\n")
        let d = body.block("a")?.body.block("b", "1")?.body.block("c")?.body.attr("d")
        #expect(d?.value.kind == number("1"))
        #expect(d?.location == loc(4, 7))
    }

    @Test func scalarValues() throws {
        let body = try parse("""
            s = "text"
            i = 42
            d = 0.5
            e = 1e3
            E = 2.5E-2
            p = 7e+10
            n = -1
            nd = -0.25
            t = true
            f = false
            z = null
            id = failover
            dash-name = some-thing_2
            """)
        #expect(body.value("s") == .string("text"))
        #expect(body.value("i") == .number(42, text: "42"))
        #expect(body.value("d") == .number(0.5, text: "0.5"))
        #expect(body.value("e") == .number(1000, text: "1e3"))
        #expect(body.value("E") == .number(0.025, text: "2.5E-2"))
        #expect(body.value("p") == .number(7e10, text: "7e+10"))
        #expect(body.value("n") == .number(-1, text: "-1"))
        #expect(body.attr("n")?.value.location == loc(7, 5))
        #expect(body.value("nd") == .number(-0.25, text: "-0.25"))
        #expect(body.value("t") == .bool(true))
        #expect(body.value("f") == .bool(false))
        #expect(body.value("z") == .null)
        #expect(body.value("id") == .identifier("failover"))
        #expect(body.value("dash-name") == .identifier("some-thing_2"))
    }

    @Test func lists() throws {
        let body = try parse("""
            empty = []
            one = [1]
            trailing = ["a", "b",]
            multi = [
              "1.1.1.1",   # first
              "8.8.8.8",
            ]
            nested = [[1, 2], [], ["x"]]
            spaced = [

              1
              ,
              2
            ]
            """)
        #expect(body.value("empty") == .list([]))
        #expect(stripped(try #require(body.attr("one")).value) == HCLExpression(.list([HCLExpression(number("1"), at: nowhere)]), at: nowhere))
        #expect(listOfStrings(body.value("trailing")) == ["a", "b"])
        #expect(listOfStrings(body.value("multi")) == ["1.1.1.1", "8.8.8.8"])
        guard case .list(let multi)? = body.value("multi") else { Issue.record("not a list"); return }
        #expect(multi.map(\.location) == [loc(5, 3), loc(6, 3)])
        guard case .list(let nested)? = body.value("nested") else { Issue.record("not a list"); return }
        #expect(nested.count == 3)
        #expect(nested.map(\.location) == [loc(8, 11), loc(8, 19), loc(8, 23)])
        guard case .list(let spaced)? = body.value("spaced") else { Issue.record("not a list"); return }
        #expect(spaced.map(\.kind) == [number("1"), number("2")])
        #expect(body.attr("spaced")?.location == loc(9, 1))
    }

    @Test func objects() throws {
        let body = try parse("""
            o = { a = 1, "b c" = 2 }
            colon = { a: 1, b: "x" }
            lines = {
              x = true
              y = [1, 2]

              z = { inner = null },
            }
            empty = {}
            """)
        guard case .object(let o)? = body.value("o") else { Issue.record("not an object"); return }
        #expect(o.map(\.key) == ["a", "b c"])
        #expect(o.map(\.keyLocation) == [loc(1, 7), loc(1, 14)])
        #expect(o.map(\.value.kind) == [number("1"), number("2")])
        #expect(o[1].value.location == loc(1, 22))
        guard case .object(let colon)? = body.value("colon") else { Issue.record("not an object"); return }
        #expect(colon.map(\.key) == ["a", "b"])
        #expect(colon.map(\.value.kind) == [number("1"), .string("x")])
        guard case .object(let lines)? = body.value("lines") else { Issue.record("not an object"); return }
        #expect(lines.map(\.key) == ["x", "y", "z"])
        #expect(lines.map(\.keyLocation) == [loc(4, 3), loc(5, 3), loc(7, 3)])
        #expect(body.value("empty") == .object([]))
        #expect(body.attr("empty")?.location == loc(9, 1))
    }

    @Test func comments() throws {
        let body = try parse("""
            # hash
            // slashes
            a = 1 # trailing
            b = 2 // trailing
            /* block
               over lines */ c = 3
            d /* inline */ = /* here too */ 4
            e = "# not a comment // nor this /* */"
            """)
        #expect(body.items.count == 5)
        #expect(body.value("a") == number("1"))
        #expect(body.value("b") == number("2"))
        #expect(body.attr("c")?.location == loc(6, 18))
        #expect(body.value("d") == number("4"))
        #expect(body.attr("d")?.value.location == loc(7, 33))
        #expect(body.value("e") == .string("# not a comment // nor this /* */"))
    }

    @Test func stringEscapes() throws {
        let body = try parse(#"""
            a = "line\nnext\ttab\rcr \"q\" back\\slash"
            b = "\u00e9\U0001F600\u0041"
            c = "${var.x} and %{ if } stay literal"
            d = "$${x} %%{y} $$ %% $x"
            e = "é😀 raw"
            """#)
        #expect(body.value("a") == .string("line\nnext\ttab\rcr \"q\" back\\slash"))
        #expect(body.value("b") == .string("é😀A"))
        #expect(body.value("c") == .string("${var.x} and %{ if } stay literal"))
        #expect(body.value("d") == .string("${x} %{y} $$ %% $x"))
        #expect(body.value("e") == .string("é😀 raw"))
    }

    @Test func heredocs() throws {
        let body = try parse("""
            plain = <<EOF
              keep indent
            line 2
            EOF
            indented = <<-EOT
                first
                  second
            
                third
                EOT
            after = 1
            empty = <<X
            X
            literal = <<EOF
            a \\n b "q" ${x} $${y}
            EOF
            """)
        #expect(body.value("plain") == .string("  keep indent\nline 2\n"))
        #expect(body.value("indented") == .string("first\n  second\n\nthird\n"))
        #expect(body.attr("indented")?.value.location == loc(5, 12))
        #expect(body.value("after") == number("1"))
        #expect(body.attr("after")?.location == loc(11, 1))
        #expect(body.value("empty") == .string(""))
        #expect(body.value("literal") == .string("a \\n b \"q\" ${x} ${y}\n"))
    }

    @Test func heredocInsideBlockThenMoreAttributes() throws {
        let body = try parse("b {\n  text = <<-EOF\n    hello\n    EOF\n  n = 2\n}\n")
        #expect(body.block("b")?.body.value("text") == .string("hello\n"))
        #expect(body.block("b")?.body.attr("n")?.location == loc(5, 3))
    }

    @Test func columnsCountUnicodeScalarsAndTabs() throws {
        let body = try parse("a = \"é😀\"\t# ü\nb_c = \"ü\" \t  // x\n")
        #expect(body.attr("b_c")?.value.location == loc(2, 7))
        #expect(errors("a = \"é😀\" @\n") == ["t.hcl:1:10: error: unexpected character '@'"])
        #expect(errors("\tx = @\n") == ["t.hcl:1:6: error: unexpected character '@'"])
        let tabbed = try parse("blk {\n\t\tname\t= \"ä\"\n\tother = \"ö\"\n}")
        #expect(tabbed.block("blk")?.body.attr("name")?.location == loc(2, 3))
        #expect(tabbed.block("blk")?.body.attr("name")?.value.location == loc(2, 10))
        #expect(tabbed.block("blk")?.body.attr("other")?.value.location == loc(3, 10))
        let wide = try parse("x = \"ü\" // ü\ny = \"😀😀\"\nz = 3")
        #expect(wide.attr("z")?.value.location == loc(3, 5))
        #expect(errors("s = \"😀😀\" = \n") == ["t.hcl:1:10: error: expected a newline after the value of 's', found '='"])
    }

    @Test func crlfLineEndingsAndBOM() throws {
        let body = try parse("\u{FEFF}a {\r\n  b = \"x\"\r\n  t = <<EOF\r\n  hi\r\nEOF\r\n}\r\n")
        #expect(body.block("a")?.location == loc(1, 1))
        #expect(body.block("a")?.body.attr("b")?.value.location == loc(2, 7))
        #expect(body.block("a")?.body.value("b") == .string("x"))
        #expect(body.block("a")?.body.value("t") == .string("  hi\n"))
    }

    @Test func emptyAndCommentOnlyFiles() throws {
        #expect(try parse("").items.isEmpty)
        #expect(try parse("\n\n# nothing\n/* */\n").items.isEmpty)
    }

    @Test func keywordsAreOrdinaryNamesOutsideValues() throws {
        let body = try parse("true = false\nnull {}\no = { null = 1 }\n")
        #expect(body.value("true") == .bool(false))
        #expect(body.block("null") != nil)
        guard case .object(let o)? = body.value("o") else { Issue.record("not an object"); return }
        #expect(o.map(\.key) == ["null"])
    }

    @Test func duplicateAttributesAreKeptForTheDecoder() throws {
        let body = try parse("a = 1\na = 2\n")
        #expect(body.attributes.map(\.value.kind) == [number("1"), number("2")])
    }

    @Test func oneLineBlocks() throws {
        let body = try parse("""
            member "eth0" { weight = 1 }
            wan {}
            x { list = [1, 2] }
            y { obj = { a = 1, b = 2 } }
            """)
        #expect(body.block("member")?.body.value("weight") == number("1"))
        #expect(body.block("wan")?.body.items.isEmpty == true)
        guard case .list(let l)? = body.block("x")?.body.value("list") else { Issue.record("not a list"); return }
        #expect(l.count == 2)
        guard case .object(let o)? = body.block("y")?.body.value("obj") else { Issue.record("not an object"); return }
        #expect(o.map(\.key) == ["a", "b"])
    }

    @Test func largeGeneratedConfigParses() throws {
        let source = generatedConfig(routes: 1_000)
        let body = try HCLParser.parse(source, file: "big.hcl")
        let routes = body.blocks("policy_route")
        #expect(routes.count == 1_000)
        #expect(routes.last?.labels.first?.value == "route-999")
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(lines > 15_000)
        // 17 header lines, then 15 lines per route; a route's block starts on its second line.
        #expect(lines == 17 + 15 * 1_000 + 1)
        #expect(routes.last?.location == SourceLocation(file: "big.hcl", line: 17 + 15 * 999 + 2, column: 1))
        #expect(routes.last?.body.attr("comment")?.value.kind == .string("route number 999\t(generated)"))
    }
}

/// A config with `routes` policy routes (15 lines each), as for the benchmark.
private func generatedConfig(routes: Int) -> String {
    var s = """
        interface "eth0" {
          zone = "WAN"
          dhcp = true
          wan { priority = 1 }
        }

        interface "eth1" {
          zone = "WAN"
          dhcp = true
          wan { priority = 2 }
        }

        uplink_group "default" {
          mode = "failover"
          member "eth0" { priority = 1 }
          member "eth1" { priority = 2 }
        }

        """
    for n in 0..<routes {
        s += """
            # route \(n)
            policy_route "route-\(n)" {
              match {
                protocol    = "\(n % 2 == 0 ? "tcp" : "udp")"
                dest_port   = ["\(1000 + n)", "\(2000 + n)"]
                source      = ["192.168.\(n / 250).\(n % 250 + 1)"]
                destination = ["203.0.113.\(n % 250)/32", "@set_\(n % 7)"]
              }

              uplink   = "eth\(n % 2)"
              fallback = true
              /* a block
                 comment */
              comment  = "route number \(n)\\t(generated)"
            }

            """
    }
    return s
}

// MARK: - Errors

@Suite("HCL parser: errors")
struct HCLErrorTests {
    @Test func unterminatedString() {
        #expect(errors("a = \"abc\nb = 1\n") == ["t.hcl:1:5: error: unterminated string"])
        #expect(errors("x {\n  a = \"abc\\\"\n}\n") == ["t.hcl:2:7: error: unterminated string"])
    }

    @Test func missingEqualsOrBrace() {
        #expect(errors("foo\n") == ["t.hcl:1:4: error: expected '=' or '{' after 'foo'"])
        #expect(errors("foo 12\n") == ["t.hcl:1:5: error: expected '=' or '{' after 'foo'"])
        #expect(errors("x {\n  foo   # comment\n}\n") == ["t.hcl:2:6: error: expected '=' or '{' after 'foo'"])
        #expect(errors("foo: 1\n") == ["t.hcl:1:4: error: expected '=' or '{' after 'foo' (use '=' to set an attribute)"])
        #expect(errors("foo \"x\" = 1\n") == ["t.hcl:1:9: error: expected '{' to open block 'foo', found '='"])
        #expect(errors("foo \"x\"\n") == ["t.hcl:1:8: error: expected '{' to open block 'foo', found end of line"])
    }

    @Test func unexpectedClosingBrace() {
        #expect(errors("a = 1\n}\nb = 2\n") == ["t.hcl:2:1: error: unexpected '}'"])
        #expect(errors("]\n") == ["t.hcl:1:1: error: unexpected ']'"])
        #expect(errors("\"s\" = 1\n") == ["t.hcl:1:1: error: expected an attribute or a block, found string \"s\""])
    }

    @Test func missingClosingBrace() {
        #expect(errors("# c\n\ninterface \"eth0\" {\n  zone = \"WAN\"\n")
            == ["t.hcl:5:1: error: missing closing '}' for block 'interface' opened at 3:1"])
        // The inner block takes the only '}', so the outer one is reported.
        #expect(errors("interface \"eth0\" {\n  wan {\n    priority = 1\n}")
            == ["t.hcl:4:2: error: missing closing '}' for block 'interface' opened at 1:1"])
        #expect(errors("a { b = 1") == ["t.hcl:1:10: error: missing closing '}' for block 'a' opened at 1:1"])
    }

    @Test func oneLineBlockRule() {
        #expect(errors("member \"eth0\" { weight = 1, priority = 2 }\n")
            == ["t.hcl:1:29: error: a one-line block may hold only one attribute"])
        #expect(errors("member \"eth0\" { weight = 1 priority = 2 }\n")
            == ["t.hcl:1:28: error: a one-line block may hold only one attribute"])
        #expect(errors("a { b { c = 1 } }\n") == ["t.hcl:1:5: error: a one-line block cannot contain a nested block"])
        #expect(errors("a { 1 }\n") == ["t.hcl:1:5: error: expected an attribute or '}' in one-line block 'a', found number 1"])
        #expect(errors("a { b = 1 ] }\n") == ["t.hcl:1:11: error: expected '}' to close one-line block 'a', found ']'"])
        // First attribute on the '{' line, more below: reported once, then read as a multi-line block.
        #expect(errors("wan { priority = 1\n  weight = 2\n}\nnext = 3\n")
            == ["t.hcl:1:19: error: a one-line block must close with '}' on the same line (put 'priority = ...' on its own line for a multi-line block)"])
        // Recovery: the rest of the file is still read.
        #expect(errors("m { a = 1, b = 2 }\nx = \n")
            == ["t.hcl:1:12: error: a one-line block may hold only one attribute",
                "t.hcl:2:4: error: expected a value for 'x', found end of line"])
    }

    @Test func invalidEscapes() {
        #expect(errors("a = \"x\\qy\"\n") == ["t.hcl:1:7: error: invalid escape sequence '\\q'"])
        #expect(errors("a = \"é\\é\"\n") == ["t.hcl:1:7: error: invalid escape sequence '\\é'"])
        #expect(errors("a = \"\\u12\"\n") == ["t.hcl:1:6: error: invalid escape sequence '\\u12': expected 4 hex digits"])
        #expect(errors("a = \"\\uD800\"\n") == ["t.hcl:1:6: error: invalid escape sequence '\\uD800': not a Unicode scalar value"])
        #expect(errors("a = \"\\U00110000\"\n") == ["t.hcl:1:6: error: invalid escape sequence '\\U00110000': not a Unicode scalar value"])
        // Two bad escapes in one string: both reported.
        #expect(errors("a = \"\\a\\b\"\n") == ["t.hcl:1:6: error: invalid escape sequence '\\a'",
                                                "t.hcl:1:8: error: invalid escape sequence '\\b'"])
    }

    @Test func heredocErrors() {
        #expect(errors("x = 1\na = <<EOF\nline\n") == ["t.hcl:2:5: error: unterminated heredoc: no line 'EOF'"])
        #expect(errors("a = <<-END\n  line\n  EN D\n") == ["t.hcl:1:5: error: unterminated heredoc: no line 'END'"])
        #expect(errors("a = <<\nb = 1\n") == ["t.hcl:1:5: error: expected a heredoc marker after '<<', e.g. <<EOF"])
        #expect(errors("a = <<EOF x\nEOF\n").first == "t.hcl:1:11: error: expected a newline after heredoc marker 'EOF'")
    }

    @Test func unterminatedBlockComment() {
        #expect(errors("a = 1\n/* abc\nb = 2\n") == ["t.hcl:2:1: error: unterminated comment: no closing '*/'"])
    }

    @Test func badCharactersAndNumbers() {
        #expect(errors("a = @\n") == ["t.hcl:1:5: error: unexpected character '@'"])
        #expect(errors("a = @@@ \n") == ["t.hcl:1:5: error: unexpected character '@'"])
        #expect(errors("a\u{A0}= 1\n") == ["t.hcl:1:2: error: unexpected character U+00A0"])
        #expect(errors("ä = 1\n") == ["t.hcl:1:1: error: unexpected character 'ä' (U+00E4)"])
        #expect(errors("interval = 5s\n") == ["t.hcl:1:12: error: invalid number '5s' (quote it if it is text: \"5s\")"])
        #expect(errors("gw = 10.0.0.1\n") == ["t.hcl:1:6: error: invalid number '10.0.0.1' (quote it if it is text: \"10.0.0.1\")"])
        #expect(errors("n = 1e999\n") == ["t.hcl:1:5: error: number '1e999' is out of range"])
        #expect(errors("n = - x\n") == ["t.hcl:1:7: error: expected a number after '-', found 'x'"])
        #expect(errors("n = -\n") == ["t.hcl:1:6: error: expected a number after '-', found end of line"])
    }

    @Test func valueErrors() {
        #expect(errors("a =\n") == ["t.hcl:1:4: error: expected a value for 'a', found end of line"])
        #expect(errors("a = }\n") == ["t.hcl:1:5: error: expected a value for 'a', found '}'"])
        #expect(errors("a = 1 b = 2\n") == ["t.hcl:1:7: error: expected a newline after the value of 'a', found 'b'"])
        #expect(errors("a {} b {}\n") == ["t.hcl:1:6: error: expected a newline after the closing '}' of block 'a', found 'b'"])
        #expect(errors("x {\n  a = 1 }\n") == ["t.hcl:2:9: error: expected a newline after the value of 'a', found '}'"])
    }

    @Test func listAndObjectErrors() {
        #expect(errors("a = [1 2]\n") == ["t.hcl:1:8: error: expected ',' or ']' after a list element, found number 2"])
        #expect(errors("targets = [\"a\",\ninterval = \"5s\"\n")
            == ["t.hcl:2:1: error: missing closing ']' for list opened at 1:11"])
        #expect(errors("targets = [\"a\"\ninterval = \"5s\"\n")
            == ["t.hcl:2:1: error: missing closing ']' for list opened at 1:11"])
        #expect(errors("a = [1,\n") == ["t.hcl:2:1: error: missing closing ']' for list opened at 1:5"])
        #expect(errors("a = [1, }\n") == ["t.hcl:1:9: error: expected a value, found '}'"])
        // A bad element inside a multi-line list: one error, the list and the rest still read.
        #expect(errors("a = [\n  1,\n  @,\n  3,\n]\nb = 2\nc = \n")
            == ["t.hcl:3:3: error: unexpected character '@'",
                "t.hcl:7:4: error: expected a value for 'c', found end of line"])
        #expect(errors("a = { x = 1 y = 2 }\n")
            == ["t.hcl:1:13: error: expected ',', a newline or '}' after the value of 'x', found 'y'"])
        #expect(errors("a = { x 1 }\n") == ["t.hcl:1:9: error: expected '=' or ':' after object key 'x', found number 1"])
        #expect(errors("a = { 1 = 2 }\n") == ["t.hcl:1:7: error: expected an object key, found number 1"])
        #expect(errors("a = { x = 1\n") == ["t.hcl:2:1: error: missing closing '}' for object opened at 1:5"])
    }

    @Test func everyErrorInOneFileIsReported() {
        let source = """
            interface "eth0" {
              zone = "WAN
              dhcp = true
              wan { priority = 1, weight = 2 }
              mtu = 15OO
            }
            }
            uplink_group "default" {
              mode = "fail\\over"
              member "eth0" { priority = 1 }
              member "eth1" {
                priority = 2
                weight
              }
              sticky_timeout = <<EOF
            """
        #expect(errors(source) == [
            "t.hcl:2:10: error: unterminated string",
            "t.hcl:4:23: error: a one-line block may hold only one attribute",
            "t.hcl:5:9: error: invalid number '15OO' (quote it if it is text: \"15OO\")",
            "t.hcl:7:1: error: unexpected '}'",
            "t.hcl:9:15: error: invalid escape sequence '\\o'",
            "t.hcl:13:11: error: expected '=' or '{' after 'weight'",
            "t.hcl:15:20: error: unterminated heredoc: no line 'EOF'",
            "t.hcl:15:25: error: missing closing '}' for block 'uplink_group' opened at 8:1",
        ])
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let list = "a = " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + "\nb = 1\n"
        #expect(errors(list) == ["t.hcl:1:105: error: nested too deeply (more than 100 levels of blocks, lists and objects)"])
        let blocks = String(repeating: "x {\n", count: 150) + String(repeating: "}\n", count: 150)
        #expect(errors(blocks) == ["t.hcl:101:3: error: nested too deeply (more than 100 levels of blocks, lists and objects)"])
        #expect(errors(String(repeating: "x {\n", count: 100) + String(repeating: "}\n", count: 100)) == [])
    }

    /// Random edits of the spec snippets: the parser never crashes or hangs, every diagnostic points
    /// inside the file, and whatever still parses survives a format round trip.
    @Test func mutatedInputsAreHandled() throws {
        var rng = HCLSplitMix64(seed: 0xF1A7_2026)
        let pieces = ["{", "}", "[", "]", "\"", "=", ",", ":", "\n", "#", "/*", "*/", "<<EOF\n", "\nEOF\n", "\\", "-",
                      "1", "x", " ", "é", "@", "<<-", "${", "\t", "{ a = 1 }"]
        var parsed = 0, failed = 0
        for iteration in 0..<1_500 {
            var scalars = Array(SpecSnippets.all[iteration % SpecSnippets.all.count].source.unicodeScalars)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0...scalars.count, using: &rng)
                if Bool.random(using: &rng), at < scalars.count {
                    scalars.remove(at: at)
                } else {
                    scalars.insert(contentsOf: pieces.randomElement(using: &rng)!.unicodeScalars, at: at)
                }
            }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let text = String(view)
            let lineLengths = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.unicodeScalars.count }
            switch Result(catching: { () throws(DiagnosticList) in try HCLParser.parse(text, file: "m.hcl") }) {
            case .success(let body):
                parsed += 1
                let formatted = HCLFormatter.format(body)
                do {
                    let again = try HCLParser.parse(formatted, file: "formatted.hcl")
                    #expect(stripped(again) == stripped(body), "\(text)")
                } catch {
                    Issue.record("formatted text does not parse: \(error)\n\(formatted)")
                }
            case .failure(let error):
                failed += 1
                #expect(!error.diagnostics.isEmpty)
                for d in error.diagnostics {
                    let inside = d.location.line >= 1 && d.location.line <= lineLengths.count
                        && d.location.column >= 1 && d.location.column <= lineLengths[d.location.line - 1] + 1
                    #expect(inside, "\(d) outside the text:\n\(text)")
                }
            }
        }
        #expect(parsed > 100)
        #expect(failed > 500)
    }

    @Test func diagnosticListShape() {
        do {
            _ = try HCLParser.parse("a = \n b = \n", file: "cfg/flywall.hcl")
            Issue.record("expected errors")
        } catch {
            #expect(error.diagnostics.count == 2)
            #expect(error.diagnostics[0].location == SourceLocation(file: "cfg/flywall.hcl", line: 1, column: 4))
            #expect(error.diagnostics[0].message == "expected a value for 'a', found end of line")
            #expect(error.description == """
                cfg/flywall.hcl:1:4: error: expected a value for 'a', found end of line
                cfg/flywall.hcl:2:5: error: expected a value for 'b', found end of line
                """)
        }
    }
}

// MARK: - Formatter and round trips

/// SplitMix64: a tiny seeded generator, so every run checks the same trees.
private struct HCLSplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random syntax trees (with dummy locations) for the round-trip property.
private struct HCLTreeGenerator {
    var rng: HCLSplitMix64

    private static let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
    private static let rest = Array("abcxyzQ_-0123456789")
    private static let scalars: [String] = [
        "a", "b", "Z", "0", "9", " ", " ", "\"", "\\", "\n", "\t", "\r", "$", "%", "{", "}", "${", "%{", "$${",
        "é", "😀", "中", "\u{0}", "\u{1B}", "\u{7F}", "\u{A0}", "\u{2028}", "#", "//", "/*", "*/", "<<EOF", "=", ",",
        "\\n", "\\u0041",
    ]

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ percent: Int) -> Bool { int(1...100) <= percent }

    mutating func identifier() -> String {
        while true {
            var s = String(Self.letters.randomElement(using: &rng)!)
            for _ in 0..<int(0...7) { s.append(Self.rest.randomElement(using: &rng)!) }
            if !["true", "false", "null"].contains(s) { return s }
        }
    }

    mutating func text() -> String {
        var s = ""
        for _ in 0..<int(0...10) { s += Self.scalars.randomElement(using: &rng)! }
        return s
    }

    mutating func numberText() -> String {
        var s = chance(30) ? "-" : ""
        s += String(int(0...99_999))
        if chance(40) { s += "." + String(int(0...999)) }
        if chance(25) { s += ["e", "E"][int(0...1)] + ["", "+", "-"][int(0...2)] + String(int(0...30)) }
        return s
    }

    mutating func expression(depth: Int) -> HCLExpression {
        let kind: HCLExpression.Kind
        switch int(0...(depth > 0 ? 8 : 5)) {
        case 0: kind = .string(text())
        case 1:
            let t = numberText()
            kind = .number(Double(t)!, text: t)
        case 2: kind = .bool(chance(50))
        case 3: kind = .null
        case 4: kind = .identifier(identifier())
        case 5: kind = .string(identifier())
        case 6, 7: kind = .list((0..<int(0...4)).map { _ in expression(depth: depth - 1) })
        default:
            kind = .object((0..<int(0...4)).map { _ in
                HCLObjectItem(key: chance(60) ? identifier() : text(), keyLocation: nowhere,
                              value: expression(depth: depth - 1))
            })
        }
        return HCLExpression(kind, at: nowhere)
    }

    mutating func body(depth: Int) -> HCLBody {
        var items: [HCLBodyItem] = []
        for _ in 0..<int(0...6) {
            if depth > 0 && chance(35) {
                let labels = (0..<int(0...3)).map { _ in HCLLabel(value: chance(50) ? identifier() : text(), location: nowhere) }
                items.append(.block(HCLBlock(type: identifier(), labels: labels, body: body(depth: depth - 1), location: nowhere)))
            } else {
                items.append(.attribute(HCLAttribute(name: identifier(), location: nowhere, value: expression(depth: 3))))
            }
        }
        return HCLBody(items: items)
    }
}

@Suite("HCL formatter and round trips")
struct HCLRoundTripTests {
    @Test func randomTreesSurviveFormatAndParse() throws {
        var generator = HCLTreeGenerator(rng: HCLSplitMix64(seed: 0x5EED_F1A7_0001))
        var blocks = 0, oneLine = 0
        for iteration in 0..<400 {
            let tree = generator.body(depth: 3)
            let text = HCLFormatter.format(tree)
            let parsed: HCLBody
            do {
                parsed = try HCLParser.parse(text, file: "gen.hcl")
            } catch {
                Issue.record("iteration \(iteration): formatted text does not parse:\n\(error)\n\(text)")
                return
            }
            #expect(stripped(parsed) == tree, "iteration \(iteration):\n\(text)")
            // Formatting is canonical: formatting the parsed text again changes nothing.
            #expect(HCLFormatter.format(parsed) == text)
            blocks += tree.blocks.count
            oneLine += text.split(separator: "\n").filter { $0.hasSuffix(" }") && $0.contains("{ ") }.count
        }
        // The generator really exercised blocks and one-line blocks.
        #expect(blocks > 100)
        #expect(oneLine > 20)
    }

    @Test func quoting() {
        #expect(HCLFormatter.quote("plain") == "\"plain\"")
        #expect(HCLFormatter.quote("a\"b\\c\nd\te\rf") == #""a\"b\\c\nd\te\rf""#)
        #expect(HCLFormatter.quote("\u{0}\u{1B}\u{7F}") == #""\u0000\u001B\u007F""#)
        #expect(HCLFormatter.quote("${x} %{y} $$ $") == #""$${x} %%{y} $$ $""#)
        #expect(HCLFormatter.quote("$${") == #""$$${""#)
        #expect(HCLFormatter.quote("é😀") == "\"é😀\"")
    }

    @Test func formatsNestedValues() throws {
        let body = try parse("""
            a = [1,2,3]
            long = ["aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccc", "dddddd"]
            obj = {x=1, "y z": "w"}
            deep = { list = [ { k = v } ] }
            b "l" {
              text = <<EOF
            two
            lines
            EOF
            }
            """)
        #expect(HCLFormatter.format(body) == """
            a = [1, 2, 3]
            long = [
              "aaaaaaaaaaaaaaaaaaaa",
              "bbbbbbbbbbbbbbbbbbbbbbbb",
              "cccccccccccccccccccccccc",
              "dddddd",
            ]
            obj = { x = 1, "y z" = "w" }
            deep = {
              list = [
                { k = v },
              ]
            }
            b "l" { text = "two\\nlines\\n" }

            """)
    }

    @Test func blankLinesAroundMultiLineBlocks() throws {
        let body = try parse("x = 1\na {\n  b = 1\n  c = 2\n}\nd {}\ne { f = 1 }\ny = 2\n")
        #expect(HCLFormatter.format(body) == """
            x = 1

            a {
              b = 1
              c = 2
            }

            d {}
            e { f = 1 }
            y = 2

            """)
    }
}

// MARK: - Spec snippets
