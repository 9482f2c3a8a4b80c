# The spec's "Basic Dual-WAN" config exactly as written (no health_check anywhere), with the fault a
# carrier alone cannot see: the primary ISP silently stops forwarding at 30s, repaired at 60s.
#
# Each WAN gets the built-in default check (docs/configuration.md, "The default health check"):
# ICMP to 1.1.1.1 and 8.8.8.8 every 5s, timeout 2s, down after 3 failed rounds, up after 2 good
# ones: the spec's default timings. So the spec's arithmetic applies, as for the built-in scenario:
#   failed rounds at 30s, 35s, 40s (a fault at a round's instant is in place before that round)
#   -> the 3rd failure is judged at its timeout, 40s + 2s = 42s: wan_down + failover.
#   Window (40s, 47s]: at least 3 rounds must fail, and at worst the round at 30s still got through.
#   Repair at 60s: good rounds at 60s and 65s (replies after 10ms) -> up at 65.010s: failback.
#   Window (65s, 71s].

scenario "basic-dual-wan-default-check" {
  description = "The spec's Basic Dual-WAN (no health_check): the built-in default check fails over a black-holed primary at 42s and back at 65s."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 3
  config      = "configs/basic-dual-wan.hcl"
}

traffic "lan" {
  source_count = 10
  rate         = 10
}

at "30s" {
  link "eth0" { blackhole = true }
}

at "60s" {
  link "eth0" { blackhole = false }
}

expect "primary declared down by the default check" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "40s"
  before = "47s"
}

expect "moves to eth1" {
  event  = "failover"
  uplink = "eth1"
  after  = "40s"
  before = "47s"
}

expect "back after two good rounds" {
  event  = "failback"
  uplink = "eth0"
  after  = "65s"
  before = "71s"
}

expect "secondary while the primary is down" {
  share  = "eth1"
  after  = "42s"
  before = "65s"
  min    = 1.0
}

expect "backup never fails" {
  event  = "wan_down"
  uplink = "eth1"
  count  = 0
}
