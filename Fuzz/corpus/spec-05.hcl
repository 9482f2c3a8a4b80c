uplink_group "balanced" {
  mode = "balance"

  member "eth0" {
    weight = 2  # Gets 2/3 of traffic
  }

  member "eth1" {
    weight = 1  # Gets 1/3 of traffic
  }
}
