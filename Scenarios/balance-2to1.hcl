# The spec's "Load Balancing" example: a balance group with weights 2 and 1, so eth0 gets 2/3 of new
# connections. No health_check is written, so each WAN has the built-in default (ICMP to 1.1.1.1
# and 8.8.8.8 every 5s, down after 3 failed rounds, up after 2 good ones). eth1's cable is pulled
# from 60s to 90s: carrier loss takes it out at once; once plugged back it needs 2 good rounds, at
# 90s and 95s (replies after 10ms), so it rejoins at 95.010s.
#
# Shares: each new connection picks a hash bucket from its own random entropy; with 1,200 flows in
# (0s, 60s] the standard deviation of a 2/3 share is about 0.014, so [0.60, 0.73] is a +-4.7 sigma
# band. While eth1 is unplugged every connection must go to eth0.

scenario "balance-2to1" {
  description = "Balance 2:1 by weight; eth1 unplugged 60s-90s moves everything to eth0."
  duration    = "120s"
  lab_duration = "12s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 21
}

interface "eth0" {
  zone = "WAN"
  dhcp = true
  wan { weight = 2 }
}

interface "eth1" {
  zone = "WAN"
  dhcp = true
  wan { weight = 1 }
}

uplink_group "balanced" {
  mode = "balance"

  member "eth0" {
    weight = 2  # Gets 2/3 of traffic
  }

  member "eth1" {
    weight = 1  # Gets 1/3 of traffic
  }
}

traffic "lan" {
  source_count = 20
  rate         = 20
}

at "60s" {
  link "eth1" { carrier = false }
}

at "90s" {
  link "eth1" { carrier = true }
}

expect "2:1 split" {
  share  = "eth0"
  before = "60s"
  min    = 0.60
  max    = 0.73
}

expect "eth1 gets a third" {
  share  = "eth1"
  before = "60s"
  min    = 0.27
  max    = 0.40
}

expect "eth1 leaves the balance at once" {
  event  = "failover"
  uplink = "eth0"
  after  = "59.999s"
  before = "60s"
}

expect "all on eth0 without eth1" {
  share  = "eth0"
  after  = "59.999s"
  before = "95.009s"
  min    = 1.0
}

expect "eth1 rejoins after two good rounds" {
  event  = "failback"
  uplink = "eth1"
  after  = "95s"
  before = "95.010s"
}

expect "2:1 split again" {
  share = "eth0"
  after = "95.010s"
  min   = 0.58
  max   = 0.75
}
