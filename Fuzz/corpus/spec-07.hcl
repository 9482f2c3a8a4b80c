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
