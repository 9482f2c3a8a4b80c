# A lone passive WAN under the all-down "last_active" behaviour: black-holed from 30s to 60s; when
# it is declared down nothing is left, so the group keeps sending new connections to it
# (last_active, the default). Two kinds of rounds then count towards its recovery: the intervals of
# those connections, and the ICMP recovery probes every passive WAN gets while it is down
# (docs/configuration.md, "Passive checks"), one interval after it went down.
#
# Arithmetic (I = 5s, T = 2s, threshold_down = 3, threshold_up = 2, 10 connections/s, 12ms RTT):
#   down: as in passive-blackhole.hcl, failed rounds at 35s, 40s, 45s -> wan_down + all_down at
#   45.000s; window (44s, 46s].
#   up: at 50s and 55s both the interval close and the recovery probes fail. The repair at 60s
#   comes before the core's tick at 60s, which first closes the interval (attempts 53.0s-57.9s
#   timed out: failed round) and then sends the recovery probes, answered after 12ms: good round 1
#   at 60.012s. The close at 65s comes before that instant's probes: attempts 58.0s-59.9s time out
#   (20 unanswered) and attempts 60.0s-64.9s are answered (50): 50/70 > half, good round 2 =
#   threshold_up -> wan_up at 65.000s; window (64s, 66s].

scenario "passive-last-active" {
  description = "A lone passive WAN black-holed 30s-60s: down at 45s, back at 65s from recovery probes and the traffic last_active keeps flowing."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 9
}

interface "eth0" {
  zone = "WAN"
  dhcp = true

  wan { priority = 1 }

  health_check {
    type           = "passive"
    interval       = "5s"
    timeout        = "2s"
    threshold_down = 3
    threshold_up   = 2
  }
}

link "eth0" { latency = "12ms" }

traffic "lan" {
  sources   = ["192.168.1.10"]
  rate      = 10
  protocol  = "tcp"
  dest_port = 443
}

at "30s" {
  link "eth0" { blackhole = true }
}

at "60s" {
  link "eth0" { blackhole = false }
}

expect "eth0 declared down" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "44s"
  before = "46s"
}

expect "nothing left" {
  event  = "all_down"
  after  = "44s"
  before = "46s"
}

expect "eth0 back" {
  event  = "wan_up"
  uplink = "eth0"
  after  = "64s"
  before = "66s"
}

expect "exactly one wan_down" {
  event = "wan_down"
  count = 1
}

expect "exactly one wan_up" {
  event = "wan_up"
  count = 1
}

expect "every connection used eth0" {
  share = "eth0"
  min   = 1.0
}
