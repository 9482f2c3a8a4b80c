# The spec's three policy routes, exactly as written: OpenVPN (udp/1194) always via eth0, streaming
# destinations (an ipset) via eth1, the gaming PC's UDP via eth0. Everything else uses the default
# failover group (eth0, then eth1).
#
# At 60s eth0 black-holes. Math: rounds at 60s, 65s, 70s fail -> eth0 down at 70s + 2s = 72s
# (window (70s, 77s]). From then on, routes pinned to eth0 fall back to the default group (the
# default when a route's uplink is down), which is now on eth1. Between 60s and 72s their
# connections still go to eth0: nobody knows yet that it is dead. The policy windows split at
# exactly 72s: connections opened at 72.000s itself already follow the new plan.

scenario "policy-routes" {
  description = "work-vpn, streaming and gaming policy routes; eth0 black-holes at 60s."
  duration    = "120s"
  lab_duration = "12s"   # flywall lab runs it 10x shorter (docs/lab.md)
  seed        = 9
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
      targets  = ["1.1.1.1", "8.8.8.8"]
      interval = "5s"
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

ipset "streaming_services" {
  entries = ["203.0.113.0/25", "198.51.100.128/25"]
}

# Work VPN always through primary WAN
policy_route "work-vpn" {
  match {
    protocol  = "udp"
    dest_port = ["1194"]  # OpenVPN
  }

  uplink = "eth0"
}

# Video streaming through secondary (if it's faster)
policy_route "streaming" {
  match {
    destination = ["@streaming_services"]  # IPSet
  }

  uplink = "eth1"
}

# Gaming always through low-latency connection
policy_route "gaming" {
  match {
    source    = ["192.168.1.50"]  # Gaming PC
    protocol  = "udp"
  }

  uplink = "eth0"
}

traffic "vpn" {
  sources     = ["192.168.1.20"]
  protocol    = "udp"
  dest_port   = 1194
  destination = ["192.0.2.44"]
  rate        = 2
}

traffic "streaming" {
  sources     = ["192.168.1.30", "192.168.1.31"]
  protocol    = "tcp"
  dest_port   = 443
  destination = ["203.0.113.7", "198.51.100.200"]
  rate        = 5
}

traffic "gaming" {
  sources   = ["192.168.1.50"]
  protocol  = "udp"
  dest_port = 3074
  rate      = 5
}

traffic "web" {
  source_count = 10
  protocol     = "tcp"
  dest_port    = 443
  destination  = ["192.0.2.80", "198.51.100.1"]
  rate         = 10
}

at "60s" {
  link "eth0" { blackhole = true }
}

expect "vpn on eth0" {
  policy = "work-vpn"
  uplink = "eth0"
  before = "71.999s"
}

expect "streaming on eth1" {
  policy = "streaming"
  uplink = "eth1"
}

expect "gaming on eth0" {
  policy = "gaming"
  uplink = "eth0"
  before = "71.999s"
}

expect "eth0 down" {
  event  = "wan_down"
  uplink = "eth0"
  after  = "70s"
  before = "77s"
}

expect "vpn falls back to the default group" {
  policy = "work-vpn"
  uplink = "eth1"
  after  = "71.999s"
}

expect "gaming falls back to the default group" {
  policy = "gaming"
  uplink = "eth1"
  after  = "71.999s"
}
