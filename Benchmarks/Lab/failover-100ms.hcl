# Lab benchmark (docs/lab.md, docs/benchmarks.md): 10 black holes, interval 100ms, timeout 100ms, threshold_down 2
# Run: flywall lab Benchmarks/Lab/failover-100ms.hcl
# Each black hole starts at a random phase against the probe grid; the lab prints, per fault,
# the first new connection on eth1 next to the arithmetic bound
# phase + (threshold_down - 1) x interval + timeout (phase from the first swallowed probe, seen on
# the ISP side). UDP connections every 1 ms give that resolution.

scenario "failover-100ms" {
  description = "10 black holes, interval 100ms, timeout 100ms, threshold_down 2"
  duration    = "16s"
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
      interval       = "100ms"
      timeout        = "100ms"
      threshold_down = 2
      threshold_up   = 2
    }
  }
  member "eth1" {
    priority = 2
    health_check {
      targets        = ["198.18.1.1"]
      interval       = "100ms"
      timeout        = "100ms"
      threshold_down = 2
      threshold_up   = 2
    }
  }
}

link "eth0" { latency = "1ms" }
link "eth1" { latency = "1ms" }

traffic "lan" {
  source_count = 20
  rate         = 1000
  protocol     = "udp"
  dest_port    = 5000
}

at "1079ms" {
  link "eth0" { blackhole = true }
}
at "1829ms" {
  link "eth0" { blackhole = false }
}
at "2532ms" {
  link "eth0" { blackhole = true }
}
at "3282ms" {
  link "eth0" { blackhole = false }
}
at "4094ms" {
  link "eth0" { blackhole = true }
}
at "4844ms" {
  link "eth0" { blackhole = false }
}
at "5545ms" {
  link "eth0" { blackhole = true }
}
at "6295ms" {
  link "eth0" { blackhole = false }
}
at "7088ms" {
  link "eth0" { blackhole = true }
}
at "7838ms" {
  link "eth0" { blackhole = false }
}
at "8594ms" {
  link "eth0" { blackhole = true }
}
at "9344ms" {
  link "eth0" { blackhole = false }
}
at "10083ms" {
  link "eth0" { blackhole = true }
}
at "10833ms" {
  link "eth0" { blackhole = false }
}
at "11567ms" {
  link "eth0" { blackhole = true }
}
at "12317ms" {
  link "eth0" { blackhole = false }
}
at "13003ms" {
  link "eth0" { blackhole = true }
}
at "13753ms" {
  link "eth0" { blackhole = false }
}
at "14559ms" {
  link "eth0" { blackhole = true }
}
at "15309ms" {
  link "eth0" { blackhole = false }
}

expect "eth1 never fails" {
  event  = "wan_down"
  uplink = "eth1"
  count  = 0
}
expect "one failover per black hole" {
  event = "failover"
  count = 10
}
