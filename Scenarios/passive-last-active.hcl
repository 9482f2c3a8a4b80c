# A passive WAN can recover only while connections still use it. One case where they do today: the
# all-down "last_active" behaviour. A single WAN with a passive check is black-holed from 30s to
# 60s; when it is declared down nothing is left, so the group keeps sending new connections to it
# (last_active, the default), and those connections are the rounds that bring it back.
#
# Arithmetic (I = 5s, T = 2s, threshold_down = 3, threshold_up = 2, 10 connections/s, 12ms RTT):
#   down: as in passive-blackhole.hcl, failed rounds at 35s, 40s, 45s -> wan_down + all_down at
#   45.000s; window (44s, 46s].
#   up: the repair at 60s comes before the core's tick at 60s. Close at 60s: attempts 53.0s-57.9s
#   timed out (deadlines before 60s): failed round. Close at 65s: attempts 58.0s-59.9s time out
#   (20 unanswered) and attempts 60.0s-64.9s are answered after 12ms (50): 50/70 > half, good
#   round 1. Close at 70s: 50/50, good round 2 = threshold_up -> wan_up at 70.000s; window
#   (69s, 71s].

scenario "passive-last-active" {
  description = "A lone passive WAN black-holed 30s-60s: down at 45s, and back at 70s because last_active keeps its traffic flowing."
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
  after  = "69s"
  before = "71s"
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
