# Lab benchmark (docs/lab.md, docs/benchmarks.md): 3 black holes, the spec's interval 5s, timeout 2s, threshold_down 3
# Run: flywall lab Benchmarks/Lab/failover-spec-defaults.hcl
# Each black hole starts at a random phase against the probe grid; the lab prints, per fault,
# the first new connection on eth1 next to the arithmetic bound
# phase + (threshold_down - 1) x interval + timeout (phase from the first swallowed probe, seen on
# the ISP side). UDP connections every 5 ms give that resolution.

scenario "failover-spec-defaults" {
  description = "3 black holes, the spec's interval 5s, timeout 2s, threshold_down 3"
  duration    = "122s"
}

interface "eth0" {
  zone    = "WAN"
  address = "100.64.1.2/24"
  gateway = "100.64.1.1"
  wan { priority = 1 }
}

interface "eth1" {
  zone    = "WAN"
  address = "100.64.2.2/24"
  gateway = "100.64.2.1"
  wan { priority = 2 }
}

uplink_group "default" {
  mode = "failover"
  member "eth0" {
    priority = 1
    health_check {
      targets        = ["198.18.0.1"]
      interval       = "5s"
      timeout        = "2s"
      threshold_down = 3
      threshold_up   = 2
    }
  }
  member "eth1" {
    priority = 2
    health_check {
      targets        = ["198.18.1.1"]
      interval       = "5s"
      timeout        = "2s"
      threshold_down = 3
      threshold_up   = 2
    }
  }
}

link "eth0" { latency = "1ms" }
link "eth1" { latency = "1ms" }

traffic "lan" {
  source_count = 20
  rate         = 200
  protocol     = "udp"
  dest_port    = 5000
}

at "3040ms" {
  link "eth0" { blackhole = true }
}
at "23040ms" {
  link "eth0" { blackhole = false }
}
at "41424ms" {
  link "eth0" { blackhole = true }
}
at "61424ms" {
  link "eth0" { blackhole = false }
}
at "82284ms" {
  link "eth0" { blackhole = true }
}
at "102284ms" {
  link "eth0" { blackhole = false }
}

expect "eth1 never fails" {
  event  = "wan_down"
  uplink = "eth1"
  count  = 0
}
expect "one failover per black hole" {
  event = "failover"
  count = 3
}
