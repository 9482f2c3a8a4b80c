# Fault: a flapping link. eth0 black-holes for 12s out of every 20s from 30s to 102s (on at 30s,
# 50s, 70s, 90s; off at 42s, 62s, 82s, 102s). Hysteresis must keep this from turning into a storm of
# events: down takes 3 failed rounds in a row, up takes 2 good rounds in a row.
#
# Math (rounds every 5s; a round is good when the link passes at its start):
#   30s 35s 40s fail -> down at 42s (40s round's timeout).
#   45s good (1 of 2), 50s 55s 60s fail, 65s good (1 of 2), 70s 75s 80s fail, 85s good (1 of 2),
#   90s 95s 100s fail, 105s good, 110s good -> up at 110.010s.
#   So exactly one wan_down and one wan_up, one failover and one failback; eth1 carries traffic from
#   42s to 110s without interruption. (With threshold_up = 1 eth0 would come back at 45s, 65s and
#   85s, and go down again each time.)

scenario "flapping" {
  description = "eth0 flaps (12s dead, 8s alive) from 30s to 102s; hysteresis keeps it down until stable."
  duration    = "130s"
  lab_duration = "13s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 16
  config      = "configs/dual-wan.hcl"
}

traffic "lan" {
  source_count = 10
  rate         = 10
}

at "30s" {
  link "eth0" { blackhole = true }
}
at "42s" {
  link "eth0" { blackhole = false }
}
at "50s" {
  link "eth0" { blackhole = true }
}
at "62s" {
  link "eth0" { blackhole = false }
}
at "70s" {
  link "eth0" { blackhole = true }
}
at "82s" {
  link "eth0" { blackhole = false }
}
at "90s" {
  link "eth0" { blackhole = true }
}
at "102s" {
  link "eth0" { blackhole = false }
}

expect "down once" {
  event  = "wan_down"
  uplink = "eth0"
  count  = 1
}

expect "up once" {
  event  = "wan_up"
  uplink = "eth0"
  count  = 1
}

expect "one failover" {
  event = "failover"
  count = 1
}

expect "one failback" {
  event = "failback"
  count = 1
}

expect "down at the third failed round" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "40s"
  before = "47s"
}

expect "up once stable" {
  event  = "wan_up"
  uplink = "eth0"
  after  = "110s"
  before = "116s"
}

expect "eth1 throughout the flapping" {
  share  = "eth1"
  after  = "42s"
  before = "110s"
  min    = 1.0
}
