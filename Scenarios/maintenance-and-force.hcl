# Operator commands in a scenario: `maintenance` takes a WAN out of every group (its probes go on),
# `force` pins a group to one member, and `force` without an uplink releases the pin. Each takes
# effect at the instant it is given: no probe rounds involved.

scenario "maintenance-and-force" {
  description = "eth0 in maintenance 20s-40s; group forced to eth1 60s-80s."
  duration    = "100s"
  lab_duration = "10s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 19
  config      = "configs/dual-wan.hcl"
}

traffic "lan" {
  source_count = 10
  rate         = 10
}

at "20s" {
  maintenance "eth0" { enabled = true }
}

at "40s" {
  maintenance "eth0" { enabled = false }
}

at "60s" {
  force "default" { uplink = "eth1" }
}

at "80s" {
  force "default" {}
}

expect "maintenance takes eth0 out" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "19.999s"
  before = "20s"
}

expect "traffic leaves for maintenance" {
  event  = "failover"
  uplink = "eth1"
  after  = "19.999s"
  before = "20s"
}

expect "back after maintenance" {
  event  = "failback"
  uplink = "eth0"
  after  = "39.999s"
  before = "40s"
}

expect "forced to eth1" {
  event  = "failover"
  uplink = "eth1"
  after  = "59.999s"
  before = "60s"
}

expect "eth1 while forced" {
  share  = "eth1"
  after  = "59.999s"
  before = "79.999s"
  min    = 1.0
}

expect "released back to eth0" {
  event  = "failback"
  uplink = "eth0"
  after  = "79.999s"
  before = "80s"
}

expect "eth0 never really failed" {
  event  = "wan_down"
  uplink = "eth0"
  count  = 1
}
