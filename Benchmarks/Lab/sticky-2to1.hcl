# Lab benchmark (docs/lab.md): a sticky 2:1 group of 50 sources; eth1 black-holes at 4s and comes
# back at 8s. No source may change uplink while its uplink is up; only eth1's sources move.
# The kernel hashes sources with jhash, the simulator with Jenkins: which source goes where
# differs, the property must not.
# Run: flywall lab Benchmarks/Lab/sticky-2to1.hcl

scenario "sticky-2to1" {
  description = "sticky balance, 50 sources, eth1 black hole 4s-8s"
  duration    = "12s"
}

interface "eth0" {
  zone    = "WAN"
  address = "100.64.1.2/24"
  gateway = "100.64.1.1"
  wan { weight = 2 }
}

interface "eth1" {
  zone    = "WAN"
  address = "100.64.2.2/24"
  gateway = "100.64.2.1"
  wan { weight = 1 }
}

uplink_group "balanced" {
  mode           = "balance"
  sticky         = true
  sticky_timeout = "1h"
  member "eth0" {
    weight = 2
    health_check {
      targets        = ["198.18.0.1"]
      interval       = "200ms"
      timeout        = "100ms"
      threshold_down = 2
      threshold_up   = 2
    }
  }
  member "eth1" {
    weight = 1
    health_check {
      targets        = ["198.18.1.1"]
      interval       = "200ms"
      timeout        = "100ms"
      threshold_down = 2
      threshold_up   = 2
    }
  }
}

traffic "lan" {
  source_count = 50
  rate         = 200
  protocol     = "tcp"
  dest_port    = 443
}

at "4s" {
  link "eth1" { blackhole = true }
}
at "8s" {
  link "eth1" { blackhole = false }
}

expect "sources stay on their uplink" { sticky = true }
expect "eth1 goes down once" {
  event  = "wan_down"
  uplink = "eth1"
  count  = 1
}
