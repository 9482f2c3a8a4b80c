# Fault: cable pulled. With health checks configured (every 5s, 3 failures to go down), carrier loss
# must still take the WAN down at once, not after the 3 failed rounds (that would be 42s-47s).
#
# Repair: carrier back at 60s. The WAN then needs threshold_up = 2 good rounds: 60s and 65s, the
# second answered after 10ms -> up at 65.010s. Window (65s, 71s]: the 2nd good round starts at 65s
# at the earliest and 70s at the latest (if the 60s round missed the repaired link).

scenario "cable-pulled" {
  description = "eth0's cable is pulled at 30s: down at once, not after the probe threshold."
  duration    = "100s"
  lab_duration = "10s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 2
  config      = "configs/dual-wan.hcl"
}

traffic "lan" {
  sources = ["192.168.1.10", "192.168.1.11"]
  rate    = 20
}

at "30s" {
  link "eth0" { carrier = false }
}

at "60s" {
  link "eth0" { carrier = true }
}

expect "down at the instant of the pull" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "29.999s"
  before = "30s"
}

expect "failover at the instant of the pull" {
  event  = "failover"
  uplink = "eth1"
  after  = "29.999s"
  before = "30s"
}

expect "only one wan_down" {
  event  = "wan_down"
  uplink = "eth0"
  count  = 1
}

expect "carrier alone does not bring it back" {
  event  = "wan_up"
  uplink = "eth0"
  after  = "30s"
  before = "65s"
  count  = 0
}

expect "back after two good rounds" {
  event  = "failback"
  uplink = "eth0"
  after  = "65s"
  before = "71s"
}

expect "eth1 carries the outage" {
  share  = "eth1"
  after  = "29.999s"
  before = "65s"
  min    = 1.0
}
