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
