# Fast re-probing (failure_interval) and recovery probing (recovery_interval) on the primary, with
# the settings of the detection benchmark: a round every 1s, 100ms after a failed one, 100ms
# timeout, down after 3 failed rounds. Rounds close when their answers are in (latency 10ms).
#
# 30.5s: eth0 black-holes, half-way between rounds. Math (docs/configuration.md, "When rounds
#   start"): the round at 31s is the first to fail (its timeout ends at 31.1s); failed rounds
#   start 100ms after the previous start: 31.1s and 31.2s; the third failure ends at 31.3s.
#   wan_down and failover at exactly 31.3s = phase (0.5s) + (3 - 1) x 100ms + 100ms after the
#   fault; without failure_interval it would be 31s + 2 x 1s + 100ms = 33.1s.
# Down: rounds every recovery_interval (500ms) from the last failed round's start (31.2s):
#   31.7s, 32.2s, ... 40.2s, 40.7s.
# 40s: repaired. The rounds at 40.2s and 40.7s answer after 10ms -> wan_up and failback at 40.710s.
#   Up again: the next round 1s after 40.7s (41.7s).
# 50s: a single lost round (20% loss would be random; a black hole for 150ms is exact): the round
#   at 50.7s fails at 50.8s, the fast round at 50.8s succeeds -> no wan_down.

scenario "fast-reprobing" {
  description = "failure_interval detects a black hole 0.3s after the first failed probe; recovery_interval brings it back"
  duration    = "60s"
  seed        = 3
}

interface "eth0" {
  zone    = "WAN"
  address = "100.64.0.2/24"
  gateway = "100.64.0.1"
  wan { priority = 1 }
}

interface "eth1" {
  zone    = "WAN"
  address = "100.64.1.2/24"
  gateway = "100.64.1.1"
  wan { priority = 2 }
}

uplink_group "default" {
  mode = "failover"
  member "eth0" {
    priority = 1
    health_check {
      targets           = ["198.18.0.1"]
      interval          = "1s"
      failure_interval  = "100ms"
      recovery_interval = "500ms"
      timeout           = "100ms"
      threshold_down    = 3
      threshold_up      = 2
    }
  }
  member "eth1" {
    priority = 2
    health_check {
      targets        = ["198.18.1.1"]
      interval       = "1s"
      timeout        = "100ms"
      threshold_down = 3
    }
  }
}

link "eth0" { latency = "10ms" }
link "eth1" { latency = "10ms" }

traffic "lan" {
  source_count = 4
  rate         = 20
}

at "30.5s" {
  link "eth0" { blackhole = true }
}

at "40s" {
  link "eth0" { blackhole = false }
}

at "50.65s" {
  link "eth0" { blackhole = true }
}

at "50.8s" {
  link "eth0" { blackhole = false }
}

expect "down exactly three fast rounds after the first failed probe" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "31.299s"
  before = "31.3s"
}

expect "failover at the same instant" {
  event  = "failover"
  uplink = "eth1"
  after  = "31.299s"
  before = "31.3s"
}

expect "one wan_down only" {
  event  = "wan_down"
  uplink = "eth0"
  count  = 1
}

expect "recovery rounds on the 500ms grid" {
  event  = "wan_up"
  uplink = "eth0"
  after  = "40.709s"
  before = "40.71s"
}

expect "failback with it" {
  event  = "failback"
  uplink = "eth0"
  after  = "40.709s"
  before = "40.71s"
}

expect "backup carries the outage" {
  share  = "eth1"
  after  = "31.3s"
  before = "40.7s"
  min    = 1.0
}
