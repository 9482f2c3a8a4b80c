# Fault: latency past max_latency. eth0's RTT jumps from 20ms to 400ms at 30s (a saturated uplink);
# its check sets max_latency = "150ms" (recovery below 120ms, 80% of it, by default). Quality is the
# mean RTT over the rolling window of the last 10 rounds; threshold_down (3) rounds past the limit
# degrade the WAN, threshold_up (2) rounds under the recovery limit restore it: hysteresis.
#
# Math (both targets see the same RTT, so the mean is per round):
#   rounds 0s..25s at 20ms (6 rounds); from 30s at 400ms, answered 400ms after each round starts.
#   30s: (6x20 + 400)/7 = 74ms   35s: 115ms   40s: 147ms (still under 150)
#   45s: (6x20 + 4x400)/10 = 172ms past #1   50s: 210ms #2   55s: 248ms #3 -> degraded at 55.400s.
#   Window (55s, 61s].
#   Repaired at 70s (20ms again). The window still holds 400ms rounds: at 100s three of them (134ms,
#   not under 120ms), at 105s two (96ms: good #1), at 110s one (58ms: good #2) -> recovered at
#   110.020s. Window (110s, 116s].

scenario "latency-max" {
  description = "eth0's latency jumps to 400ms (max_latency 150ms) from 30s to 70s."
  duration    = "130s"
  lab_duration = "13s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 15
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

uplink_group "default" {
  mode = "failover"

  member "eth0" {
    priority = 1

    health_check {
      targets     = ["1.1.1.1", "8.8.8.8"]
      interval    = "5s"
      max_latency = "150ms"
    }
  }

  member "eth1" {
    priority = 2

    health_check {
      targets     = ["1.0.0.1", "8.8.4.4"]
      interval    = "5s"
      max_latency = "150ms"
    }
  }
}

link "eth0" { latency = "20ms" }
link "eth1" { latency = "45ms" }

traffic "lan" {
  source_count = 10
  rate         = 10
}

at "30s" {
  link "eth0" { latency = "400ms" }
}

at "70s" {
  link "eth0" { latency = "20ms" }
}

expect "eth0 degraded by latency" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "55s"
  before = "61s"
}

expect "moves to eth1" {
  event  = "failover"
  uplink = "eth1"
  after  = "55s"
  before = "61s"
}

expect "recovers only well under the limit" {
  event  = "failback"
  uplink = "eth0"
  after  = "110s"
  before = "116s"
}

expect "no flapping" {
  event  = "wan_down"
  uplink = "eth0"
  count  = 1
}

expect "eth1 while degraded" {
  share  = "eth1"
  after  = "55.4s"
  before = "110s"
  min    = 1.0
}
