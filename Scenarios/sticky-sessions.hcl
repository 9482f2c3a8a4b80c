# The spec's "Sticky Sessions" example: balance 1:1, sticky by source address for 1h.
# 50 LAN hosts open 25 connections a second between them (each host every 2s).
#
# No health_check is written: each WAN has the built-in default (ICMP every 5s, up after 2 good
# rounds). eth1's cable is pulled at 40s: only the hosts pinned to eth1 move (to eth0). eth1's
# cable returns at 80s and it is usable after good rounds at 80s and 85s (85.010s); by then every host is pinned to a usable uplink (eth0) and its pin is fresh (2s old, timeout 1h), so
# nobody moves back: eth1 gets no new connections at all until pins expire. That is the promise of
# stickiness: a source stays on one uplink while that uplink is up.

scenario "sticky-sessions" {
  description = "Sticky balance: eth1 unplugged 40s-80s; only its sources move, and none move back."
  duration    = "120s"
  lab_duration = "12s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 8
}

interface "eth0" {
  zone = "WAN"
  dhcp = true
  wan {}
}

interface "eth1" {
  zone = "WAN"
  dhcp = true
  wan {}
}

uplink_group "balanced" {
  mode = "balance"

  # Hash by source IP for sticky sessions
  sticky = true
  sticky_timeout = "1h"

  member "eth0" { weight = 1 }
  member "eth1" { weight = 1 }
}

traffic "lan" {
  source_count = 50
  rate         = 25
}

at "40s" {
  link "eth1" { carrier = false }
}

at "80s" {
  link "eth1" { carrier = true }
}

expect "sources stay on their uplink" { sticky = true }

expect "both uplinks used" {
  share  = "eth0"
  before = "40s"
  min    = 0.25
  max    = 0.75
}

expect "eth1's sources move to eth0" {
  event  = "failover"
  uplink = "eth0"
  after  = "39.999s"
  before = "40s"
}

expect "eth0 alone while eth1 is out" {
  share  = "eth0"
  after  = "39.999s"
  before = "85.009s"
  min    = 1.0
}

expect "eth1 is usable again" {
  event  = "failback"
  uplink = "eth1"
  after  = "85s"
  before = "85.010s"
}

expect "nobody moves back while pinned" {
  share = "eth1"
  after = "85.010s"
  max   = 0.0
}
