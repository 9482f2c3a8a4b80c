# The spec's "Custom Health Checks" HTTP check on the primary: a GET of generate_204 every 10s,
# down after 2 failed rounds. At 30s the portal starts answering 503 (the ISP's captive portal or
# a broken proxy): replies still arrive, but with the wrong status, so rounds fail at once.
#
# Math: wrong status from 30s; rounds at 30s and 40s fail when their 503 arrives 10ms later -> down
# at 40.010s. Window (40s, 51s]: 2 failed rounds, the 2nd starting at 40s at the earliest, 50s at
# the latest (if the 30s round was already answered). Status 204 again at 60s: good rounds at 60s
# and 70s (threshold_up defaults to 2) -> up at 70.010s. Window (70s, 81s].

scenario "http-check" {
  description = "eth0's HTTP check gets 503 instead of 204 from 30s to 60s."
  duration    = "100s"
  lab_duration = "10s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 6
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
      type = "http"
      url  = "http://connectivitycheck.gstatic.com/generate_204"

      # Expect HTTP 204
      expected_status = 204

      interval       = "10s"
      threshold_down = 2
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
  source_count = 8
  rate         = 10
}

at "30s" {
  link "eth0" { http_status = 503 }
}

at "60s" {
  link "eth0" { http_status = 204 }
}

expect "wrong status takes eth0 down" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "40s"
  before = "51s"
}

expect "fails over" {
  event  = "failover"
  uplink = "eth1"
  after  = "40s"
  before = "51s"
}

expect "fails back when 204 returns" {
  event  = "failback"
  uplink = "eth0"
  after  = "70s"
  before = "81s"
}

expect "eth1 during the outage" {
  share  = "eth1"
  after  = "41s"
  before = "70s"
  min    = 1.0
}
