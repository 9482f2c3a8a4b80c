# A passive check says nothing without traffic: an idle WAN is not a failing WAN.
#
# Both WANs have passive checks (5s intervals from the start, 2s timeout, down after 3 failed
# rounds). The LAN opens 10 connections a second until 20s, all on eth0 (answered after 12ms), so
# eth0 gets good rounds at 5s, 10s, 15s and 20s; then nothing connects any more.
# eth1, the backup, carries no connection at all: it gets no round, ever.
#
# 10s: eth1 black-holes; 30s: eth0 black-holes too. Neither is noticed: no connection attempt
# leaves either WAN after 20s, so no interval resolves anything, no round is counted (failed or
# good) and the core has no passive deadline to wake up for. Both stay UP: no wan_down, no
# failover, for the whole run.

scenario "passive-idle" {
  description = "Idle passive WANs never go down: no traffic, no rounds, whatever the link does."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 3
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

health_check {
  type           = "passive"
  interval       = "5s"
  timeout        = "2s"
  threshold_down = 3
  threshold_up   = 2
}

link "eth0" { latency = "12ms" }
link "eth1" { latency = "25ms" }

traffic "lan" {
  sources   = ["192.168.1.10", "192.168.1.11"]
  rate      = 10
  protocol  = "tcp"
  dest_port = 443
  stop      = "20s"
}

at "10s" {
  link "eth1" { blackhole = true }
}

at "30s" {
  link "eth0" { blackhole = true }
}

expect "no WAN goes down" {
  event = "wan_down"
  count = 0
}

expect "no failover" {
  event = "failover"
  count = 0
}

expect "the traffic there was used eth0" {
  share = "eth0"
  min   = 1.0
}
