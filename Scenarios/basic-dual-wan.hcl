# The spec's "Basic Dual-WAN" config exactly as written: two DHCP WANs and a failover group, no
# health_check, so each WAN has the built-in default (ICMP to 1.1.1.1 and 8.8.8.8 every 5s, timeout
# 2s, down after 3 failed rounds, up after 2 good ones; `config check` warns about it).
# The primary's cable is pulled at 30s and plugged back at 60s.
#
# Carrier loss reaches the core at the instant it happens, so eth0 is down and traffic fails over
# at exactly 30s. Connections opened at 30s itself already use eth1 (a fault at an instant is in
# place before that instant's traffic). After the cable returns, eth0 needs 2 good rounds: at 60s
# and 65s (replies after 10ms), so it fails back at 65.010s.

scenario "basic-dual-wan" {
  description = "The spec's basic dual-WAN config: the primary's cable is pulled at 30s, plugged back at 60s."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 1
  config      = "configs/basic-dual-wan.hcl"
}

traffic "lan" {
  source_count = 10
  rate         = 10
}

at "30s" {
  link "eth0" { carrier = false }
}

at "60s" {
  link "eth0" { carrier = true }
}

expect "primary down at once" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "29.999s"
  before = "30s"
}

expect "failover at once" {
  event  = "failover"
  uplink = "eth1"
  after  = "29.999s"
  before = "30s"
}

expect "failback after two good rounds" {
  event  = "failback"
  uplink = "eth0"
  after  = "65s"
  before = "65.010s"
}

expect "primary carries everything first" {
  share  = "eth0"
  before = "29.999s"
  min    = 1.0
}

expect "secondary while unplugged" {
  share  = "eth1"
  after  = "29.999s"
  before = "65.009s"
  min    = 1.0
}

expect "primary again" {
  share = "eth0"
  after = "65.010s"
  min   = 1.0
}
