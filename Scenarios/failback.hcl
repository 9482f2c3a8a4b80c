# Failback, and why its good rounds must be consecutive. eth0 black-holes from 20s to 50s, then
# again briefly from 55s to 57s, just as it was recovering. Its check needs threshold_up = 3 good
# rounds in a row; the group moves established connections back after failback
# (failback_moves_connections = true; new connections always follow the plan).
#
# Math: rounds at 20s, 25s, 30s fail -> down at 32s; window (30s, 37s].
#   50s good (1 of 3), 55s fails (the count starts over), 60s 65s 70s good -> up at 70.010s.
#   Window (70s, 76s]. Without the 55s blip it would have been 60.010s.

scenario "failback" {
  description = "eth0 dies at 20s, recovers at 50s, blips at 55s: failback only after 3 good rounds in a row."
  duration    = "100s"
  lab_duration = "10s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 18
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
  mode                       = "failover"
  failback_moves_connections = true

  member "eth0" {
    priority = 1

    health_check {
      targets      = ["1.1.1.1", "8.8.8.8"]
      interval     = "5s"
      threshold_up = 3
    }
  }

  member "eth1" {
    priority = 2

    health_check {
      targets  = ["1.0.0.1", "8.8.4.4"]
      interval = "5s"
    }
  }
}

traffic "lan" {
  source_count = 10
  rate         = 10
}

at "20s" {
  link "eth0" { blackhole = true }
}

at "50s" {
  link "eth0" { blackhole = false }
}

at "55s" {
  link "eth0" { blackhole = true }
}

at "57s" {
  link "eth0" { blackhole = false }
}

expect "fails over" {
  event  = "failover"
  uplink = "eth1"
  after  = "30s"
  before = "37s"
}

expect "no early failback" {
  event  = "failback"
  before = "70s"
  count  = 0
}

expect "fails back after three good rounds in a row" {
  event  = "failback"
  uplink = "eth0"
  after  = "70s"
  before = "76s"
}

expect "exactly one failback" {
  event = "failback"
  count = 1
}

expect "eth0 again after failback" {
  share = "eth0"
  after = "71s"
  min   = 1.0
}
