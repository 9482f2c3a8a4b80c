# The spec's "Basic Dual-WAN" config exactly as written ("Interface Configuration" and "Uplink
# Groups"): two DHCP WANs and a failover group, no health_check (each WAN gets the built-in
# default). A config file, not a scenario: basic-dual-wan.hcl and basic-dual-wan-default-check.hcl
# run it.

# Primary WAN
interface "eth0" {
  zone = "WAN"
  dhcp = true

  # Mark this as a WAN for multi-WAN system
  wan {
    priority = 1  # Lower = preferred
    weight   = 1  # For load balancing
  }
}

# Secondary WAN
interface "eth1" {
  zone = "WAN"
  dhcp = true

  wan {
    priority = 2  # Failover target
    weight   = 1
  }
}

uplink_group "default" {
  # Failover mode: use primary until it fails
  mode = "failover"

  member "eth0" {
    priority = 1
  }

  member "eth1" {
    priority = 2
  }
}
