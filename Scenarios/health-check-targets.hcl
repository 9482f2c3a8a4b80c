# The spec's "Health Checks" example exactly as written (a failover group whose members each probe
# two targets). Here the *backup* fails: its failure must be detected and reported, but the active
# uplink does not change, so there is no failover and no failback.
#
# Math: eth1 black-holed at 20s; rounds at 20s, 25s, 30s fail -> down at 30s + 2s (eth1's timeout
# defaults to 2s) = 32s. Window (30s, 37s]. Repaired at 50s: good rounds at 50s and 55s, answered
# after 25ms -> up at 55.025s. Window (55s, 61s].

scenario "health-check-targets" {
  description = "The backup eth1 black-holes at 20s: reported down and up again, traffic never moves."
  duration    = "80s"
  lab_duration = "8s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 5
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
      # Ping these targets
      targets = ["1.1.1.1", "8.8.8.8"]

      # Check every 5 seconds
      interval = "5s"

      # Mark down after 3 failures
      threshold_down = 3

      # Mark up after 2 successes
      threshold_up = 2

      # Timeout for each check
      timeout = "2s"
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

link "eth1" { latency = "25ms" }

traffic "lan" {
  source_count = 4
  rate         = 10
}

at "20s" {
  link "eth1" { blackhole = true }
}

at "50s" {
  link "eth1" { blackhole = false }
}

expect "backup failure detected" {
  event  = "wan_down"
  uplink = "eth1"
  after  = "30s"
  before = "37s"
}

expect "backup recovery detected" {
  event  = "wan_up"
  uplink = "eth1"
  after  = "55s"
  before = "61s"
}

expect "active uplink unchanged" {
  event = "failover"
  count = 0
}

expect "no failback either" {
  event = "failback"
  count = 0
}

expect "eth0 carries everything" {
  share = "eth0"
  min   = 1.0
}
