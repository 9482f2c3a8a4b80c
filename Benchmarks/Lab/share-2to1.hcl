# Lab benchmark (docs/lab.md, docs/benchmarks.md): 2:1 weights over 3,000 new connections must
# give eth0 a share within 3 percentage points of 2/3; then a sticky group of 50 sources where
# eth1 black-holes at 6s: no source may change uplink while its uplink is up.
# Run: flywall lab Benchmarks/Lab/share-2to1.hcl

scenario "share-2to1" {
  description = "2:1 balance over 3,000 connections; sticky sources through an eth1 outage"
  duration    = "14s"
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
  mode = "balance"
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
  rate         = 600
  protocol     = "tcp"
  dest_port    = 443
  stop         = "5s"
}

expect "2:1 within 3 points over 3,000 connections" {
  share  = "eth0"
  before = "5s"
  min    = 0.6367
  max    = 0.6967
}
