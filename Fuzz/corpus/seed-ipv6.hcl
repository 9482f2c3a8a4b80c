# Seed: IPv6 next hops (gateway6, an IPv6-only gateway), IPv6 targets, ipsets and policy routes.
interface "eth0" {
  zone     = "WAN"
  dhcp     = true
  gateway6 = "fe80::1"
  wan { priority = 1 }
  health_check {
    targets = ["2001:db8::53", "192.0.2.1"]
  }
}

interface "eth1" {
  zone    = "WAN"
  address = "2001:db8:1::2/64"
  gateway = "2001:db8:1::1"
  wan { priority = 2 }
}

ipset "v6_services" {
  entries = ["2001:db8:100::/48", "2001:db8:200::1", "198.51.100.0/24"]
}

policy_route "v6-via-eth1" {
  match {
    protocol    = ["tcp", "udp"]
    dest_port   = [443, "8000-8100"]
    source      = ["fd00::/8"]
    destination = ["@v6_services", "2001:db8:300::/40"]
  }
  uplink   = "eth1"
  fallback = false
}
