# Fault: all uplinks down, then one returns. eth0's cable is pulled at 30s (failover to eth1 at
# once); eth1's at 40s: nothing is left, an all_down event says so. The group's all_down policy is
# the default, "last_active": new connections keep using eth1's buckets, since it may come back
# before its probes say so.
#
# eth1's cable comes back at 60s; after carrier loss a WAN needs threshold_up (2) good rounds:
# 60s and 65s, answered after 10ms -> eth1 up at 65.010s, and the group recovers onto it (a
# failover event: eth1 is not the preferred member). Window (65s, 71s]. eth0 stays unplugged.

scenario "all-down" {
  description = "Both cables pulled (30s, 40s), eth1 plugged back at 60s: all_down, then recovery."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 17
  config      = "configs/dual-wan.hcl"
}

traffic "lan" {
  source_count = 10
  rate         = 10
}

at "30s" {
  link "eth0" { carrier = false }
}

at "40s" {
  link "eth1" { carrier = false }
}

at "60s" {
  link "eth1" { carrier = true }
}

expect "eth0 out first" {
  event  = "failover"
  uplink = "eth1"
  after  = "29.999s"
  before = "30s"
}

expect "all uplinks down" {
  event  = "all_down"
  group  = "default"
  after  = "39.999s"
  before = "40s"
}

expect "only one all_down" {
  event = "all_down"
  count = 1
}

expect "last active uplink kept for new connections" {
  share  = "eth1"
  after  = "40s"
  before = "65s"
  min    = 1.0
}

expect "recovers onto eth1" {
  event  = "failover"
  uplink = "eth1"
  after  = "65s"
  before = "71s"
}

expect "eth1 up again" {
  event  = "wan_up"
  uplink = "eth1"
  after  = "65s"
  before = "71s"
}

expect "eth0 stays down" {
  event  = "wan_up"
  uplink = "eth0"
  count  = 0
}
