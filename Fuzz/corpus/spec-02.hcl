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
