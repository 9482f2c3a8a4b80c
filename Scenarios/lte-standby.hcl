# A metered LTE backup (usb0) probed every 60s while it waits (standby_interval), and every 5s as
# soon as the wired primary it backs up fails a round (docs/configuration.md, "Standby").
# Both links answer after 10ms (LTE 40ms); timeout 1s; down after 3 failed rounds.
#
# Standby: usb0's rounds at 0s (everything starts with one round), then 60s, 120s, ...
# 65s: usb0 black-holes while waiting; nobody notices yet (its next standby round is at 120s).
# 70s: eth0 black-holes. Its round at 70s fails at 71s: usb0 is a failover candidate at once, and
#   its next round is 5s after its last start (65s), already past -> it probes at 71s. It fails at
#   72s; then 76s, 81s -> usb0 wan_down at 82s. eth0: rounds 70s, 75s, 80s -> wan_down and failover
#   to usb0 at 81s, then all_down at 82s. Without the candidate rule, usb0's next round would be
#   at 120s and its wan_down at 131s.
# 90s: both repaired. eth0 (down: 5s rounds from 80s) good at 90s, 95s -> wan_up and the
#   recovery from all down at 95.010s; usb0 (rounds from 81s: 86s, 91s, 96s) good at 91s, 96s ->
#   wan_up at 96.040s, then standby again: next round 60s after 96s (156s).

scenario "lte-standby" {
  description = "standby_interval keeps a metered backup's probing thrifty until the primary fails a round"
  duration    = "160s"
  lab_duration = "16s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 5
}

interface "eth0" {
  zone    = "WAN"
  address = "100.64.0.2/24"
  gateway = "100.64.0.1"
  wan { priority = 1 }
  health_check {
    targets        = ["198.18.0.1"]
    interval       = "5s"
    timeout        = "1s"
    threshold_down = 3
  }
}

interface "usb0" {
  zone    = "WAN"
  address = "100.64.1.2/24"
  gateway = "100.64.1.1"
  wan { priority = 10 }
  health_check {
    targets          = ["198.18.1.1"]
    interval         = "5s"
    standby_interval = "60s"
    timeout          = "1s"
    threshold_down   = 3
  }
}

link "eth0" { latency = "10ms" }
link "usb0" { latency = "40ms" }

traffic "lan" {
  source_count = 4
  rate         = 10
}

at "65s" {
  link "usb0" { blackhole = true }
}

at "70s" {
  link "eth0" { blackhole = true }
}

at "90s" {
  link "eth0" { blackhole = false }
  link "usb0" { blackhole = false }
}

expect "standby backup's failure unnoticed until the primary fails" {
  event  = "wan_down"
  uplink = "usb0"
  before = "81.999s"
  count  = 0
}

expect "backup probed as a candidate" {
  event  = "wan_down"
  uplink = "usb0"
  after  = "81.999s"
  before = "82s"
}

expect "primary down" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "80.999s"
  before = "81s"
}

expect "primary back" {
  event  = "wan_up"
  uplink = "eth0"
  after  = "95.009s"
  before = "95.01s"
}

expect "backup back on its 5s grid" {
  event  = "wan_up"
  uplink = "usb0"
  after  = "96.039s"
  before = "96.04s"
}
