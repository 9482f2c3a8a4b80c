# k of N with three targets: eth0 needs 2 of its 3 targets, eth1 needs 1 of its 3. A reading of
# `reliability` as "all must answer" (or as "any one") fails at least one of these expectations.
#
# Math (interval 5s, timeout 2s, threshold_down 3; rounds at 0s, 5s, 10s, ...):
# - 20s: one of eth0's targets and two of eth1's stop answering. 2 of 3 and 1 of 3 still answer:
#   every round stays good, nothing goes down.
# - 50s: a second eth0 target dies; rounds at 50s, 55s, 60s get 1 answer (< 2) and close on their
#   2s timeout: eth0 down at 62s, failover to eth1, which still answers with 1 of 3.
# - 80s: eth1's last target dies; rounds at 80s, 85s, 90s fail: eth1 down at 92s.

scenario "reliability-k-of-three" {
  description = "2-of-3 survives one dead target and falls at two; 1-of-3 survives two and falls at three."
  duration    = "110s"
  lab_duration = "11s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 11
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
      targets     = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
      reliability = 2
      interval    = "5s"
    }
  }

  member "eth1" {
    priority = 2

    health_check {
      targets     = ["1.0.0.1", "8.8.4.4", "149.112.112.112"]
      reliability = 1
      interval    = "5s"
    }
  }
}

traffic "lan" {
  source_count = 5
  rate         = 10
}

at "20s" {
  link "eth0" { unreachable = ["1.1.1.1"] }
  link "eth1" { unreachable = ["1.0.0.1", "8.8.4.4"] }
}

at "50s" {
  link "eth0" { unreachable = ["1.1.1.1", "8.8.8.8"] }
}

at "80s" {
  link "eth1" { unreachable = ["1.0.0.1", "8.8.4.4", "149.112.112.112"] }
}

expect "2 of 3 answering keeps eth0 up" {
  event  = "wan_down"
  uplink = "eth0"
  before = "50s"
  count  = 0
}

expect "1 of 3 answering keeps eth1 up" {
  event  = "wan_down"
  uplink = "eth1"
  before = "80s"
  count  = 0
}

expect "eth0 keeps the traffic while 2 of 3 answer" {
  share  = "eth0"
  before = "50s"
  min    = 1.0
}

expect "eth0 down with 1 of 3" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "60s"
  before = "63s"
}

expect "fails over to eth1" {
  event  = "failover"
  uplink = "eth1"
  after  = "60s"
  before = "63s"
}

expect "eth1 down with 0 of 3" {
  event  = "wan_down"
  uplink = "eth1"
  after  = "90s"
  before = "93s"
}
