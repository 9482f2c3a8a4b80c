# The built-in default of `flywall simulate`: the spec's dual-WAN setup with its health checks
# (two ICMP targets per WAN, every 5s, down after 3 failed rounds, up after 2 good ones).
# The primary ISP silently stops forwarding at 30s (carrier stays up, so only probes can tell),
# and is repaired at 60s.
#
# Health check math (rounds start at 0s and stay on the 5s grid; a round that gets no reply is
# judged failed at its 2s timeout; a fault at a round's instant is in place before that round):
#   failed rounds at 30s, 35s, 40s -> 3rd failure judged at 40s + 2s = 42s: wan_down + failover.
#   Window (40s, 47s]: at least 3 rounds must fail (the last starts at 40s at the earliest), and at
#   worst the round at 30s still got through, so the 3rd failure is the 45s round, judged at 47s.
#   Repair at 60s: good rounds at 60s and 65s (replies after 12ms) -> up at 65.012s: failback.
#   Window (65s, 71s]: 2 good rounds, the 2nd starts at 65s at the earliest, 70s at the latest.

scenario "basic-dual-wan-blackhole" {
  description = "Primary ISP black-holes traffic at 30s: new connections fail over to eth1, then fail back."
  duration    = "120s"
  lab_duration = "12s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 7
}

interface "eth0" {
  zone = "WAN"
  dhcp = true

  wan {
    priority = 1
    weight   = 1
  }
}

interface "eth1" {
  zone = "WAN"
  dhcp = true

  wan {
    priority = 2
    weight   = 1
  }
}

uplink_group "default" {
  mode = "failover"

  member "eth0" {
    priority = 1

    health_check {
      targets        = ["1.1.1.1", "8.8.8.8"]
      interval       = "5s"
      threshold_down = 3
      threshold_up   = 2
      timeout        = "2s"
    }
  }

  member "eth1" {
    priority = 2

    health_check {
      targets        = ["1.0.0.1", "8.8.4.4"]
      interval       = "5s"
      threshold_down = 3
      threshold_up   = 2
    }
  }
}

link "eth0" { latency = "12ms" }
link "eth1" {
  latency = "25ms"
  jitter  = "4ms"
}

traffic "lan" {
  sources  = ["192.168.1.10", "192.168.1.11", "192.168.1.12"]
  rate     = 20
  protocol = "tcp"
  dest_port = 443
}

at "30s" {
  link "eth0" { blackhole = true }
}

at "60s" {
  link "eth0" { blackhole = false }
}

expect "eth0 declared down" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "40s"
  before = "47s"
}

expect "moves to eth1" {
  event  = "failover"
  uplink = "eth1"
  after  = "40s"
  before = "47s"
}

expect "comes back to eth0" {
  event  = "failback"
  uplink = "eth0"
  after  = "65s"
  before = "71s"
}

expect "all on eth0 before the fault" {
  share  = "eth0"
  before = "30s"
  min    = 1.0
}

expect "all on eth1 while eth0 is down" {
  share  = "eth1"
  after  = "42s"
  before = "65s"
  min    = 1.0
}

expect "all on eth0 after failback" {
  share  = "eth0"
  after  = "71s"
  min    = 1.0
}

expect "one failover" {
  event = "failover"
  count = 1
}

expect "backup never fails" {
  event  = "wan_down"
  uplink = "eth1"
  count  = 0
}
