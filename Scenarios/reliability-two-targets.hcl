# The same fault as one-target-dead.hcl, with `reliability = 2`: both targets must answer for a
# round to count as good. Now one dead target fails every round.
#
# Math: 1.1.1.1 unreachable from 30s; rounds at 30s, 35s, 40s fail (8.8.8.8 answers, but the round
# waits for 1.1.1.1 until its 2s timeout) -> down at 40s + 2s = 42s. Window (40s, 47s].

scenario "reliability-two-targets" {
  description = "With reliability = 2, one dead target of two is enough to take eth0 down."
  duration    = "90s"
  lab_duration = "9s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 4
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
      reliability = 2
      interval    = "5s"
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
  source_count = 5
  rate         = 10
}

at "30s" {
  link "eth0" { unreachable = ["1.1.1.1"] }
}

expect "eth0 down on one dead target" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "40s"
  before = "47s"
}

expect "fails over" {
  event  = "failover"
  uplink = "eth1"
  after  = "40s"
  before = "47s"
}
