# A passive check on the primary: no probes, real LAN connections are the rounds. The primary ISP
# black-holes traffic at 30s; its unanswered connection attempts take it down, and new connections
# move to the backup (an ICMP-checked eth1).
#
# How the simulator feeds the check (docs/scenarios.md, "Passive checks"): every new TCP connection
# routed to eth0 is a SYN seen leaving eth0 at the connection's instant; its SYN-ACK comes back after
# eth0's latency (12ms) unless the link drops it. The core closes an interval every 5s from the start
# (boundaries 5s, 10s, ...); an attempt waits `timeout` = 2s; an attempt still waiting at a close
# with its deadline before the close is unanswered; a round fails unless more than half of the
# attempts resolved in its interval were answered.
#
# Failover arithmetic (I = 5s, T = 2s, threshold_down D = 3, rate r = 10/s, fault F = 30s):
#   up to 30s every interval has 50 attempts, all answered after 12ms: good rounds at 5s ... 30s
#   (the close at 30s runs after the fault but its answers all came by 29.912s).
#   From 30.0s nothing comes back. Close at 35s: attempts sent 30.0s-32.9s have deadlines
#   32.0s-34.9s < 35s -> 0/30 answered: failed round 1 (the attempt at 33.0s has deadline 35.0s,
#   not before the close, so it waits for the next one). Close at 40s: attempts 33.0s-37.9s, 0/50:
#   failed round 2. Close at 45s: attempts 38.0s-42.9s, 0/50: failed round 3 = D -> wan_down and
#   failover at 45.000s exactly.
#   In general, with r >= 1/I (every interval resolves some attempt): the first failed round is the
#   first boundary after F + T (35s), the D-th one (D - 1)·I later: 35s + 2·5s = 45s. Window
#   (44s, 46s] leaves a second either side for `flywall lab`'s real clock.
#
# Recovery: once eth0 is down, new connections no longer use it, so connections alone would never
# bring it back. While a passive WAN is down the core probes the check's targets (here the default,
# 1.1.1.1 and 8.8.8.8) over ICMP on the check's interval, starting one interval after it went down,
# and threshold_up good rounds bring it back (docs/configuration.md, "Passive checks"):
#   recovery rounds at 50s and 55s fail (black hole); the repair at 60s is in place before the
#   round at 60s, answered after 12ms: good round 1; the round at 65s is good round 2 = threshold_up
#   -> wan_up and failback at 65.012s. Window (65s, 66s]. From then on eth0 is passive again.

scenario "passive-blackhole" {
  description = "Passive check on eth0: black hole at 30s, down and failover to eth1 at 45s (3 intervals of unanswered connections); recovery probes bring it back at 65.012s."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 5
}

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

  member "eth0" {
    priority = 1

    health_check {
      type           = "passive"
      interval       = "5s"
      timeout        = "2s"
      threshold_down = 3
      threshold_up   = 2
    }
  }

  member "eth1" {
    priority = 2

    health_check {
      targets        = ["1.0.0.1", "8.8.4.4"]
      interval       = "5s"
      threshold_down = 3
      threshold_up   = 2
    }
  }
}

link "eth0" { latency = "12ms" }
link "eth1" { latency = "25ms" }

traffic "lan" {
  sources   = ["192.168.1.10", "192.168.1.11", "192.168.1.12"]
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

expect "moves to eth1" {
  event  = "failover"
  uplink = "eth1"
  after  = "44s"
  before = "46s"
}

expect "answered connections keep eth0 up" {
  event  = "wan_down"
  before = "30s"
  count  = 0
}

# The connection at 45.000s is routed after the core's tick at that instant: already on eth1.
expect "all on eth0 until it is declared down" {
  share  = "eth0"
  before = "44.9s"
  min    = 1.0
}

expect "all on eth1 while eth0 is down" {
  share  = "eth1"
  after  = "45s"
  before = "65.011s"
  min    = 1.0
}

expect "recovery probes bring eth0 back" {
  event  = "wan_up"
  uplink = "eth0"
  after  = "65s"
  before = "66s"
}

expect "failback to eth0" {
  event  = "failback"
  uplink = "eth0"
  after  = "65s"
  before = "66s"
}

expect "all on eth0 again" {
  share  = "eth0"
  after  = "65.012s"
  min    = 1.0
}

expect "backup never fails" {
  event  = "wan_down"
  uplink = "eth1"
  count  = 0
}
