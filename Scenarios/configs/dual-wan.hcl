# A plain dual-WAN config shared by some scenarios (`scenario "x" { config = "configs/dual-wan.hcl" }`).
# It is a config file, not a scenario: it has no scenario block, so the test suite does not run it alone.
# The spec's health check example: two ICMP targets per WAN, every 5s, 3 failures down, 2 successes up.

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
