# The spec's "Slow Failover" troubleshooting advice applied: probe every 2s, down after 2 failed
# rounds, three targets. Same fault as the default scenario (black hole at 30s).
#
# Math: rounds at 30s and 32s fail; each is judged at its 2s timeout -> down at 32s + 2s = 34s.
# Window (32s, 36s]: at least 2 failed rounds, the 2nd starting at 32s at the earliest, 34s at the
# latest. With the default tuning (5s, 3 rounds) the same fault is noticed at 42s.

scenario "slow-failover-tuning" {
  description = "interval 2s, threshold_down 2, three targets: a black hole at 30s is noticed at 34s."
  duration    = "60s"
  lab_duration = "6s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 12
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
      targets        = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
      interval       = "2s"
      threshold_down = 2
    }
  }

  member "eth1" {
    priority = 2

    health_check {
      targets        = ["1.0.0.1", "8.8.4.4", "149.112.112.112"]
      interval       = "2s"
      threshold_down = 2
    }
  }
}

traffic "lan" {
  source_count = 4
  rate         = 20
}

at "30s" {
  link "eth0" { blackhole = true }
}

expect "no false alarm before the fault" {
  event  = "wan_down"
  before = "30s"
  count  = 0
}

expect "fast detection" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "32s"
  before = "36s"
}

expect "fast failover" {
  event  = "failover"
  uplink = "eth1"
  after  = "32s"
  before = "36s"
}

expect "eth1 from then on" {
  share = "eth1"
  after = "36s"
  min   = 1.0
}
