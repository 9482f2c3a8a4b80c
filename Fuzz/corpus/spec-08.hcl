interface "eth0" {
  zone = "WAN"
  dhcp = true  # Cable modem

  wan {
    priority  = 1
    bandwidth = "100Mbps"  # For QoS calculations
  }
}

interface "eth1" {
  zone = "WAN"

  # DSL with PPPoE
  pppoe {
    username = "user@isp.com"
    password = "secret"
  }

  wan {
    priority  = 2
    bandwidth = "20Mbps"
  }
}
