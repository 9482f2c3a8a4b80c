# The spec's "Cable + DSL" example exactly as written: a DHCP cable modem on eth0 and PPPoE DSL on
# eth1, no uplink_group, so both form the implicit failover group "default" ordered by their
# `wan { priority }`. A top-level health_check applies to every WAN without its own: targets
# 1.1.1.1 and 9.9.9.9 every 5s, the default thresholds (3 down, 2 up) and 2s timeout.
#
# The cable segment black-holes at 20s. Math: rounds at 20s, 25s, 30s fail -> down at 32s; window
# (30s, 37s]. Repaired at 50s: good rounds at 50s and 55s, answered after 15ms -> up at 55.015s;
# window (55s, 61s].

scenario "cable-dsl" {
  description = "Cable (DHCP) primary with PPPoE DSL backup; the cable black-holes 20s-50s."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 10
}

interface "eth0" {
  zone = "WAN"
  dhcp = true  # Cable modem

  wan {
    priority  = 1
    bandwidth = "100Mbps"  # For QoS calculations
  }
}

interface "eth1" {
  zone = "WAN"

  # DSL with PPPoE
  pppoe {
    username = "user@isp.com"
    password = "secret"
  }

  wan {
    priority  = 2
    bandwidth = "20Mbps"
  }
}

health_check {
  targets  = ["1.1.1.1", "9.9.9.9"]
  interval = "5s"
}

link "eth0" { latency = "15ms" }
link "eth1" {
  latency = "35ms"
  jitter  = "5ms"
}

traffic "lan" {
  source_count = 6
  rate         = 10
}

at "20s" {
  link "eth0" { blackhole = true }
}

at "50s" {
  link "eth0" { blackhole = false }
}

expect "cable down" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "30s"
  before = "37s"
}

expect "DSL takes over" {
  event  = "failover"
  group  = "default"
  uplink = "eth1"
  after  = "30s"
  before = "37s"
}

expect "back on cable" {
  event  = "failback"
  uplink = "eth0"
  after  = "55s"
  before = "61s"
}

expect "DSL carries the outage" {
  share  = "eth1"
  after  = "32s"
  before = "55s"
  min    = 1.0
}
